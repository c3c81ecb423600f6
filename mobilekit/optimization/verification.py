"""Read an optimization's claims back from the produced .tflite (LiteRT only, no TensorFlow): zeros
per kernel, the 2:4 pattern, and distinct values per kernel, in the stored (often int8) weights."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from ..errors import OptimizationError
from .training import KernelStats, measure_kernel

# op name -> (index of the weights among the op's inputs, input-channel axis, output-channel axis)
# in TFLite's layouts: CONV_2D (out, kh, kw, in), DEPTHWISE (1, kh, kw, channels),
# FULLY_CONNECTED (out, in), TRANSPOSE_CONV (out, kh, kw, in).
KERNEL_OPS = {
    "CONV_2D": (1, -1, 0),
    "DEPTHWISE_CONV_2D": (1, -1, -1),
    "FULLY_CONNECTED": (1, -1, 0),
    "TRANSPOSE_CONV": (1, -1, 0),
    "CONV_3D": (1, -2, -1),
}
SPARSITY_TOLERANCE = 0.01


@dataclasses.dataclass
class TfliteKernel(KernelStats):
    """A kernel as stored in the .tflite: its tensor, op and dtype besides the measurements."""

    tensor: str = ""
    op: str = ""
    dtype: str = ""


@dataclasses.dataclass
class TfliteVerification:
    """What was read back from the .tflite and which claims it confirmed."""

    model_path: str
    kernels: list
    checks: list
    passed: bool
    failures: list


def read_kernels(model_path, *, layer_names=None) -> list[TfliteKernel]:
    """Every weight kernel of a .tflite, measured as stored (int8 stays int8).

    Kernels stored sparse (DENSIFY) or in float16 (DEQUANTIZE) are read after the op that expands
    them, which is why the interpreter keeps all tensors and runs once on zeros.
    ``layer_names`` (Keras layer names) label each kernel with the layer it came from.
    """
    from .._compat import make_interpreter

    path = Path(model_path)
    if not path.is_file():
        raise OptimizationError(f"model not found: {path}")
    try:
        interpreter = make_interpreter(model_path=path, use_xnnpack=False, preserve_all_tensors=True)
        interpreter.allocate_tensors()
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    except (ValueError, RuntimeError) as exc:
        raise OptimizationError(f"cannot read {path} with LiteRT: {str(exc).splitlines()[0]}") from exc
    tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    # Sparse (DENSIFY) and float16 (DEQUANTIZE) weights reach the op through an expanding op whose
    # output is named generically; the stored constant before it carries the layer's name.
    expanded_from = {output: op["inputs"][0] for op in ops
                     if op["op_name"] in ("DENSIFY", "DEQUANTIZE") and len(op["inputs"])
                     for output in op["outputs"]}
    kernels = []
    for op in ops:
        if op["op_name"] not in KERNEL_OPS:
            continue
        position, in_axis, out_axis = KERNEL_OPS[op["op_name"]]
        inputs = list(op["inputs"])
        if len(inputs) <= position or inputs[position] < 0:
            continue
        index = inputs[position]
        detail = tensors.get(index)
        if detail is None:
            continue
        try:
            values = interpreter.get_tensor(index)
        except ValueError:
            continue
        name = detail["name"]
        if index in expanded_from and expanded_from[index] in tensors:
            name = tensors[expanded_from[index]]["name"]
        stats = measure_kernel(_layer_of(name, layer_names), values, in_axis=in_axis,
                               out_axis=out_axis)
        kernels.append(TfliteKernel(**dataclasses.asdict(stats), tensor=name, op=op["op_name"],
                                    dtype=np.dtype(values.dtype).name))
    return kernels


def _layer_of(tensor_name: str, layer_names) -> str:
    """The Keras layer a tensor came from, by its name parts (QAT adds a 'quant_' prefix)."""
    parts = [part for part in re.split(r"[/;:]", tensor_name) if part]
    if layer_names:
        known = set(layer_names)
        # Fused names list several layers (conv;bn;relu): prefer the one that owns the weight op.
        owners = [parts[i - 1] for i in range(1, len(parts))
                  if re.match(r"(Conv2D|MatMul|depthwise|conv2d_transpose|Tensordot)", parts[i])]
        for part in owners + parts:
            candidate = part[len("quant_"):] if part.startswith("quant_") else part
            if candidate in known:
                return candidate
            if part.startswith("prune_low_magnitude_") and part[20:] in known:
                return part[20:]
    return tensor_name


def verify_tflite(model_path, *, sparsity: float | None = None, structure: str | None = None,
                  pruned_layers=None, clusters: int | None = None, clustered_layers=None,
                  zero_extra: bool = False, raise_on_failure: bool = False) -> TfliteVerification:
    """Check in the .tflite that every pruned kernel has >= sparsity - 0.01 zeros (and the 2:4
    pattern when asked) and every clustered kernel <= clusters distinct values per output channel.

    Layers are matched by name; a pruned or clustered layer whose kernel is not found in the file is
    a failure, not a silent pass.
    """
    names = list(pruned_layers or []) + list(clustered_layers or [])
    kernels = read_kernels(model_path, layer_names=names)
    by_layer = {}
    for kernel in kernels:
        by_layer.setdefault(kernel.layer, []).append(kernel)
    checks, failures = [], []
    if pruned_layers and (sparsity is not None or structure == "2:4"):
        target = 0.5 if structure == "2:4" else float(sparsity)
        found = [kernel for name in pruned_layers for kernel in by_layer.get(name, [])]
        missing = [name for name in pruned_layers if name not in by_layer]
        if missing:
            failures.append(f"pruned layer(s) {', '.join(missing)} not found in the .tflite")
        short = [kernel for kernel in found if kernel.sparsity < target - SPARSITY_TOLERANCE]
        for kernel in short:
            failures.append(f"kernel {kernel.layer} ({kernel.tensor}) has {kernel.sparsity:.1%} "
                            f"zeros in the .tflite, below {target:.0%}")
        if found and not short:
            checks.append(f"tflite: all {len(found)} pruned kernels have >= "
                          f"{target - SPARSITY_TOLERANCE:.0%} zeros (lowest "
                          f"{min(kernel.sparsity for kernel in found):.1%}, stored as "
                          f"{', '.join(sorted({kernel.dtype for kernel in found}))})")
        if structure == "2:4":
            broken = [kernel.layer for kernel in found if not kernel.pattern_2_4]
            if broken:
                failures.append(f"kernels {', '.join(broken)} break the 2:4 pattern in the .tflite")
            elif found:
                checks.append(f"tflite: all {len(found)} pruned kernels follow the 2:4 pattern "
                              "(groups of 4 along input channels)")
    if clustered_layers and clusters:
        limit = int(clusters) + (1 if zero_extra else 0)
        found = [kernel for name in clustered_layers for kernel in by_layer.get(name, [])]
        missing = [name for name in clustered_layers if name not in by_layer]
        if missing:
            failures.append(f"clustered layer(s) {', '.join(missing)} not found in the .tflite")
        over = [kernel for kernel in found if kernel.max_unique_per_channel > limit]
        for kernel in over:
            failures.append(f"kernel {kernel.layer} has {kernel.max_unique_per_channel} distinct "
                            f"values in one output channel of the .tflite, more than {limit}")
        if found and not over:
            checks.append(f"tflite: all {len(found)} clustered kernels hold <= {limit} distinct "
                          f"values per output channel (most "
                          f"{max(kernel.max_unique_per_channel for kernel in found)}; whole kernel "
                          f"most {max(kernel.unique_values for kernel in found)})")
    result = TfliteVerification(model_path=str(model_path), kernels=kernels, checks=checks,
                                passed=not failures, failures=failures)
    if failures and raise_on_failure:
        raise OptimizationError(f"the .tflite does not hold the optimization's claims: {failures[0]}"
                                + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))
    return result


def verify_against_record(model_path, record: dict, **kwargs) -> TfliteVerification:
    """``verify_tflite`` with the targets taken from an OptimizeRecord dict (as in the model card)."""
    steps = {step["step"]: step for step in record.get("steps", [])}
    prune_step = steps.get("prune")
    cluster_step = steps.get("cluster")
    return verify_tflite(
        model_path,
        sparsity=prune_step["params"]["sparsity"] if prune_step else None,
        structure=prune_step["params"]["structure"] if prune_step else None,
        pruned_layers=prune_step["params"]["layers"] if prune_step else None,
        clusters=cluster_step["params"]["clusters"] if cluster_step else None,
        clustered_layers=cluster_step["params"]["layers"] if cluster_step else None,
        zero_extra=bool(cluster_step and cluster_step["params"]["preserve_sparsity"]), **kwargs)
