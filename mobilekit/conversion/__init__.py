"""TFLite conversion: ``convert(model, output, quantize=...)`` -> .tflite + model card (JSON)."""
from __future__ import annotations

from .converter import (DEFAULT_CALIBRATION_SAMPLES, IO_TYPES, QUANTIZE_MODES, ConvertResult,
                        convert, useful_error)

__all__ = ["convert", "ConvertResult", "QUANTIZE_MODES", "IO_TYPES", "DEFAULT_CALIBRATION_SAMPLES", "useful_error"]
