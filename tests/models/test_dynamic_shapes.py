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


def test_bench_with_random_inputs_asks_for_real_ones(free_hw, tmp_path):
    from mobilekit.benchmark.core import bench
    from mobilekit.errors import BenchError

    with pytest.raises(BenchError, match="free dimensions besides the batch.*give real inputs"):
        bench(free_hw / "free.tflite", target="host", threads=[1], delegates=["xnnpack"],
              runs=3, warmup=1, output_dir=tmp_path / "r")
