"""Writing a report: the same tables and plots as one self-contained HTML file, Markdown with PNGs
beside it, or CSV with one row per run."""
from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import io
import re
from collections import OrderedDict
from pathlib import Path

from .._io import write_bytes_atomic, write_text_atomic
from .._text import format_ms
from .pareto import ParetoPoint, pareto_front

# ---------------------------------------------------------------------------------------------
# figures shared by every format


def pareto_points(runs) -> tuple[list[ParetoPoint], str]:
    """One point per model, and a sentence saying which latency each point uses.

    Models are compared at a configuration they all ran when there is one (the same target,
    delegate and threads), because comparing one model's 4-thread latency with another's 1-thread
    latency says nothing about the models; otherwise each model's fastest configuration is used.
    """
    by_model: OrderedDict[tuple, list] = OrderedDict()
    for run in runs:
        if run.ok and run.model_size_bytes is not None:
            by_model.setdefault((run.model_name, run.result.model.sha256), []).append(run)
    if len(by_model) < 2:
        return [], ""
    config_sets = [{(r.target, r.delegate, r.threads) for r in members} for members in by_model.values()]
    shared = sorted(set.intersection(*config_sets), key=lambda c: (c[0], c[1], c[2]))
    points = []
    if shared:
        target, delegate, threads = shared[0]
        basis = (f"median latency on {target}, {delegate}, {threads} thread"
                 f"{'' if threads == 1 else 's'} (a configuration every model ran)")
    else:
        basis = "each model's fastest configuration (no configuration was run by every model)"
    for (name, _sha), members in by_model.items():
        if shared:
            chosen = [r for r in members if (r.target, r.delegate, r.threads) == shared[0]]
        else:
            chosen = members
        best = min(chosen, key=lambda r: r.latency["latency_ms_p50"])
        accuracy = next((r.accuracy_top1 for r in members if r.accuracy_top1 is not None), None)
        points.append(ParetoPoint(name=name, model_size_bytes=float(best.model_size_bytes),
                                  latency_ms=best.latency["latency_ms_p50"], accuracy_top1=accuracy,
                                  description=next((r.description for r in members if r.description), None),
                                  over_budget=any(r.over_budget for r in members)))
    pareto_front(points)
    return points, basis


def build_figures(runs) -> list[tuple[str, str, bytes]]:
    """``(slug, caption, png)`` for every plot the runs support, in report order."""
    from . import plots

    figures = []
    ok_runs = [run for run in runs if run.ok]
    points, basis = pareto_points(runs)
    if points:
        figures.append(("pareto", f"Size, latency and accuracy of each model; {basis}.",
                        plots.pareto_png(points)))
    if ok_runs:
        figures.append(("median_by_threads", "Median latency per delegate and thread count, with the "
                        "95% bootstrap confidence interval of the median.", plots.median_errorbars_png(ok_runs)))
    for index, run in enumerate(ok_runs, start=1):
        figures.append((f"latency_{index:02d}_{_slug(run.config_label)}",
                        f"Latency distribution: {run.config_label} ({len(run.result.timing.samples_ns)} runs).",
                        plots.latency_distribution_png(run)))
    return figures


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:60] or "run"


# ---------------------------------------------------------------------------------------------
# table rows


def _ms(value_ns):
    return None if value_ns is None else value_ns / 1e6


def run_row(run) -> "OrderedDict[str, object]":
    """Every figure of one run, with units in the column names (the CSV row, and table source)."""
    result = run.result
    latency = run.latency or {}
    row: OrderedDict[str, object] = OrderedDict()
    row["run_id"] = result.run_id
    row["model"] = run.model_name
    row["variant"] = run.variant
    row["model_sha256"] = result.model.sha256
    row["model_size_bytes"] = result.model.size_bytes
    row["target"] = run.target
    row["runner_kind"] = result.runner.kind
    row["runtime"] = f"{result.runner.runtime} {result.runner.runtime_version}"
    row["delegate_requested"] = result.delegate.requested
    row["delegate_applied"] = result.delegate.applied
    row["fallback_reason"] = result.delegate.fallback_reason
    row["threads"] = result.delegate.threads
    row["status"] = result.status
    row["error"] = None if result.error is None else \
        f"{result.error.stage}: {result.error.type}: {result.error.message}"
    row["samples"] = len(result.timing.samples_ns)
    for key in ("mean", "std", "min", "p50", "p90", "p95", "p99", "max", "p50_ci_low", "p50_ci_high"):
        row[f"latency_ms_{key}"] = latency.get(f"latency_ms_{key}")
    row["init_ms"] = _ms(result.timing.init_ns)
    row["first_inference_ms"] = _ms(result.timing.first_inference_ns)
    row["peak_rss_bytes"] = result.memory.peak_rss_bytes
    row["pss_bytes"] = result.memory.pss_bytes
    row["thermal_start"] = result.thermal.start.status
    row["thermal_end"] = result.thermal.end.status
    row["battery_temp_c_start"] = result.thermal.start.battery_temp_c
    row["battery_temp_c_end"] = result.thermal.end.battery_temp_c
    row["accuracy_top1"] = run.accuracy_top1
    row["device_manufacturer"] = result.device.manufacturer
    row["device_model"] = result.device.model
    row["device_soc"] = result.device.soc
    row["device_os"] = result.device.os
    row["device_sdk_level"] = result.device.sdk_level
    row["device_abi"] = result.device.abi
    row["device_cores"] = result.device.cores
    row["started_at"] = result.started_at
    row["finished_at"] = result.finished_at
    row["result_path"] = None if run.path is None else str(run.path)
    return row


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format_ms(value)
    return str(value)


