"""Pruning a model with SeparableConv2D layers: TF-MOT prunes their pointwise kernels, and both
the Keras check and the .tflite read-back look at that kernel (not the dense depthwise one)."""
from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner


def test_separable_conv_prunes_to_target_and_the_tflite_holds_it(tmp_path, digits):
    from mobilekit._compat import keras
    from mobilekit.cli import cli

    k = keras()
    k.utils.set_random_seed(0)
    model = k.Sequential([
        k.layers.Input((8, 8, 1)), k.layers.Conv2D(8, 3, padding="same", activation="relu"),
        k.layers.SeparableConv2D(16, 3, padding="same", activation="relu", name="sep"),
        k.layers.GlobalAveragePooling2D(), k.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "sep.keras")
    x, y = digits[0][:256], digits[1][:256]
    np.savez(tmp_path / "train.npz", x=x, y=y)
    out = tmp_path / "sep.tflite"
    result = CliRunner().invoke(cli, ["convert", str(tmp_path / "sep.keras"), "-o", str(out),
                                      "--train", str(tmp_path / "train.npz"), "--prune", "0.5",
                                      "--prune-schedule", "constant", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text())
    verification = card["optimization"]["tflite_verification"]
    assert verification["passed"], verification
    sep = [kernel for kernel in verification["kernels"] if kernel["layer"] == "sep"]
    assert {kernel["op"] for kernel in sep} == {"CONV_2D", "DEPTHWISE_CONV_2D"}
    pointwise = next(kernel for kernel in sep if kernel["op"] == "CONV_2D")
    assert pointwise["shape"][1:3] == [1, 1] and pointwise["sparsity"] >= 0.49
