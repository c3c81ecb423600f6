"""`mobilekit sweep`: a thin wrapper over mobilekit.sweeping.sweep."""
from __future__ import annotations

import click

from ._common import echo_json, run_command


@click.command("sweep")
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=str))
@click.option("-m", "--model", metavar="MODEL", default=None,
              help="The trained Keras model (.keras/.h5/SavedModel) every variant starts from.  "
                   "[default: the recipe's `model`]")
@click.option("--data", metavar="DATA", default=None,
              help="Labelled evaluation data (.npz with x and y, or an image folder) for accuracy; "
                   "use data no variant was tuned on.  [default: the recipe's `eval`]")
@click.option("--target", type=click.Choice(["auto", "host", "device"]), default="host", show_default=True,
              help="Where to benchmark: this computer, attached phones, or phones when attached.")
@click.option("--threads", default="1", show_default=True, metavar="LIST",
              help="Comma-separated CPU thread counts, e.g. 1,2.")
@click.option("--delegate", "delegates", default="xnnpack", show_default=True, metavar="LIST",
              help="Comma-separated delegates: cpu, xnnpack, gpu, nnapi.")
@click.option("--runs", default=50, show_default=True, type=int, help="Timed runs per configuration.")
@click.option("--warmup", default=5, show_default=True, type=int, help="Warmup runs per configuration.")
@click.option("--min-secs", default=0.0, show_default=True, type=float,
              help="Keep timing past --runs until this many seconds.")
@click.option("--variant", "variants", multiple=True, metavar="NAME",
              help="Run only this variant (repeatable). Default: every variant, in recipe order.")
@click.option("--epochs", type=int, default=None,
              help="Override the fine-tuning epochs of every optimizing variant (quick trials).")
@click.option("-o", "--output-dir", metavar="DIR", default=None,
              help="Where models, results and the report go.  [default: ./sweep-RECIPENAME]")
@click.option("--report", "report_name", default="report.html", show_default=True, metavar="FILE",
              help="Report file name inside DIR (.html, .md or .csv).")
@click.option("--json", "as_json", is_flag=True, help="Print the sweep record as JSON.")
@run_command
def sweep_command(recipe, model, data, target, threads, delegates, runs, warmup, min_secs, variants,
                  epochs, output_dir, report_name, as_json):
    """Optimize, convert, evaluate and benchmark every variant of a recipe, then report.

    Each variant of RECIPE (a TOML file of [defaults] and [variants.NAME] tables, the format of
    `mobilekit convert --recipe`) is optimized when it asks for pruning, clustering, QAT or
    distillation, converted, scored on DATA and benchmarked; the report compares the variants
    with a size/latency/accuracy Pareto chart. Rerunning resumes: models, evaluations and
    results that exist are kept. A failing variant is recorded and the others still run.

    \b
    Example:
      mobilekit sweep sample_models/recipes/demo.toml -m sample_models/digits_cnn.keras \\
          --data sample_models/digits_eval.npz --target host --threads 1,2 -o sweep_out
      mobilekit sweep sample_models/recipes/digits.toml --epochs 1 -o quick  # model, eval from recipe
      mobilekit sweep recipe.toml -m model.keras --variant fp32 --variant int8 --runs 20
      mobilekit report sweep_out -o sweep.md
    """
    from ..errors import BenchError
    from ..results.settings import check_delegates, check_threads
    from ..sweeping import format_sweep, sweep

    def status(message: str) -> None:
        if not as_json:
            click.echo(message, err=True)

    record = sweep(recipe, model=model, data=data, target=target,
                   threads=check_threads(threads, option="--threads"),
                   delegates=check_delegates(delegates, option="--delegate"),
                   runs=runs, warmup=warmup, min_secs=min_secs, variants=list(variants) or None,
                   report=report_name, epochs=epochs, output_dir=output_dir, on_status=status)
    if as_json:
        echo_json(record)
    else:
        click.echo(format_sweep(record))
        if record.report_path:
            front = f" (Pareto front: {', '.join(record.pareto_front)})" if record.pareto_front else ""
            click.echo(f"Report: {record.report_path}{front}")
    failed = record.failed_variants
    if failed:
        raise BenchError(f"{len(failed)} of {len(record.variants)} variant(s) failed; first: "
                         f"{failed[0].name}: {failed[0].error}",
                         hint="finished variants are kept; fix it and rerun to resume")
