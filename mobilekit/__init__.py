"""mobilekit: take a trained Keras model to a measured Android deployment.

The public API mirrors the CLI, one function per pipeline stage, each returning a dataclass
record. Names load lazily so ``import mobilekit`` stays cheap and never imports TensorFlow until a
stage that needs it runs.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute)
_API = {
    "convert": ("mobilekit.convert", "convert"),
    "ConvertResult": ("mobilekit.convert", "ConvertResult"),
    "optimize": ("mobilekit.optimize", "optimize"),
    "inspect_model": ("mobilekit.analyze.inspect", "inspect_model"),
    "evaluate": ("mobilekit.analyze.evaluate", "evaluate"),
    "bench": ("mobilekit.bench.api", "bench"),
    "report": ("mobilekit.report", "report"),
    "compare": ("mobilekit.report.compare", "compare"),
    "sweep": ("mobilekit.bench.sweep", "sweep"),
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