def _mib(value) -> str:
    return "-" if value is None else f"{value / (1 << 20):.1f}"


def _kib(value) -> str:
    return "-" if value is None else f"{value / 1024:.1f}"


def _thermal(run) -> str:
    start, end = run.result.thermal.start, run.result.thermal.end

    def one(state):
        parts = [state.status or "-"]
        if state.battery_temp_c is not None:
            parts.append(f"{state.battery_temp_c:.1f} °C")
        return " ".join(parts)

    if start.status is None and end.status is None and start.battery_temp_c is None \
            and end.battery_temp_c is None:
        return "-"
    return f"{one(start)} → {one(end)}"


def _delegate(run) -> str:
    d = run.result.delegate
    if d.applied is None:
        return f"{d.requested} (not applied)"
    if d.applied == d.requested:
        return d.applied
    return f"{d.requested} → {d.applied}"


def summary_table(runs) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "target", "delegate", "threads", "runs", "mean ms", "p50 ms", "p50 95% CI ms",
               "p90 ms", "p99 ms", "init ms", "first inference ms", "peak memory MiB", "thermal",
               "top-1", "size KiB", "fallback reason / error"]
    rows = []
    for run in runs:
        lat = run.latency or {}
        ci = "-" if not lat else f"{format_ms(lat['latency_ms_p50_ci_low'])} – {format_ms(lat['latency_ms_p50_ci_high'])}"
        note = run.result.delegate.fallback_reason or ""
        if run.result.error is not None:
            note = f"failed at {run.result.error.stage}: {run.result.error.message}"
        elif not run.ok:
            note = "no timed samples"
        rows.append([run.model_name, run.target, _delegate(run), str(run.threads),
                     str(len(run.result.timing.samples_ns)),
                     _fmt(lat.get("latency_ms_mean")), _fmt(lat.get("latency_ms_p50")), ci,
                     _fmt(lat.get("latency_ms_p90")), _fmt(lat.get("latency_ms_p99")),
                     _fmt(_ms(run.result.timing.init_ns)), _fmt(_ms(run.result.timing.first_inference_ns)),
                     _mib(run.result.memory.peak_rss_bytes), _thermal(run),
                     "-" if run.accuracy_top1 is None else f"{run.accuracy_top1 * 100:.2f}%",
                     _kib(run.model_size_bytes), note or "-"])
    return headers, rows


def device_table(runs) -> tuple[list[str], list[list[str]]]:
    headers = ["target", "manufacturer", "model", "SoC / CPU", "OS", "SDK", "ABI", "cores", "runner",
               "runtime"]
    seen = OrderedDict()
    for run in runs:
        d, r = run.result.device, run.result.runner
        row = [run.target, _fmt(d.manufacturer), _fmt(d.model), _fmt(d.soc), _fmt(d.os), _fmt(d.sdk_level),
               _fmt(d.abi), _fmt(d.cores), f"{r.kind} {r.version}", f"{r.runtime} {r.runtime_version}"]
        seen.setdefault(tuple(row), row)
    return headers, list(seen.values())


def pareto_table(points) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "size KiB", "median ms", "top-1", "on Pareto front"]
    rows = [[p.name, _kib(p.model_size_bytes), format_ms(p.latency_ms),
             "-" if p.accuracy_top1 is None else f"{p.accuracy_top1 * 100:.2f}%",
             "yes" if p.on_front else "no"]
            for p in sorted(points, key=lambda p: (p.model_size_bytes, p.latency_ms))]
    if any(p.description for p in points):
        headers.append("description")
        for row, point in zip(rows, sorted(points, key=lambda p: (p.model_size_bytes, p.latency_ms))):
            row.append(point.description or "-")
    return headers, rows


