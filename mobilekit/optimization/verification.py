"""Check an optimization's claims: zeros per kernel, the 2:4 pattern, distinct values per kernel.

``sparsity_findings`` and ``cluster_findings`` are the one checker, used on the Keras kernels after
each step (``pruning.verify_sparsity`` and ``clustering.verify_clusters`` raise on a failure) and on
the stored (often int8) weights read back from the .tflite with LiteRT only, no TensorFlow
(``verify_tflite`` collects every failure for the model card).
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..errors import OptimizationError
from ..models.tflite import open_interpreter, read_tflite
from .record import OptimizeRecord, TfliteKernel, TfliteVerification
from .training import measure_kernel

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
# Kernels must reach the target within this margin (masks round to whole weights).
SPARSITY_TOLERANCE = 0.01


@dataclasses.dataclass
class Findings:
    """What a check confirmed (``checks``) and what it found wrong (``failures``)."""

    checks: list = dataclasses.field(default_factory=list)
    failures: list = dataclasses.field(default_factory=list)

    def require(self, checks: list, context: str, hint: str = ""):
        """Raise on the first failure (``raise_first``), else append the claims to ``checks``."""
        self.raise_first(context, hint)
        checks.extend(self.checks)

    def raise_first(self, context: str, hint: str = ""):
        """OptimizationError ``context: first failure`` when there is any failure."""
        if self.failures:
            more = len(self.failures) - 1
            raise OptimizationError(f"{context}: {self.failures[0]}"
                                    + (f" (and {more} more)" if more else "")
                                    + (f"; {hint}" if hint else ""))


def sparsity_findings(kernels, sparsity, structure, *, where: str) -> Findings:
    """Every pruned kernel has >= the target minus ``SPARSITY_TOLERANCE`` zeros (the target is 50%
    for 2:4) and, for 2:4, the pattern. Failures list the shortest kernel first."""
    found = Findings()
    target = 0.5 if structure == "2:4" else float(sparsity)
    floor = target - SPARSITY_TOLERANCE
    short = sorted((kernel for kernel in kernels if kernel.sparsity < floor),
                   key=lambda kernel: kernel.sparsity)
    found.failures += [f"kernel {_kernel_name(kernel)} has {kernel.sparsity:.1%} zeros, below "
                       f"{target:.0%}" for kernel in short]
    if kernels and not short:
        dtypes = sorted({kernel.dtype for kernel in kernels if getattr(kernel, "dtype", "")})
        found.checks.append(f"{where}: all {len(kernels)} pruned kernels have >= {floor:.0%} zeros "
                            f"(lowest {min(kernel.sparsity for kernel in kernels):.1%}"
                            + (f", stored as {', '.join(dtypes)}" if dtypes else "") + ")")
    if structure == "2:4":
        broken = [kernel.layer for kernel in kernels if not kernel.pattern_2_4]
        if broken:
            found.failures.append(f"kernels {', '.join(broken)} break the 2:4 pattern")
        elif kernels:
            found.checks.append(f"{where}: all {len(kernels)} pruned kernels follow the 2:4 pattern "
                                "(groups of 4 along input channels)")
    return found


def cluster_findings(kernels, clusters, *, where: str, zero_extra: bool,
                     per_channel: bool) -> Findings:
    """Each clustered kernel holds at most ``clusters`` distinct values (+1 for kept zeros).

    ``per_channel`` counts per output channel: int8 kernels quantized per channel map one float
    centroid to a different integer in each channel. Failures list the worst kernel first.
    """
    found = Findings()
    limit = int(clusters) + (1 if zero_extra else 0)
    field = "max_unique_per_channel" if per_channel else "unique_values"
    over = sorted((kernel for kernel in kernels if getattr(kernel, field) > limit),
                  key=lambda kernel: -getattr(kernel, field))
    found.failures += [f"kernel {_kernel_name(kernel)} has {getattr(kernel, field)} distinct values"
                       f"{' in one output channel' if per_channel else ''}, more than {limit}"
                       for kernel in over]
    if kernels and not over:
        found.checks.append(
            f"{where}: all {len(kernels)} clustered kernels hold <= {limit} distinct values"
            f"{' per output channel' if per_channel else ''} (most "
            f"{max(getattr(kernel, field) for kernel in kernels)}"
            + (f"; whole kernel most {max(kernel.unique_values for kernel in kernels)}"
               if per_channel else "") + ")")
    return found


def _kernel_name(kernel) -> str:
    tensor = getattr(kernel, "tensor", "")
    return f"{kernel.layer} ({tensor})" if tensor and tensor != kernel.layer else kernel.layer


def read_kernels(model, *, layer_names=None, layer_aliases=None) -> list[TfliteKernel]:
    """Every weight kernel of a .tflite (a path, or the flatbuffer's bytes), measured as stored
    (int8 stays int8).

    Kernels stored sparse (DENSIFY) or in float16 (DEQUANTIZE) are read after the op that expands
    them, which is why the interpreter keeps all tensors and runs once on zeros.
    ``layer_names`` (Keras layer names) label each kernel with the layer it came from.
    """
    if isinstance(model, (bytes, bytearray)):
        content, where = bytes(model), "the converted model"
    else:
        content, where = read_tflite(model), str(model)
    interpreter = open_interpreter(content, where=where, use_xnnpack=False, preserve_all_tensors=True)
    try:
        interpreter.allocate_tensors()
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    except (ValueError, RuntimeError) as exc:
        raise OptimizationError(f"cannot read {where} with LiteRT: {str(exc).splitlines()[0]}") from exc
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
        stats = measure_kernel(_layer_of(name, layer_names, layer_aliases), values, in_axis=in_axis,
                               out_axis=out_axis)
        kernels.append(TfliteKernel(**dataclasses.asdict(stats), tensor=name, op=op["op_name"],
                                    dtype=np.dtype(values.dtype).name))
    return kernels


def _layer_of(tensor_name: str, layer_names, layer_aliases=None) -> str:
    """The Keras layer a tensor came from, by its name parts (QAT adds a 'quant_' prefix);
    ``layer_aliases`` maps names of layers QAT made to the layer they came from."""
    parts = [part for part in re.split(r"[/;:]", tensor_name) if part]
    aliases = layer_aliases or {}
    if layer_names:
        known = set(layer_names)
        # Fused names list several layers (conv;bn;relu): prefer the one that owns the weight op.
        owners = [parts[i - 1] for i in range(1, len(parts))
                  if re.match(r"(Conv2D|MatMul|depthwise|conv2d_transpose|Tensordot)", parts[i])]
        for part in owners + parts:
            candidate = part[len("quant_"):] if part.startswith("quant_") else part
            candidate = aliases.get(candidate, candidate)
            if candidate in known:
                return candidate
            if part.startswith("prune_low_magnitude_") and part[20:] in known:
                return part[20:]
    return tensor_name


def verify_tflite(model, *, sparsity: float | None = None, structure: str | None = None,
                  pruned_layers=None, clusters: int | None = None, clustered_layers=None,
                  zero_extra: bool = False, raise_on_failure: bool = False,
                  model_path=None, layer_aliases=None) -> TfliteVerification:
    """Check in the .tflite (a path, or the converted bytes with ``model_path`` naming where they
    go) that every pruned kernel has >= sparsity - 0.01 zeros (and the 2:4 pattern when asked) and
    every clustered kernel <= clusters distinct values per output channel.

    Layers are matched by name; a pruned or clustered layer whose kernel is not found in the file is
    a failure, not a silent pass.
    """
    names = list(pruned_layers or []) + list(clustered_layers or [])
    kernels = read_kernels(model, layer_names=names, layer_aliases=layer_aliases)
    by_layer = {}
    for kernel in kernels:
        by_layer.setdefault(kernel.layer, []).append(kernel)
    found = Findings()
    if pruned_layers and (sparsity is not None or structure == "2:4"):
        # A separable convolution becomes DEPTHWISE_CONV_2D + a 1x1 CONV_2D under one layer
        # name; TF-MOT prunes only the pointwise kernel, so that is the one to check.
        pruned_by_layer = {name: [k for k in kernels if k.op != "DEPTHWISE_CONV_2D"] or kernels
                           for name, kernels in by_layer.items()}
        _add(found, pruned_by_layer, pruned_layers, "pruned",
             lambda kernels: sparsity_findings(kernels, sparsity, structure, where="tflite"))
    if clustered_layers and clusters:
        _add(found, by_layer, clustered_layers, "clustered",
             lambda kernels: cluster_findings(kernels, clusters, where="tflite",
                                              zero_extra=zero_extra, per_channel=True))
    result = TfliteVerification(model_path=str(model_path if model_path is not None else model),
                                kernels=kernels, checks=found.checks, passed=not found.failures,
                                failures=found.failures)
    if raise_on_failure:
        found.raise_first("the .tflite does not hold the optimization's claims")
    return result


def _add(found: Findings, by_layer: dict, layers, what: str, check):
    missing = [name for name in layers if name not in by_layer]
    if missing:
        found.failures.append(f"{what} layer(s) {', '.join(missing)} not found in the .tflite")
    step = check([kernel for name in layers for kernel in by_layer.get(name, [])])
    found.checks += step.checks
    found.failures += step.failures


def verify_against_record(model, record, **kwargs) -> TfliteVerification:
    """``verify_tflite`` with the targets taken from an OptimizeRecord (or its dict, as in the
    model card)."""
    if isinstance(record, dict):
        record = OptimizeRecord.from_dict(record)
    return verify_tflite(model, **record.tflite_targets(), **kwargs)
