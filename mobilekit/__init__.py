"""mobilekit: take a trained Keras model to a measured Android deployment.

The public API mirrors the CLI, one function per pipeline stage, each returning a dataclass
record. Names load lazily so ``import mobilekit`` stays cheap and never imports TensorFlow until a
stage that needs it runs.
"""
from __future__ import annotations

import importlib

from ._version import __version__

# public name -> (module, attribute)
_API = {
    "optimize": ("mobilekit.optimization.pipeline", "optimize"),
    "convert": ("mobilekit.conversion.converter", "convert"),
    "ConvertResult": ("mobilekit.conversion.converter", "ConvertResult"),
    "inspect_model": ("mobilekit.analysis.inspection", "inspect_model"),
    "evaluate": ("mobilekit.analysis.evaluation", "evaluate"),
    "bench": ("mobilekit.benchmark.core", "bench"),
    "report": ("mobilekit.reporting", "report"),
    "compare": ("mobilekit.reporting.comparison", "compare"),
    "sweep": ("mobilekit.sweeping", "sweep"),
    "MobilekitError": ("mobilekit.errors", "MobilekitError"),
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    try:
        module_name, attribute = _API[name]
    except KeyError:
        raise AttributeError(f"module 'mobilekit' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__():
    return __all__
