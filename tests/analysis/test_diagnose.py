"""diagnose and selective float layers on the int8-hurts sample (a 6.6k-parameter MLP whose first
layer carries outlier weights on always-zero pixels): real calibration, the real quantization
debugger, real LiteRT runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_models"
MODEL = SAMPLES / "outliers_mlp.keras"
CALIBRATION = SAMPLES / "digits_calibration.npz"
EVAL = SAMPLES / "digits_eval.npz"


@pytest.fixture(scope="module")
def diagnosis():
    from mobilekit.analysis.diagnosis import diagnose

    return diagnose(MODEL, CALIBRATION, data=EVAL, calibration_samples=100, what_if=3)


@pytest.fixture(scope="module")
def calibrated():
    from mobilekit.analysis.diagnosis import prepare_int8

    return prepare_int8(MODEL, CALIBRATION, calibration_samples=100)[1]


def _ops(content):
    from mobilekit.models.tflite import describe_tflite

    return [op["op"] for op in describe_tflite(content)["ops"]]


def test_every_quantized_op_is_tied_to_its_keras_layer_in_network_order(diagnosis):
    assert [layer.layer for layer in diagnosis.layers] == ["pixels", "hidden", "features", "probs"]
    assert [op.op for op in diagnosis.ops] == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED",
                                               "FULLY_CONNECTED", "SOFTMAX"]
    for op in diagnosis.ops:
        assert op.scale > 0 and -128 <= op.zero_point <= 127
        assert op.max_abs_error >= op.mean_abs_error >= 0
        assert op.elements > 0


def test_the_worst_layer_is_the_one_whose_float_fallback_recovers_the_most(diagnosis):
    assert diagnosis.worst() == "hidden"
    hidden = next(layer for layer in diagnosis.layers if layer.layer == "hidden")
    others = [layer for layer in diagnosis.layers if layer.layer != "hidden"]
    assert hidden.snr_db < min(layer.snr_db for layer in others if layer.snr_db is not None)
    # The sample's point: full int8 loses at least 2 points of top-1 on held-out data.
    assert 100 * (diagnosis.float_top1 - diagnosis.int8_top1) >= 2.0
    best = max(diagnosis.what_if, key=lambda w: w.alone_top1)
    assert best.layer == "hidden"
    assert best.alone_top1 >= diagnosis.float_top1 - 0.005
    assert diagnosis.what_if[-1].cumulative == diagnosis.ranking[:3]
    # Float layers cost bytes: a layer kept float makes the model larger.
    assert best.alone_size_bytes > diagnosis.int8_size_bytes


def test_keeping_a_layer_float_puts_quantize_pairs_around_it_and_runs_on_xnnpack(calibrated):
    from mobilekit.conversion.selective import top1_of

    x, y = (np.load(EVAL, allow_pickle=False)[key] for key in ("x", "y"))
    plain, mixed = calibrated.quantize(), calibrated.quantize(["hidden"])
    assert "DEQUANTIZE" not in _ops(plain)[1:-1]
    ops = _ops(mixed)
    # input QUANTIZE, then back to float before the float FULLY_CONNECTED, then QUANTIZE again
    assert ops[:4] == ["QUANTIZE", "RESHAPE", "DEQUANTIZE", "FULLY_CONNECTED"]
    assert ops[4] == "QUANTIZE"
    assert top1_of(mixed, x, y) > top1_of(plain, x, y) + 0.02   # top1_of runs with XNNPACK


def test_all_int8_through_the_calibration_matches_the_plain_converter(calibrated, tmp_path):
    from mobilekit.conversion import convert
    from mobilekit.conversion.selective import top1_of
    from mobilekit.models.tflite import read_tflite

    x, y = (np.load(EVAL, allow_pickle=False)[key] for key in ("x", "y"))
    convert(MODEL, tmp_path / "int8.tflite", quantize="int8", calibration=CALIBRATION,
            calibration_samples=100)
    reference = read_tflite(tmp_path / "int8.tflite")
    assert _ops(reference) == _ops(calibrated.quantize())
    assert top1_of(reference, x, y) == top1_of(calibrated.quantize(), x, y)


def test_unknown_keep_float_layer_names_the_quantized_layers(calibrated):
    from mobilekit.errors import UsageError

    with pytest.raises(UsageError, match="no quantized op for.*hidden, features, probs"):
        calibrated.quantize(["hiden"])


def test_auto_keeps_the_fewest_worst_layers_that_meet_the_budget(calibrated):
    from mobilekit.conversion.selective import keep_float_auto, top1_of

    x, y = (np.load(EVAL, allow_pickle=False)[key] for key in ("x", "y"))
    float_top1 = 0.9799
    content, search = keep_float_auto(calibrated, lambda model: top1_of(model, x, y),
                                      float_top1=float_top1, max_drop_points=1.0)
    assert search.layers == ["hidden"] and search.met_budget and search.stopped == "budget met"
    assert search.int8_top1 < search.top1
    # A size cap below the mixed model's size stops the search before it can keep a layer float.
    _, capped = keep_float_auto(calibrated, lambda model: top1_of(model, x, y),
                                float_top1=float_top1, max_drop_points=1.0,
                                size_cap_bytes=len(calibrated.quantize()) + 10)
    assert capped.layers == [] and not capped.met_budget and capped.stopped == "size cap"


def test_layer_names_come_from_the_fused_tensor_names():
    from mobilekit.conversion.selective import keras_layer_of

    names = ["conv", "dense_1"]
    assert keras_layer_of("model/dense_1/MatMul;model/dense_1/Relu", names) == "dense_1"
    assert keras_layer_of("model/conv/BiasAdd;model/conv/Conv2D", names) == "conv"
    assert keras_layer_of("StatefulPartitionedCall:0", names) == "StatefulPartitionedCall:0"


def test_diagnose_command_writes_json_chart_and_html(tmp_path):
    from mobilekit.cli import cli

    out = tmp_path / "d.json"
    result = CliRunner().invoke(cli, [
        "diagnose", str(MODEL), "--calibration", str(CALIBRATION), "--calibration-samples", "50",
        "--data", str(EVAL), "--what-if", "1", "--output", str(out),
        "--plot", str(tmp_path / "layers.png"), "--html", str(tmp_path / "d.html")])
    assert result.exit_code == 0, result.output
    assert "hidden" in result.output.splitlines()[3]      # rank 1 row of the table
    assert "--keep-float hidden" in result.output
    record = json.loads(out.read_text())
    assert record["schema"] == "mobilekit.diagnosis/1" and record["ranking"][0] == "hidden"
    assert (tmp_path / "layers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "d.html").read_text()
    assert 'id="layer_errors"' in page and "data:image/png;base64," in page


def test_diagnose_refuses_to_overwrite_its_input(tmp_path):
    from mobilekit.cli import cli

    result = CliRunner().invoke(cli, ["diagnose", str(MODEL), "--calibration", str(CALIBRATION),
                                      "--output", str(CALIBRATION)])
    assert result.exit_code == 2 and "is an input" in result.output


def test_convert_keep_float_auto_recovers_the_int8_drop_and_records_it(tmp_path):
    from mobilekit.cli import cli
    from mobilekit.conversion.selective import top1_of
    from mobilekit.models.tflite import read_tflite

    out = tmp_path / "mixed.tflite"
    result = CliRunner().invoke(cli, [
        "convert", str(MODEL), "-o", str(out), "--quantize", "int8", "--calibration",
        str(CALIBRATION), "--calibration-samples", "100", "--keep-float", "auto",
        "--max-accuracy-drop", "1", "--data", str(SAMPLES / "digits_val.npz")])
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text())["accuracy_check"]
    assert card["requested"] == "auto" and card["layers"] == ["hidden"] and card["met_budget"]
    assert card["size_cost_bytes"] == card["size_bytes"] - card["int8_size_bytes"] > 0
    assert card["int8_top1"] < card["top1"] and card["float_top1"] - card["top1"] <= 0.01
    # On held-out data the mixed model recovers at least half of the full-int8 drop.
    x, y = (np.load(EVAL, allow_pickle=False)[key] for key in ("x", "y"))
    mixed = top1_of(read_tflite(out), x, y)
    assert mixed - 0.9374 >= (0.9799 - 0.9374) / 2


def test_convert_that_misses_the_budget_writes_its_files_and_exits_3(tmp_path):
    from mobilekit.cli import cli

    out = tmp_path / "int8.tflite"
    result = CliRunner().invoke(cli, [
        "convert", str(MODEL), "-o", str(out), "--quantize", "int8", "--calibration",
        str(CALIBRATION), "--calibration-samples", "100", "--max-accuracy-drop", "1",
        "--data", str(EVAL)])
    assert result.exit_code == 3, result.output
    assert "over the --max-accuracy-drop 1 budget" in result.output
    assert "--keep-float auto" in result.output          # what to change
    assert out.is_file()
    card = json.loads(out.with_suffix(".json").read_text())["accuracy_check"]
    assert card["met_budget"] is False and card["layers"] == []


def test_keep_float_options_are_refused_where_they_cannot_work(tmp_path):
    from mobilekit.cli import cli

    runner = CliRunner()
    base = ["convert", str(MODEL), "-o", str(tmp_path / "m.tflite")]
    result = runner.invoke(cli, base + ["--keep-float", "hidden"])
    assert result.exit_code == 2 and "--keep-float needs --quantize int8" in result.output
    result = runner.invoke(cli, base + ["--quantize", "int8", "--calibration", str(CALIBRATION),
                                        "--keep-float", "auto"])
    assert result.exit_code == 2 and "--max-accuracy-drop" in result.output
    assert not (tmp_path / "m.tflite").exists()


def test_the_accuracy_budget_applies_to_every_mode(tmp_path):
    from mobilekit.cli import cli

    out = tmp_path / "fp16.tflite"
    result = CliRunner().invoke(cli, [
        "convert", str(MODEL), "-o", str(out), "--quantize", "fp16", "--max-accuracy-drop", "0.5",
        "--data", str(EVAL)])
    assert result.exit_code == 0, result.output
    assert "budget 0.5 points: met" in result.output
    card = json.loads(out.with_suffix(".json").read_text())["accuracy_check"]
    assert card["met_budget"] and abs(card["top1"] - card["float_top1"]) <= 0.005
