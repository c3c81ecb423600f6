"""`mobilekit convert` with optimize options and recipes, through click on real files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli

from conftest import latency_model


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits):
    x_train, y_train, x_test, y_test = digits
    folder = tmp_path_factory.mktemp("optimize_cli")
    np.savez(folder / "train.npz", x=x_train[:256], y=y_train[:256])
    np.savez(folder / "val.npz", x=x_test[:64], y=y_test[:64])
    np.savez(folder / "calib.npz", x=x_train[:64])
    np.savez(folder / "x_only.npz", x=x_train[:64])
    return folder


def _run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_convert_with_prune_and_qat_writes_the_verified_record_in_the_card(tiny_keras_path, files,
                                                                            tmp_path):
    out = tmp_path / "pqat.tflite"
    result = _run(["convert", str(tiny_keras_path), "-o", str(out), "--train",
                   str(files / "train.npz"), "--val", str(files / "val.npz"), "--prune", "0.5",
                   "--qat", "--quantize", "int8", "--calibration", str(files / "calib.npz"),
                   "--epochs", "1", "--learning-rate", "1e-3"])
    assert result.exit_code == 0, result.output
    assert "verified tflite: all" in result.output and "qat      val accuracy" in result.output
    card = json.loads(out.with_suffix(".json").read_text())
    optimization = card["optimization"]
    assert [step["step"] for step in optimization["steps"]] == ["prune", "qat", "strip"]
    assert optimization["steps"][1]["params"]["preserve"] == "prune"
    verification = optimization["tflite_verification"]
    assert verification["passed"] and not verification["failures"]
    assert any("pruned kernels have >= 49% zeros" in check and "int8" in check
               for check in verification["checks"])


def test_convert_with_a_recipe_variant(tiny_keras_path, files, tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'[defaults]\ntrain = "{files / "train.npz"}"\nepochs = 1\n'
                      f'learning_rate = 1e-3\n[variants.fp32]\nquantize = "none"\n'
                      f'[variants.cluster4]\ncluster = 4\nquantize = "fp16"\n')
    out = tmp_path / "c4.tflite"
    result = _run(["convert", str(tiny_keras_path), "-o", str(out), "--recipe", str(recipe),
                   "--variant", "cluster4"])
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["quantize"] == "fp16"  # the convert option came from the recipe
    assert card["optimization"]["steps"][0]["params"]["clusters"] == 4
    assert card["optimization"]["tflite_verification"]["passed"]
    result = _run(["convert", str(tiny_keras_path), "-o", str(out), "--recipe", str(recipe)])
    assert result.exit_code != 0
    assert "has 2 variants (fp32, cluster4): choose one with --variant NAME" in result.output


@pytest.mark.parametrize("extra, message", [
    (["--prune", "1.5"], "sparsity must be strictly between 0 and 1"),
    (["--cluster", "1"], "clusters must be a whole number >= 2"),
    (["--qat", "--quantize", "int16x8"], "int16x8 after QAT is not possible"),
    (["--qat", "--quantize", "fp16"], "silently give int8 weights"),
    (["--prune", "0.5", "--train", "{files}/x_only.npz"], "labels missing"),
    (["--prune", "0.5", "--val", "{files}/x_only.npz"], "labels missing"),
])
def test_bad_options_are_one_line_errors(tiny_keras_path, files, tmp_path, extra, message):
    args = [arg.replace("{files}", str(files)) for arg in extra]
    if "--train" not in args:
        args += ["--train", str(files / "train.npz")]
    result = _run(["convert", str(tiny_keras_path), "-o", str(tmp_path / "m.tflite")] + args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_steps_need_training_data(tiny_keras_path, tmp_path):
    result = _run(["convert", str(tiny_keras_path), "-o", str(tmp_path / "m.tflite"),
                   "--prune", "0.5"])
    assert result.exit_code != 0
    assert "--prune fine-tunes the model: give --train DATA" in result.output


def test_help_lists_the_optimize_options_with_an_example():
    result = _run(["convert", "--help"])
    assert result.exit_code == 0
    for option in ("--train", "--prune-structure", "--prune-for-latency", "--cluster", "--qat",
                   "--qat-skip-unsupported", "--recipe", "--variant", "--distill-from"):
        assert option in result.output
    assert "--prune 0.8 --qat" in result.output


def test_pruned_for_latency_is_stored_sparse_in_the_tflite(tmp_path):
    # XNNPACK's sparse path reads only sparse-stored kernels: the card's record must reach convert.
    from mobilekit._compat import keras, make_interpreter
    from mobilekit.conversion import convert
    from mobilekit.optimization import optimize

    model = latency_model(keras())
    rng = np.random.default_rng(0)
    train = (rng.uniform(0, 1, (64, 16, 16, 3)).astype(np.float32), rng.integers(0, 3, 64))
    pruned, record = optimize(model, train, prune=0.8, prune_for_latency=True, epochs=1, verbose=0)
    from mobilekit.records import to_dict

    out = convert(pruned, tmp_path / "sparse.tflite", optimization=to_dict(record))
    interpreter = make_interpreter(model_path=out.output_path)
    sparse = [t["name"] for t in interpreter.get_tensor_details()
              if t.get("sparsity_parameters")]
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert sparse and "DENSIFY" in ops, (sparse, ops)


@pytest.mark.parametrize("bad", [["--prune", "1.5"], ["--prune", "0"], ["--cluster", "1"],
                                 ["--prune", "0.5", "--qat", "--quantize", "fp16"]])
def test_bad_optimization_values_are_usage_errors(bad, tmp_path, tiny_keras_path, digits_npz):
    # Exit 2 like every other bad option value, before any training starts.
    from click.testing import CliRunner

    from mobilekit.cli import cli

    result = CliRunner().invoke(cli, ["convert", str(tiny_keras_path), "-o", str(tmp_path / "m.tflite"),
                                      "--train", str(digits_npz), *bad])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert not (tmp_path / "m.tflite").exists()
