"""What every optimization step shares: the step preamble (model loaded for training, labelled data
read and checked once), loss inference, fine-tuning with per-epoch progress and early stopping, and
the kernel measurements steps verify."""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..data.labels import class_labels, is_one_hot, looks_like_class_labels
from ..errors import DataError, OptimizationArgumentError, OptimizationError
from ..models.keras import load_training_model
from .record import KernelStats, StepRecord

# Layers whose weights TFLite stores as a "kernel" that pruning and clustering act on.
KERNEL_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D",
                 "SeparableConv2D", "Dense")


@dataclasses.dataclass
class FitSettings:
    """How each step fine-tunes on the user's labelled data."""

    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-4
    loss: object = None  # None: inferred for classification
    metrics: list | None = None  # None: accuracy matching the loss
    early_stopping_patience: int = 2  # epochs without val improvement; 0 turns it off
    verbose: int = 1  # 0 silent, 1 one line per epoch on stderr
    seed: int | None = 0

    def __post_init__(self):
        if int(self.epochs) < 1:
            raise OptimizationArgumentError(f"epochs must be at least 1, got {self.epochs}")
        if int(self.batch_size) < 1:
            raise OptimizationArgumentError(f"batch_size must be at least 1, got {self.batch_size}")
        if not float(self.learning_rate) > 0:
            raise OptimizationArgumentError(f"learning_rate must be positive, got {self.learning_rate}")


# Fewer optimizer steps than this and a pruning ramp (or clustering's centroid training) cannot
# reach its target and still leave the model time to recover: 21 steps give a ramp of 10 (it ends
# at half the steps) and as many at the target.
MIN_SCHEDULE_STEPS = 21
# Widen a too-short run up to this many times the requested epochs (at least MIN_WIDENED_EPOCHS);
# beyond that refuse, naming what to change.
MAX_WIDEN_FACTOR = 4
MIN_WIDENED_EPOCHS = 12


def widen_for_schedule(settings: FitSettings, samples: int, *, step: str, notes: list,
                       min_steps: int = MIN_SCHEDULE_STEPS, stream=None) -> FitSettings:
    """``settings`` with enough epochs for ``min_steps`` optimizer steps (batches x epochs).

    Too few steps and the schedule cannot reach its target and leave recovery time: the epochs are
    widened (said in ``notes`` and on stderr) up to ``MAX_WIDEN_FACTOR`` times the requested ones,
    else an OptimizationArgumentError names what to change."""
    steps_per_epoch = max(1, math.ceil(int(samples) / settings.batch_size))
    if steps_per_epoch * settings.epochs >= min_steps:
        return settings
    needed = math.ceil(min_steps / steps_per_epoch)
    if needed > max(MAX_WIDEN_FACTOR * settings.epochs, MIN_WIDENED_EPOCHS):
        raise OptimizationArgumentError(
            f"{step}: {samples} training samples in batches of {settings.batch_size} give "
            f"{steps_per_epoch * settings.epochs} steps over {settings.epochs} epochs, too few to "
            f"reach the target (needs {min_steps}); pass --epochs {needed} or a smaller --batch-size, "
            "or give more training data")
    note = (f"{settings.epochs} epochs of {steps_per_epoch} batches are {steps_per_epoch * settings.epochs} "
            f"steps, too few for the schedule to reach its target and recover (needs {min_steps}); "
            f"widened to {needed} epochs")
    notes.append(note)
    print(f"[{step}] {note}", file=stream or sys.stderr, flush=True)
    return dataclasses.replace(settings, epochs=needed)


# ----------------------------------------------------------------------------------------- models

def copy_model(model):
    """A fresh copy of ``model`` with the same weights (steps never modify the caller's model)."""
    from .._compat import keras

    k = keras()
    copy = k.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def tfmot_internal(name: str):
    """A TF-MOT module not exported publicly (registries, wrapper classes), e.g. 'sparsity.keras.prune_registry'."""
    import importlib

    from .._compat import tfmot

    tfmot()
    return importlib.import_module(f"tensorflow_model_optimization.python.core.{name}")


