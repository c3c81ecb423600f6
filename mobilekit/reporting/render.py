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

from .._fileset import output_set
from .._io import write_bytes_atomic, write_text_atomic
from .._text import format_ms
from ..results.throttling import flag_summary
from .pareto import NO_GROUPING, ParetoPoint, model_points, pareto_groups
from .timeline import has_timeline, timeline_png

# ---------------------------------------------------------------------------------------------
# figures shared by every format


def pareto_points(runs) -> tuple[list[ParetoPoint], str]:
    """The points of every source model's front (each front marked within its source), and a
    sentence saying which latency each source's points use."""
    groups, _alone = pareto_groups(runs)
    return [p for group in groups for p in group.points], \
        "; ".join(f"{group.source_name}: {group.basis}" for group in groups)


# Each builder takes the runs and returns ``(slug, caption, png)`` figures; the report shows them in
# this order. A new figure is a new builder appended here.


def _pareto_figures(runs):
    from . import plots

    groups, _alone = pareto_groups(runs)
    if not groups:
        return []
    caption = "Pareto front among the variants of each source model; " + \
        "; ".join(f"{group.source_name}: {group.basis}" for group in groups) + "."
    return [("pareto", caption, plots.pareto_png(groups))]


def _size_latency_figures(runs):
    """All models on one chart, when no single front already shows them all."""
    from . import plots

    points, basis = model_points(runs)
    groups, _alone = pareto_groups(runs)
    if len(points) < 2 or (len(groups) == 1 and len(groups[0].points) == len(points)):
        return []
    return [("size_latency", f"Size and median latency of every model, coloured by source model; {basis}.",
             plots.size_latency_png(points))]


def _median_figures(runs):
    from . import plots

    ok_runs = [run for run in runs if run.ok]
    if not ok_runs:
        return []
    return [("median_by_threads", "Median latency by thread count, a panel per model, with the 95% "
             "bootstrap confidence interval of the median.", plots.median_errorbars_png(ok_runs))]


def _distribution_figures(runs):
    from . import plots

    return [(f"latency_{index:02d}_{_slug(run.config_label)}",
             f"Latency distribution: {run.config_label} ({len(run.result.timing.samples_ns)} runs).",
             plots.latency_distribution_png(run))
            for index, run in enumerate((run for run in runs if run.ok), start=1)]


def _timeline_figures(runs):
    figures = []
    for index, run in enumerate((run for run in runs if run.ok), start=1):
        result = run.result
        if has_timeline(result.timing.samples_ns, result.telemetry):
            figures.append((f"timeline_{index:02d}_{_slug(run.config_label)}",
                            f"Latency over time with thermal status, temperature and CPU frequency: "
                            f"{run.config_label}{_throttling_note(result)}.",
                            timeline_png(result.timing.samples_ns, result.telemetry,
                                         title=run.config_label, throttling=result.throttling)))
    return figures


def _throttling_note(result) -> str:
    text = _throttling(result)
    flags = flag_summary(result.flags)
    return (f" (throttling {text})" if text != "-" else "") + (f"; flagged: {flags}" if flags else "")


def _throttling(result) -> str:
    """``×1.33, +10% at 2.0 s`` (last-window median over first, and when it first rose)."""
    figure = result.throttling
    if not figure or figure.get("ratio") is None:
        return "-"
    text = f"×{figure['ratio']:.2f}"
    if figure.get("time_to_rise_s") is not None:
        text += f", +{figure['rise_fraction']:.0%} at {figure['time_to_rise_s']:.1f} s"
    return text


FIGURE_BUILDERS = [_pareto_figures, _size_latency_figures, _median_figures, _distribution_figures,
                   _timeline_figures]


