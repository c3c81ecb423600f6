"""mobilekit inspect: tensors, quantization, ops, sparsity, GPU compatibility; corrupt files refused."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.analysis.gpu_compatibility import gpu_compatibility, parse_analyzer_report
from mobilekit.analysis.inspection import inspect_model
from mobilekit.cli import cli
from mobilekit.errors import ModelError


@pytest.fixture(scope="module")
def unique_op_tflite(tmp_path_factory):
    """A model with UNIQUE and TOPK_V2, ops the GPU delegate has no kernels for."""
    from mobilekit._compat import tf

    t = tf()

    @t.function(input_signature=[t.TensorSpec([1, 8], t.float32)])
    def model(x):
        return t.unique(x[0])[0], t.sort(x) * 2.0

    converter = t.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    path = tmp_path_factory.mktemp("gpu") / "unique.tflite"
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="module")
def pruned_int8_tflite(tmp_path_factory, tiny_keras_path, digits):
    """The tiny CNN with half of every kernel zeroed, as int8: sparsity must show through."""
    from mobilekit._compat import keras
    from mobilekit.conversion import convert

    model = keras().models.load_model(tiny_keras_path)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            kernel = weights[0].copy()
            flat = kernel.reshape(-1)
            flat[: flat.size // 2] = 0.0
            layer.set_weights([kernel, *weights[1:]])
    folder = tmp_path_factory.mktemp("pruned")
    np.savez(folder / "calib.npz", x=digits[0][:32])
    convert(model, folder / "pruned_int8.tflite", quantize="int8", calibration=folder / "calib.npz")
    return folder / "pruned_int8.tflite"


def test_inspect_float_model(tiny_tflite_path):
    import mobilekit

    result = mobilekit.inspect_model(tiny_tflite_path, use_analyzer=False)
    assert result.model_size_bytes == tiny_tflite_path.stat().st_size
    assert result.op_histogram == {"FULLY_CONNECTED": 2, "CONV_2D": 1, "MAX_POOL_2D": 1,
                                   "RESHAPE": 1, "SOFTMAX": 1}
    assert result.op_count == 6
    (inp,), (out,) = result.inputs, result.outputs
    assert inp["shape_signature"] == [-1, 8, 8, 1] and inp["dtype"] == "float32"
    assert inp["quantization"] is None and out["shape_signature"] == [-1, 10]
    sparsity = result.weight_sparsity
    # conv 3x3x1x8, dense 128x32 and 32x10 kernels
    assert sparsity["weight_tensors"] == 3
    assert sparsity["weights_total"] == 72 + 128 * 32 + 32 * 10
    assert result.gpu["compatible"] and not result.gpu["analyzer_ran"]


def test_inspect_int8_quantization_and_sparsity(pruned_int8_tflite):
    result = inspect_model(pruned_int8_tflite, gpu_check=False)
    assert result.gpu is None
    assert result.inputs[0]["dtype"] == "float32"  # float interface around an int8 body
    kernels = [t for t in result.tensors if t["constant"] and t["dtype"] == "int8"]
    assert kernels and all(t["quantization"] for t in kernels)
    conv = next(t for t in kernels if t["shape"] == [8, 3, 3, 1])
    assert conv["quantization"]["per_channel"] and conv["quantization"]["channels"] == 8
    assert 0.45 <= result.weight_sparsity["zero_fraction"] <= 0.6
    assert all(0.45 <= t["zero_fraction"] <= 0.6 for t in result.weight_sparsity["per_tensor"])


def test_gpu_check_names_the_ops_left_on_cpu(unique_op_tflite, tiny_tflite_path):
    table_only = gpu_compatibility(unique_op_tflite, use_analyzer=False)
    assert not table_only.compatible
    # x[0] is a STRIDED_SLICE with shrink_axis_mask, which the GPU rules refuse as well.
    assert {op["op"] for op in table_only.unsupported_ops} == {"UNIQUE", "TOPK_V2", "STRIDED_SLICE"}
    with_analyzer = gpu_compatibility(unique_op_tflite, use_analyzer=True)
    assert with_analyzer.analyzer_ran and with_analyzer.analyzer_verdict
    assert {op["op"] for op in with_analyzer.unsupported_ops} >= {"UNIQUE", "TOPK_V2"}
    assert gpu_compatibility(tiny_tflite_path, use_analyzer=True).compatible


def test_parse_analyzer_report_reads_per_op_warnings():
    # The analyzer's layout (lite/tools/analyzer/model_analyzer.cc) for a model it flags.
    report = """=== TFLite ModelAnalyzer ===

