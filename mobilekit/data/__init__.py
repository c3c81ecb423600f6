"""Datasets for calibration and evaluation: .npz/.npy files, image folders and Python callables.

``load_labelled`` reads (x, y) for evaluation; ``load_samples`` reads model inputs for calibration
and benchmarks. Both validate what they read and raise ``DataError`` naming what is wrong.
"""
from __future__ import annotations

from .loaders import (IMAGE_EXTENSIONS, NORMALIZE_CHOICES, DEFAULT_IMAGE_NORMALIZE, check_samples,
                      load_labelled, load_samples)

__all__ = ["load_labelled", "load_samples", "check_samples", "NORMALIZE_CHOICES",
           "DEFAULT_IMAGE_NORMALIZE", "IMAGE_EXTENSIONS"]
