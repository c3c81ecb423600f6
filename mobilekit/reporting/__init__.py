"""Reports from bench results: HTML (one self-contained file), Markdown with PNGs, or CSV.

``report(results, output)`` reads result files, folders, bench summaries or sweep records and writes
tables of every configuration plus latency plots and, for several models, a Pareto chart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReportError, UsageError

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".csv": "csv"}


@dataclass
class ReportRecord:
    output: str
    format: str
    runs: int
    failed_runs: int
    models: list[str]
    images: list[str] = field(default_factory=list)
    pareto_front: list[str] = field(default_factory=list)
    output_size_bytes: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. a quantized model slower than float


def report_format(output) -> str:
    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"cannot tell the report format from {str(output)!r}",
                          hint="name the output .html, .md or .csv")
    return FORMATS[suffix]


def report(results, output, *, title: str | None = None, diagnoses=()) -> ReportRecord:
    """Write a report of the bench results in ``results`` (paths) to ``output`` (.html/.md/.csv).
    ``diagnoses``: `mobilekit diagnose --output` files whose per-layer charts the report shows."""
    from .diagnosis import read_diagnosis
    from .runs import collect_runs

    fmt = report_format(output)  # before reading anything: a bad name should fail fast
    given = [results] if isinstance(results, (str, Path)) else list(results)
    refuse_report_aliases([*given, *diagnoses], output, fmt)
    records = [read_diagnosis(path) for path in diagnoses]
    runs = collect_runs(results)
    return render_runs(runs, output, title=title, diagnoses=records)


def refuse_report_aliases(inputs, output, fmt: str | None = None) -> None:
    """UsageError if the report (or a Markdown report's plots folder) would overwrite an input."""
    from .._guard import refuse_aliases
    from .render import markdown_files_folder

    fmt = fmt or report_format(output)
    paths = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    folders = [("plots folder", markdown_files_folder(Path(output)))] if fmt == "markdown" else []
    refuse_aliases([("results", path) for path in paths], [("report", output)], folders=folders)


def render_runs(runs, output, *, title: str | None = None, diagnoses=()) -> ReportRecord:
    """Write a report of already-labelled ReportRuns (the sweep calls this with its accuracies);
    ``diagnoses`` are diagnosis records (dicts) whose per-layer charts are added."""
    from . import render
    from .diagnosis import diagnosis_figures
    from .runs import label_models, slower_than_float_runs

    output = Path(output)
    fmt = report_format(output)
    if not runs:
        raise ReportError("no bench results to report")
    if output.exists() and output.is_dir():
        raise UsageError(f"{output} is a folder", hint="give a file name ending in .html, .md or .csv")
    runs = label_models(runs)
    notes = slower_than_float_runs(runs)
    title = title or "mobilekit benchmark report"
    images: list[str] = []
    if fmt == "csv":
        render.render_csv(runs, output)
    else:
        figures = render.build_figures(runs) + diagnosis_figures(diagnoses)
        if fmt == "html":
            render.render_html(runs, output, title=title, figures=figures, notes=notes)
            images = [slug for slug, _caption, _png in figures]
        else:
            images = [str(path) for path in render.render_markdown(runs, output, title=title,
                                                                    figures=figures, notes=notes)]
    points, _basis = render.pareto_points(runs)
    return ReportRecord(output=str(output), format=fmt, runs=len(runs),
                        failed_runs=sum(1 for run in runs if not run.ok),
                        models=sorted({run.model_name for run in runs}), images=images,
                        pareto_front=[p.name for p in points if p.on_front],
                        output_size_bytes=output.stat().st_size, notes=notes)


__all__ = ["report", "render_runs", "ReportRecord", "report_format", "refuse_report_aliases"]