Subgraph#0 main(T#0) -> [T#3]
  Op#0 CONV_2D(T#0, T#1, T#2) -> [T#3]
  Op#1 CUMSUM(T#3, T#4[1]) -> [T#5]
GPU COMPATIBILITY WARNING: Not supported op CUMSUM
  Op#2 RESHAPE(T#5, T#6) -> [T#7]

GPU COMPATIBILITY WARNING: Subgraph#0 has GPU delegate compatibility issues at nodes 1 with TFLite runtime version 2.21.0
"""
    findings, verdict = parse_analyzer_report(report)
    assert findings == [{"index": 1, "op": "CUMSUM", "reason": "Not supported op CUMSUM",
                         "source": "analyzer"}]
    assert verdict.startswith("GPU COMPATIBILITY WARNING: Subgraph#0")


def test_inspect_api_and_cli_do_not_import_tensorflow(tiny_tflite_path):
    code = (
        "import sys, json\n"
        "from mobilekit.analysis.inspection import inspect_model\n"
        "result = inspect_model(sys.argv[1], use_analyzer=False)\n"
        "assert result.op_count == 6\n"
        "from mobilekit.cli import cli\n"
        "try:\n    cli.main(['inspect', sys.argv[1], '--no-analyzer', '--json'], prog_name='mobilekit')\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tiny_tflite_path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["op_histogram"]["CONV_2D"] == 1


def _corrupt_files(folder, real):
    content = real.read_bytes()
    files = {
        "random": np.random.default_rng(0).bytes(4096),
        "truncated": content[: len(content) // 3],
        "header_only": content[:8] + np.random.default_rng(1).bytes(2000),
        "empty": b"",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(data)
    return paths


def test_corrupt_tflite_files_are_refused(tmp_path, tiny_tflite_path, tiny_keras_path):
    for name, path in _corrupt_files(tmp_path, tiny_tflite_path).items():
        with pytest.raises(ModelError) as info:
            inspect_model(path, gpu_check=False)
        assert str(path) in str(info.value) and "\n" not in str(info.value), name
    with pytest.raises(ModelError, match="not found"):
        inspect_model(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="convert it first"):
        inspect_model(tiny_keras_path)


def test_cli_inspect_table_and_json(tiny_tflite_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["inspect", str(tiny_tflite_path), "--no-analyzer", "--tensors"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for fragment in ("Inputs", "Outputs", "CONV_2D", "Weights", "GPU", "Tensors", "?x8x8x1"):
        assert fragment in result.stdout
    result = runner.invoke(cli, ["inspect", str(tiny_tflite_path), "--json", "--no-gpu-check"],
                           catch_exceptions=False)
    record = json.loads(result.stdout)
    assert record["gpu"] is None and record["op_count"] == 6 and len(record["model_sha256"]) == 64


@pytest.mark.parametrize("name", ["random", "truncated", "header_only", "empty", "missing", "keras"])
def test_cli_inspect_bad_files_one_line(name, tmp_path, tiny_tflite_path, tiny_keras_path):
    paths = _corrupt_files(tmp_path, tiny_tflite_path)
    paths["missing"] = tmp_path / "missing.tflite"
    paths["keras"] = tiny_keras_path
    result = CliRunner().invoke(cli, ["inspect", str(paths[name])], catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and str(paths[name]) in lines[0]
