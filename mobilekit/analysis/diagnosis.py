"""Where an int8 model loses its accuracy: the quantization error of every quantized op, tied to
the Keras layer it comes from, ranked worst first, and (with labelled data) the "what if": top-1
with each of the worst layers kept in float, one at a time and cumulatively.

The error of an op is measured by TFLite's QuantizationDebugger on the calibration data: the int8
op and its float twin are fed the same quantized input, so each layer's figure is its own error,
not the error piled up before it.
"""
from __future__ import annotations

import dataclasses
import time

from ..errors import UsageError

DEFAULT_WHAT_IF = 3


@dataclasses.dataclass
class WhatIf:
    layer: str
    alone_top1: float          # top-1 with only this layer kept float
    alone_size_bytes: int
    cumulative: list           # this layer and every worse one kept float
    cumulative_top1: float
    cumulative_size_bytes: int


@dataclasses.dataclass
class DiagnoseResult:
    model: str
    calibration_source: str
    calibration_samples: int
    ops: list                  # selective.OpError, network order
    layers: list               # selective.LayerError, network order
    ranking: list              # layer names, worst first
    int8_size_bytes: int
    data: str | None = None
    samples: int | None = None
    float_top1: float | None = None
    int8_top1: float | None = None
    what_if: list | None = None
    elapsed_s: float = 0.0

    def worst(self) -> str | None:
        return self.ranking[0] if self.ranking else None


def prepare_int8(model, calibration, *, calibration_samples=None, normalize=None, io_type="float32"):
    """(loaded model, Calibrated) for ``model`` calibrated on ``calibration``: the shared start
    of diagnose and its what-if."""
    from ..conversion.converter import DEFAULT_CALIBRATION_SAMPLES, prepared_converter
    from ..conversion.selective import calibrate

    loaded, converter, samples = prepared_converter(
        model, quantize="int8", calibration=calibration, normalize=normalize, io_type=io_type,
        calibration_samples=calibration_samples or DEFAULT_CALIBRATION_SAMPLES)
    return loaded, calibrate(converter, samples, loaded, io_type=io_type)


def diagnose(model, calibration, *, data=None, calibration_samples: int | None = None,
             normalize: str | None = None, what_if: int = DEFAULT_WHAT_IF,
             limit: int | None = None) -> DiagnoseResult:
    """Per-layer int8 error of ``model`` (a Keras model path or object) calibrated on
    ``calibration``; with labelled ``data``, float and int8 top-1 and the what-if for the worst
    ``what_if`` layers."""
    if what_if < 0:
        raise UsageError(f"--what-if must be 0 or more, got {what_if}")
    from ..conversion.selective import labelled_inputs, ranked, top1_of

    started = time.perf_counter()
    loaded, calibrated = prepare_int8(model, calibration, calibration_samples=calibration_samples,
                                      normalize=normalize)
    layers = calibrated.layer_errors()
    ranking = [layer.layer for layer in ranked(layers)]
    int8 = calibrated.quantize()
    result = DiagnoseResult(
        model=loaded.source, calibration_source=str(calibration),
        calibration_samples=calibrated.sample_count, ops=calibrated.op_errors(),
        layers=layers, ranking=ranking, int8_size_bytes=len(int8))
    if data is not None:
        from ..data.loaders import sample_count
        from .evaluation import accuracy_from_outputs, reference_predict

        x, y = labelled_inputs(loaded, data, normalize=normalize, limit=limit)
        result.data, result.samples = str(data), sample_count(x)
        result.float_top1 = accuracy_from_outputs(reference_predict(loaded.model, x)[0], y)["top1"]
        result.int8_top1 = top1_of(int8, x, y)
        result.what_if = []
        for position, layer in enumerate(ranking[:what_if]):
            alone = calibrated.quantize([layer])
            together = calibrated.quantize(ranking[:position + 1]) if position else alone
            result.what_if.append(WhatIf(
                layer=layer, alone_top1=top1_of(alone, x, y), alone_size_bytes=len(alone),
                cumulative=ranking[:position + 1], cumulative_top1=top1_of(together, x, y),
                cumulative_size_bytes=len(together)))
    result.elapsed_s = round(time.perf_counter() - started, 3)
    return result


def format_diagnosis(result: DiagnoseResult, *, rows: int = 15) -> str:
    """The terminal report: layers worst first, then the what-if."""
    from .._text import text_table

    by_name = {layer.layer: layer for layer in result.layers}
    table = []
    for rank, name in enumerate(result.ranking[:rows], start=1):
        layer = by_name[name]
        first = next(op for op in result.ops if op.layer == name)
        table.append([rank, name, "+".join(layer.ops), f"{layer.rmse_over_scale:.3f}",
                      f"{layer.max_abs_error:.4g}", f"{layer.mean_abs_error:.4g}",
                      "exact" if layer.snr_db is None else f"{layer.snr_db:.1f}",
                      f"{first.scale:.4g}", first.zero_point])
    lines = [f"Per-layer int8 error of {result.model} ({result.calibration_samples} calibration "
             f"samples; each op fed the same quantized input as its float twin)",
             text_table(["#", "layer", "ops", "rmse/scale", "max abs", "mean abs", "SNR dB",
                         "scale", "zero pt"], table)]
    if len(result.ranking) > rows:
        lines.append(f"... {len(result.ranking) - rows} more layers in --json")
    if result.float_top1 is not None:
        drop = 100 * (result.float_top1 - result.int8_top1)
        lines += ["", f"top-1 on {result.data} ({result.samples} samples): float "
                      f"{100 * result.float_top1:.2f}%, int8 {100 * result.int8_top1:.2f}% "
                      f"({drop:.2f} points lost)"]
        if result.what_if:
            lines.append(text_table(
                ["keep float", "top-1 alone", "size alone", "cumulative", "top-1 cumul.",
                 "size cumul."],
                [[w.layer, f"{100 * w.alone_top1:.2f}%", f"{w.alone_size_bytes:,}",
                  "+".join(w.cumulative), f"{100 * w.cumulative_top1:.2f}%",
                  f"{w.cumulative_size_bytes:,}"] for w in result.what_if]))
            best = max(result.what_if, key=lambda w: w.alone_top1)
            lines.append(f"to recover accuracy: mobilekit convert MODEL --quantize int8 "
                         f"--keep-float {best.layer} (or --keep-float auto --max-accuracy-drop PTS)")
    lines.append(f"time: {result.elapsed_s:.1f} s")
    return "\n".join(lines)
