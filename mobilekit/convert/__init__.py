"""TFLite conversion: ``convert(model, output, quantize=...)`` -> .tflite + model card (JSON)."""
from __future__ import annotations

from .core import (DEFAULT_CALIBRATION_SAMPLES, IO_TYPES, QUANTIZE_MODES, ConvertResult, convert,
                   useful_error)
from .models import LoadedModel, check_model_path, load_model

__all__ = ["convert", "ConvertResult", "QUANTIZE_MODES", "IO_TYPES", "DEFAULT_CALIBRATION_SAMPLES",
           "load_model", "check_model_path", "LoadedModel", "useful_error"]

from .._callable import make_package_callable  # noqa: E402

# The package is also the public convert(): see mobilekit/_callable.py.
make_package_callable(__name__, "mobilekit.convert.core:convert")
