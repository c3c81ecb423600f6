"""`sweep`: every recipe variant optimized, converted, evaluated, benchmarked and reported; an
interrupted sweep resumes without redoing finished work, and a failing variant loses nothing."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.sweeping import format_sweep, sweep
from mobilekit.cli import cli
from mobilekit.errors import DataError, ModelError, UsageError
from mobilekit.reporting import report

RECIPE = """
[defaults]
train = "train.npz"
epochs = 1
batch_size = 64

[variants.fp32]
description = "plain float32"

[variants.dynamic]
quantize = "dynamic"

[variants.broken_int8]
quantize = "int8"
calibration = "no_such_calibration.npz"

[variants.pruned]
prune = 0.5
prune_schedule = "constant"
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("recipe")
    x_train, y_train, _, _ = digits
    np.savez(folder / "train.npz", x=x_train[:256], y=y_train[:256])
    path = folder / "recipe.toml"
    path.write_text(RECIPE)
    return path


def _mtimes(folder: Path, pattern: str) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob(pattern)}


def test_interrupted_sweep_resumes_and_failures_keep_finished_variants(tmp_path, recipe, tiny_keras_path,
                                                                        digits_npz):
    out = tmp_path / "sweep"
    settings = dict(model=tiny_keras_path, data=digits_npz, target="host", output_dir=out, threads=(1,),
                    runs=15, warmup=2)

    def interrupt(variant, stage):
        if (variant, stage) == ("dynamic", "bench"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(recipe, on_stage=interrupt, **settings)
    first = json.loads((out / "sweep.json").read_text())
    assert [(v["name"], v["status"]) for v in first["variants"]] == [("fp32", "ok"), ("dynamic", "interrupted")]
    assert first["variants"][0]["results"] and first["variants"][0]["accuracy_top1"] > 0.5
    models_before = _mtimes(out / "models", "*.tflite")
    results_before = _mtimes(out / "bench", "result.json")
    evaluations_before = _mtimes(out / "evaluations", "*.json")
    assert len(models_before) == 2 and len(results_before) == 1 and len(evaluations_before) == 2

    stages_seen = []
    record = sweep(recipe, on_stage=lambda variant, stage: stages_seen.append((variant, stage)), **settings)
    by_name = {v.name: v for v in record.variants}
    # fp32 was finished: nothing of it ran again, not even a bench process
    assert by_name["fp32"].stages == {"optimize": "skipped", "convert": "resumed", "evaluate": "resumed",
                                      "bench": "resumed"}
    assert ("fp32", "convert") not in stages_seen and ("fp32", "evaluate") not in stages_seen
    # dynamic had been converted and evaluated before the interrupt: only its bench ran
    assert by_name["dynamic"].stages == {"optimize": "skipped", "convert": "resumed", "evaluate": "resumed",
                                         "bench": "done"}
    for path, mtime in {**models_before, **results_before, **evaluations_before}.items():
        assert Path(path).stat().st_mtime_ns == mtime, f"{path} was redone"
    # a failing variant is recorded and the variants after it still run
    assert by_name["broken_int8"].status == "failed"
    assert "no_such_calibration" in by_name["broken_int8"].error
    assert by_name["pruned"].status == "ok" and by_name["pruned"].stages["optimize"] == "done"
    assert [v.name for v in record.failed_variants] == ["broken_int8"]
    # the models really differ, and the report compares them
    sizes = {name: by_name[name].model_size_bytes for name in ("fp32", "dynamic", "pruned")}
    assert sizes["dynamic"] < sizes["fp32"] / 2
    assert all(by_name[name].accuracy_top1 is not None for name in sizes)
    # float32 conversion keeps the source model's decisions; the table shows it per configuration
    assert by_name["fp32"].agreement_with_source >= 0.99
    assert list(by_name["fp32"].latency_ms_p50_by_config) == ["host xnnpack x1"]
    table = format_sweep(record)
    assert "agree" in table and "p50 ms xnnpack x1" in table.splitlines()[0]
    report_text = Path(record.report_path).read_text()
    assert "Pareto" in report_text and record.pareto_front and "plain float32" in report_text
    assert set(record.pareto_front) <= {"fp32", "dynamic", "pruned"}
    pruned_card = json.loads((out / by_name["pruned"].model_path).with_suffix(".json").read_text())
    assert pruned_card["optimization"]["steps"][0]["step"] == "prune"
    assert pruned_card["optimization"]["tflite_verification"]["passed"] is True  # read back from the file

    # `mobilekit report` on the sweep folder sees the variants with their accuracies
    again = report([out], tmp_path / "again.csv")
    assert again.models == ["dynamic", "fp32", "pruned"] and again.runs == 3

    # the CLI on the same folder: everything finished is kept, the broken variant fails again
    outcome = CliRunner().invoke(cli, ["sweep", str(recipe), "--model", str(tiny_keras_path), "--data",
                                       str(digits_npz), "-o", str(out), "--runs", "15", "--warmup", "2"])
    assert outcome.exit_code == 1
    assert "1 of 4 variant(s) failed; first: broken_int8" in outcome.output
    assert "Report:" in outcome.output
    for path, mtime in {**models_before, **results_before}.items():
        assert Path(path).stat().st_mtime_ns == mtime


def test_changed_options_convert_again(tmp_path, recipe, tiny_keras_path):
    """The converted model is keyed by the variant's options: an edit makes a new model file."""
    out = tmp_path / "sweep"
    common = dict(model=tiny_keras_path, output_dir=out, runs=5, warmup=0, variants=["dynamic"], report=None)
    first = sweep(recipe, **common)
    edited = tmp_path / "edited.toml"
    edited.write_text(recipe.read_text().replace('quantize = "dynamic"', 'quantize = "fp16"'))
    (tmp_path / "train.npz").write_bytes((recipe.parent / "train.npz").read_bytes())
    second = sweep(edited, **common)
    assert first.variants[0].options_hash != second.variants[0].options_hash
    assert second.variants[0].stages["convert"] == "done"
    assert first.variants[0].model_sha256 != second.variants[0].model_sha256
    assert second.variants[0].accuracy_top1 is None and second.variants[0].stages["evaluate"] == "skipped"
    # a model file whose conversion never confirmed (no marker: interrupted, or its check failed)
    # is converted again rather than trusted
    (out / second.variants[0].model_path).with_suffix(".done").unlink()
    third = sweep(edited, **common)
    assert third.variants[0].stages["convert"] == "done"


def test_sweep_bad_inputs(tmp_path, recipe, tiny_keras_path):
    with pytest.raises(UsageError, match="no model to sweep"):
        sweep(recipe, output_dir=tmp_path)
    with pytest.raises(UsageError, match="no variant 'nope'"):
        sweep(recipe, model=tiny_keras_path, variants=["nope"], output_dir=tmp_path)
    with pytest.raises(UsageError, match="threads"):
        sweep(recipe, model=tiny_keras_path, threads=[0], output_dir=tmp_path)
    with pytest.raises(DataError, match="evaluation data not found"):
        sweep(recipe, model=tiny_keras_path, data=tmp_path / "missing.npz", output_dir=tmp_path)
    with pytest.raises(ModelError, match="model not found"):
        sweep(recipe, model=tmp_path / "missing.keras", output_dir=tmp_path)
    with pytest.raises(UsageError, match="is a file; a sweep writes a folder"):
        sweep(recipe, model=tiny_keras_path, output_dir=recipe)
    outcome = CliRunner().invoke(cli, ["sweep", str(tmp_path / "missing.toml"), "-m", str(tiny_keras_path)])
    assert outcome.exit_code != 0 and "recipe not found" in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1
    assert "Example" in CliRunner().invoke(cli, ["sweep", "--help"]).output


def test_recipe_names_the_model_and_eval_data(tmp_path, tiny_keras_path, digits_npz):
    recipe = tmp_path / "own.toml"
    recipe.write_text(f'[defaults]\nmodel = "{tiny_keras_path}"\neval = "{digits_npz}"\n\n'
                      '[variants.fp32]\nquantize = "none"\n')
    record = sweep(recipe, output_dir=tmp_path / "out", runs=5, warmup=0, report=None)
    variant = record.variants[0]
    assert variant.status == "ok" and variant.source_model == str(Path(tiny_keras_path).resolve())
    assert variant.data == str(digits_npz) and 0.5 < variant.accuracy_top1 <= 1.0
