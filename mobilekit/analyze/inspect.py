"""What is inside a .tflite file: tensors and their quantization, an op histogram, weight sparsity.

Reads the model with LiteRT only (no TensorFlow import), so ``mobilekit inspect`` is quick; the
optional GPU-delegate check lives in ``compat.py``.
"""
from __future__ import annotations

import collections
import dataclasses
import gzip
from pathlib import Path

import numpy as np

from .._io import sha256_bytes
from ..errors import ModelError

# Per-channel scale vectors can hold thousands of entries; records keep a summary instead.
_MAX_LISTED_SCALES = 16


@dataclasses.dataclass
class InspectResult:
    model_path: str
    model_sha256: str
    model_size_bytes: int
    model_size_gzip_bytes: int
    inputs: list
    outputs: list
    tensors: list
    op_count: int
    op_histogram: dict
    weight_sparsity: dict
    gpu: dict | None = None  # GpuCompatibility as a dict; None when the check was skipped
    custom_ops: list = dataclasses.field(default_factory=list)
    runtime_problem: str | None = None  # why the stock LiteRT runtime cannot run it; None if it can


def inspect_model(path, *, gpu_check: bool = True, use_analyzer: bool = True) -> InspectResult:
    """Describe a .tflite model.

    ``gpu_check`` adds GPU-delegate compatibility (see ``compat.gpu_compatibility``);
    ``use_analyzer=False`` keeps that check to mobilekit's own GPU rules, so no TensorFlow import.
    """
    content = read_tflite(path)
    described = describe_tflite(content, where=str(path))
    from .gpu_rules import custom_ops, read_op_specs, stock_litert_problem

    specs = read_op_specs(content)
    gpu = None
    if gpu_check:
        from .compat import gpu_compatibility

        gpu = dataclasses.asdict(gpu_compatibility(model_content=content, use_analyzer=use_analyzer,
                                                   specs=specs))
    return InspectResult(
        model_path=str(path), model_sha256=sha256_bytes(content), model_size_bytes=len(content),
        model_size_gzip_bytes=gzip_size(content), inputs=described["inputs"],
        outputs=described["outputs"], tensors=described["tensors"], op_count=len(described["ops"]),
        op_histogram=described["op_histogram"], weight_sparsity=described["weight_sparsity"], gpu=gpu,
        custom_ops=custom_ops(specs), runtime_problem=stock_litert_problem(specs))


