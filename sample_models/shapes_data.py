"""A synthetic four-class image dataset (circle, square, triangle, cross), made on the spot.

Flat colours (a random background, a random shape colour, in random places and sizes): the task
stays one of shape, not colour, and the saved splits compress to a few KiB an image.

Deterministic for a seed. Images are float32 in [-1, 1] (MobileNetV2's input range), 96x96x3.
`train_set()` is a `file.py:function` data source: `--train sample_models/shapes_data.py:train_set`.
"""
from __future__ import annotations

import numpy as np

CLASSES = ("circle", "square", "triangle", "cross")


def generate_shapes(count: int, *, size: int = 96, seed: int = 0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((count, size, size, 3), dtype=np.float32)
    labels = rng.integers(0, len(CLASSES), size=count)
    for index, label in enumerate(labels):
        colour_a = np.round(rng.uniform(0, 1, 3) * 8) / 8
        image = np.broadcast_to(colour_a, (size, size, 3))
        centre_x, centre_y = rng.uniform(size * 0.3, size * 0.7, 2)
        radius = rng.uniform(size * 0.15, size * 0.3)
        dx, dy = xx - centre_x, yy - centre_y
        if label == 0:
            mask = dx ** 2 + dy ** 2 <= radius ** 2
        elif label == 1:
            mask = (np.abs(dx) <= radius * 0.85) & (np.abs(dy) <= radius * 0.85)
        elif label == 2:
            mask = (dy <= radius * 0.8) & (dy >= -radius) & (np.abs(dx) <= (dy + radius) * 0.6)
        else:
            arm = radius * 0.3
            mask = ((np.abs(dx) <= arm) & (np.abs(dy) <= radius)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= radius))
        shape_colour = 1.0 - colour_a if rng.random() < 0.5 else np.round(rng.uniform(0, 1, 3) * 8) / 8
        image = np.where(mask[..., None], shape_colour, image)
        images[index] = image * 2.0 - 1.0
    return images, labels.astype(np.int64)


def train_set():
    """Labelled training data for recipes: (x, y) with 1600 samples."""
    return generate_shapes(1600, seed=1)


def calibration_set():
    """Representative inputs for int8 calibration."""
    return generate_shapes(100, seed=1)[0]
