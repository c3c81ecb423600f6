"""Which ops of a .tflite model the GPU delegate would leave on the CPU.

The verdict is mobilekit's own: the per-parameter rules of LiteRT's ``gpu_compatibility.cc``,
transcribed in ``gpu_rules.py`` and read from the flatbuffer (LiteRT only, no TensorFlow).
TensorFlow's model analyzer (``tf.lite.experimental.Analyzer`` with ``gpu_compatibility=True``,
imported only here) is asked too, and its findings are merged in; but the analyzer in the
TensorFlow 2.21 pip wheel is built without that checker and calls every model compatible, so the
label names it only when it flagged something.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import re

from . import gpu_rules

RULES_LABEL = "mobilekit's GPU rules, transcribed from LiteRT's gpu_compatibility.cc"
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
                      use_analyzer: bool = True, specs: list | None = None) -> GpuCompatibility:
    """Ops the GPU delegate would not take. ``specs`` (``gpu_rules.read_op_specs``) saves a re-read."""
    if model_content is None:
        from ..models.tflite import read_tflite

        model_content = read_tflite(model_path)
    if specs is None:
        specs = gpu_rules.read_op_specs(model_content)
    unsupported = {op["index"]: op for op in gpu_rules.check_model(specs)}
    analyzer_ran, verdict, analyzer_found = False, None, 0
    if use_analyzer:
        report = _run_analyzer(model_content)
        if report is not None:
            analyzer_ran = True
            findings, verdict = parse_analyzer_report(report)
            analyzer_found = len(findings)
            for finding in findings:
                if finding["index"] in unsupported:
                    unsupported[finding["index"]]["reason"] = finding["reason"]
                    unsupported[finding["index"]]["source"] = "analyzer+rules"
                else:
                    unsupported[finding["index"]] = finding
    checked_by = RULES_LABEL
    if analyzer_found:
        checked_by += f"; TensorFlow's model analyzer flagged {analyzer_found} op(s) as well"
    listed = [unsupported[index] for index in sorted(unsupported)]
    return GpuCompatibility(compatible=not listed, unsupported_ops=listed, analyzer_ran=analyzer_ran,
                            analyzer_verdict=verdict, checked_by=checked_by)


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
