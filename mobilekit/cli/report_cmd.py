"""`mobilekit report` and `mobilekit compare`: thin wrappers over mobilekit.reporting."""
from __future__ import annotations

import click

from ._common import echo_json, run_command


@click.command("report")
@click.argument("results", nargs=-1, type=click.Path(path_type=str))
@click.option("-o", "--output", default="report.html", show_default=True, metavar="FILE",
              help="Report file; the format follows the suffix: .html (one self-contained file), "
                   ".md (PNGs written to FILE_files/ beside it) or .csv (one row per run).")
@click.option("--title", default=None, help="Heading of the report.")
@click.option("--diagnosis", "diagnoses", multiple=True, metavar="FILE.json",
              help="Add the per-layer int8 error chart of a `mobilekit diagnose --output` file "
                   "(repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report record as JSON.")
@run_command
def report_command(results, output, title, diagnoses, as_json):
    """Turn bench results into an HTML, Markdown or CSV report with plots.

    RESULTS are result.json files, folders that `mobilekit bench` or `mobilekit sweep` wrote
    (searched recursively), or a bench summary.json. Failed runs are listed with their error.

    \b
    Example:
      mobilekit bench model.tflite --threads 1,2 -o bench_out
      mobilekit report bench_out -o report.html
      mobilekit report bench_out sweep_out/ -o report.md
      mobilekit report bench_out/runs/host/*/result.json -o runs.csv
      mobilekit report bench_out --diagnosis diagnosis.json -o report.html
    """
    from ..reporting import report

    record = report(list(results), output, title=title, diagnoses=list(diagnoses))
    if as_json:
        echo_json(record)
        return
    extra = f", Pareto front: {', '.join(record.pareto_front)}" if record.pareto_front else ""
    failed = f" ({record.failed_runs} failed)" if record.failed_runs else ""
    click.echo(f"Wrote {record.output}: {record.runs} run(s){failed} of {len(record.models)} model(s), "
               f"{len(record.images)} plot(s){extra}")
    for note in record.notes:
        click.echo(f"note: {note}")


@click.command("compare")
@click.argument("a", type=click.Path(path_type=str))
@click.argument("b", type=click.Path(path_type=str))
@click.option("--budget", "budgets", multiple=True, metavar="METRIC=CHANGE",
              help="Fail (exit code 3) when B exceeds A by more than CHANGE. METRIC: mean, median, "
                   "p50, p90, p95, p99, min, max, init, first_inference (CHANGE in %, ms, us, s) or "
                   "peak_rss (%, KiB, MiB, KB, MB). A latency budget fails only when the change "
                   "is over it and real (its bootstrap interval excludes zero), so noise alone "
                   "never fails a build. Repeatable, e.g. --budget p95=+5% --budget median=+2ms.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Significance level; the interval is at 1 - alpha.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--allow-throttled", is_flag=True,
              help="Judge runs flagged as throttled or warm (see their flags) instead of refusing.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison record as JSON.")
@run_command
def compare_command(a, b, budgets, alpha, seed, allow_throttled, as_json):
    """Compare bench results B (candidate) against A (baseline), statistically.

    A Mann-Whitney U test and a bootstrap interval on the difference of medians must agree before
    B is called faster or slower; otherwise "no detectable change". A and B are result files,
    bench output folders or summaries; folders with several configurations are matched by target,
    delegate and threads. A run flagged during bench (thermal status changed, CPU clock fell,
    battery warmed, cool-down not met) is not judged, and a budget on it is an error, unless
    --allow-throttled. Exit codes: 0 fine, 3 a budget exceeded, 1 or 2 an error.

    \b
    Example:
      mobilekit bench baseline.tflite -o base
      mobilekit bench candidate.tflite -o cand
      mobilekit compare base cand --budget p95=+5% --budget median=+2ms
      mobilekit compare old/result.json new/result.json --json
    """
    from ..errors import BudgetExceeded
    from ..reporting.comparison import compare, format_compare

    try:
        record = compare(a, b, budgets=list(budgets), alpha=alpha, seed=seed,
                         allow_throttled=allow_throttled)
    except BudgetExceeded as exc:
        # Show the whole comparison before the one-line error, so a CI log explains the gate.
        record = getattr(exc, "record", None)
        if record is not None:
            echo_json(record) if as_json else click.echo(format_compare(record), err=True)
        raise
    if as_json:
        echo_json(record)
    else:
        click.echo(format_compare(record))
