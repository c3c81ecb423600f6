"""The per-layer quantization error as a figure (bar chart by layer in network order) and as an
HTML page: what `mobilekit diagnose --html` writes and what a report embeds."""
from __future__ import annotations

import base64
import html

import numpy as np

from .._io import write_text_atomic

DIAGNOSIS_SCHEMA = "mobilekit.diagnosis/1"
CAPTION = ("Per-layer int8 error in network order: SNR of each layer's output against its float "
           "twin fed the same quantized input (lower is worse; the worst layer in red), and the "
           "RMS error in quantization steps.")


def read_diagnosis(path) -> dict:
    """A `mobilekit diagnose --output` file, checked to be one."""
    import json
    from pathlib import Path

    from ..errors import ReportError

    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read diagnosis {path}: {exc.strerror or exc}") from None
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("schema") != DIAGNOSIS_SCHEMA:
        raise ReportError(f"{path} is not a diagnosis file (schema {DIAGNOSIS_SCHEMA})",
                          hint="write one with `mobilekit diagnose MODEL --calibration DATA "
                               "--output diagnosis.json`")
    return record


def diagnosis_figures(records) -> list[tuple[str, str, bytes]]:
    """``(slug, caption, png)`` per diagnosis record, for a report's figure list."""
    return [(f"layer_errors_{index:02d}", f"{CAPTION} Model: {record['model']}.",
             layer_error_png(record)) for index, record in enumerate(records, start=1)]


def layer_error_png(record: dict) -> bytes:
    """Two stacked bar charts from a diagnosis record (``to_dict(DiagnoseResult)`` or its JSON
    file) in network order: SNR in dB (exact layers drawn at the top and marked) and RMSE/scale.
    The worst layer is drawn in red."""
    from .plots import _figure as figure, _plain as plain, _png as png

    chart = {"layers": [layer["layer"] for layer in record["layers"]],
             "snr_db": [layer["snr_db"] for layer in record["layers"]],
             "rmse_over_scale": [layer["rmse_over_scale"] for layer in record["layers"]],
             "worst": record["ranking"][0] if record["ranking"] else None}

    names = [plain(name) for name in chart["layers"]]
    snr = np.asarray([np.nan if v is None else v for v in chart["snr_db"]], dtype=np.float64)
    rmse = np.asarray(chart["rmse_over_scale"], dtype=np.float64)
    positions = np.arange(len(names))
    fig = figure(max(6.0, 0.55 * len(names) + 2.0), 5.2)
    snr_axes, rmse_axes = fig.subplots(2, 1, sharex=True)
    finite = snr[np.isfinite(snr)]
    top = float(finite.max()) * 1.1 if finite.size else 60.0
    heights = np.where(np.isfinite(snr), snr, top)
    colours = ["#c44e52" if name == chart.get("worst") else
               ("#bbbbbb" if not np.isfinite(value) else "#4c72b0")
               for name, value in zip(chart["layers"], snr)]
    snr_axes.bar(positions, heights, color=colours)
    for position, value in zip(positions, snr):
        if not np.isfinite(value):
            snr_axes.text(position, top, "exact", ha="center", va="bottom", fontsize=7)
    snr_axes.set_ylabel("SNR (dB)")
    snr_axes.set_title("per-layer int8 error (network order)", fontsize=10)
    rmse_axes.bar(positions, rmse, color=colours)
    rmse_axes.set_ylabel("RMSE / scale")
    rmse_axes.set_xticks(positions, names, rotation=45, ha="right", fontsize=8)
    for axes in (snr_axes, rmse_axes):
        axes.grid(axis="y", alpha=0.3)
    return png(fig)


def render_diagnosis_html(result, output, *, chart_png: bytes | None = None) -> None:
    """A page with the ranking table, the what-if table and the per-layer chart."""
    from ..records import to_dict

    e = html.escape
    chart_png = chart_png if chart_png is not None else layer_error_png(to_dict(result))
    by_name = {layer.layer: layer for layer in result.layers}
    rows = "".join(
        f"<tr><td>{rank}</td><td>{e(name)}</td><td>{e('+'.join(by_name[name].ops))}</td>"
        f"<td>{by_name[name].rmse_over_scale:.3f}</td><td>{by_name[name].max_abs_error:.4g}</td>"
        f"<td>{'exact' if by_name[name].snr_db is None else f'{by_name[name].snr_db:.1f}'}</td></tr>"
        for rank, name in enumerate(result.ranking, start=1))
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>int8 diagnosis: {e(result.model)}</title></head><body>",
             f"<h1>int8 diagnosis: {e(result.model)}</h1>",
             f"<p>{result.calibration_samples} calibration samples from "
             f"{e(result.calibration_source)}.</p>",
             "<h2>Layers, worst first</h2><table><tr><th>#</th><th>layer</th><th>ops</th>"
             f"<th>RMSE/scale</th><th>max abs error</th><th>SNR dB</th></tr>{rows}</table>"]
    if result.float_top1 is not None:
        parts.append(f"<p>top-1 on {e(str(result.data))}: float {100 * result.float_top1:.2f}%, "
                     f"int8 {100 * result.int8_top1:.2f}%.</p>")
        what_if = "".join(
            f"<tr><td>{e(w.layer)}</td><td>{100 * w.alone_top1:.2f}%</td>"
            f"<td>{e('+'.join(w.cumulative))}</td><td>{100 * w.cumulative_top1:.2f}%</td></tr>"
            for w in result.what_if or [])
        parts.append("<h2>What if a layer stays float</h2><table><tr><th>layer</th>"
                     "<th>top-1 alone</th><th>cumulative</th><th>top-1 cumulative</th></tr>"
                     f"{what_if}</table>")
    data = base64.b64encode(chart_png).decode("ascii")
    parts += [f'<figure id="layer_errors"><img src="data:image/png;base64,{data}" '
              f'alt="{e(CAPTION)}"><figcaption>{e(CAPTION)}</figcaption></figure>',
              "</body></html>"]
    write_text_atomic(output, "\n".join(parts) + "\n")
