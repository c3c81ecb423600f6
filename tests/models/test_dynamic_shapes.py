"""A .tflite with free height and width runs at the data's shape in evaluate and in bench (the
host runner allocates at the inputs' shape, never at the default 1x1 first)."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def free_hw(tmp_path_factory):
    from mobilekit._compat import keras
    from mobilekit.conversion import convert

    folder = tmp_path_factory.mktemp("free_hw")
    k = keras()
    k.utils.set_random_seed(0)
    inputs = k.Input((None, None, 3))
    x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(inputs, k.layers.Dense(4, activation="softmax")(x))
    rng = np.random.default_rng(0)
    data = rng.random((20, 24, 32, 3), dtype=np.float32)
    labels = model.predict(data, verbose=0).argmax(axis=1)
    np.savez(folder / "data.npz", x=data, y=labels)
    convert(model, folder / "free.tflite")
    return folder


def test_evaluate_runs_a_free_height_width_model_at_the_data_shape(free_hw):
    from mobilekit.analysis.evaluation import evaluate

    result = evaluate(free_hw / "free.tflite", free_hw / "data.npz", batch_size=8)
    assert result.samples == 20 and result.top1 == 1.0   # labels are the float model's own


def test_bench_runs_a_free_height_width_model_at_the_data_shape(free_hw, tmp_path):
    from mobilekit.benchmark.core import bench

    summary = bench(free_hw / "free.tflite", target="host", threads=[1], delegates=["xnnpack"],
                    runs=3, warmup=1, data=str(free_hw / "data.npz"), output_dir=tmp_path / "b")
    run = summary.runs[0]
    assert run.status == "ok", run
    assert run.latency_ms_p50 > 0


def test_bench_with_random_inputs_asks_for_real_ones_or_a_shape(free_hw, tmp_path):
    from click.testing import CliRunner

    from mobilekit.cli import cli

    result = CliRunner().invoke(cli, ["bench", str(free_hw / "free.tflite"), "--target", "host", "--runs", "2",
                                      "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "free dimensions besides the batch (?, ?, ?, 3)" in result.stderr
    assert "--data" in result.stderr and "--input-shape 1,224,224,3" in result.stderr
    assert not (tmp_path / "r" / "runs").exists()  # refused before any run


@pytest.fixture(scope="module")
def free_conv(tmp_path_factory):
    """Free height/width and an output whose shape follows the input's: what ran shows."""
    from mobilekit._compat import keras
    from mobilekit.conversion import convert

    k = keras()
    inputs = k.Input((None, None, 2))
    model = k.Model(inputs, k.layers.Conv2D(3, 3)(inputs))  # VALID: out = in - 2
    path = tmp_path_factory.mktemp("free_conv") / "conv.tflite"
    convert(model, path)
    return path


def test_bench_random_inputs_run_at_the_input_shape_asked_for(free_conv, tmp_path):
    from mobilekit.benchmark.core import bench
    from mobilekit.results import protocol

    summary = bench(free_conv, target="host", threads=[1], delegates=["xnnpack"], runs=2, warmup=0,
                    output_dir=tmp_path / "b", input_shape=["1,40,30,2"], save_outputs=True)
    run = summary.runs[0]
    assert run.status == "ok", run
    assert "at 1x40x30x2" in summary.inputs
    outputs = np.load(tmp_path / "b" / "runs" / "host" / run.run_key / "outputs.npy", allow_pickle=False)
    assert outputs.shape == (1, 38, 28, 3)
    request = protocol.load_request(tmp_path / "b" / "runs" / "host" / run.run_key / "request.json")
    assert request.schema_version == 2 and request.inputs.shapes == [[1, 40, 30, 2]]
    # Another shape is another measurement, not a resumed one.
    other = bench(free_conv, target="host", threads=[1], delegates=["xnnpack"], runs=2, warmup=0,
                  output_dir=tmp_path / "b", input_shape=["2x20x20x2"])
    assert not other.runs[0].resumed and other.runs[0].run_key != run.run_key


@pytest.mark.parametrize("shape, says", [
    (["1,40,30,3"], "does not fit input"),
    (["1,40,30"], "has rank 3 but input"),
    (["1,0,30,2"], "does not fit input"),
    (["1,40,30,2", "1,4,4,2"], "gives 2 shape(s) but conv.tflite has 1 input(s)"),
    (["1;40;30;2"], "is not a shape"),
])
def test_a_bad_input_shape_is_a_usage_error_before_any_run(free_conv, tmp_path, shape, says):
    from mobilekit.benchmark.core import bench
    from mobilekit.errors import UsageError

    with pytest.raises(UsageError, match=None) as caught:
        bench(free_conv, target="host", runs=2, output_dir=tmp_path / "b", input_shape=shape)
    assert says in caught.value.message


def test_input_shape_with_data_is_refused(free_hw, tmp_path):
    from mobilekit.benchmark.core import bench
    from mobilekit.errors import UsageError

    with pytest.raises(UsageError, match="with --data the model runs at the data's shape"):
        bench(free_hw / "free.tflite", target="host", runs=2, data=str(free_hw / "data.npz"),
              input_shape=["1,8,8,3"], output_dir=tmp_path / "b")
