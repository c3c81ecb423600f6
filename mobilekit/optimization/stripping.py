"""The last step before conversion: remove pruning and clustering wrappers (and CQAT's training
variables), keeping the sparse/clustered kernels and any QAT wrappers the converter needs."""
from __future__ import annotations

import time

from ..models.keras import load_training_model
from .record import StepRecord
from .training import keras_kernel_stats, kernel_layers, unwrapped_name


def _wrapper_types(kind):
    from .training import tfmot_internal

    if kind == "prune":
        return (tfmot_internal("sparsity.keras.pruning_wrapper").PruneLowMagnitude,)
    if kind == "cluster":
        module = tfmot_internal("clustering.keras.cluster_wrapper")
        return tuple(getattr(module, name) for name in ("ClusterWeights", "ClusterWeightsMHA",
                                                        "ClusterWeightsRNN") if hasattr(module, name))
    if kind == "quantize":
        return (tfmot_internal("quantization.keras.quantize_wrapper").QuantizeWrapper,)
    raise ValueError(kind)


def has_wrappers(model, kind: str) -> bool:
    """Whether any layer of ``model`` is wrapped for ``kind`` ('prune', 'cluster', 'quantize')."""
    types = _wrapper_types(kind)
    return any(isinstance(layer, types) for layer in model.layers)


def has_cqat_variables(model) -> bool:
    """A cluster-preserving QAT model still carrying its centroid/association variables."""
    if not has_wrappers(model, "quantize"):
        return False
    markers = ("cluster_centroids_tf", "ori_weights_vars_tf", "pulling_indices_tf")
    return any(marker in variable.name for layer in model.layers for variable in layer.weights
               for marker in markers)


def strip_wrappers(model):
    """The model with pruning/clustering wrappers and CQAT variables removed."""
    from .._compat import tfmot

    api = tfmot()
    if has_wrappers(model, "prune"):
        model = api.sparsity.keras.strip_pruning(model)
    if has_wrappers(model, "cluster"):
        model = api.clustering.keras.strip_clustering(model)
    if has_cqat_variables(model):
        model = api.experimental.combine.strip_clustering_cqat(model)
    return model


def strip_before(model, step: str, kinds: tuple, notes: list):
    """``model`` without the ``kinds`` wrappers a later step cannot train through (their kernels
    are kept), with a note saying so when there were any."""
    found = [kind for kind in kinds if has_wrappers(model, kind)]
    if not found:
        return model
    names = {"prune": "pruning", "cluster": "clustering"}
    notes.append(f"{'/'.join(names[kind] for kind in found)} wrappers stripped before {step} "
                 "(their kernels are kept)")
    return strip_wrappers(model)


def strip(model):
    """Strip the wrappers; returns ``(model, StepRecord)`` with the kernels as they will convert."""
    started = time.perf_counter()
    model, notes = load_training_model(model)
    removed = [kind for kind in ("prune", "cluster") if has_wrappers(model, kind)]
    cqat = has_cqat_variables(model)
    stripped = strip_wrappers(model)
    if cqat:
        removed.append("cqat variables")
    record = StepRecord(step="strip", params={"removed": removed}, wall_time_s=0.0, notes=notes)
    record.kernels = [stats for stats in (keras_kernel_stats(layer)
                                          for layer in kernel_layers(stripped)) if stats]
    left = [kind for kind in ("prune", "cluster") if has_wrappers(stripped, kind)]
    if left:
        from ..errors import OptimizationError

        raise OptimizationError(f"strip left {', '.join(left)} wrappers in the model")
    record.checks.append("model: no pruning or clustering wrappers left"
                         + (f" (removed {', '.join(removed)})" if removed else ""))
    record.params["kernel_layers"] = [unwrapped_name(layer) for layer in kernel_layers(stripped)]
    record.wall_time_s = round(time.perf_counter() - started, 3)
    return stripped, record