def output_units(model) -> int:
    shape = model.output_shape
    if isinstance(shape, list):
        raise OptimizationError(f"model {model.name} has {len(shape)} outputs; fine-tuning supports "
                                "single-output classifiers (pass loss= for anything else)")
    return int(shape[-1])


def kernel_layers(model):
    """Layers of ``model`` (unwrapped) that own a kernel, in model order."""
    found = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)  # pruning/cluster/quantize wrappers hold `layer`
        if type(inner).__name__ in KERNEL_LAYERS:
            found.append(layer)
    return found


# The weight each layer kind is measured (and pruned) by: TF-MOT prunes a separable
# convolution's pointwise kernel (its depthwise kernel is left dense).
_KERNEL_ATTRIBUTE = {"DepthwiseConv2D": "depthwise_kernel", "SeparableConv1D": "pointwise_kernel",
                     "SeparableConv2D": "pointwise_kernel"}


def kernel_of(layer):
    """The kernel array of a (possibly wrapped) layer, with wrappers' masks/clusters applied."""
    inner = getattr(layer, "layer", layer)
    name = _KERNEL_ATTRIBUTE.get(type(inner).__name__, "kernel")
    variable = getattr(inner, name, None)
    if variable is None:
        return None
    try:
        return np.asarray(variable.numpy())
    except (AttributeError, NotImplementedError, TypeError):
        # QAT wrappers swap the attribute for a fake-quantized tensor; the variable is still owned.
        for weight in layer.weights:
            if weight.name.rsplit("/", 1)[-1].split(":")[0] == name:
                return np.asarray(weight.numpy())
    return None


def unwrapped_name(layer) -> str:
    return getattr(layer, "layer", layer).name


# oneDNN's weight gradient of a 1x1 convolution with a stride writes past its workspace when the
# input has fewer channels than its 16-wide block (NHWC): training such a layer (fer's emotion
# model: 8 channels, stride 2) dies with a segfault or "double free or corruption".
ONEDNN_RISKY_CHANNELS = 16


def onednn_risky_layers(model) -> list[str]:
    """Trainable layers of ``model`` (unwrapped) whose training can crash oneDNN: plain Conv2D,
    1x1 kernel, a stride > 1, channels last, fewer than ``ONEDNN_RISKY_CHANNELS`` input channels.
    Named as ``conv2d_3 (1x1, stride 2, 8 input channels)``."""
    from .._compat import keras

    k = keras()
    found = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, k.Model):
            found.extend(onednn_risky_layers(inner))
            continue
        if (not isinstance(inner, k.layers.Conv2D) or isinstance(inner, k.layers.Conv2DTranspose)
                or not inner.trainable or tuple(inner.kernel_size) != (1, 1)
                or max(inner.strides) <= 1 or inner.data_format != "channels_last"):
            continue
        channels = layer.input_shape[-1] if not isinstance(layer.input_shape, list) else None
        if channels is not None and channels < ONEDNN_RISKY_CHANNELS:
            found.append(f"{inner.name} (1x1, stride {max(inner.strides)}, {channels} input channels)")
    return found


def warn_if_onednn_risky(model, *, step: str, stream=None) -> str | None:
    """With TensorFlow's oneDNN kernels on (the user's TF_ENABLE_ONEDNN_OPTS=1, or TensorFlow loaded
    before mobilekit set it to 0) and a layer in the crash's scope, the line saying so, printed on
    stderr before training starts (a segfault prints nothing of its own); else None."""
    from .._compat import onednn_enabled

    if not onednn_enabled():
        return None
    risky = onednn_risky_layers(model)
    if not risky:
        return None
    note = (f"oneDNN is on in this process (TF_ENABLE_ONEDNN_OPTS=1, or TensorFlow loaded before "
            f"mobilekit): training {', '.join(risky)} can crash it with a segfault or 'double free "
            "or corruption'; set TF_ENABLE_ONEDNN_OPTS=0 before TensorFlow loads")
    print(f"[{step}] warning: {note}", file=stream or sys.stderr, flush=True)
    return note


# ------------------------------------------------------------------------------------------- data

class CheckedData(tuple):
    """An ``(x, y)`` pair already read and checked against the model (``classes``: the class ids
    found, None for non-class targets). Steps take it as it is, so ``optimize`` checks its data once
    and hands it to every step."""

    classes: set | None

    def __new__(cls, x, y, classes):
        pair = super().__new__(cls, (x, y))
        pair.classes = classes
        return pair


