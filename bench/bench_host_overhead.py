"""How much `mobilekit bench --target host` adds over a bare LiteRT invoke loop (goal: <= 1.03).

Both sides run the same .tflite with the same threads and XNNPACK in a fresh process; each takes
the median per-invoke latency. Rounds alternate which side goes first, so drift on a shared
machine hits both alike. Prints the ratio of medians and writes bench/out/host_overhead.json.

    .venv/bin/python bench/bench_host_overhead.py [--model M.tflite] [--threads 1] [--rounds 6]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"

BARE_LOOP = r"""
import sys, time
import numpy as np
from ai_edge_litert import interpreter as litert
model, threads, warmup, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
interp = litert.Interpreter(model_path=model, num_threads=threads,
                            experimental_op_resolver_type=litert.OpResolverType.AUTO)
interp.allocate_tensors()
for d in interp.get_input_details():
    interp.set_tensor(d["index"], np.random.default_rng(0).random(d["shape"], dtype=np.float32).astype(d["dtype"]))
for _ in range(warmup):
    interp.invoke()
samples = []
clock = time.perf_counter_ns
for _ in range(runs):
    t = clock(); interp.invoke(); samples.append(clock() - t)
samples.sort()
n = len(samples)
print((samples[(n - 1) // 2] + samples[n // 2]) / 2)
"""


def build_model(path: Path) -> Path:
    """MobileNetV2 (alpha 0.35, 96x96) from sample_models as float32 .tflite: a few ms per invoke,
    long enough that per-run bookkeeping would show."""
    if path.exists():
        return path
    from mobilekit._compat import keras, tf

    model = keras().models.load_model(REPO / "sample_models" / "mobilenetv2_035_96.keras", compile=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf().lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def bare_median_ns(model: Path, threads: int, warmup: int, runs: int) -> float:
    out = subprocess.run([sys.executable, "-c", BARE_LOOP, str(model), str(threads), str(warmup), str(runs)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def mobilekit_median_ns(model: Path, threads: int, warmup: int, runs: int, out_dir: Path) -> float:
    out = subprocess.run([sys.executable, "-m", "mobilekit", "bench", str(model), "--target", "host",
                          "--delegate", "xnnpack", "--threads", str(threads), "--warmup", str(warmup),
                          "--runs", str(runs), "--force", "--json", "-o", str(out_dir)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"mobilekit bench failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)["runs"][0]["latency_ms_p50"] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--runs", type=int, default=150)
    args = parser.parse_args()
    model = args.model or build_model(OUT / "mobilenetv2_035_96_fp32.tflite")
    rounds = []
    for index in range(args.rounds):
        order = ("bare", "mobilekit") if index % 2 == 0 else ("mobilekit", "bare")
        medians = {}
        for side in order:
            if side == "bare":
                medians[side] = bare_median_ns(model, args.threads, args.warmup, args.runs)
            else:
                medians[side] = mobilekit_median_ns(model, args.threads, args.warmup, args.runs,
                                                    OUT / "host_overhead_runs")
        medians["ratio"] = medians["mobilekit"] / medians["bare"]
        rounds.append({"order": list(order), **medians})
        print(f"round {index + 1}: bare {medians['bare'] / 1e6:.3f} ms, mobilekit "
              f"{medians['mobilekit'] / 1e6:.3f} ms, ratio {medians['ratio']:.3f} ({' first, '.join(order)} second)")
    bare = statistics.median(r["bare"] for r in rounds)
    ours = statistics.median(r["mobilekit"] for r in rounds)
    ratio = ours / bare
    report = {"model": str(model), "threads": args.threads, "runs_per_side": args.runs,
              "rounds": rounds, "bare_median_ms": bare / 1e6, "mobilekit_median_ms": ours / 1e6,
              "ratio": ratio, "median_of_round_ratios": statistics.median(r["ratio"] for r in rounds),
              "goal": 1.03, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    from mobilekit._io import write_json_atomic  # a run killed while writing keeps the last figures whole

    write_json_atomic(OUT / "host_overhead.json", report)
    print(f"median latency: mobilekit bench {ours / 1e6:.3f} ms / bare LiteRT loop {bare / 1e6:.3f} ms "
          f"= {ratio:.3f} (goal <= 1.03; median of round ratios {report['median_of_round_ratios']:.3f})")


if __name__ == "__main__":
    main()
