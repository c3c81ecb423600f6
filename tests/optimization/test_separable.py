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


def _fer_like(k):
    """fer's mini-Xception in miniature: conv + batch norm, then SeparableConv2D + batch norm."""
    inputs = k.Input((12, 12, 1))
    x = k.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.SeparableConv2D(8, 3, padding="same", use_bias=False, name="sep")(x)
    x = k.layers.BatchNormalization(name="sep_bn")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inputs, k.layers.Dense(10, activation="softmax")(x))


def test_qat_quantizes_separable_conv_and_its_batch_norm_as_tfmot_does():
    from mobilekit._compat import keras
    from mobilekit.optimization import unsupported_layers

    k = keras()
    assert unsupported_layers(_fer_like(k)) == []
    # A layer TF-MOT really has no scheme for is still named, and only that one.
    inputs = k.Input((12, 12, 1))
    x = k.layers.Rescaling(1 / 255.0, name="scale")(inputs)
    x = k.layers.SeparableConv2D(8, 3, padding="same")(x)
    x = k.layers.LayerNormalization(name="norm")(x)
    model = k.Model(inputs, k.layers.Dense(3)(k.layers.GlobalAveragePooling2D()(x)))
    assert unsupported_layers(model) == ["scale (Rescaling)", "norm (LayerNormalization)"]


def test_a_fer_like_model_trains_with_qat_to_int8_without_skipping_layers(tmp_path, digits):
    from mobilekit._compat import keras, make_interpreter
    from mobilekit.cli import cli

    k = keras()
    k.utils.set_random_seed(0)
    _fer_like(k).save(tmp_path / "fer_like.keras")
    x = np.pad(digits[0][:192], ((0, 0), (2, 2), (2, 2), (0, 0)))
    np.savez(tmp_path / "train.npz", x=x, y=digits[1][:192])
    np.savez(tmp_path / "calib.npz", x=x[:32])
    out = tmp_path / "fer_like_int8.tflite"
    result = CliRunner().invoke(cli, ["convert", str(tmp_path / "fer_like.keras"), "-o", str(out),
                                      "--train", str(tmp_path / "train.npz"), "--qat", "--epochs", "1",
                                      "--quantize", "int8", "--calibration", str(tmp_path / "calib.npz")])
    assert result.exit_code == 0, result.output
    assert "left in float" not in result.output
    ops = {op["op_name"]: np.dtype(op["operand_types"][0]).name
           for op in make_interpreter(model_path=str(out))._get_ops_details()
           if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")}
    assert ops == {"CONV_2D": "int8", "DEPTHWISE_CONV_2D": "int8"}
