"""Build the digits sample: a small CNN trained on scikit-learn's bundled 8x8 digits (no download).

Writes, beside this file:
  digits_cnn.keras          the trained tf_keras model (input (8, 8, 1) float32 in [0, 1], 10 classes)
  digits_train.npz          x, y: the training split (also what fine-tuning uses)
  digits_val.npz            x, y: validation split (early stopping, per-step checks)
  digits_eval.npz           x, y: held-out split nobody tunes on; accuracy claims use this
  digits_calibration.npz    x: representative samples for int8 calibration (from the training split)

Run: .venv/bin/python sample_models/build_digits.py   (about 20 s on 2 cores)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mobilekit._compat import keras  # noqa: E402


def digits_splits(seed: int = 0):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    # 1797 samples: 1100 train, 250 val, 447 eval.
    return (x[:1100], y[:1100]), (x[1100:1350], y[1100:1350]), (x[1350:], y[1350:])


def build_model(k):
    # Kernels dominate the size (as in real models), so pruning and clustering show in the file.
    return k.Sequential([
        k.layers.Input((8, 8, 1), name="image"),
        k.layers.Conv2D(32, 3, padding="same", activation="relu"),
        k.layers.Conv2D(64, 3, padding="same", activation="relu"),
        k.layers.MaxPooling2D(),
        k.layers.Flatten(),
        k.layers.Dense(128, activation="relu"),
        k.layers.Dropout(0.2),
        k.layers.Dense(10, activation="softmax", name="probs"),
    ], name="digits_cnn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args(argv)

    k = keras()
    k.utils.set_random_seed(0)
    (x_train, y_train), (x_val, y_val), (x_eval, y_eval) = digits_splits()
    model = build_model(k)
    model.compile(k.optimizers.Adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs, batch_size=32,
              verbose=2)
    _, eval_accuracy = model.evaluate(x_eval, y_eval, verbose=0)
    args.out.mkdir(parents=True, exist_ok=True)
    # Saved without optimizer state: a third of the file, and users fine-tune with their own.
    inference_model = build_model(k)
    inference_model.set_weights(model.get_weights())
    inference_model.save(args.out / "digits_cnn.keras")
    np.savez_compressed(args.out / "digits_train.npz", x=x_train, y=y_train)
    np.savez_compressed(args.out / "digits_val.npz", x=x_val, y=y_val)
    np.savez_compressed(args.out / "digits_eval.npz", x=x_eval, y=y_eval)
    np.savez_compressed(args.out / "digits_calibration.npz", x=x_train[:200])
    print(f"digits_cnn: {model.count_params()} parameters, eval top-1 {eval_accuracy:.4f}")


if __name__ == "__main__":
    main()
