"""A model pruned for latency and converted to int8 with a layer kept float still stores its
pruned kernels sparse (XNNPACK's sparse path reads only those), as the plain int8 path does."""
from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from mobilekit.cli import cli

from conftest import latency_model


def test_keep_float_on_a_model_pruned_for_latency_keeps_its_kernels_sparse(tmp_path):
    from mobilekit._compat import keras, make_interpreter

    k = keras()
    k.utils.set_random_seed(0)
    model = latency_model(k)
    model.save(tmp_path / "net.keras")
    first, second = [layer.name for layer in model.layers
                     if isinstance(layer, k.layers.Conv2D) and layer.kernel_size == (1, 1)]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 16, 16, 3)).astype(np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=rng.integers(0, 3, 64))
    np.savez(tmp_path / "calib.npz", x=x)
    out = tmp_path / "mixed.tflite"
    result = CliRunner().invoke(cli, [
        "convert", str(tmp_path / "net.keras"), "-o", str(out), "--train",
        str(tmp_path / "train.npz"), "--prune", "0.8", "--prune-for-latency", "--epochs", "1",
        "--quantize", "int8", "--calibration", str(tmp_path / "calib.npz"),
        "--keep-float", first])
    assert result.exit_code == 0, result.output

    interpreter = make_interpreter(model_path=str(out))
    tensors = interpreter.get_tensor_details()
    sparse = {tensor["name"]: np.dtype(tensor["dtype"]).name for tensor in tensors
              if tensor.get("sparsity_parameters")}
    # Both pruned 1x1 kernels stored sparse: the float layer's in float32, the other in int8.
    assert sorted((next(n for n in (first, second) if f"/{n}/" in name), dtype)
                  for name, dtype in sparse.items()) == [(first, "float32"), (second, "int8")]
    ops = interpreter._get_ops_details()
    assert sum(op["op_name"] == "DENSIFY" for op in ops) == 2
    by_index = {tensor["index"]: tensor["name"] for tensor in tensors}
    conv_types = {next(n for n in (first, second) if f"/{n}/" in by_index[op["outputs"][0]]):
                  np.dtype(op["operand_types"][0]).name
                  for op in ops if op["op_name"] == "CONV_2D"
                  and any(f"/{n}/" in by_index[op["outputs"][0]] for n in (first, second))}
    assert conv_types == {first: "float32", second: "int8"}
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["accuracy_check"]["layers"] == [first]
    verification = card["optimization"]["tflite_verification"]
    assert verification["passed"], verification["failures"]
    # The card counts the zeros a sparse kernel leaves out: 80% pruned reads as about 80% zero,
    # not the 0% of its stored values alone.
    stored = [t for t in card["weight_sparsity"]["per_tensor"] if t.get("stored_sparse")]
    assert len(stored) == 2
    assert all(t["zero_fraction"] >= 0.75 and t["stored_values"] < 0.3 * t["size"] for t in stored), stored