# ---------------------------------------------------------------------------------------------
# formats


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f3f4f6}td.text,th.text{text-align:left;white-space:normal}
tr.failed td{background:#fdecea}tr.front td{background:#eaf6ec}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}.meta{color:#666;font-size:.85rem}
"""

_TEXT_COLUMNS = {"model", "target", "delegate", "thermal", "fallback reason / error", "manufacturer",
                 "description",
                 "SoC / CPU", "OS", "runner", "runtime"}


def _html_table(headers, rows, row_classes=None) -> str:
    e = html.escape
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"text" if h in _TEXT_COLUMNS else "num"}">{e(h)}</th>' for h in headers]
    out.append("</tr></thead><tbody>")
    for index, row in enumerate(rows):
        css = row_classes[index] if row_classes else ""
        out.append(f'<tr class="{e(css)}">' if css else "<tr>")
        out += [f'<td class="{"text" if h in _TEXT_COLUMNS else "num"}">{e(str(cell))}</td>'
                for h, cell in zip(headers, row)]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(runs, output: Path, *, title: str, figures) -> None:
    from .._version import __version__

    e = html.escape
    headers, rows = summary_table(runs)
    classes = ["" if run.ok else "failed" for run in runs]
    points, basis = pareto_points(runs)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f'<p class="meta">{len(runs)} run(s), {len({r.model_name for r in runs})} model(s); '
             f"generated {e(_now())} by mobilekit {e(__version__)}. Latencies in milliseconds from "
             "every timed run; the median's interval is a seeded percentile bootstrap.</p>",
             "<h2>Configurations</h2>", _html_table(headers, rows, classes)]
    if points:
        p_headers, p_rows = pareto_table(points)
        ordered = sorted(points, key=lambda p: (p.model_size_bytes, p.latency_ms))
        parts += ["<h2>Models</h2>", f"<p>Latency: {e(basis)}.</p>",
                  _html_table(p_headers, p_rows, ["front" if p.on_front else "" for p in ordered])]
    d_headers, d_rows = device_table(runs)
    parts += ["<h2>Devices</h2>", _html_table(d_headers, d_rows)]
    if figures:
        parts.append("<h2>Plots</h2>")
    for slug, caption, png in figures:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure id="{e(slug)}"><img src="data:image/png;base64,{data}" alt="{e(caption)}">'
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    write_text_atomic(output, "\n".join(parts) + "\n")


def _md_cell(value) -> str:
    # Escape what a Markdown renderer would act on: table pipes and raw HTML. Backslashes first, or
    # a backslash in a name would escape the one added before a pipe and the pipe would split the
    # cell; CR ends a Markdown line just as LF does.
    text = html.escape(str(value), quote=False)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", " ", text)


def _md_table(headers, rows) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(runs, output: Path, *, title: str, figures) -> list[Path]:
    from .._version import __version__

    image_dir = output.parent / f"{output.stem}_files"
    written = []
    headers, rows = summary_table(runs)
    parts = [f"# {_md_cell(title)}", "",
             f"{len(runs)} run(s), {len({r.model_name for r in runs})} model(s); generated {_now()} by "
             f"mobilekit {__version__}. Latencies in milliseconds.", "", "## Configurations", "",
             _md_table(headers, rows), ""]
    points, basis = pareto_points(runs)
    if points:
        p_headers, p_rows = pareto_table(points)
        parts += ["## Models", "", f"Latency: {_md_cell(basis)}.", "", _md_table(p_headers, p_rows), ""]
    d_headers, d_rows = device_table(runs)
    parts += ["## Devices", "", _md_table(d_headers, d_rows), ""]
    if figures:
        parts += ["## Plots", ""]
    for slug, caption, png in figures:
        path = image_dir / f"{slug}.png"
        write_bytes_atomic(path, png)
        written.append(path)
        alt = _md_cell(caption).replace("[", "(").replace("]", ")")
        parts += [f"![{alt}]({image_dir.name}/{path.name})", "", f"*{_md_cell(caption)}*", ""]
    write_text_atomic(output, "\n".join(parts))
    return written


def _csv_safe(value):
    # Spreadsheet apps run cells that start with = + - @ as formulas; model names are user text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


def render_csv(runs, output: Path) -> None:
    buffer = io.StringIO()
    writer = None
    for run in runs:
        row = run_row(run)
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow({key: _csv_safe(value) for key, value in row.items()})
    write_text_atomic(output, buffer.getvalue())


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
