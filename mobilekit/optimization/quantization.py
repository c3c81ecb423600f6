"""Quantization-aware training (TF-MOT): plain, or preserving the zeros and/or clusters of earlier
steps through ``tfmot.experimental.combine``'s schemes. The result converts to int8 only."""
from __future__ import annotations

import re
import time

from ..errors import OptimizationArgumentError, OptimizationError
from .record import StepRecord
from .training import (FitSettings, accuracy, copy_model, fit, keras_kernel_stats,
                       kernel_layers, prepare, tfmot_internal, unwrapped_name)

PRESERVE = (None, "prune", "cluster", "prune+cluster")

# Quantization modes a QAT model can be converted with. QAT trains int8 ranges into the model;
# TFLite cannot honour anything else (see check_quantize_after_qat).
QAT_QUANTIZE = ("int8",)


def check_quantize_after_qat(quantize: str | None):
    """Refuse conversion modes that cannot follow QAT, with the reason (before any training)."""
    if quantize in (None, "int8"):
        return
    if quantize == "int16x8":
        raise OptimizationArgumentError(
            "int16x8 after QAT is not possible: QAT trains 8-bit fake-quantization into the model, "
            "and TFLite then fails with \"Quantization to 16x8-bit not yet supported for op: "
            "'DEQUANTIZE'\"; use --quantize int8 with --qat, or drop --qat for int16x8")
    if quantize in ("float16", "fp16", "dynamic"):
        raise OptimizationArgumentError(
            f"{quantize} after QAT would silently give int8 weights (the QAT model's fake-quant "
            f"nodes make the converter quantize to int8), not {quantize}; use --quantize int8 with "
            f"--qat, or drop --qat for {quantize}")
    if quantize in ("none", "float32"):
        raise OptimizationArgumentError(
            "a float32 model after QAT keeps the fake-quantization ops and gains nothing; use "
            "--quantize int8 with --qat, or drop --qat")
    raise OptimizationArgumentError(f"unknown quantize mode {quantize!r} after QAT; use int8")


def unsupported_layers(model) -> list[str]:
    """'name (Class)' of each layer TF-MOT's default 8-bit scheme cannot quantize, as TF-MOT
    decides it: its layout transforms run first (a SeparableConv2D becomes a DepthwiseConv2D and
    a Conv2D, a BatchNormalization after a convolution is folded or wrapped), so the registry
    alone would refuse layers QAT handles. ``quantize_apply`` is tried on a copy, and each layer
    it names as not supported is left out of the annotation and the copy tried again."""
    from .._compat import keras, tfmot

    k, quantization = keras(), tfmot().quantization.keras
    names = {layer.name: type(layer).__name__ for layer in model.layers}
    skipped: list[str] = []
    reserve_layer_names(model)
    base = k.models.clone_model(model)
    for _ in range(len(names) + 1):
        def annotate(layer):
            if layer.name in skipped or type(layer).__name__ == "InputLayer":
                return layer
            return quantization.quantize_annotate_layer(layer)

        try:
            annotated = k.models.clone_model(base, clone_function=annotate)
            with quantization.quantize_scope():
                quantization.quantize_apply(annotated)
        except RuntimeError as exc:
            match = _NOT_SUPPORTED.search(str(exc))
            if match is None or match.group(1) not in names or match.group(1) in skipped:
                return _registry_unsupported(model)  # a layer TF-MOT made itself: the plain rule
            skipped.append(match.group(1))
            continue
        except (ValueError, TypeError):
            return _registry_unsupported(model)
        return [f"{name} ({names[name]})" for name in names if name in skipped]
    return _registry_unsupported(model)


def reserve_layer_names(model) -> None:
    """Move Keras's layer-name counters past every name in ``model``.

    TF-MOT's layout transforms make new layers (a SeparableConv2D becomes a DepthwiseConv2D and a
    Conv2D) and let Keras name them from its counters, which start afresh in each process. A
    model read from a file already holds names such as conv2d_1, and a new layer given the same
    name is wired in its place: QAT then fails with residual shapes that do not match."""
    from .._compat import keras_layer_name_counters

    counters = keras_layer_name_counters()
    if counters is None:
        return
    for layer in model.submodules if hasattr(model, "submodules") else model.layers:
        match = re.fullmatch(r"(.+?)(?:_(\d+))?", getattr(layer, "name", None) or "")
        if match is None:
            continue
        key = ("", match.group(1))  # layers are named in the root namespace
        counters[key] = max(counters[key], int(match.group(2) or 0) + 1)


# quantize_apply's words for a layer without a QuantizeConfig (TF-MOT 0.8).
_NOT_SUPPORTED = re.compile(r"Layer ([^:\s]+):<class '[^']+'> is not supported")


