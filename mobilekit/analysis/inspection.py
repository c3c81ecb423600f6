"""What is inside a .tflite file: tensors and their quantization, an op histogram, weight sparsity.

Reads the model with LiteRT only (no TensorFlow import), so ``mobilekit inspect`` is quick; the
optional GPU-delegate check lives in ``gpu_compatibility.py``.
"""
from __future__ import annotations

import dataclasses

from .._io import sha256_bytes
from ..models.tflite import describe_tflite, gzip_size, read_tflite
from .gpu_rules import custom_ops, read_op_specs, stock_litert_problem


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
    specs = read_op_specs(content)
    gpu = None
    if gpu_check:
        from .gpu_compatibility import gpu_compatibility

        gpu = dataclasses.asdict(gpu_compatibility(model_content=content, use_analyzer=use_analyzer,
                                                   specs=specs))
    return InspectResult(
        model_path=str(path), model_sha256=sha256_bytes(content), model_size_bytes=len(content),
        model_size_gzip_bytes=gzip_size(content), inputs=described["inputs"],
        outputs=described["outputs"], tensors=described["tensors"], op_count=len(described["ops"]),
        op_histogram=described["op_histogram"], weight_sparsity=described["weight_sparsity"], gpu=gpu,
        custom_ops=custom_ops(specs), runtime_problem=stock_litert_problem(specs))


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
