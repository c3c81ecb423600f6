"""Shared fixtures: real, tiny models and data (scikit-learn's bundled digits), built once per session."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("MOBILEKIT_PROGRESS", "0")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
PROTOCOL_FIXTURES = FIXTURES / "protocol"


def pytest_addoption(parser):
    parser.addoption("--device-tests", action="store_true",
                     help="also run tests marked 'device' against a real phone (adb devices)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--device-tests"):
        return
    skip = pytest.mark.skip(reason="needs a real phone: run with --device-tests")
    for item in items:
        if "device" in item.keywords:
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
