"""Shared fixtures: real, tiny models and data (scikit-learn's bundled digits), built once per session."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("MOBILEKIT_PROGRESS", "0")

from pathlib import Path  # noqa: E402

import json  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
PROTOCOL_FIXTURES = FIXTURES / "protocol"


# The emulated phone's fixtures (adb server, emulated devices), for every test folder.
pytest_plugins = ["adb_emulator.fixtures"]


def pytest_addoption(parser):
    parser.addoption("--device-tests", action="store_true",
                     help="also run tests marked 'device' against a real phone (adb devices)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--device-tests"):
        return
    skip = pytest.mark.skip(reason="needs a real phone: run with --device-tests")
    for item in items:
        if item.get_closest_marker("device") is not None:  # a marker, not the tests/device folder
            item.add_marker(skip)


def latency_model(k, channels: int = 3):
    """A tiny NHWC net of the shape TF-MOT's XNNPACK latency policy accepts (padded 3x3 stride-2
    stem, 1x1 convs, global pooling): what --prune-for-latency needs."""
    inputs = k.Input((16, 16, channels))
    x = k.layers.ZeroPadding2D(((1, 1), (1, 1)))(inputs)
    x = k.layers.Conv2D(8, 3, strides=2, padding="valid", activation="relu")(x)
    x = k.layers.Conv2D(16, 1, activation="relu")(x)
    x = k.layers.Conv2D(8, 1)(x)
    x = k.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = k.layers.Flatten()(x)
    return k.Model(inputs, k.layers.Dense(3, activation="softmax")(x))


@pytest.fixture(scope="session")
def digits():
    """Digits as (x_train, y_train, x_test, y_test): float32 in [0, 1], shape (N, 8, 8, 1)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    return x[:1400], y[:1400], x[1400:], y[1400:]


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory, digits):
    """An .npz with x and y (the test split): the labelled-data format users pass."""
    _, _, x_test, y_test = digits
    path = tmp_path_factory.mktemp("data") / "digits_test.npz"
    np.savez(path, x=x_test, y=y_test)
    return path


@pytest.fixture(scope="session")
def tiny_keras_path(tmp_path_factory, digits):
    """A small CNN trained one epoch on digits, saved as a tf_keras .keras file."""
    from mobilekit._compat import keras

    k = keras()
    k.utils.set_random_seed(0)
    x_train, y_train, _, _ = digits
    model = k.Sequential([
        k.layers.Input((8, 8, 1)),
        k.layers.Conv2D(8, 3, activation="relu", padding="same"),
        k.layers.MaxPooling2D(),
        k.layers.Flatten(),
        k.layers.Dense(32, activation="relu"),
        k.layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=3, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("models") / "tiny_cnn.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_tflite_path(tmp_path_factory, tiny_keras_path):
    """The tiny CNN as a float32 .tflite, converted by TensorFlow directly (independent of mobilekit)."""
    from mobilekit._compat import keras, tf

    model = keras().models.load_model(tiny_keras_path)
    converter = tf().lite.TFLiteConverter.from_keras_model(model)
    path = tmp_path_factory.mktemp("tflite") / "tiny_cnn_fp32.tflite"
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="session")
def calibration_npz(tmp_path_factory, digits):
    """64 unlabelled training samples: the calibration set int8 and int16x8 conversions take."""
    path = tmp_path_factory.mktemp("calib") / "calibration.npz"
    np.savez(path, x=digits[0][:64])
    return path


def write_custom_op_model(path: Path) -> Path:
    """A real .tflite whose only op (Igamma) LiteRT has no kernel for: it loads, then fails to allocate."""
    from mobilekit._compat import tf

    t = tf()

    @t.function(input_signature=[t.TensorSpec([1, 4], t.float32)])
    def igamma(x):
        return t.math.igamma(x, x + 1.0)

    converter = t.lite.TFLiteConverter.from_concrete_functions([igamma.get_concrete_function()], igamma)
    converter.allow_custom_ops = True
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="session")
def custom_op_tflite_path(tmp_path_factory):
    return write_custom_op_model(tmp_path_factory.mktemp("custom") / "custom_op.tflite")


def make_result_tree(folder: Path, tflite_path: Path, keras_path: Path | None = None,
                     data=None) -> Path:
    """Real results from the host runner: the float model at 1 and 2 threads (with accuracy when
    ``data`` is given), and a dynamic-range twin at 1 thread, so there are two models to plot.

    Built once per session folder: the browser test and this module share it."""
    from mobilekit.benchmark.core import bench

    done = folder / ".complete"
    if done.exists():
        return folder
    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    fp32 = models / "tiny_fp32.tflite"
    shutil.copyfile(tflite_path, fp32)
    if keras_path is not None:
        # TensorFlow converted it straight from the Keras file; a model card saying so lets the
        # report put it on one Pareto front with the dynamic-range variant of the same source.
        from mobilekit._io import sha256_path

        (models / "tiny_fp32.json").write_text(json.dumps({
            "schema": "mobilekit.model_card/1", "source_model": str(keras_path),
            "source_sha256": sha256_path(keras_path)}))
    bench(fp32, target="host", threads=(1, 2), runs=40, warmup=3, output_dir=folder / "bench_fp32",
          data=data)
    if keras_path is not None:
        from mobilekit.conversion import convert

        dynamic = models / "tiny_dynamic.tflite"
        convert(keras_path, dynamic, quantize="dynamic", progress=False)
    else:  # a second, different file: the same model padded is enough for size/latency plots
        dynamic = models / "tiny_copy.tflite"
        dynamic.write_bytes(fp32.read_bytes())
    bench(dynamic, target="host", threads=(1,), runs=40, warmup=3, output_dir=folder / "bench_dynamic")
    done.write_text("ok")
    return folder


@pytest.fixture(scope="session")
def result_tree(tmp_path_factory, tiny_tflite_path, tiny_keras_path, digits_npz):
    base = tmp_path_factory.getbasetemp() / "report_results"
    return make_result_tree(base, tiny_tflite_path, tiny_keras_path, data=digits_npz)
