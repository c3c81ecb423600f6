"""Optimize a Keras model before conversion: distillation, pruning, clustering, QAT, each a
function returning the tf_keras model and a record; ``optimize`` runs them in order and verifies."""
from __future__ import annotations

from ._common import FitSettings, KernelStats, StepRecord
from .cluster import cluster, strip_clustering
from .distill import distill
from .flow import OptimizedConversion, optimize_and_convert
from .pipeline import STEP_ORDER, OptimizeRecord, optimize
from .prune import prune, strip_pruning
from .qat import check_quantize_after_qat, qat, unsupported_layers
from .recipe import Recipe, Variant, load_recipe
from .strip import strip
from .verify import TfliteVerification, read_kernels, verify_against_record, verify_tflite

__all__ = ["FitSettings", "KernelStats", "OptimizeRecord", "OptimizedConversion", "Recipe",
           "STEP_ORDER", "StepRecord", "TfliteVerification", "Variant",
           "check_quantize_after_qat", "cluster", "distill", "load_recipe", "optimize",
           "optimize_and_convert", "prune", "qat", "read_kernels", "strip", "strip_clustering",
           "strip_pruning", "unsupported_layers", "verify_against_record", "verify_tflite"]

from .._callable import make_package_callable  # noqa: E402

# The package is also the public optimize(): see mobilekit/_callable.py.
make_package_callable(__name__, "mobilekit.optimize.pipeline:optimize")
