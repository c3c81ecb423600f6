"""Optimize a Keras model before conversion: distillation, pruning, clustering, QAT, each a
function returning the tf_keras model and a record; ``optimize`` runs them in order and verifies."""
from __future__ import annotations

from .record import KernelStats, OptimizeRecord, StepRecord, TfliteKernel, TfliteVerification
from .training import FitSettings
from .clustering import cluster, strip_clustering
from .distillation import distill
from .pipeline import STEP_ORDER, optimize
from .pruning import prune, strip_pruning
from .quantization import check_quantize_after_qat, qat, unsupported_layers
from .recipe import Recipe, Variant, load_recipe
from .stripping import strip
from .verification import read_kernels, verify_against_record, verify_tflite

__all__ = ["FitSettings", "KernelStats", "OptimizeRecord", "Recipe",
           "STEP_ORDER", "StepRecord", "TfliteKernel", "TfliteVerification", "Variant",
           "check_quantize_after_qat", "cluster", "distill", "load_recipe", "optimize", "prune", "qat", "read_kernels", "strip", "strip_clustering",
           "strip_pruning", "unsupported_layers", "verify_against_record", "verify_tflite"]