def read_tflite(path) -> bytes:
    """The bytes of a .tflite file, or a ModelError that says what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model not found: {path}")
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a .tflite file",
                         hint="convert a SavedModel first: mobilekit convert DIR -o model.tflite")
    content = path.read_bytes()
    if len(content) < 8 or content[4:8] != b"TFL3":
        kind = _guess_kind(content)
        raise ModelError(f"{path} is not a .tflite model ({kind})",
                         hint="give a file written by `mobilekit convert` or the TFLite converter")
    return content


def _guess_kind(content: bytes) -> str:
    if not content:
        return "empty file"
    if content[:4] == b"PK\x03\x04":
        return "a zip archive, perhaps a .keras model: convert it first"
    if content[:8] == b"\x89HDF\r\n\x1a\n":
        return "an HDF5 file, perhaps an .h5 Keras model: convert it first"
    return "no TFL3 identifier"


def open_interpreter(content: bytes, *, where: str = "model"):
    """A LiteRT interpreter on the plain builtin kernels (XNNPACK would fold ops into DELEGATE
    nodes and hide the op list), or a ModelError for a corrupt or truncated file."""
    from .._compat import make_interpreter

    try:
        return make_interpreter(model_content=content, use_xnnpack=False)
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{where} is corrupt or truncated: {str(exc).strip().splitlines()[0]}",
                         hint="re-create it with `mobilekit convert`") from None


def describe_tflite(content: bytes, *, where: str = "model") -> dict:
    """Inputs, outputs, all tensors, ops, op histogram and weight sparsity of a flatbuffer."""
    interpreter = open_interpreter(content, where=where)
    try:
        ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
        details = interpreter.get_tensor_details()
        inputs = interpreter.get_input_details()
        outputs = interpreter.get_output_details()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{where} cannot be read: {exc}") from None
    produced = {int(t) for op in ops for t in op["outputs"]}
    consumed = {int(t) for op in ops for t in op["inputs"] if int(t) >= 0}
    graph_inputs = {int(d["index"]) for d in inputs}
    constants = sorted(consumed - produced - graph_inputs)
    histogram = collections.Counter(op["op_name"] for op in ops)
    return {
        "inputs": [tensor_record(d) for d in inputs],
        "outputs": [tensor_record(d) for d in outputs],
        "tensors": [dict(tensor_record(d), constant=int(d["index"]) in set(constants))
                    for d in details],
        "ops": [{"index": int(op["index"]), "op": op["op_name"],
                 "inputs": [int(t) for t in op["inputs"]], "outputs": [int(t) for t in op["outputs"]],
                 "input_types": [np.dtype(t).name for t in op.get("operand_types", [])],
                 "output_types": [np.dtype(t).name for t in op.get("result_types", [])]}
                for op in ops],
        "op_histogram": dict(sorted(histogram.items(), key=lambda item: (-item[1], item[0]))),
        "weight_sparsity": weight_sparsity(interpreter, details, constants),
    }


def tensor_record(detail: dict) -> dict:
    signature = detail.get("shape_signature")
    return {
        "index": int(detail["index"]),
        "name": detail["name"],
        "shape": [int(d) for d in detail["shape"]],
        "shape_signature": [int(d) for d in (signature if signature is not None else detail["shape"])],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": quantization_record(detail),
    }


def quantization_record(detail: dict) -> dict | None:
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), dtype=np.float64)
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if scales.size == 0:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        if not scale:
            return None
        return {"scale": float(scale), "zero_point": int(zero_point)}
    if scales.size == 1:
        return {"scale": float(scales[0]), "zero_point": int(zero_points[0]) if zero_points.size else 0}
    record = {"per_channel": True, "channels": int(scales.size),
              "quantized_dimension": int(params.get("quantized_dimension", 0)),
              "scale_min": float(scales.min()), "scale_max": float(scales.max()),
              "zero_points_all_zero": bool(not zero_points.any())}
    if scales.size <= _MAX_LISTED_SCALES:
        record["scales"] = [float(s) for s in scales]
        record["zero_points"] = [int(z) for z in zero_points]
    return record


def weight_sparsity(interpreter, details, constants) -> dict:
    """Fraction of exactly-zero weights, overall and per constant weight tensor.

    Weights are constant tensors of a float or 8-bit type with at least two dimensions (kernels);
    biases, shapes and other small int32 constants would only dilute the figure. A quantized
    weight counts as zero when it equals its zero point, i.e. dequantizes to 0.0.
    """
    by_index = {int(d["index"]): d for d in details}
    per_tensor, total, zeros = [], 0, 0
    for index in constants:
        detail = by_index.get(index)
        if detail is None:
            continue
        dtype = np.dtype(detail["dtype"])
        if dtype.kind not in "fiu" or dtype.itemsize > 4 or len(detail["shape"]) < 2:
            continue
        if dtype.kind in "iu" and dtype.itemsize != 1:
            continue
        try:
            values = interpreter.get_tensor(index)
        except ValueError:  # no readable buffer (e.g. a variable); not a stored weight
            continue
        zero_point = _zero_point_for(detail, values)
        zero_count = int(np.count_nonzero(values == zero_point))
        per_tensor.append({"index": index, "name": detail["name"],
                           "shape": [int(d) for d in values.shape], "dtype": dtype.name,
                           "size": int(values.size), "zero_fraction": zero_count / max(1, values.size)})
        total += int(values.size)
        zeros += zero_count
    return {"weight_tensors": len(per_tensor), "weights_total": total, "weights_zero": zeros,
            "zero_fraction": zeros / total if total else 0.0, "per_tensor": per_tensor}


def _zero_point_for(detail, values):
    params = detail.get("quantization_parameters") or {}
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if np.dtype(detail["dtype"]).kind not in "iu" or zero_points.size == 0:
        return 0
    if zero_points.size == 1 or not zero_points.any():
        return int(zero_points[0])
    shape = [1] * values.ndim
    axis = int(params.get("quantized_dimension", 0))
    shape[axis] = zero_points.size
    return zero_points.reshape(shape)


def gzip_size(content: bytes) -> int:
    """Bytes after gzip -9: what a download or an APK asset costs; pruning shows up here."""
    return len(gzip.compress(content, compresslevel=9, mtime=0))


def format_inspect(result: InspectResult) -> str:
    """Human-readable tables for the CLI."""
    lines = [f"Model      {result.model_path}",
             f"Size       {result.model_size_bytes:,} bytes ({result.model_size_gzip_bytes:,} gzip)",
             f"SHA-256    {result.model_sha256}", ""]
    if result.runtime_problem:
        lines[-1:] = [f"Runtime    NOT RUNNABLE on stock LiteRT: {result.runtime_problem}", ""]
    lines += _tensor_table("Inputs", result.inputs) + [""]
    lines += _tensor_table("Outputs", result.outputs) + [""]
    lines.append(f"Ops ({result.op_count})")
    width = max((len(name) for name in result.op_histogram), default=4)
    lines += [f"  {name:<{width}}  {count:>5}" for name, count in result.op_histogram.items()]
    sparsity = result.weight_sparsity
    lines += ["", f"Weights    {sparsity['weights_total']:,} in {sparsity['weight_tensors']} tensors, "
                  f"{100 * sparsity['zero_fraction']:.1f}% zero"]
    if result.gpu is not None:
        gpu = result.gpu
        lines.append("")
        if gpu["compatible"]:
            lines.append("GPU        the GPU delegate would take every op")
        else:
            where = ("the CPU" if not result.runtime_problem
                     else "the CPU, which cannot run the custom ops without their resolver")
            lines.append(f"GPU        {len(gpu['unsupported_ops'])} op(s) would stay on {where}:")
            for op in gpu["unsupported_ops"]:
                lines.append(f"  #{op['index']:<4} {op['op']:<24} {op['reason']}")
        lines.append(f"           ({gpu['checked_by']})")
    return "\n".join(lines)


def _tensor_table(title, tensors):
    rows = [(t["name"], "x".join(str(d) if d >= 0 else "?" for d in t["shape_signature"]), t["dtype"],
             _fmt_quant(t["quantization"])) for t in tensors]
    widths = [max([len(r[i]) for r in rows] + [len(h)]) for i, h in enumerate(("name", "shape", "dtype"))]
    lines = [f"{title}", f"  {'name':<{widths[0]}}  {'shape':<{widths[1]}}  {'dtype':<{widths[2]}}  quantization"]
    lines += [f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
    return lines


def _fmt_quant(quantization):
    if not quantization:
        return "-"
    if quantization.get("per_channel"):
        return (f"per-channel x{quantization['channels']} "
                f"scale {quantization['scale_min']:.3g}..{quantization['scale_max']:.3g}")
    return f"scale {quantization['scale']:.6g} zero_point {quantization['zero_point']}"
