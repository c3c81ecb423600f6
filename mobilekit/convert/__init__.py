"""TFLite conversion: ``convert(model, output, quantize=...)`` -> .tflite + model card (JSON)."""
from __future__ import annotations

from .core import (DEFAULT_CALIBRATION_SAMPLES, IO_TYPES, QUANTIZE_MODES, ConvertResult, convert,
                   useful_error)
from .models import LoadedModel, check_model_path, load_model

__all__ = ["convert", "ConvertResult", "QUANTIZE_MODES", "IO_TYPES", "DEFAULT_CALIBRATION_SAMPLES",
           "load_model", "check_model_path", "LoadedModel", "useful_error"]
