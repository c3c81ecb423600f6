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
@click.option("--duration", metavar="TIME", default=None,
              help="Sustained mode: time runs for this long (90s, 10m, 1h) instead of --runs; the "
                   "result gets a throttling figure (last-minute median over first-minute median).")
@click.option("--cooldown-until", "cooldown_until", metavar="CONDITIONS", default=None,
              help="Before each run wait until the device is cool, e.g. thermal<=none,battery<=start+1 "
                   "(start: the reading before the first run); a run that started warm is flagged.")
@click.option("--cooldown-limit", "cooldown_limit_s", default=600.0, show_default=True, type=float,
              help="Seconds --cooldown-until waits at most before running anyway (flagged).")
@click.option("--telemetry-interval", "telemetry_interval_s", default=None, type=float, metavar="SECONDS",
              help="Seconds between telemetry samples while timing (thermal, CPU clocks, memory); "
                   "0 turns sampling off.  [default: 1]")
@click.option("--data", metavar="DATA",
              help="Real inputs: .npz (x[, y]), .npy, an image folder or module:function; a "
                   "model with several inputs: an .npz with one array per input, named after it "
                   "(and y). Default: seeded random inputs.")
@click.option("--labels", metavar="FILE", help="Labels (.npy, or .npz with y) for accuracy, if DATA has none.")
@click.option("--reference", metavar="MODEL",
              help="A Keras model or .tflite to compare outputs with (fidelity); needs --data.")
@click.option("--adb", type=click.Choice(["auto", "server", "direct"]), default="auto", show_default=True,
              help="How to reach phones: the adb server, or directly over USB/TCP.")
@click.option("--serial", "serial_order", is_flag=True,
              help="Run targets one after another instead of in parallel.")
@click.option("--connect", metavar="HOST:PORT", help="Connect to a phone over TCP first (adb connect).")
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="Seconds one run (and reading --data from module:function) may take before it "
                   "is stopped.  [default: max-secs + cooldown + 120]")
@click.option("-o", "--output-dir", metavar="DIR", default=None,
              help="Where results go.  [default: ./bench-MODELNAME]")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--force", is_flag=True, help="Redo runs whose results already exist (default: resume).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for random inputs.")
@click.option("--input-shape", "input_shape", metavar="SHAPE", multiple=True,
              help="Shape of the random inputs for a model with free dimensions, e.g. 1,320,320,3 "
                   "(one per input, in order; only the free dimensions may differ). The model is "
                   "allocated at this shape on every target. With --data the data's shape is used.")
@click.option("--foreground", is_flag=True,
              help="Phones: run each request in the companion app's Activity, on screen, to measure what "
                   "an app in front sees (top-app scheduling). Default: the headless instrumentation, "
                   "which Android schedules in the default group. Wakes and unlocks the screen; a PIN "
                   "lock must be opened by hand. Not for --target host.")
@click.option("--wait", is_flag=True,
              help="If another bench is using the output folder, wait for it instead of stopping.")
@run_command
def bench_command(model, target, devices, all_devices, delegates, threads, runs, warmup, min_secs,
                  max_secs, cooldown_secs, duration, cooldown_until, cooldown_limit_s, telemetry_interval_s,
                  data, labels, reference, adb, serial_order, connect, timeout_s,
                  output_dir, as_json, force, seed, input_shape, foreground, wait):
    """Benchmark a .tflite model on this computer (LiteRT) or on phones over ADB.

    One run per (target, delegate, threads) configuration; every sample is kept in
    OUT/runs/TARGET/RUN_KEY/result.json and statistics (median with a 95% bootstrap interval,
    p90, p99, mean, std) go to OUT/summary.json and the screen. A rerun skips finished runs.
    A quantized model slower than its float32 twin (same source model, per the model cards)
    benchmarked in the same OUT folder gets a note.

    \b
    Example:
      mobilekit bench model.tflite --target host --delegate cpu,xnnpack --threads 1,2 --runs 100
      mobilekit bench model_int8.tflite --data test.npz --reference model.keras -o results/int8
      mobilekit bench model.tflite --all-devices --delegate xnnpack,gpu --cooldown 5
      mobilekit bench model.tflite --all-devices --foreground   # in the app on screen (top-app)
      mobilekit bench model.tflite --all-devices --duration 10m --cooldown-until thermal<=none
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
                    seed=seed, duration=duration, cooldown_until=cooldown_until,
                    cooldown_limit_s=cooldown_limit_s, telemetry_interval_s=telemetry_interval_s,
                    wait=wait, on_status=status, foreground=foreground,
                    input_shape=list(input_shape) or None)
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"{summary.model_path} on {', '.join(summary.targets)}; inputs: {summary.inputs}")
        click.echo(format_table(summary))
        click.echo(f"summary: {summary.summary_path}")
    for note in _slower_than_float(summary):
        click.echo(f"note: {note}", err=True)
    if summary.failed_runs:
        first = summary.failed_runs[0]
        raise BenchError(f"{len(summary.failed_runs)} of {len(summary.runs)} runs failed; first: "
                         f"{first.target} {first.delegate} x{first.threads}: {first.error}")



def _slower_than_float(summary) -> list[str]:
    """When the model's card names a source model and the output folder also holds results of
    the float32 model made from it (benchmarked there before or now), say whether this quantized
    model is slower on the same configuration. Nothing else is guessed: no card, no note."""
    from pathlib import Path

    from ..errors import MobilekitError
    from ..reporting.runs import collect_runs, slower_than_float_runs

    if not summary.runs or not Path(summary.summary_path).is_file():
        return []
    try:
        runs = collect_runs([Path(summary.summary_path).parent / "runs"])
    except MobilekitError:  # another file in the folder is unreadable: bench's own result stands
        return []
    mine = {run.result.model.sha256 for run in runs
            if run.model_path and Path(run.model_path).resolve() == Path(summary.model_path).resolve()}
    return [line for sha in mine for line in slower_than_float_runs(runs, model_sha256=sha)]
