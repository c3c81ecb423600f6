"""`mobilekit bench`: parse options, call mobilekit.benchmark.core.bench, print a table or JSON."""
from __future__ import annotations

import click

from ..errors import BenchError
from ._common import echo_json, run_command


@click.command("bench", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(["auto", "host", "device"]), default="auto", show_default=True,
              help="Where to run: 'auto' uses attached phones if there are any, else this computer.")
@click.option("--device", "devices", multiple=True, metavar="SERIAL",
              help="Benchmark on this phone (repeatable). Implies --target device.")
@click.option("--all-devices", is_flag=True, help="Benchmark on every attached phone, in parallel.")
@click.option("--delegate", "delegates", default="xnnpack", show_default=True, metavar="LIST",
              help="Comma-separated delegates: cpu (builtin kernels, no XNNPACK), xnnpack, gpu, nnapi. "
                   "On this computer gpu and nnapi fall back to xnnpack, and the result says so.")
@click.option("--threads", default="1", show_default=True, metavar="LIST",
              help="Comma-separated CPU thread counts, e.g. 1,2,4.")
@click.option("--runs", default=50, show_default=True, type=int,
              help="Timed runs (at least; --min-secs may add more, --max-secs may stop earlier).")
@click.option("--warmup", default=5, show_default=True, type=int,
              help="Warmup runs before timing (recorded, kept out of the statistics).")
@click.option("--min-secs", default=0.0, show_default=True, type=float,
              help="Keep running past --runs until this many seconds of timed runs.")
@click.option("--max-secs", default=150.0, show_default=True, type=float,
              help="Stop timed runs after this many seconds even if fewer than --runs.")
@click.option("--cooldown", "cooldown_secs", default=0.0, show_default=True, type=float,
              help="Seconds to rest after warmup, before timing (lets a phone cool).")
@click.option("--data", metavar="DATA",
              help="Real inputs: .npz (x[, y]), .npy, an image folder or module:function. "
                   "Default: seeded random inputs.")
@click.option("--labels", metavar="FILE", help="Labels (.npy, or .npz with y) for accuracy, if DATA has none.")
@click.option("--reference", metavar="MODEL",
              help="A Keras model or .tflite to compare outputs with (fidelity); needs --data.")
@click.option("--adb", type=click.Choice(["auto", "server", "direct"]), default="auto", show_default=True,
              help="How to reach phones: the adb server, or directly over USB/TCP.")
@click.option("--serial", "serial_order", is_flag=True,
              help="Run targets one after another instead of in parallel.")
@click.option("--connect", metavar="HOST:PORT", help="Connect to a phone over TCP first (adb connect).")
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="Seconds one run may take before it is stopped.  [default: max-secs + cooldown + 120]")
@click.option("-o", "--output-dir", metavar="DIR", default=None,
              help="Where results go.  [default: ./bench-MODELNAME]")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--force", is_flag=True, help="Redo runs whose results already exist (default: resume).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for random inputs.")
@run_command
def bench_command(model, target, devices, all_devices, delegates, threads, runs, warmup, min_secs,
                  max_secs, cooldown_secs, data, labels, reference, adb, serial_order, connect, timeout_s,
                  output_dir, as_json, force, seed):
    """Benchmark a .tflite model on this computer (LiteRT) or on phones over ADB.

    One run per (target, delegate, threads) configuration; every sample is kept in
    OUT/runs/TARGET/RUN_KEY/result.json and statistics (median with a 95% bootstrap interval,
    p90, p99, mean, std) go to OUT/summary.json and the screen. A rerun skips finished runs.

    \b
    Example:
      mobilekit bench model.tflite --target host --delegate cpu,xnnpack --threads 1,2 --runs 100
      mobilekit bench model_int8.tflite --data test.npz --reference model.keras -o results/int8
      mobilekit bench model.tflite --all-devices --delegate xnnpack,gpu --cooldown 5
    """
    from ..benchmark.core import bench, format_table
    from ..results.settings import check_delegates, check_threads

    # bench() checks every setting again with the same checks; these two name the flag.
    thread_counts = check_threads(threads, option="--threads")
    delegate_names = check_delegates(delegates, option="--delegate")

    def status(message: str) -> None:
        click.echo(message, err=True)

    summary = bench(model, target=target, devices=list(devices) or None, all_devices=all_devices,
                    delegates=delegate_names, threads=thread_counts, runs=runs, warmup=warmup,
                    min_secs=min_secs, max_secs=max_secs, cooldown_secs=cooldown_secs, data=data,
                    labels=labels, reference=reference, output_dir=output_dir, adb=adb,
                    connect=connect, timeout_s=timeout_s, force=force, parallel=not serial_order,
                    seed=seed, on_status=status)
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"{summary.model_path} on {', '.join(summary.targets)}; inputs: {summary.inputs}")
        click.echo(format_table(summary))
        click.echo(f"summary: {summary.summary_path}")
    if summary.failed_runs:
        first = summary.failed_runs[0]
        raise BenchError(f"{len(summary.failed_runs)} of {len(summary.runs)} runs failed; first: "
                         f"{first.target} {first.delegate} x{first.threads}: {first.error}")

