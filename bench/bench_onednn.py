"""What turning TensorFlow's oneDNN kernels off (TF_ENABLE_ONEDNN_OPTS=0, mobilekit's default since
issue 11) costs: fine-tuning, Keras inference (evaluate's reference side), conversion and the
TensorFlow import, each with oneDNN on and off in fresh child processes (the variable is read once,
when TensorFlow loads). Rounds alternate which setting goes first; the ratio is median(off) /
median(on) of the same run, so > 1 means oneDNN off is slower.

oneDNN on crashes training of fer's emotion model (a 1x1 stride-2 convolution on fewer than 16
channels, see the README), so the mini-Xception here has fer's layers and widths at
48x48, a size whose gradient does not hit the bug, to be measurable with oneDNN on.

    .venv/bin/python bench/bench_onednn.py [--rounds 3] [--workloads fit_digits,...]

Results go to bench/out/bench_onednn.json.
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
sys.path.insert(0, str(REPO))

from mobilekit._io import write_json_atomic  # noqa: E402

OUT = REPO / "bench" / "out"
SAMPLES = REPO / "sample_models"

CHILD = r'''
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import numpy as np
workload, scratch = sys.argv[2], Path(sys.argv[3])
samples = Path(sys.argv[1]) / "sample_models"
started = time.perf_counter()
from mobilekit._compat import keras, onednn_enabled, tf
tf()
import_s = time.perf_counter() - started


def fer_shaped(k, size):
    """fer's emotion model (mini-Xception, 58k parameters) built in code at size x size x 1."""
    inputs = k.Input((size, size, 1))
    x = inputs
    for _ in range(2):
        x = k.layers.Conv2D(8, 3, use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.Activation("relu")(x)
    for width in (16, 32, 64, 128):
        residual = k.layers.Conv2D(width, 1, strides=2, padding="same", use_bias=False)(x)
        residual = k.layers.BatchNormalization()(residual)
        x = k.layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.Activation("relu")(x)
        x = k.layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = k.layers.add([x, residual])
    x = k.layers.Conv2D(7, 3, padding="same")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inputs, k.layers.Activation("softmax", name="predictions")(x))


import mobilekit
k = keras()
if workload == "fit_digits":
    t = time.perf_counter()
    mobilekit.optimize(samples / "digits_cnn.keras", samples / "digits_train.npz", prune=0.5,
                       epochs=3, verbose=0)
    seconds = time.perf_counter() - t
elif workload == "fit_fer_shaped":
    rng = np.random.default_rng(0)
    x = rng.random((256, 48, 48, 1), dtype=np.float32)
    y = rng.integers(0, 7, 256)
    model = fer_shaped(k, 48)
    t = time.perf_counter()
    mobilekit.optimize(model, (x, y), prune=0.5, epochs=3, batch_size=32, verbose=0)
    seconds = time.perf_counter() - t
elif workload == "fit_mobilenetv2":
    with np.load(samples / "shapes_train.npz", allow_pickle=False) as data:
        x, y = data["x"][:320], data["y"][:320]
    t = time.perf_counter()
    mobilekit.optimize(samples / "mobilenetv2_035_96.keras", (x, y), prune=0.5, epochs=2,
                       verbose=0)
    seconds = time.perf_counter() - t
elif workload == "predict_mobilenetv2":
    model = k.models.load_model(samples / "mobilenetv2_035_96.keras", compile=False)
    with np.load(samples / "shapes_eval.npz", allow_pickle=False) as data:
        x = data["x"]
    model.predict(x[:32], verbose=0)  # tracing out of the timing
    t = time.perf_counter()
    for _ in range(3):
        model.predict(x, batch_size=32, verbose=0)
    seconds = time.perf_counter() - t
elif workload == "convert_mobilenetv2_int8":
    t = time.perf_counter()
    mobilekit.convert(samples / "mobilenetv2_035_96.keras", scratch / "m.tflite", quantize="int8",
                      calibration=samples / "shapes_calibration.npz", calibration_samples=100)
    seconds = time.perf_counter() - t
elif workload == "import":
    seconds = import_s
else:
    raise SystemExit(f"unknown workload {workload}")
print(json.dumps({"seconds": seconds, "onednn": onednn_enabled()}))
'''

WORKLOADS = ["fit_digits", "fit_fer_shaped", "fit_mobilenetv2", "predict_mobilenetv2", "convert_mobilenetv2_int8",
             "import"]


def run_child(workload: str, onednn: str) -> dict:
    import os

    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, MOBILEKIT_PROGRESS="0")
    with tempfile.TemporaryDirectory() as scratch:
        out = subprocess.run([sys.executable, "-c", CHILD, str(REPO), workload, scratch],
                             capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"{workload} with TF_ENABLE_ONEDNN_OPTS={onednn} exited {out.returncode}:\n"
                         f"{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["onednn"] != (onednn == "1"):
        raise SystemExit(f"{workload}: asked for oneDNN {onednn}, the child ran with {result['onednn']}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    args = parser.parse_args(argv)
    results = {}
    for workload in args.workloads.split(","):
        seconds = {"1": [], "0": []}
        for round_ in range(args.rounds):
            order = ("1", "0") if round_ % 2 == 0 else ("0", "1")
            for onednn in order:
                seconds[onednn].append(run_child(workload, onednn)["seconds"])
        on, off = statistics.median(seconds["1"]), statistics.median(seconds["0"])
        results[workload] = {"on_s": seconds["1"], "off_s": seconds["0"], "median_on_s": on,
                             "median_off_s": off, "ratio_off_over_on": off / on}
        print(f"{workload:26s} on {on:7.2f} s  off {off:7.2f} s  off/on {off / on:5.2f}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    write_json_atomic(OUT / "bench_onednn.json", {"rounds": args.rounds, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