def prepare(model, train, val=None, *, what: str = "model"):
    """The preamble of every step: ``(tf_keras model, notes, train, val)`` with the model loaded for
    training (``models.keras.load_training_model``) and the data read and checked as CheckedData."""
    model, notes = load_training_model(model, what=what)
    train = checked(model, train, what="training")
    if val is not None:
        val = checked(model, val, what="validation", classes=train.classes)
    return model, notes, train, val


def checked(model, data, *, what: str, classes: set | None = None) -> CheckedData:
    """``data`` read with ``labelled`` and checked with ``check_fits``; CheckedData passes through."""
    if isinstance(data, CheckedData):
        return data
    x, y = labelled(data, what=what, input_shape=model.input_shape)
    return CheckedData(x, y, check_fits(model, x, y, what=what, classes=classes))


def labelled(data, *, what: str, input_shape=None):
    """(x, y) from a path (via ``mobilekit.data.load_labelled``), an (x, y) pair or a dict."""
    if data is None:
        raise DataError(f"{what} data is required")
    if isinstance(data, (str, Path)):
        from ..data import load_labelled

        x, y = load_labelled(data, input_shape=input_shape)
    elif isinstance(data, dict):
        if "y" not in data:
            raise DataError(f"{what} data has no labels: give a 'y' array beside 'x'")
        x, y = data.get("x"), data["y"]
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    elif isinstance(data, np.ndarray):
        raise DataError(f"{what} data has no labels: pass (x, y) or an .npz with x and y, "
                        "or an image folder with one subfolder per class")
    else:
        raise DataError(f"{what} data must be a path, an (x, y) pair or a dict, "
                        f"got {type(data).__name__}")
    if x is None or y is None:
        raise DataError(f"{what} data has no labels: pass (x, y) or an .npz with x and y")
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise DataError(f"{what} data has {len(x)} samples but {len(y)} labels")
    if len(x) == 0:
        raise DataError(f"{what} data is empty")
    return x, y


def check_fits(model, x, y, *, what: str, classes: set | None = None):
    """Refuse data that does not match the model's input or whose labels the model cannot output."""
    expected = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if expected is not None and tuple(x.shape[1:]) != expected:
        raise DataError(f"{what} samples have shape {tuple(x.shape[1:])} but the model expects "
                        f"{expected}")
    units = output_units(model)
    if not looks_like_class_labels(y, units):
        return None  # regression-style targets: the loss given by the caller decides
    ids = class_labels(y.reshape(len(y), -1), count=len(x), classes=units if units > 1 else None,
                       where=f"{what} labels")
    label_set = set(np.unique(ids).tolist())
    if classes is not None and not label_set <= classes:
        extra = sorted(label_set - classes)
        raise DataError(f"{what} data has classes {extra[:10]} that the training data does not "
                        "have: use a validation set drawn from the same classes")
    return label_set


def infer_loss(model, y, settings: FitSettings):
    """(loss, metrics) for a classifier: sparse vs one-hot labels, softmax vs logits outputs."""
    from .._compat import keras

    k = keras()
    if settings.loss is not None:
        return settings.loss, settings.metrics if settings.metrics is not None else []
    units = output_units(model)
    activation = _output_activation(model)
    from_logits = activation not in ("softmax", "sigmoid")
    if units == 1:
        return (k.losses.BinaryCrossentropy(from_logits=activation != "sigmoid"),
                settings.metrics if settings.metrics is not None
                else [k.metrics.BinaryAccuracy(name="accuracy",
                                               threshold=0.5 if activation == "sigmoid" else 0.0)])
    if is_one_hot(y, units):
        return (k.losses.CategoricalCrossentropy(from_logits=from_logits),
                settings.metrics if settings.metrics is not None
                else [k.metrics.CategoricalAccuracy(name="accuracy")])
    return (k.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
            settings.metrics if settings.metrics is not None
            else [k.metrics.SparseCategoricalAccuracy(name="accuracy")])


