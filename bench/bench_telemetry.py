"""What telemetry sampling costs the timed loop (goal: ratio <= 1.01 against sampling off).

The host runner child times the same .tflite twice per round, once with telemetry at its default
interval (1 s) and once with sampling off (``runs.telemetry_interval_secs: 0``); rounds alternate
which goes first, so drift on a shared machine hits both alike. Each run lasts ``--secs`` seconds
so the sampler fires several times inside it. Also measured, for scale: a 10x faster interval.
Prints the ratios of median latencies and writes bench/out/telemetry.json.

    .venv/bin/python bench/bench_telemetry.py [--model M.tflite] [--rounds 6] [--secs 4]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "bench"))

from bench_host_overhead import build_model  # noqa: E402  (one builder for the benchmark model)
from mobilekit._io import write_json_atomic  # noqa: E402


def run_child(model: Path, interval: float, secs: float, scratch: Path, name: str) -> tuple[float, int]:
    """Median per-invoke ns and telemetry sample count of one host-runner run."""
    from mobilekit._io import sha256_file

    run_dir = scratch / name
    run_dir.mkdir(parents=True, exist_ok=True)
    request = {"schema_version": 2, "run_id": name,
               "model": {"path": str(model), "sha256": sha256_file(model)},
               "delegate": {"name": "xnnpack", "threads": 1},
               "runs": {"warmup_runs": 10, "timed_runs": 1, "min_secs": secs, "max_secs": secs * 3,
                        "telemetry_interval_secs": interval},
               "inputs": {"kind": "random", "seed": 0}, "save_outputs": False}
    path = write_json_atomic(run_dir / "request.json", request)
    done = subprocess.run([sys.executable, "-m", "mobilekit.benchmark.host_child", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"host runner failed: {done.stderr.strip()[-500:]}")
    result = json.loads((run_dir / "result.json").read_text())
    return statistics.median(result["timing"]["samples_ns"]), len(result.get("telemetry") or [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--secs", type=float, default=4.0)
    args = parser.parse_args()
    model = args.model or build_model(OUT / "mobilenetv2_035_96.tflite")
    sides = {"off": 0.0, "default_1s": 1.0, "fast_0.1s": 0.1}
    medians: dict[str, list[float]] = {side: [] for side in sides}
    counts: dict[str, list[int]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as scratch:
        for round_index in range(args.rounds):
            order = list(sides) if round_index % 2 == 0 else list(reversed(list(sides)))
            for side in order:
                median, count = run_child(model, sides[side], args.secs, Path(scratch),
                                          f"r{round_index}-{side.replace('.', '_')}")
                medians[side].append(median)
                counts[side].append(count)
            print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
                f"{side} {medians[side][-1] / 1e6:.3f} ms ({counts[side][-1]} samples)" for side in sides),
                flush=True)
    # Ratio per round (same conditions), then the median over rounds.
    ratios = {side: statistics.median(on / off for on, off in zip(medians[side], medians["off"]))
              for side in sides if side != "off"}
    figures = {"model": str(model), "rounds": args.rounds, "secs_per_run": args.secs,
               "median_ms": {side: statistics.median(values) / 1e6 for side, values in medians.items()},
               "telemetry_samples_per_run": {side: statistics.median(c) for side, c in counts.items()},
               "ratio_vs_off": ratios, "goal": 1.01, "met": ratios["default_1s"] <= 1.01}
    OUT.mkdir(parents=True, exist_ok=True)
    write_json_atomic(OUT / "telemetry.json", figures)  # a killed run keeps the last figures whole
    for side, ratio in ratios.items():
        print(f"telemetry {side} / off: {ratio:.4f}")
    print(f"goal <= 1.01 at the default interval: {'met' if figures['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
