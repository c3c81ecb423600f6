"""Weight clustering (TF-MOT): each kernel keeps only N distinct values, which compress well.
``cluster`` wraps, ``strip_clustering`` unwraps."""
from __future__ import annotations

import time

from ..errors import OptimizationArgumentError, OptimizationError
from .record import StepRecord
from .training import (FitSettings, accuracy, copy_model, fit, keras_kernel_stats,
                       prepare, tfmot_internal, widen_for_schedule)
from .pruning import verify_sparsity
from .verification import cluster_findings


def check_cluster_args(clusters):
    try:
        value = int(clusters)
    except (TypeError, ValueError):
        raise OptimizationArgumentError(f"clusters must be a whole number >= 2, got {clusters!r}") from None
    if value != clusters or value < 2:
        raise OptimizationArgumentError(f"clusters must be a whole number >= 2 (values kept per kernel), "
                                f"got {clusters}")


def cluster(model, train, *, val=None, clusters: int = 16, preserve_sparsity: bool = False,
            min_sparsity: float | None = None, settings: FitSettings | None = None):
    """Cluster each kernel's weights into ``clusters`` values while fine-tuning.

    With ``preserve_sparsity`` the zeros of an earlier pruning stay zeros (sparsity-preserving
    clustering); ``min_sparsity`` then is verified on every clustered kernel. Pruning wrappers on
    the input are stripped first. Returns ``(wrapped model, StepRecord)``.
    """
    check_cluster_args(clusters)
    settings = settings or FitSettings()
    started = time.perf_counter()
    model, notes, train, val = prepare(model, train, val)
    from .stripping import strip_before

    model = strip_before(model, "clustering", ("prune",), notes)
    # The centroids need as many steps as a pruning ramp to settle and recover: widen or refuse.
    settings = widen_for_schedule(settings, len(train[0]), step="cluster", notes=notes)

    from .._compat import keras, tfmot

    k, clustering = keras(), tfmot().clustering.keras
    registry = tfmot_internal("clustering.keras.clustering_registry").ClusteringRegistry
    base = copy_model(model)
    targets = []
    for layer in base.layers:
        if not registry.supports(layer) or not registry._weight_names(layer):
            continue
        stats = keras_kernel_stats(layer)
        if stats is None or _size(stats.shape) < clusters:
            continue
        targets.append(layer.name)
    if not targets:
        raise OptimizationError(f"model {model.name} has no kernel with at least {clusters} weights "
                                "that TF-MOT can cluster (Conv, Dense...)")

    def wrap(layer):
        if layer.name in targets:
            return clustering.cluster_weights(
                layer, number_of_clusters=int(clusters),
                cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
                preserve_sparsity=bool(preserve_sparsity))
        return layer

    try:
        wrapped = k.models.clone_model(base, clone_function=wrap)
    except ValueError as exc:
        raise OptimizationError(f"clustering failed: {str(exc).splitlines()[0][:200]}") from exc
    epochs_run, logs = fit(wrapped, train, val, settings, step="cluster")
    record = StepRecord(
        step="cluster",
        params={"clusters": int(clusters), "preserve_sparsity": bool(preserve_sparsity),
                "layers": targets},
        wall_time_s=0.0, epochs_run=epochs_run, val_accuracy=accuracy(wrapped, val),
        train_loss=logs.get("loss"), notes=notes)
    stripped = strip_clustering(wrapped)
    record.kernels = [keras_kernel_stats(stripped.get_layer(name)) for name in targets]
    verify_clusters(record.kernels, int(clusters), record.checks, where="model",
                    zero_extra=bool(preserve_sparsity), per_channel=False)
    if preserve_sparsity and min_sparsity:
        verify_sparsity(record.kernels, min_sparsity, None, record.checks, where="model",
                        hint="sparsity-preserving clustering lost zeros")
    record.wall_time_s = round(time.perf_counter() - started, 3)
    return wrapped, record


def strip_clustering(model):
    """The model without clustering wrappers (kernels keep their clustered values)."""
    from .._compat import tfmot

    return tfmot().clustering.keras.strip_clustering(model)


def verify_clusters(kernels, clusters, checks, *, where, zero_extra, per_channel):
    """``verification.cluster_findings`` on Keras kernels: an OptimizationError on the first
    failure, else the confirmed claims appended to ``checks``."""
    cluster_findings(kernels, clusters, where=where, zero_extra=zero_extra,
                     per_channel=per_channel).require(checks, f"clustering verification failed in the {where}")


def _size(shape) -> int:
    size = 1
    for dim in shape:
        size *= int(dim)
    return size
