"""Build the MobileNetV2 sample: MobileNetV2(alpha=0.35) at 96x96, trained briefly on generated shapes.

No download: ``weights=None`` and a synthetic four-class dataset (circle, square, triangle, cross
drawn in random colours, sizes and places on a random flat background). BatchNorm momentum is set to 0.9
because the Keras default of 0.999 leaves the moving statistics near their initial values after a
short training, which makes the inference model useless.

Writes, beside this file:
  mobilenetv2_035_96.keras   the trained tf_keras model (input (96, 96, 3) float32 in [-1, 1])
  shapes_train.npz           x, y: the training split (fine-tuning recipes use it)
  shapes_val.npz / shapes_eval.npz   x, y
  shapes_calibration.npz     x: representative samples for int8 calibration

Run: .venv/bin/python sample_models/build_mobilenetv2.py   (a few minutes on 2 cores)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from shapes_data import CLASSES, generate_shapes  # noqa: E402

from mobilekit._compat import keras  # noqa: E402


def build_model(k):
    base = k.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None,
                                      classes=len(CLASSES), classifier_activation="softmax")
    config = base.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["momentum"] = 0.9
    return k.Model.from_config(config)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-samples", type=int, default=1600)
    args = parser.parse_args(argv)

    k = keras()
    k.utils.set_random_seed(0)
    x_train, y_train = generate_shapes(args.train_samples, seed=1)
    x_val, y_val = generate_shapes(200, seed=2)
    x_eval, y_eval = generate_shapes(200, seed=3)
    model = build_model(k)
    model.compile(k.optimizers.Adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs, batch_size=32,
              verbose=2)
    _, eval_accuracy = model.evaluate(x_eval, y_eval, verbose=0)

    inference_model = build_model(k)
    inference_model.set_weights(model.get_weights())
    args.out.mkdir(parents=True, exist_ok=True)
    inference_model.save(args.out / "mobilenetv2_035_96.keras")
    np.savez_compressed(args.out / "shapes_train.npz", x=x_train, y=y_train)
    np.savez_compressed(args.out / "shapes_val.npz", x=x_val, y=y_val)
    np.savez_compressed(args.out / "shapes_eval.npz", x=x_eval, y=y_eval)
    np.savez_compressed(args.out / "shapes_calibration.npz", x=x_train[:100])
    print(f"mobilenetv2_035_96: {model.count_params()} parameters, eval top-1 {eval_accuracy:.4f}")


if __name__ == "__main__":
    main()
