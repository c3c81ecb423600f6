"""How much mobilekit's CLI costs over the bare tools: `mobilekit --help` start-up against a bare
Python start-up, and `mobilekit convert` against a plain TFLiteConverter script on the same model
and mode. Both sides run as subprocesses, interleaved, several times; medians are compared.

    .venv/bin/python bench/bench_convert.py [--repeats 3] [--modes none,int8]

Goals (issue 2): `mobilekit --help` <= 0.5 s; convert / bare converter <= 1.15.
Results go to bench/out/bench_convert.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
HELP_GOAL_S = 0.5
CONVERT_RATIO_GOAL = 1.15

BARE_CONVERTER = r'''
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tensorflow as tf
import tf_keras

model_path, output, mode, calibration, samples = sys.argv[1:6]
model = tf_keras.models.load_model(model_path, compile=False)
converter = tf.lite.TFLiteConverter.from_keras_model(model)
if mode != "none":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
if mode == "fp16":
    converter.target_spec.supported_types = [tf.float16]
if mode in ("int8", "int16x8"):
    with np.load(calibration, allow_pickle=False) as data:
        x = data["x"][: int(samples)].astype(np.float32)
    def representative():
        for i in range(len(x)):
            yield [x[i:i + 1]]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8"
        else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
with open(output, "wb") as handle:
    handle.write(converter.convert())
'''


def _env():
    env = dict(os.environ)
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1", "MOBILEKIT_PROGRESS": "0",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def _timed(argv) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=600)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(map(str, argv))}\n"
                         f"{proc.stderr[-2000:]}")
    return elapsed


def _mobilekit_executable() -> list[str]:
    script = Path(sys.executable).parent / "mobilekit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mobilekit"]


def _model(workdir: Path):
    """The digits sample if the lead's build left it there, else a small CNN built here."""
    samples = REPO / "sample_models"
    if (samples / "digits_cnn.keras").exists() and (samples / "digits_calibration.npz").exists():
        return samples / "digits_cnn.keras", samples / "digits_calibration.npz", "sample_models/digits_cnn.keras"
    import numpy as np
    from sklearn.datasets import load_digits

    sys.path.insert(0, str(REPO))
    from mobilekit._compat import keras

    k = keras()
    k.utils.set_random_seed(0)
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    model = k.Sequential([k.layers.Input((8, 8, 1)), k.layers.Conv2D(16, 3, activation="relu"),
                          k.layers.Flatten(), k.layers.Dense(128, activation="relu"),
                          k.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, bunch.target, epochs=1, verbose=0)
    model.save(workdir / "bench_digits.keras")
    np.savez(workdir / "bench_calibration.npz", x=x[:200])
    return workdir / "bench_digits.keras", workdir / "bench_calibration.npz", "bench-built digits CNN"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (median is used)")
    parser.add_argument("--help-repeats", type=int, default=7)
    parser.add_argument("--modes", default="none,int8", help="comma-separated quantize modes")
    args = parser.parse_args(argv)
    mobilekit = _mobilekit_executable()

    help_times, python_times = [], []
    for _ in range(args.help_repeats):
        python_times.append(_timed([sys.executable, "-c", "pass"]))
        help_times.append(_timed([*mobilekit, "--help"]))
    help_s = statistics.median(help_times)
    python_s = statistics.median(python_times)
    print(f"mobilekit --help     median {help_s:.3f} s over {len(help_times)} runs "
          f"(goal <= {HELP_GOAL_S} s: {'met' if help_s <= HELP_GOAL_S else 'MISSED'}); "
          f"bare `python -c pass` {python_s:.3f} s, ratio {help_s / python_s:.2f}x")

    results = {"help": {"median_s": help_s, "runs_s": help_times, "python_startup_median_s": python_s,
                        "ratio_to_python_startup": help_s / python_s, "goal_s": HELP_GOAL_S,
                        "goal_met": help_s <= HELP_GOAL_S},
               "convert": {}}
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        workdir = Path(tmp)
        model, calibration, model_label = _model(workdir)
        results["model"] = model_label
        bare_script = workdir / "bare_convert.py"
        bare_script.write_text(BARE_CONVERTER)
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            ours, bare = [], []
            for repeat in range(args.repeats):
                # Interleaved so drift in machine load hits both sides alike.
                bare.append(_timed([sys.executable, str(bare_script), str(model),
                                    str(workdir / f"bare_{mode}.tflite"), mode, str(calibration), "200"]))
                command = [*mobilekit, "convert", str(model), "-o", str(workdir / f"mk_{mode}.tflite"),
                           "--quantize", mode]
                if mode in ("int8", "int16x8"):
                    command += ["--calibration", str(calibration), "--calibration-samples", "200"]
                ours.append(_timed(command))
            ours_s, bare_s = statistics.median(ours), statistics.median(bare)
            ratio = ours_s / bare_s
            sizes = ((workdir / f"mk_{mode}.tflite").stat().st_size,
                     (workdir / f"bare_{mode}.tflite").stat().st_size)
            print(f"convert {mode:<8} mobilekit {ours_s:.2f} s / bare TFLiteConverter {bare_s:.2f} s "
                  f"= {ratio:.3f} (goal <= {CONVERT_RATIO_GOAL}: "
                  f"{'met' if ratio <= CONVERT_RATIO_GOAL else 'MISSED'}); "
                  f"sizes {sizes[0]:,} vs {sizes[1]:,} bytes")
            results["convert"][mode] = {"mobilekit_median_s": ours_s, "bare_median_s": bare_s,
                                        "mobilekit_runs_s": ours, "bare_runs_s": bare, "ratio": ratio,
                                        "goal": CONVERT_RATIO_GOAL, "goal_met": ratio <= CONVERT_RATIO_GOAL,
                                        "mobilekit_size_bytes": sizes[0], "bare_size_bytes": sizes[1]}
    results["model_source"] = model_label
    results["cpu_count"] = os.cpu_count()
    results["load_average"] = os.getloadavg()
    from mobilekit._io import write_json_atomic  # a run killed while writing keeps the last figures whole

    write_json_atomic(OUT / "bench_convert.json", results)
    print(f"wrote {OUT / 'bench_convert.json'}")


if __name__ == "__main__":
    main()