def build_figures(runs) -> list[tuple[str, str, bytes]]:
    """``(slug, caption, png)`` for every plot the runs support, in report order."""
    return [figure for builder in FIGURE_BUILDERS for figure in builder(runs)]


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
    row["model_path"] = run.model_path
    row["source_model"] = run.source_name
    row["source"] = run.source
    row["target"] = run.target
    row["runner_kind"] = result.runner.kind
    row["launch"] = result.runner.launch  # phones: instrumentation, or activity (bench --foreground)
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
    figure = result.throttling or {}
    row["throttling_ratio"] = figure.get("ratio")
    row["time_to_rise_s"] = figure.get("time_to_rise_s")
    row["flags"] = ",".join(flag["code"] for flag in result.flags or ()) or None
    row["flag_reasons"] = flag_summary(result.flags) or None
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


def run_note(run) -> str:
    """Why a run failed or fell back to another delegate ("" when neither)."""
    if run.result.error is not None:
        return f"failed at {run.result.error.stage}: {run.result.error.type}: {run.result.error.message}"
    if not run.ok:
        return "failed: no timed samples"
    return run.result.delegate.fallback_reason or ""


def failure_rows(runs) -> tuple[list, list]:
    """``(failed, fell_back)``: (configuration, reason) of every failed run and every delegate
    fallback, for the section a reader sees first."""
    failed = [(run.config_label, run_note(run)) for run in runs if not run.ok]
    fell_back = [(run.config_label, run_note(run)) for run in runs
                 if run.ok and run.result.delegate.fallback_reason]
    return failed, fell_back


def _config_cells(run) -> list[str]:
    return [run.model_name, run.target, _delegate(run), str(run.threads)]


def configuration_tables(runs) -> list[tuple[str, list[str], list[list[str]]]]:
    """The configurations as two narrow tables (latency; start-up, memory and the rest), so both
    fit a laptop screen and the reason column is never off to the right."""
    key = ["model", "target", "delegate", "threads"]
    latency_rows, other_rows = [], []
    for run in runs:
        lat = run.latency or {}
        ci = "-" if not lat else \
            f"{format_ms(lat['latency_ms_p50_ci_low'])} – {format_ms(lat['latency_ms_p50_ci_high'])}"
        latency_rows.append(_config_cells(run) + [
            str(len(run.result.timing.samples_ns)), _fmt(lat.get("latency_ms_p50")), ci,
            _fmt(lat.get("latency_ms_p90")), _fmt(lat.get("latency_ms_p99")),
            _fmt(lat.get("latency_ms_mean")), run_note(run) or "-"])
        other_rows.append(_config_cells(run) + [
            _fmt(_ms(run.result.timing.init_ns)), _fmt(_ms(run.result.timing.first_inference_ns)),
            _mib(run.result.memory.peak_rss_bytes), _thermal(run), _throttling(run.result),
            flag_summary(run.result.flags) or "-",
            "-" if run.accuracy_top1 is None else f"{run.accuracy_top1 * 100:.2f}%",
            _kib(run.model_size_bytes)])
    return [("Latency", key + ["runs", "p50 ms", "p50 95% CI ms", "p90 ms", "p99 ms", "mean ms",
                               "fallback reason / error"], latency_rows),
            ("Start-up, memory, thermal, accuracy", key + ["init ms", "first inference ms",
                                                            "peak memory MiB", "thermal", "throttling",
                                                            "flags", "top-1", "size KiB"], other_rows)]


def model_table(runs) -> tuple[list[str], list[list[str]]]:
    """One row per model file (by sha256): the name the report uses, where it came from."""
    headers = ["model", "sha256", "size KiB", "source model", "file", "configurations", "failed"]
    seen: OrderedDict[tuple, list] = OrderedDict()
    for run in runs:
        seen.setdefault((run.result.model.sha256, run.model_name), []).append(run)
    rows = []
    for (sha, name), members in sorted(seen.items(), key=lambda item: item[0][1]):
        first = members[0]
        rows.append([name, (sha or "-")[:12], _kib(first.model_size_bytes), first.source_name or "unknown",
                     first.model_path or "-", str(len(members)), str(sum(not r.ok for r in members))])
    return headers, rows


