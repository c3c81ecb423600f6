"""The one normaliser of class labels: sparse ids, (N, 1) columns or one-hot rows -> int64 ids.

Every command that takes labels (evaluate, bench, optimize's fine-tuning data, the loaders) checks
them here, the same way and before any work: whole numbers, one per sample, inside the classes the
model scores, one-hot rows exactly as wide as the model's outputs.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError


def class_labels(labels, *, count: int | None = None, classes: int | None = None,
                 where: str = "labels", counted: str = "samples") -> np.ndarray:
    """``labels`` as int64 class ids of shape (N,), or a DataError naming what is wrong.

    ``count``: the number of samples the labels belong to (``counted`` names them in the error:
    "samples", "outputs"). ``classes``: how many classes the model scores (ids must lie in
    0..classes-1, one-hot rows must have that many columns).
    """
    y = np.asarray(labels)
    if y.dtype.kind not in "biuf":
        raise DataError(f"{where} have dtype {y.dtype}; expected class indices")
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot (or score) rows
        if classes is not None and y.shape[1] != classes:
            raise DataError(f"{where} are one-hot rows of {y.shape[1]} columns but the model scores "
                            f"{classes} classes", hint=f"give rows of {classes} columns or class ids")
        y = np.argmax(y, axis=1)
    elif y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{where} have shape {y.shape}; expected (N,) class indices or "
                        "(N, classes) one-hot rows")
    if count is not None and len(y) != count:
        raise DataError(f"{where}: {len(y)} labels for {count} {counted}",
                        hint="give exactly one label per sample")
    if y.dtype.kind == "f" and (not np.isfinite(y).all() or not np.all(y == np.round(y))):
        raise DataError(f"{where} are not whole class indices",
                        hint="store labels as integers (class ids) or one-hot rows")
    if len(y) and y.min() < 0:
        raise DataError(f"{where} include negative class {int(y.min())}")
    if classes is not None and len(y) and y.max() >= classes:
        raise DataError(f"{where} run from {int(y.min())} to {int(y.max())} but the model has "
                        f"{classes} outputs ({classes} classes, 0..{classes - 1})")
    return y.astype(np.int64)


def is_one_hot(labels, units: int) -> bool:
    """Whether ``labels`` are one-hot rows for a model with ``units`` (> 1) outputs."""
    y = np.asarray(labels)
    return y.ndim == 2 and units > 1 and y.shape[1] == units


def looks_like_class_labels(labels, units: int) -> bool:
    """Whether ``labels`` are class ids or one-hot rows for a model with ``units`` outputs (rather
    than regression targets): what optimize's loss inference and label checks go by."""
    y = np.asarray(labels)
    if is_one_hot(y, units):
        return True
    flat = y.reshape(len(y), -1)
    if flat.shape[1] != 1 or y.dtype.kind not in "biuf":
        return False
    values = flat[:, 0]
    return values.dtype.kind != "f" or bool(np.all(np.equal(np.mod(values, 1), 0)))
