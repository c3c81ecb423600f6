"""Selective float layers on a model with two inputs (issue 11): calibration, the per-layer error
table, the what-if and --keep-float auto all feed both inputs from an .npz with one array per
input, named after it, and y. The model's image branch carries outlier weights on always-zero
pixels (as sample_models/build_outliers.py does), so full int8 loses points that keeping that
one layer float wins back. Real calibration, the real quantization debugger, real LiteRT runs."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory, digits):
    """Digits split in two inputs (the image, and its row sums), trained together; then the image
    branch's weights on dead pixels are set to +-60."""
    from mobilekit._compat import keras

    k = keras()
    k.utils.set_random_seed(2)
    image = k.Input((8, 8, 1), name="image")
    extra = k.Input((8,), name="row_sums")
    from_image = k.layers.Dense(32, name="from_image")(k.layers.Flatten(name="flat")(image))
    hidden = k.layers.Activation("relu", name="mix")(
        k.layers.Add(name="add")([from_image, k.layers.Dense(32, name="from_sums")(extra)]))
    model = k.Model([image, extra], k.layers.Dense(10, activation="softmax", name="probs")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")

    def split(x):
        return {"image": x, "row_sums": x.sum(axis=(2, 3)) / 2.0}

    x_train, y_train, x_test, y_test = digits
    model.fit(split(x_train[:1000]), y_train[:1000], epochs=10, verbose=0)
    everything = np.concatenate([x_train, x_test]).reshape(-1, 64)
    dead = np.flatnonzero(np.all(everything == 0, axis=0))
    kernel, bias = model.get_layer("from_image").get_weights()
    signs = np.where(np.random.default_rng(0).random((len(dead), kernel.shape[1])) < 0.5, -1.0, 1.0)
    kernel[dead] = 60.0 * signs
    model.get_layer("from_image").set_weights([kernel, bias])
    folder = tmp_path_factory.mktemp("two_keep_float")
    model.save(folder / "two.keras")
    np.savez(folder / "calib.npz", **split(x_train[:64]))
    np.savez(folder / "eval.npz", **split(x_test[:120]), y=y_test[:120])
    return folder


def _convert(two_inputs, out, *extra):
    return CliRunner().invoke(cli, [
        "convert", str(two_inputs / "two.keras"), "-o", str(out), "--quantize", "int8",
        "--calibration", str(two_inputs / "calib.npz"), "--data", str(two_inputs / "eval.npz"),
        *extra])


def _fully_connected_types(path):
    """{Keras layer: input dtypes} of every FULLY_CONNECTED op of a .tflite, by output tensor name."""
    from mobilekit.models.tflite import describe_tflite, read_tflite

    described = describe_tflite(read_tflite(path))
    names = {tensor["index"]: tensor["name"] for tensor in described["tensors"]}
    types = {}
    for op in described["ops"]:
        if op["op"] == "FULLY_CONNECTED":
            name = names[op["outputs"][0]]
            layer = next(part for part in ("from_image", "from_sums", "probs") if part in name)
            types[layer] = set(op["input_types"][:2])  # activations and kernel
    return types


def test_keep_float_layer_on_two_inputs_writes_int8_with_that_layer_float(two_inputs, tmp_path):
    from mobilekit.analysis.evaluation import evaluate

    out = tmp_path / "mixed.tflite"
    result = _convert(two_inputs, out, "--keep-float", "from_image")
    assert result.exit_code == 0, result.output
    assert _fully_connected_types(out) == {"from_image": {"float32"}, "from_sums": {"int8"},
                                           "probs": {"int8"}}
    check = json.loads(out.with_suffix(".json").read_text())["accuracy_check"]
    assert check["layers"] == ["from_image"] and check["samples"] == 120
    # Full int8 loses points on this model; the float image layer wins them back.
    assert 100 * (check["float_top1"] - check["int8_top1"]) >= 2.0
    assert check["top1"] >= check["float_top1"] - 0.01
    # The card's figure is what evaluate measures feeding both inputs from the same .npz.
    assert evaluate(out, two_inputs / "eval.npz").top1 == pytest.approx(check["top1"])


def test_diagnose_ranks_the_layers_of_a_two_input_model_and_runs_the_what_if(two_inputs,
                                                                               tmp_path):
    out = tmp_path / "d.json"
    result = CliRunner().invoke(cli, [
        "diagnose", str(two_inputs / "two.keras"), "--calibration", str(two_inputs / "calib.npz"),
        "--data", str(two_inputs / "eval.npz"), "--what-if", "2", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "from_image" in result.output.splitlines()[3]      # rank 1 row of the table
    assert "--keep-float from_image" in result.output
    record = json.loads(out.read_text())
    assert record["ranking"][0] == "from_image"
    assert {"from_image", "from_sums", "probs"} <= set(record["ranking"])
    assert record["samples"] == 120 and record["calibration_samples"] == 64
    best = max(record["what_if"], key=lambda w: w["alone_top1"])
    assert best["layer"] == "from_image" and best["alone_top1"] > record["int8_top1"] + 0.02


def test_keep_float_auto_on_two_inputs_meets_the_budget_or_says_what_stopped_it(two_inputs,
                                                                                 tmp_path):
    # Kept float, the outlier layer's kernel makes the model larger than its float32 twin: the
    # default size cap stops the search, and the command says so (exit 3, files written).
    capped = tmp_path / "capped.tflite"
    result = _convert(two_inputs, capped, "--keep-float", "auto", "--max-accuracy-drop", "1")
    assert result.exit_code == 3, result.output
    assert "the size cap stopped the search" in result.output and capped.is_file()
    out = tmp_path / "auto.tflite"
    result = _convert(two_inputs, out, "--keep-float", "auto", "--max-accuracy-drop", "1",
                      "--keep-float-size-cap", "2")
    assert result.exit_code == 0, result.output
    check = json.loads(out.with_suffix(".json").read_text())["accuracy_check"]
    assert check["layers"] == ["from_image"] and check["met_budget"]
    assert check["int8_top1"] < check["top1"] and check["float_top1"] - check["top1"] <= 0.01
    assert _fully_connected_types(out)["from_image"] == {"float32"}


def test_calibration_arrays_as_a_list_in_input_order_match_the_dict(two_inputs):
    from mobilekit.conversion.converter import prepared_converter
    from mobilekit.conversion.selective import calibrate

    loaded, converter, samples = prepared_converter(
        two_inputs / "two.keras", quantize="int8", calibration=two_inputs / "calib.npz")
    assert set(samples) == {"image", "row_sums"}
    by_name = calibrate(converter, samples, loaded)
    in_order = calibrate(converter, [samples[name] for name in loaded.input_names()], loaded)
    assert in_order.sample_count == by_name.sample_count == 64
    assert [(e.layer, e.op) for e in in_order.op_errors()] == \
        [(e.layer, e.op) for e in by_name.op_errors()]
    assert in_order.quantize(["from_image"]) == by_name.quantize(["from_image"])


def test_data_without_an_array_per_input_is_one_clear_line(two_inputs, tmp_path, digits):
    np.savez(tmp_path / "xy.npz", x=digits[2][:16], y=digits[3][:16])
    result = CliRunner().invoke(cli, [
        "convert", str(two_inputs / "two.keras"), "-o", str(tmp_path / "m.tflite"), "--quantize",
        "int8", "--calibration", str(two_inputs / "calib.npz"), "--keep-float", "from_image",
        "--data", str(tmp_path / "xy.npz")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no array for input(s) image, row_sums" in lines[0], result.output
    assert not (tmp_path / "m.tflite").exists()
