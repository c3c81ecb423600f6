"""Which ops of a .tflite model the GPU delegate would leave on the CPU.

Two sources, merged: TensorFlow's model analyzer (``tf.lite.experimental.Analyzer`` with
``gpu_compatibility=True``, imported only here), and mobilekit's own table of the ops the GPU
delegate accepts, copied from TensorFlow's ``lite/tools/versioning/gpu_compatibility.cc``. The table
is needed because the analyzer in the TensorFlow 2.21 pip wheel is built without that checker: it
reports every model as compatible, even one made of UNIQUE or TOPK_V2. The table needs only LiteRT.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import re

# Builtin ops with a GPU implementation (the switch in CheckGpuDelegateCompatibility). Per-op
# parameter limits (strides, broadcast shapes, ...) are the analyzer's job where it works.
GPU_BUILTIN_OPS = frozenset("""
ABS ADD ADD_N ATAN2 AVERAGE_POOL_2D BATCH_MATMUL CAST CEIL CONCATENATION CONV_2D COS CUMSUM
DENSIFY DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP
EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GELU GREATER GREATER_EQUAL HARD_SWISH
LEAKY_RELU LESS LESS_EQUAL LOG LOGICAL_AND LOGISTIC LSTM MAXIMUM MAX_POOL_2D MEAN MINIMUM
MIRROR_PAD MUL NEG NOT_EQUAL ONE_HOT PACK PAD PADV2 POW PRELU QUANTIZE REDUCE_MAX REDUCE_MIN
REDUCE_PROD RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR RSQRT SELECT
SELECT_V2 SIGN SIN SLICE SOFTMAX SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE
STABLEHLO_CLAMP STRIDED_SLICE SUB SUM TANH TILE TRANSPOSE TRANSPOSE_CONV
""".split())
GPU_CUSTOM_OPS = frozenset({"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D",
                            "MaxUnpooling2D", "Resampler"})
_CAST_OK = {("bool", "float16"), ("bool", "float32"), ("float16", "bool"), ("float32", "bool"),
            ("float32", "float32"), ("float32", "int32"), ("int32", "float32"), ("int32", "int32")}
_OP_LINE = re.compile(r"^\s*Op#(\d+)\s+([A-Za-z0-9_]+)")
_WARNING = "GPU COMPATIBILITY WARNING: "


@dataclasses.dataclass
class GpuCompatibility:
    compatible: bool
    unsupported_ops: list  # [{"index", "op", "reason", "source"}]
    analyzer_ran: bool
    analyzer_verdict: str | None  # the analyzer's own summary line, verbatim
    checked_by: str


def gpu_compatibility(model_path=None, *, model_content: bytes | None = None,
                      use_analyzer: bool = True, ops: list | None = None) -> GpuCompatibility:
    """Ops the GPU delegate would not take. ``ops`` (from ``describe_tflite``) saves a re-read."""
    if model_content is None:
        from ..models.tflite import read_tflite

        model_content = read_tflite(model_path)
    if ops is None:
        from ..models.tflite import describe_tflite

        ops = describe_tflite(model_content)["ops"]
    unsupported = {op["index"]: op for op in _table_check(ops)}
    analyzer_ran, verdict = False, None
    if use_analyzer:
        report = _run_analyzer(model_content)
        if report is not None:
            analyzer_ran = True
            findings, verdict = parse_analyzer_report(report)
            for finding in findings:
                if finding["index"] in unsupported:
                    unsupported[finding["index"]]["reason"] = finding["reason"]
                    unsupported[finding["index"]]["source"] = "analyzer+table"
                else:
                    unsupported[finding["index"]] = finding
    checked_by = ("TensorFlow model analyzer and mobilekit's GPU op table" if analyzer_ran
                  else "mobilekit's GPU op table (analyzer not run)")
    listed = [unsupported[index] for index in sorted(unsupported)]
    return GpuCompatibility(compatible=not listed, unsupported_ops=listed, analyzer_ran=analyzer_ran,
                            analyzer_verdict=verdict, checked_by=checked_by)


def _table_check(ops):
    for op in ops:
        name = op["op"]
        reason = None
        if name in GPU_BUILTIN_OPS:
            if name == "CAST" and op["input_types"] and op["output_types"]:
                pair = (op["input_types"][0], op["output_types"][0])
                if pair not in _CAST_OK:
                    reason = f"GPU CAST does not support {pair[0]} -> {pair[1]}"
            elif name == "DEQUANTIZE" and op["input_types"][:1] == ["int16"]:
                reason = "GPU DEQUANTIZE does not support int16 input"
        elif name not in GPU_CUSTOM_OPS:
            reason = f"no GPU implementation of {name}"
        if reason:
            yield {"index": op["index"], "op": name, "reason": reason, "source": "table"}


def _run_analyzer(model_content: bytes) -> str | None:
    try:
        from .._compat import tf
        analyzer = tf().lite.experimental.Analyzer
    except ImportError:
        return None
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            analyzer.analyze(model_content=model_content, gpu_compatibility=True)
    except Exception:  # an experimental API: its failure must not fail inspect
        return None
    return captured.getvalue()


def parse_analyzer_report(report: str):
    """(per-op findings, summary line) from the analyzer's text.

    The analyzer prints ``Op#N NAME(...)`` for each op and, right after an op the GPU delegate
    would refuse, ``GPU COMPATIBILITY WARNING: <why>``; it ends each subgraph with a summary.
    """
    findings, verdict = [], None
    last_op = None
    for line in report.splitlines():
        match = _OP_LINE.match(line)
        if match:
            last_op = (int(match.group(1)), match.group(2))
            continue
        stripped = line.strip()
        if stripped.startswith(_WARNING):
            message = stripped[len(_WARNING):]
            if message.startswith("Subgraph#"):
                verdict = stripped
            elif last_op is not None:
                findings.append({"index": last_op[0], "op": last_op[1], "reason": message,
                                 "source": "analyzer"})
        elif "compatible with GPU delegate" in stripped and verdict is None:
            verdict = stripped
    return findings, verdict