def _output_activation(model) -> str:
    """'softmax', 'sigmoid' or 'linear' for the layer producing the model's output."""
    layer = model.layers[-1]
    inner = getattr(layer, "layer", layer)
    if type(inner).__name__ == "Softmax":
        return "softmax"
    activation = getattr(inner, "activation", None)
    # QAT wraps activations (QuantizeAwareActivation keeps the original in .activation).
    activation = getattr(activation, "activation", activation)
    name = getattr(activation, "__name__", str(activation) if activation is not None else "linear")
    return name if name in ("softmax", "sigmoid") else "linear"


def outputs_are_probabilities(model) -> bool:
    return _output_activation(model) in ("softmax", "sigmoid")


# ------------------------------------------------------------------------------------ fine-tuning

def epoch_line_callback(step: str, epochs: int, stream=None):
    """A Keras callback printing one line per epoch to stderr (stdout stays for results)."""
    from .._compat import keras

    class EpochLine(keras().callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            shown = " ".join(f"{key} {value:.4f}" for key, value in (logs or {}).items()
                             if isinstance(value, (int, float, np.floating)))
            elapsed = time.perf_counter() - self._started
            print(f"[{step}] epoch {epoch + 1}/{epochs}: {shown} ({elapsed:.1f} s)",
                  file=stream or sys.stderr, flush=True)

    return EpochLine()


def fit(model, train, val, settings: FitSettings, *, step: str, callbacks=(), loss=None,
        metrics=None, start_early_stopping_at_epoch: int = 0, compile_model: bool = True):
    """Compile (Adam at the given learning rate) and fine-tune; returns (epochs_run, last_logs)."""
    from .._compat import keras

    k = keras()
    x_train, y_train = train
    val = None if val is None else (val[0], val[1])  # a plain pair: Keras rebuilds tuple types
    if compile_model:
        if loss is None:
            loss, metrics = infer_loss(model, y_train, settings)
        model.compile(optimizer=k.optimizers.Adam(settings.learning_rate), loss=loss,
                      metrics=metrics)
    callbacks = list(callbacks)
    restore = None
    if val is not None:
        # The best validation epoch is kept, not the last (Keras restores it only on an early
        # stop); epochs before ``start_early_stopping_at_epoch`` (a pruning ramp not yet at its
        # target) are never chosen.
        restore = _restore_best_callback(k, "val_accuracy" if _names_accuracy(metrics) else "val_loss",
                                         start_early_stopping_at_epoch)
        callbacks.append(restore)
    if val is not None and settings.early_stopping_patience > 0:
        monitor = "val_accuracy" if _names_accuracy(metrics) else "val_loss"
        callbacks.append(k.callbacks.EarlyStopping(
            monitor=monitor, mode="max" if monitor == "val_accuracy" else "min",
            patience=settings.early_stopping_patience, restore_best_weights=True,
            start_from_epoch=start_early_stopping_at_epoch))
    if settings.verbose:
        callbacks.append(epoch_line_callback(step, settings.epochs))
    if settings.seed is not None:
        k.utils.set_random_seed(settings.seed)
    warn_if_onednn_risky(model, step=step)
    try:
        history = model.fit(x_train, y_train, validation_data=val, epochs=settings.epochs,
                            batch_size=settings.batch_size, callbacks=callbacks, verbose=0,
                            shuffle=True)
    except (ValueError, TypeError) as exc:
        raise OptimizationError(f"{step}: fine-tuning failed: {_one_line(exc)}") from exc
    epochs_run = len(history.history.get("loss", []))
    chosen = -1 if restore is None or restore.best_epoch is None else restore.best_epoch
    last = {key: float(values[chosen]) for key, values in history.history.items() if values}
    if restore is not None and restore.best_epoch is not None:
        last["best_epoch"] = restore.best_epoch + 1
    return epochs_run, last


def _restore_best_callback(k, monitor: str, start_epoch: int):
    """A callback that remembers the weights of the best epoch (from ``start_epoch`` on, 0-based)
    by ``monitor`` and puts them back when training ends."""

    class RestoreBest(k.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best_epoch, self._best, self._weights = None, None, None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None or epoch < start_epoch:
                return
            better = self._best is None or (value > self._best if monitor == "val_accuracy"
                                            else value < self._best)
            if better:
                self.best_epoch, self._best = epoch, float(value)
                self._weights = self.model.get_weights()

        def on_train_end(self, logs=None):
            if self._weights is not None:
                self.model.set_weights(self._weights)

    return RestoreBest()


def _names_accuracy(metrics) -> bool:
    return any("accuracy" in (metric if isinstance(metric, str) else getattr(metric, "name", ""))
               for metric in metrics or [])


def accuracy(model, data, *, batch_size: int = 256) -> float | None:
    """Top-1 accuracy of a classifier on (x, y) (sparse or one-hot labels), or None without data."""
    if data is None:
        return None
    x, y = data
    outputs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    units = outputs.shape[-1] if outputs.ndim > 1 else 1
    if units == 1:
        threshold = 0.5 if outputs_are_probabilities(model) else 0.0
        predicted = (outputs.reshape(-1) > threshold).astype(np.int64)
        return float(np.mean(predicted == y.reshape(-1).astype(np.int64)))
    if not looks_like_class_labels(y, units):
        return None  # top-1 accuracy means nothing for non-class targets
    predicted = np.argmax(outputs.reshape(len(outputs), -1), axis=-1)
    truth = class_labels(y.reshape(len(y), -1), count=len(outputs), where="labels")
    return float(np.mean(predicted == truth))


# ---------------------------------------------------------------------------------- measurements

def measure_kernel(name: str, kernel: np.ndarray, *, in_axis: int, out_axis: int) -> KernelStats:
    """Sparsity, distinct values and the 2:4 pattern of one kernel.

    ``in_axis`` is the input-channel axis (where 2:4 groups run, as TFLite lays them out) and
    ``out_axis`` the output-channel axis (per-channel quantization makes values differ per channel).
    """
    kernel = np.asarray(kernel)
    size = kernel.size
    zeros = int(size - np.count_nonzero(kernel))
    per_channel = np.moveaxis(kernel, out_axis, 0).reshape(kernel.shape[out_axis], -1)
    max_unique = max(len(np.unique(row)) for row in per_channel) if per_channel.size else 0
    return KernelStats(layer=name, shape=[int(d) for d in kernel.shape],
                       sparsity=round(zeros / size, 6) if size else 0.0,
                       unique_values=int(len(np.unique(kernel))),
                       max_unique_per_channel=int(max_unique),
                       pattern_2_4=has_2_4_pattern(kernel, in_axis=in_axis))


def has_2_4_pattern(kernel: np.ndarray, *, in_axis: int) -> bool:
    """True when every run of 4 consecutive input-channel values has at least 2 zeros.

    A trailing group shorter than 4 (input channels not a multiple of 4) must keep at most 2
    non-zeros, as TF-MOT pads such groups with zeros before choosing the 2 it keeps.
    """
    moved = np.moveaxis(np.asarray(kernel), in_axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    channels = rows.shape[1]
    pad = (-channels) % 4
    if pad:
        rows = np.concatenate([rows, np.zeros((rows.shape[0], pad), rows.dtype)], axis=1)
    groups = rows.reshape(rows.shape[0], -1, 4)
    return bool(np.all(np.count_nonzero(groups, axis=-1) <= 2))


def keras_kernel_stats(layer) -> KernelStats | None:
    """Measure the kernel of a Keras layer (Keras layout: input channels at -2, outputs at -1)."""
    kernel = kernel_of(layer)
    if kernel is None:
        return None
    inner = getattr(layer, "layer", layer)
    if type(inner).__name__ == "DepthwiseConv2D":
        # (kh, kw, channels, multiplier): channels are both input and output.
        return measure_kernel(unwrapped_name(layer), kernel, in_axis=2, out_axis=2)
    if type(inner).__name__ == "Conv2DTranspose":
        return measure_kernel(unwrapped_name(layer), kernel, in_axis=-1, out_axis=-2)
    return measure_kernel(unwrapped_name(layer), kernel, in_axis=-2, out_axis=-1)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("in user code"):
        # TensorFlow puts a traceback first and the actual message last.
        lines = lines[-1:]
    return lines[0][:300] if lines else type(exc).__name__