def device_table(runs) -> tuple[list[str], list[list[str]]]:
    headers = ["target", "manufacturer", "model", "SoC / CPU", "OS", "SDK", "ABI", "cores", "runner",
               "runtime"]
    seen = OrderedDict()
    for run in runs:
        d, r = run.result.device, run.result.runner
        row = [run.target, _fmt(d.manufacturer), _fmt(d.model), _fmt(d.soc), _fmt(d.os), _fmt(d.sdk_level),
               _fmt(d.abi), _fmt(d.cores), f"{r.kind} {r.version}" + (f" ({r.launch})" if r.launch else ""),
               f"{r.runtime} {r.runtime_version}"]
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
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;max-width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap;vertical-align:top}
th{background:#f3f4f6;white-space:normal}td.text,th.text{text-align:left;white-space:normal}
td.text{overflow-wrap:anywhere}td.text:first-child{min-width:12rem}
ul.failures{padding-left:1.2rem;margin:.3rem 0}ul.failures li{overflow-wrap:anywhere;margin:.15rem 0}
ul.failures .config{font-weight:600}section.failures{background:#fdecea;padding:.4rem .8rem;
border-left:4px solid #c44e52}section.fallbacks{background:#fff7e6;padding:.4rem .8rem;
border-left:4px solid #dd8452}
tr.failed td{background:#fdecea}tr.front td{background:#eaf6ec}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}.meta{color:#666;font-size:.85rem}
"""

_TEXT_COLUMNS = {"model", "target", "delegate", "thermal", "throttling", "flags", "fallback reason / error",
                 "manufacturer",
                 "description", "source model", "file",
                 "SoC / CPU", "OS", "runner", "runtime"}


def _breakable(text: str) -> str:
    """Escaped text that may wrap after a "/" or "_", so paths and model names break between their
    parts rather than mid-word in a narrow column."""
    return re.sub(r"([/_])", r"\1<wbr>", html.escape(text))


def _html_table(headers, rows, row_classes=None) -> str:
    e = html.escape
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"text" if h in _TEXT_COLUMNS else "num"}">{e(h)}</th>' for h in headers]
    out.append("</tr></thead><tbody>")
    for index, row in enumerate(rows):
        css = row_classes[index] if row_classes else ""
        out.append(f'<tr class="{e(css)}">' if css else "<tr>")
        out += [f'<td class="text">{_breakable(str(cell))}</td>' if h in _TEXT_COLUMNS else
                f'<td class="num">{e(str(cell))}</td>' for h, cell in zip(headers, row)]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _pareto_intro(runs) -> tuple[list, list[str], str | None]:
    """The groups, the models without one, and the sentence saying there is nothing to group."""
    groups, alone = pareto_groups(runs)
    if not groups and len({run.result.model.sha256 for run in runs if run.ok}) >= 2:
        return groups, alone, NO_GROUPING[0].upper() + NO_GROUPING[1:] + "."
    return groups, alone, None


def render_html(runs, output: Path, *, title: str, figures, notes=()) -> None:
    from .._version import __version__

    e = html.escape
    failed, fell_back = failure_rows(runs)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f'<p class="meta">{len(runs)} configuration(s) of {_model_count(runs)} model(s), '
             f"{len(failed)} failed; generated {e(_now())} by mobilekit {e(__version__)}. Latencies "
             "in milliseconds from every timed run; the median's interval is a seeded percentile "
             "bootstrap.</p>"]
    for css, heading, items in (("failures", f"Failures ({len(failed)})", failed),
                                ("fallbacks", f"Delegate fallbacks ({len(fell_back)})", fell_back)):
        if items:
            parts += [f'<section class="{css}" id="{css}"><h2>{e(heading)}</h2><ul class="failures">']
            parts += [f'<li><span class="config">{e(label)}</span>: <span class="reason">{e(reason)}'
                      "</span></li>" for label, reason in items]
            parts.append("</ul></section>")
    if notes:
        parts += ['<section class="notes" id="notes"><h2>Notes</h2><ul>']
        parts += [f"<li>{e(note)}</li>" for note in notes]
        parts.append("</ul></section>")
    m_headers, m_rows = model_table(runs)
    parts += ["<h2>Models</h2>", _html_table(m_headers, m_rows)]
    classes = ["" if run.ok else "failed" for run in runs]
    for heading, headers, rows in configuration_tables(runs):
        parts += [f"<h2>Configurations: {e(heading.lower())}</h2>", _html_table(headers, rows, classes)]
    groups, alone, nothing = _pareto_intro(runs)
    if groups or nothing:
        parts.append('<h2 id="pareto-fronts">Pareto front per source model</h2>')
    if nothing:
        parts.append(f'<p class="no-grouping">{e(nothing)}</p>')
    for group in groups:
        p_headers, p_rows = pareto_table(group.points)
        ordered = sorted(group.points, key=lambda p: (p.model_size_bytes, p.latency_ms))
        parts += [f'<h3 class="pareto-group">From {e(group.source_name)}</h3>',
                  f"<p>Latency: {e(group.basis)}.</p>",
                  _html_table(p_headers, p_rows, ["front" if p.on_front else "" for p in ordered])]
    if groups and alone:
        parts.append(f"<p>No front for {e(', '.join(alone))}: no other benchmarked model shares "
                     "its source model.</p>")
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


def _model_count(runs) -> int:
    return len({(run.result.model.sha256, run.model_name) for run in runs})


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


def render_markdown(runs, output: Path, *, title: str, figures, notes=()) -> list[Path]:
    from .._version import __version__

    image_dir = markdown_files_folder(output)
    written = []
    failed, fell_back = failure_rows(runs)
    parts = [f"# {_md_cell(title)}", "",
             f"{len(runs)} configuration(s) of {_model_count(runs)} model(s), {len(failed)} failed; "
             f"generated {_now()} by mobilekit {__version__}. Latencies in milliseconds.", ""]
    for heading, items in ((f"Failures ({len(failed)})", failed),
                           (f"Delegate fallbacks ({len(fell_back)})", fell_back)):
        if items:
            parts += [f"## {heading}", ""] + [f"- **{_md_cell(label)}**: {_md_cell(reason)}"
                                              for label, reason in items] + [""]
    if notes:
        parts += ["## Notes", ""] + [f"- {_md_cell(note)}" for note in notes] + [""]
    m_headers, m_rows = model_table(runs)
    parts += ["## Models", "", _md_table(m_headers, m_rows), ""]
    for heading, headers, rows in configuration_tables(runs):
        parts += [f"## Configurations: {heading.lower()}", "", _md_table(headers, rows), ""]
    groups, alone, nothing = _pareto_intro(runs)
    if groups or nothing:
        parts += ["## Pareto front per source model", ""]
    if nothing:
        parts += [_md_cell(nothing), ""]
    for group in groups:
        p_headers, p_rows = pareto_table(group.points)
        parts += [f"### From {_md_cell(group.source_name)}", "", f"Latency: {_md_cell(group.basis)}.", "",
                  _md_table(p_headers, p_rows), ""]
    if groups and alone:
        parts += [f"No front for {_md_cell(', '.join(alone))}: no other benchmarked model shares its "
                  "source model.", ""]
    d_headers, d_rows = device_table(runs)
    parts += ["## Devices", "", _md_table(d_headers, d_rows), ""]
    if figures:
        parts += ["## Plots", ""]
    # The page and its plots are one set: never r_files/ without r.md, nor r.md with old plots.
    with output_set() as out:
        plots = out.folder(image_dir) if figures else None
        for slug, caption, png in figures:
            path = image_dir / f"{slug}.png"
            write_bytes_atomic(plots / path.name, png)
            written.append(path)
            alt = _md_cell(caption).replace("[", "(").replace("]", ")")
            parts += [f"![{alt}]({image_dir.name}/{path.name})", "", f"*{_md_cell(caption)}*", ""]
        write_text_atomic(out.file(output), "\n".join(parts))
    return written


def markdown_files_folder(output: Path) -> Path:
    """The folder a Markdown report's plots go to: ``r_files/`` beside ``r.md``."""
    return output.parent / f"{output.stem}_files"


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
