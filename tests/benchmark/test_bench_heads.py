"""`bench --reference` on a model with several outputs: every head is scored against the Keras
output of the same name (as evaluate pairs them), not the first against the first."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mobilekit.benchmark.core import bench

FAST = dict(target="host", runs=3, warmup=1)


def test_bench_reference_scores_every_head_paired_by_name(tmp_path, digits):
    from mobilekit._compat import keras
    from mobilekit.conversion import convert

    k = keras()
    k.utils.set_random_seed(2)
    inputs = k.Input((8, 8, 1))
    trunk = k.layers.Flatten()(inputs)
    # Two heads of the same shape: only their names tell them apart.
    right = k.layers.Dense(4, name="right")(trunk)
    left = k.layers.Dense(4, name="left", bias_initializer="ones")(trunk)
    model = k.Model(inputs, [right, left])
    model.save(tmp_path / "two.keras")
    convert(tmp_path / "two.keras", tmp_path / "two.tflite")
    np.savez(tmp_path / "x.npz", x=digits[2][:40])

    summary = bench(tmp_path / "two.tflite", data=tmp_path / "x.npz", reference=tmp_path / "two.keras",
                    output_dir=tmp_path / "out", **FAST)
    run = summary.runs[0]
    assert run.status == "ok", run.error
    assert run.fidelity_pairing == "name"
    heads = {entry["name"]: entry for entry in run.fidelity_heads}
    assert set(heads) == {"left", "right"}
    for name, entry in heads.items():   # a float model matches its twin head on every output
        assert entry["reference"] == name and entry["shape"] == [None, 4]
        assert entry["max_abs_error"] < 1e-4
        assert entry["snr_db"] is None or entry["snr_db"] > 60
    # Crossed heads would differ by the bias of ones: the pairing is not by order by chance.
    reference = model.predict(digits[2][:40], verbose=0)
    assert np.max(np.abs(reference[0] - reference[1])) > 0.5
    first = run.fidelity_heads[0]
    assert run.fidelity["max_abs_error"] == first["max_abs_error"]
    # summary.json carries the per-head figures too.
    written = json.loads(Path(summary.summary_path).read_text())
    assert {entry["name"] for entry in written["runs"][0]["fidelity_heads"]} == {"left", "right"}
