"""int16x8 with PReLU: the converter has no int16x8 PReLU kernel; --int16x8-fallback converts it
with those ops in float, and the card and --help say what that costs."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli


@pytest.fixture(scope="module")
def prelu_model(tmp_path_factory):
    from mobilekit._compat import keras

    k = keras()
    k.utils.set_random_seed(4)
    model = k.Sequential([k.layers.Input((8, 8, 1)), k.layers.Conv2D(4, 3), k.layers.PReLU(),
                          k.layers.Flatten(), k.layers.Dense(10, activation="softmax")])
    path = tmp_path_factory.mktemp("prelu") / "prelu.keras"
    model.save(path)
    return path


def test_prelu_int16x8_fails_plainly_and_converts_with_the_fallback(prelu_model, tmp_path,
                                                                      calibration_npz, digits):
    base = ["convert", str(prelu_model), "--quantize", "int16x8", "--calibration",
            str(calibration_npz)]
    plain = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "plain.tflite")])
    assert plain.exit_code != 0 and "Traceback" not in plain.output
    assert "PRELU" in plain.output and "--int16x8-fallback" in plain.output
    assert not (tmp_path / "plain.tflite").exists()

    out = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "fb.tflite"), "--int16x8-fallback"])
    assert out.exit_code == 0, out.output
    assert "fallback" in out.output and "float32" in out.output
    card = json.loads((tmp_path / "fb.json").read_text())
    assert "PReLU" in card["int16x8_fallback"] and "integer-only" in card["int16x8_fallback"]
    assert "PRELU" in card["op_histogram"] and "DEQUANTIZE" in card["op_histogram"]

    from mobilekit.analysis.evaluation import evaluate

    result = evaluate(tmp_path / "fb.tflite", (digits[2][:50], digits[3][:50]),
                      reference=prelu_model)
    assert result.max_abs_error < 0.05  # int16 activations elsewhere stay close to float


def test_fallback_is_for_int16x8_and_help_states_the_trade_off(prelu_model, tmp_path):
    wrong = CliRunner().invoke(cli, ["convert", str(prelu_model), "-o", str(tmp_path / "w.tflite"),
                                     "--int16x8-fallback"])
    assert wrong.exit_code == 2 and "applies to --quantize int16x8" in wrong.output
    text = " ".join(CliRunner().invoke(cli, ["convert", "--help"]).output.split())
    assert "--int16x8-fallback" in text and "integer-only" in text and "slower" in text