def split_layers(base, quantized) -> dict:
    """{layer QAT made: the layer it came from}: TF-MOT's layout transform replaces each
    SeparableConv2D with a DepthwiseConv2D and a 1x1 Conv2D named from Keras's counters. They are
    found by their weights, which the transform copies from the separable layer."""
    import numpy as np

    from .training import kernel_of

    separable = {}
    for layer in base.layers:
        if type(layer).__name__ == "SeparableConv2D":
            separable[layer.name] = (np.asarray(layer.depthwise_kernel.numpy()), kernel_of(layer))
    if not separable:
        return {}
    known = {layer.name for layer in base.layers}
    found = {}
    for wrapper in quantized.layers:
        inner = getattr(wrapper, "layer", wrapper)
        kind = type(inner).__name__
        if inner.name in known or kind not in ("DepthwiseConv2D", "Conv2D"):
            continue
        weight = kernel_of(wrapper)
        if weight is None:
            continue
        for name, (depthwise, pointwise) in separable.items():
            target = depthwise if kind == "DepthwiseConv2D" else pointwise
            if target.shape == weight.shape and np.array_equal(target, weight):
                found[inner.name] = name
                break
    return found


def _registry_unsupported(model) -> list[str]:
    registry = tfmot_internal(
        "quantization.keras.default_8bit.default_8bit_quantize_registry").Default8BitQuantizeRegistry()
    found = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer" or registry.supports(layer) or _folded_batch_norm(layer):
            continue
        found.append(f"{layer.name} ({kind})")
    return found


def quantizable(model, *, skip_unsupported: bool) -> list[str]:
    """The layers QAT leaves in float (``unsupported_layers``); an OptimizationError naming them
    unless ``skip_unsupported``."""
    unsupported = unsupported_layers(model)
    if unsupported and not skip_unsupported:
        raise OptimizationError(
            f"QAT cannot quantize layer(s) {', '.join(unsupported)}: TF-MOT has no 8-bit scheme for "
            "them; pass --qat-skip-unsupported (skip_unsupported=True) to quantize only the "
            "supported layers, or remove those layers (e.g. do Rescaling in preprocessing)")
    return unsupported


def _folded_batch_norm(layer) -> bool:
    # Conv/Dense + BatchNormalization are folded by quantize_apply's layout transforms.
    if type(layer).__name__ != "BatchNormalization":
        return False
    producers = [node.inbound_layers for node in layer._inbound_nodes]
    flat = [item for producer in producers
            for item in (producer if isinstance(producer, list) else [producer])]
    # A layer reused by cloned models (pruning/clustering wrappers and their stripping) has one
    # inbound node per model: every producer must be a foldable layer.
    return bool(flat) and all(type(getattr(producer, "layer", producer)).__name__ in
                              ("Conv2D", "DepthwiseConv2D", "Dense") for producer in flat)


