"""Moving data in and out of a TFLite model's tensors with the model's own quantization.

Shared by evaluate, the bench input preparation and the host runner's callers, so quantized I/O is
handled one way everywhere. Needs only numpy (and the tensor detail dicts LiteRT returns).
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError

_INTEGER_KINDS = "iu"


def quantization_of(detail: dict) -> tuple[float, int]:
    """(scale, zero_point) of a per-tensor quantized tensor, or (0.0, 0) when not quantized."""
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), dtype=np.float64)
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if scales.size >= 1 and scales[0] != 0:
        return float(scales[0]), int(zero_points[0]) if zero_points.size else 0
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero_point)


def to_input_dtype(values: np.ndarray, detail: dict, *, name: str = "input") -> np.ndarray:
    """Real-valued samples -> the tensor's dtype, quantizing with its scale and zero point."""
    dtype = np.dtype(detail["dtype"])
    values = np.asarray(values)
    if values.dtype == dtype and dtype.kind in _INTEGER_KINDS:
        return values  # already quantized by the caller
    scale, zero_point = quantization_of(detail)
    if dtype.kind in _INTEGER_KINDS and scale:
        info = np.iinfo(dtype)
        quantized = np.round(values.astype(np.float64) / scale + zero_point)
        return np.clip(quantized, info.min, info.max).astype(dtype)
    if dtype.kind in _INTEGER_KINDS and values.dtype.kind == "f":
        raise DataError(f"{name} expects {dtype.name} without quantization parameters, got float data")
    return values.astype(dtype)


def from_output(values: np.ndarray, detail: dict) -> np.ndarray:
    """An output tensor's raw values -> real values (float32), dequantizing when quantized."""
    values = np.asarray(values)
    scale, zero_point = quantization_of(detail)
    if values.dtype.kind in _INTEGER_KINDS and scale:
        return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return values.astype(np.float32)


def check_samples_fit(samples: np.ndarray, detail: dict, *, what: str = "data") -> None:
    """Refuse samples whose per-sample shape differs from the tensor's (batch dimension aside)."""
    expected = tuple(int(d) for d in detail["shape"][1:])
    signature = detail.get("shape_signature")
    got = tuple(samples.shape[1:])
    if len(got) != len(expected) or any(
            e != g and not (signature is not None and int(signature[i + 1]) == -1)
            for i, (e, g) in enumerate(zip(expected, got))):
        raise DataError(
            f"{what} has samples of shape {got} but the model input {detail.get('name', '')!r} "
            f"expects {expected}", hint="resize or reshape the data to the model's input")


def shape_misfit(shape, detail: dict) -> str | None:
    """Why ``shape`` cannot be the shape a model input is allocated at, or None when it can: it
    must have the input's rank and differ from its shape signature only in free (-1)
    dimensions, each at least 1. The app checks the same rule (benchcore TfliteModel.misfit)."""
    signature = [int(d) for d in detail.get("shape_signature", detail["shape"])]
    shape = [int(d) for d in shape]
    if len(shape) != len(signature):
        return f"shape {shape} has rank {len(shape)} but input {detail['name']} {signature} has rank {len(signature)}"
    if any(d < 1 or (s >= 0 and d != s) for d, s in zip(shape, signature)):
        return (f"shape {shape} does not fit input {detail['name']} {signature}: only its free (-1) "
                "dimensions can change, to a size of at least 1")
    return None
