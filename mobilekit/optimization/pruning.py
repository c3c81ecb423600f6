"""Magnitude pruning (TF-MOT): unstructured to a target sparsity, 2:4 structured, or only the 1x1
convolutions XNNPACK's sparse inference can use. ``prune`` wraps, ``strip_pruning`` unwraps."""
from __future__ import annotations

import math
import time

from ..errors import OptimizationArgumentError, OptimizationError
from .record import StepRecord
from .training import (FitSettings, accuracy, copy_model, fit, keras_kernel_stats,
                       prepare, tfmot_internal, widen_for_schedule)
from .verification import sparsity_findings

SCHEDULES = ("polynomial", "constant")
STRUCTURES = (None, "2:4")


def check_prune_args(sparsity, schedule="polynomial", structure=None, for_latency=False):
    """Refuse impossible pruning settings before any training starts."""
    if structure not in STRUCTURES:
        raise OptimizationArgumentError(f"prune structure must be '2:4' or none, got {structure!r}")
    if structure is None:
        try:
            value = float(sparsity)
        except (TypeError, ValueError):
            raise OptimizationArgumentError(f"sparsity must be a number in (0, 1), got {sparsity!r}") from None
        if not 0.0 < value < 1.0:
            raise OptimizationArgumentError(
                f"sparsity must be strictly between 0 and 1 (0.8 = 80% zeros), got {sparsity}")
    if schedule not in SCHEDULES:
        raise OptimizationArgumentError(f"prune schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if structure is not None and for_latency:
        raise OptimizationArgumentError("prune for latency (XNNPACK sparse inference) uses unstructured "
                                "sparsity; drop the 2:4 structure or the latency policy")


def prune(model, train, *, val=None, sparsity: float | None = 0.5, schedule: str = "polynomial",
          structure: str | None = None, for_latency: bool = False,
          settings: FitSettings | None = None):
    """Prune ``model`` while fine-tuning on ``train``; returns ``(wrapped model, StepRecord)``.

    ``structure="2:4"`` keeps 2 of every 4 consecutive input-channel weights (50% sparsity) in
    Conv2D/Dense kernels whose input channels are a multiple of 4. ``for_latency=True`` applies
    TF-MOT's ``PruneForLatencyOnXNNPack`` policy (1x1 convolutions of an NHWC network).
    The wrappers stay on (so later steps can preserve sparsity); ``strip_pruning`` removes them.
    """
    if structure == "2:4":
        sparsity = 0.5
    check_prune_args(sparsity, schedule, structure, for_latency)
    settings = settings or FitSettings()
    started = time.perf_counter()
    model, notes, train, val = prepare(model, train, val)

    from .._compat import keras, tfmot

    k, sparsity_api = keras(), tfmot().sparsity.keras
    if structure is None and schedule == "polynomial":
        # A ramp needs steps to reach its target and leave recovery time: widen or refuse.
        settings = widen_for_schedule(settings, len(train[0]), step="prune", notes=notes)
    steps_per_epoch = math.ceil(len(train[0]) / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    pruning_schedule, end_step, schedule_used = _schedule(sparsity_api, float(sparsity), schedule,
                                                          structure, total_steps)
    if schedule_used != schedule:
        notes.append(f"{schedule} schedule needs at least 2 training steps; used constant")
    params = {"pruning_schedule": pruning_schedule}
    if structure == "2:4":
        params["sparsity_m_by_n"] = (2, 4)

    base = copy_model(model)
    if for_latency:
        try:
            wrapped = sparsity_api.prune_low_magnitude(
                base, pruning_policy=sparsity_api.PruneForLatencyOnXNNPack(), **params)
        except ValueError as exc:
            raise OptimizationError(
                "prune for latency: the model has no subgraph XNNPACK sparse inference can run "
                f"({str(exc).splitlines()[0][:160]}); it needs an NHWC network that starts with "
                "ZeroPadding2D(1) + Conv2D 3x3 stride 2 'valid' on 3 channels and ends in "
                "GlobalAveragePooling2D(keepdims=True), with 1x1 Conv2D in between") from exc
        wrapper_class = tfmot_internal("sparsity.keras.pruning_wrapper").PruneLowMagnitude
        pruned_names = [layer.layer.name for layer in wrapped.layers
                        if isinstance(layer, wrapper_class)]
    else:
        targets = prunable_layers(base, structure)

        def wrap(layer):
            if layer.name in targets:
                return sparsity_api.prune_low_magnitude(layer, **params)
            return layer

        wrapped = k.models.clone_model(base, clone_function=wrap)
        pruned_names = targets
    if not pruned_names:
        raise OptimizationError("prune for latency found no 1x1 Conv2D to prune in the model")

    epochs_before_target = math.ceil((end_step + 1) / steps_per_epoch)
    epochs_run, logs = fit(wrapped, train, val, settings, step="prune",
                           callbacks=[sparsity_api.UpdatePruningStep()],
                           start_early_stopping_at_epoch=epochs_before_target)
    record = StepRecord(
        step="prune",
        params={"sparsity": float(sparsity), "schedule": schedule_used, "structure": structure,
                "for_latency": bool(for_latency), "end_step": end_step,
                "steps_per_epoch": steps_per_epoch, "layers": pruned_names},
        wall_time_s=0.0, epochs_run=epochs_run, val_accuracy=accuracy(wrapped, val),
        train_loss=logs.get("loss"), notes=notes)
    stripped = strip_pruning(wrapped)
    record.kernels = [keras_kernel_stats(stripped.get_layer(name)) for name in pruned_names]
    verify_sparsity(record.kernels, float(sparsity), structure, record.checks, where="model",
                    hint="fine-tune for more epochs or steps (smaller --batch-size) so the schedule "
                         f"reaches its end step {end_step}")
    record.wall_time_s = round(time.perf_counter() - started, 3)
    return wrapped, record


def strip_pruning(model):
    """The model without pruning wrappers (the sparse kernels stay)."""
    from .._compat import tfmot

    return tfmot().sparsity.keras.strip_pruning(model)


def verify_sparsity(kernels, sparsity, structure, checks, *, where, hint=""):
    """``verification.sparsity_findings`` on Keras kernels: an OptimizationError on the first
    failure, else the confirmed claims appended to ``checks``."""
    sparsity_findings(kernels, sparsity, structure, where=where).require(
        checks, f"pruning verification failed in the {where}", hint)


def prunable_layers(model, structure) -> list[str]:
    """Names of the layers ``prune`` would wrap, or an OptimizationError when there are none."""
    targets = [layer.name for layer in model.layers if prunable(layer, structure)]
    if not targets:
        what = ("Conv2D or Dense layer whose input channels are a multiple of 4"
                if structure == "2:4" else "layer with a prunable kernel (Conv, Dense...)")
        raise OptimizationError(f"model {model.name} has no {what}; nothing to prune")
    return targets


def prunable(layer, structure) -> bool:
    registry = tfmot_internal("sparsity.keras.prune_registry").PruneRegistry
    if not registry.supports(layer) or not registry._weight_names(layer):
        return False
    if structure == "2:4":
        kind = type(layer).__name__
        if kind not in ("Conv2D", "Dense") or getattr(layer, "groups", 1) != 1:
            return False
        kernel = layer.kernel
        return int(kernel.shape[-2]) % 4 == 0
    return True


RAMP_FRACTION = 0.5


def _schedule(sparsity_api, sparsity, schedule, structure, total_steps):
    """(schedule object, step at which the target is reached, schedule name actually used)."""
    # Masks update every `frequency` steps; about ten updates over the ramp, at most every 100.
    if structure == "2:4" or schedule == "constant" or total_steps < 2:
        frequency = max(1, min(100, total_steps // 10))
        # TF-MOT computes 2:4 masks at step 1 only, and a constant schedule reaches its target at
        # its first update (step 0).
        end_step = 1 if structure == "2:4" else 0
        return (sparsity_api.ConstantSparsity(sparsity, begin_step=0, frequency=frequency),
                end_step, "constant" if structure is None else "constant (2:4)")
    # Reach the target at half of the training, then fine-tune at the full sparsity for the
    # rest: with few batches a ramp that ends near the last epoch leaves no time to recover.
    ramp = max(1, int(RAMP_FRACTION * (total_steps - 1)))
    frequency = max(1, min(100, ramp // 10))
    end_step = max(frequency, ramp // frequency * frequency)
    return (sparsity_api.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity,
                                         begin_step=0, end_step=end_step, frequency=frequency),
            end_step, "polynomial")