def qat(model, train, *, val=None, preserve: str | None = None, skip_unsupported: bool = False,
        sparsity: float | None = None, structure: str | None = None,
        pruned_layers: list | None = None, clusters: int | None = None,
        clustered_layers: list | None = None, settings: FitSettings | None = None):
    """Quantization-aware fine-tuning; returns ``(quantize-wrapped model, StepRecord)``.

    ``preserve``: None (plain QAT), "prune" (PQAT), "cluster" (CQAT) or "prune+cluster" (PCQAT);
    ``sparsity``, ``structure``, ``pruned_layers``, ``clusters`` and ``clustered_layers`` describe
    the earlier steps, verified again afterwards. Layers TF-MOT cannot
    quantize raise an error naming them unless ``skip_unsupported``, which annotates only the
    supported layers (the others stay float and the converter adds quantize/dequantize around them).
    """
    if preserve not in PRESERVE:
        raise OptimizationError(f"qat preserve must be one of prune, cluster, prune+cluster or none, "
                                f"got {preserve!r}")
    settings = settings or FitSettings()
    started = time.perf_counter()
    model, notes, train, val = prepare(model, train, val)
    from .stripping import has_wrappers, strip_before

    if has_wrappers(model, "quantize"):
        raise OptimizationError(f"model {model.name} is already quantization-aware; run QAT once")
    model = strip_before(model, "QAT", ("prune", "cluster"), notes)

    unsupported = quantizable(model, skip_unsupported=skip_unsupported)

    from .._compat import keras, tfmot

    k, api = keras(), tfmot()
    quantization = api.quantization.keras
    base = copy_model(model)
    skipped = {name.split(" (")[0] for name in unsupported}
    if skipped:
        def annotate(layer):
            if layer.name in skipped:
                return layer
            return quantization.quantize_annotate_layer(layer)

        annotated = k.models.clone_model(base, clone_function=annotate)
        notes.append(f"left in float (not quantized): {', '.join(unsupported)}")
    else:
        annotated = quantization.quantize_annotate_model(base)
    scheme = _scheme(api, preserve)
    reserve_layer_names(annotated)
    try:
        with quantization.quantize_scope():
            quantized = quantization.quantize_apply(annotated, scheme) if scheme is not None \
                else quantization.quantize_apply(annotated)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise OptimizationError(f"QAT could not wrap the model: {str(exc).splitlines()[0][:240]}"
                                + ("" if skip_unsupported else
                                   "; --qat-skip-unsupported quantizes only the supported layers")
                                ) from exc
    split = split_layers(base, quantized)
    if split:
        notes.append("split for QAT as TF-MOT does (DepthwiseConv2D + 1x1 Conv2D): "
                     + ", ".join(sorted(set(split.values()))))
    callbacks = []
    if skipped and preserve in ("prune", "prune+cluster"):
        # The prune-preserving scheme keeps zeros only in the layers it quantizes: a pruned layer
        # left in float would train its zeros away, so they are put back after every batch.
        callbacks.append(_keep_zeros_callback(k, [quantized.get_layer(name) for name in skipped
                                                  if name in set(pruned_layers or ())]))
    epochs_run, logs = fit(quantized, train, val, settings, step="qat", callbacks=callbacks)
    record = StepRecord(
        step="qat",
        params={"preserve": preserve, "scheme": type(scheme).__name__ if scheme else
                "Default8BitQuantizeScheme", "skip_unsupported": bool(skip_unsupported),
                "skipped_layers": unsupported, "split_layers": split},
        wall_time_s=0.0, epochs_run=epochs_run, val_accuracy=accuracy(quantized, val),
        train_loss=logs.get("loss"), notes=notes)
    record.kernels = [stats for stats in (keras_kernel_stats(layer)
                                          for layer in kernel_layers(quantized)) if stats]
    for kernel in record.kernels:
        # The pointwise half carries the separable layer's name (its pruned kernel, as before
        # the split); the depthwise half is named after it too, marked as the depthwise part.
        original = split.get(kernel.layer)
        if original is not None:
            kernel.layer = original if len(kernel.shape) == 4 and kernel.shape[:2] == [1, 1] \
                else f"{original} (depthwise)"
    _verify_preserved(record, preserve, sparsity, structure, pruned_layers, clusters,
                      clustered_layers, quantized)
    record.wall_time_s = round(time.perf_counter() - started, 3)
    return quantized, record


def _keep_zeros_callback(k, layers):
    """A callback that keeps every zero of ``layers``' trainable weights at zero while training."""
    import numpy as np

    masked = []
    for layer in layers:
        for weight in layer.trainable_weights:
            mask = np.asarray(weight.numpy() != 0, dtype=weight.dtype.as_numpy_dtype)
            if not mask.all():
                masked.append((weight, mask))

    class KeepZeros(k.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for weight, mask in masked:
                weight.assign(weight * mask)

    return KeepZeros()


def _scheme(api, preserve):
    combine = api.experimental.combine
    if preserve == "prune":
        return combine.Default8BitPrunePreserveQuantizeScheme()
    if preserve == "cluster":
        return combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)
    if preserve == "prune+cluster":
        return combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    return None


def _verify_preserved(record, preserve, sparsity, structure, pruned_layers, clusters,
                      clustered_layers, quantized):
    """After PQAT/CQAT the kernels must still hold the earlier steps' zeros and clusters."""
    from .clustering import verify_clusters
    from .pruning import verify_sparsity

    if preserve in ("cluster", "prune+cluster") and clusters and clustered_layers:
        # CQAT writes the clustered kernel back into the layer's variable, but re-clusters
        # Conv2D kernels per output channel (as they are quantized): count per channel.
        clustered = [kernel for kernel in record.kernels if kernel.layer in set(clustered_layers)]
        verify_clusters(clustered, int(clusters), record.checks, where="model",
                        zero_extra=preserve == "prune+cluster", per_channel=True)
    if preserve in ("prune", "prune+cluster") and pruned_layers:
        pruned = [kernel for kernel in record.kernels if kernel.layer in set(pruned_layers)]
        verify_sparsity(pruned, sparsity, structure, record.checks, where="model",
                        hint="the prune-preserving scheme lost zeros")
    names = [unwrapped_name(layer) for layer in kernel_layers(quantized)]
    record.checks.append(f"model: {len(names)} kernel layers quantization-aware")
