"""``optimize``: the chosen steps in their one sensible order (distill -> prune -> cluster -> QAT ->
strip), each fine-tuned on the user's labelled data and verified, in one OptimizeRecord."""
from __future__ import annotations

import dataclasses
import math
import time

from ..errors import OptimizationArgumentError
from . import clustering, distillation, pruning, quantization, stripping
from .record import OptimizeRecord, StepRecord
from .training import FitSettings, accuracy, prepare

STEP_ORDER = ("distill", "prune", "cluster", "qat", "strip")


DEFAULT_STEPS = 300          # optimizer steps per step that the default epochs aim for
DEFAULT_EPOCHS_RANGE = (2, 12)


def default_epochs(samples: int, batch_size: int) -> int:
    """Epochs per step when none are given: about DEFAULT_STEPS optimizer steps, within
    DEFAULT_EPOCHS_RANGE. Measured on the digits sample (1,100 training samples, batch 32: 9
    epochs), prune 0.8 + QAT + int8 keeps the float model's top-1, where 2 epochs lost 0.9 points."""
    steps_per_epoch = max(1, math.ceil(int(samples) / max(1, int(batch_size))))
    low, high = DEFAULT_EPOCHS_RANGE
    return int(min(high, max(low, math.ceil(DEFAULT_STEPS / steps_per_epoch))))


def optimize(model, train, *, val=None,
             distill_from=None, temperature: float = 4.0, alpha: float = 0.1,
             prune: float | None = None, prune_schedule: str = "polynomial",
             prune_structure: str | None = None, prune_for_latency: bool = False,
             cluster: int | None = None,
             qat: bool = False, qat_skip_unsupported: bool = False,
             quantize: str | None = None,
             epochs: int | None = None, batch_size: int = 32, learning_rate: float = 1e-4,
             loss=None, metrics=None, early_stopping_patience: int = 2, verbose: int = 1,
             seed: int | None = 0):
    """Run the requested steps on ``model`` (a tf_keras/Keras 3 model or a path) and verify each.

    ``train``/``val`` are labelled data: a path (.npz with x and y, or an image folder with one
    subfolder per class) or an (x, y) pair. ``prune`` is the target sparsity in (0, 1) (with
    ``prune_structure="2:4"`` it may be omitted), ``cluster`` the values kept per kernel (>= 2).
    ``quantize`` is the conversion that will follow, checked against QAT before any training.
    ``epochs`` per step defaults to ``default_epochs``: enough for about ``DEFAULT_STEPS``
    optimizer steps on the training data (2 to 12 epochs), so small and large sets both recover.
    Returns ``(tf_keras model ready to convert, OptimizeRecord)``.
    """
    started = time.perf_counter()
    if prune_structure == "2:4" and prune is None:
        prune = 0.5
    if prune_for_latency and prune is None:
        raise OptimizationArgumentError("prune for latency needs a target sparsity: give --prune SPARSITY")
    if prune is None and (prune_structure is not None or prune_schedule != "polynomial"):
        raise OptimizationArgumentError("pruning options given without --prune SPARSITY")
    if prune is not None:
        pruning.check_prune_args(prune, prune_schedule, prune_structure, prune_for_latency)
        if prune_structure == "2:4" and abs(float(prune) - 0.5) > 1e-9:
            raise OptimizationArgumentError(f"2:4 structured pruning is 50% sparsity by definition; "
                                    f"got --prune {prune} (omit it or give 0.5)")
    if cluster is not None:
        clustering.check_cluster_args(cluster)
    if qat:
        quantization.check_quantize_after_qat(quantize)
    elif qat_skip_unsupported:
        raise OptimizationArgumentError("--qat-skip-unsupported only applies with --qat")
    if distill_from is None and prune is None and cluster is None and not qat:
        raise OptimizationArgumentError("no optimization step requested: give --distill-from, --prune, "
                                "--cluster or --qat")
    settings = FitSettings(epochs=epochs or 1, batch_size=batch_size, learning_rate=learning_rate,
                           loss=loss, metrics=metrics, early_stopping_patience=early_stopping_patience,
                           verbose=verbose, seed=seed)

    # Read and checked once here; every step takes the CheckedData as it is.
    model, notes, train, val = prepare(model, train, val)
    if epochs is None:
        epochs = default_epochs(len(train[0]), batch_size)
        settings = dataclasses.replace(settings, epochs=epochs)
    # Problems a later step would find only after minutes of training are refused now.
    if prune is not None and not prune_for_latency:
        pruning.prunable_layers(model, prune_structure)
    if qat and not qat_skip_unsupported:
        quantization.quantizable(model, skip_unsupported=False)

    record = OptimizeRecord(
        steps=[], settings={"epochs": int(epochs), "batch_size": int(batch_size),
                            "learning_rate": float(learning_rate),
                            "early_stopping_patience": int(early_stopping_patience),
                            "loss": None if loss is None else str(loss)},
        train_samples=int(len(train[0])), val_samples=None if val is None else int(len(val[0])),
        baseline_val_accuracy=accuracy(model, val), final_val_accuracy=None, wall_time_s=0.0,
        quantize=quantize, notes=notes)
    from .._compat import tool_versions

    record.tool_versions = tool_versions()

    if distill_from is not None:
        model, step = distillation.distill(model, distill_from, train, val=val,
                                           temperature=temperature, alpha=alpha, settings=settings)
        record.steps.append(step)
    pruned_layers = clustered_layers = None
    if prune is not None:
        model, step = pruning.prune(model, train, val=val, sparsity=float(prune),
                                       schedule=prune_schedule, structure=prune_structure,
                                       for_latency=prune_for_latency, settings=settings)
        pruned_layers = step.params["layers"]
        record.steps.append(step)
    if cluster is not None:
        model, step = clustering.cluster(model, train, val=val, clusters=int(cluster),
                                           preserve_sparsity=prune is not None,
                                           min_sparsity=None if prune is None else float(prune),
                                           settings=settings)
        clustered_layers = step.params["layers"]
        record.steps.append(step)
    if qat:
        preserve = {(True, True): "prune+cluster", (True, False): "prune",
                    (False, True): "cluster"}.get((prune is not None, cluster is not None))
        model, step = quantization.qat(model, train, val=val, preserve=preserve,
                                   skip_unsupported=qat_skip_unsupported,
                                   sparsity=None if prune is None else float(prune),
                                   structure=prune_structure, pruned_layers=pruned_layers,
                                   clusters=cluster, clustered_layers=clustered_layers,
                                   settings=settings)
        record.steps.append(step)
    model, step = stripping.strip(model)
    step.val_accuracy = accuracy(model, val)
    _verify_final(step, pruned_layers, prune, prune_structure, clustered_layers, cluster,
                  per_channel=qat)
    record.steps.append(step)
    record.final_val_accuracy = step.val_accuracy
    record.wall_time_s = round(time.perf_counter() - started, 3)
    return model, record


def _verify_final(step: StepRecord, pruned_layers, sparsity, structure, clustered_layers, clusters,
                  *, per_channel):
    """The stripped model, as it goes to the converter, still holds every claim."""
    from .clustering import verify_clusters
    from .pruning import verify_sparsity

    if pruned_layers:
        kernels = [kernel for kernel in step.kernels if kernel.layer in set(pruned_layers)]
        verify_sparsity(kernels, float(sparsity), structure, step.checks, where="stripped model")
    if clustered_layers:
        clustered = [kernel for kernel in step.kernels if kernel.layer in set(clustered_layers)]
        verify_clusters(clustered, int(clusters), step.checks, where="stripped model",
                        zero_extra=sparsity is not None, per_channel=per_channel)
