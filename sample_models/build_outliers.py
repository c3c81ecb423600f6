"""Build the int8-hurts sample: a small MLP on the digits where full-int8 PTQ loses accuracy.

Its first Dense layer ("hidden") reads the raw pixels. Three pixels of the 8x8 digits are zero in
every sample, so whatever weight they carry never changes the float model's output. Here they carry
a few large weights per unit, as a trained layer can (weights fed by dead inputs are never pulled
back by the loss, and weight decay is often off). The float model is exactly as accurate as
before; int8's per-channel weight scale is set by those outliers, so the layer's useful weights
round to a handful of levels and top-1 falls by several points. Keeping "hidden" in float
(`convert --keep-float hidden`) recovers it. Uses the digits splits (digits_*.npz, same samples).

Writes, beside this file:
  outliers_mlp.keras   the model (input (8, 8, 1) float32 in [0, 1], 10 classes)

Run: .venv/bin/python sample_models/build_outliers.py   (about 10 s)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from mobilekit._compat import keras  # noqa: E402
from build_digits import digits_splits  # noqa: E402

OUTLIER = 60.0   # the dead pixels' weights, against useful weights of about 0.1-0.5


def build_model(k):
    return k.Sequential([
        k.layers.Input((8, 8, 1), name="image"),
        k.layers.Flatten(name="pixels"),
        k.layers.Dense(64, activation="relu", name="hidden"),
        k.layers.Dense(32, activation="relu", name="features"),
        k.layers.Dense(10, activation="softmax", name="probs"),
    ], name="outliers_mlp")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args(argv)

    k = keras()
    k.utils.set_random_seed(0)
    (x_train, y_train), (x_val, y_val), (x_eval, y_eval) = digits_splits()
    model = build_model(k)
    model.compile(k.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs, batch_size=32,
              verbose=0)
    everything = np.concatenate([x_train, x_val, x_eval]).reshape(-1, 64)
    dead = np.flatnonzero(np.all(everything == 0, axis=0))
    kernel, bias = model.get_layer("hidden").get_weights()
    signs = np.where(np.random.default_rng(0).random((len(dead), kernel.shape[1])) < 0.5, -1.0, 1.0)
    kernel[dead] = OUTLIER * signs
    model.get_layer("hidden").set_weights([kernel, bias])
    _, eval_accuracy = model.evaluate(x_eval, y_eval, verbose=0)
    inference_model = build_model(k)
    inference_model.set_weights(model.get_weights())
    args.out.mkdir(parents=True, exist_ok=True)
    inference_model.save(args.out / "outliers_mlp.keras")
    print(f"outliers_mlp: {model.count_params()} parameters, dead pixels {dead.tolist()}, "
          f"eval top-1 {eval_accuracy:.4f}")


if __name__ == "__main__":
    main()
