"""Host-side accuracy of a .tflite model, and its fidelity to the Keras model it came from.

The model runs in LiteRT (no TensorFlow unless a Keras reference is given). ``accuracy_from_outputs``
and ``fidelity`` are pure numpy so bench can score outputs pulled from a phone the same way.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..data.labels import class_labels
from ..errors import DataError, UsageError


@dataclasses.dataclass
class EvaluateResult:
    model_path: str
    data: str
    samples: int
    classes: int
    top1: float                     # fraction of samples whose top class is the label, 0..1
    top5: float | None              # None when the model has fewer than 5 classes
    input_dtype: str
    output_dtype: str
    batch_size: int
    elapsed_s: float
    reference: str | None = None
    reference_top1: float | None = None
    argmax_agreement: float | None = None   # fraction of samples with the same top class
    max_abs_error: float | None = None       # on dequantized outputs
    mean_abs_error: float | None = None
    snr_db: float | None = None              # None when the outputs are identical (infinite SNR)


def evaluate(model_path, data, *, reference=None, limit: int | None = None,
             normalize: str | None = None, batch_size: int = 64, num_threads: int | None = None,
             progress: bool | None = None) -> EvaluateResult:
    """Top-1/top-5 of ``model_path`` (.tflite) on labelled ``data`` (.npz with x, y, or an image
    folder with one subfolder per class); with ``reference`` (a Keras model path or object),
    also argmax agreement, max absolute error and SNR of the dequantized outputs."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    from ..data import load_labelled
    from ..models.tflite import open_interpreter, read_tflite, run_over_samples

    started = time.perf_counter()
    content = read_tflite(model_path)
    interpreter = open_interpreter(content, where=str(model_path), num_threads=num_threads)
    inputs = interpreter.get_input_details()
    if len(inputs) != 1:
        raise UsageError(f"{model_path} has {len(inputs)} inputs; evaluate supports single-input models")
    detail = inputs[0]
    signature = detail.get("shape_signature")
    shape = signature if signature is not None and len(signature) else detail["shape"]
    input_shape = tuple(None if int(d) < 0 else int(d) for d in shape)
    x, y = load_labelled(data, input_shape=input_shape, normalize=normalize, limit=limit)
    outputs, used_batch = run_over_samples(interpreter, x, batch_size=batch_size, progress=progress)
    accuracy = accuracy_from_outputs(outputs, y)
    result = EvaluateResult(
        model_path=str(model_path), data=_describe_data(data), samples=accuracy["samples"],
        classes=accuracy["classes"], top1=accuracy["top1"], top5=accuracy["top5"],
        input_dtype=np.dtype(detail["dtype"]).name,
        output_dtype=np.dtype(interpreter.get_output_details()[0]["dtype"]).name,
        batch_size=used_batch, elapsed_s=0.0)
    if reference is not None:
        reference_outputs, result.reference = reference_predict(reference, x)
        result.reference_top1 = accuracy_from_outputs(reference_outputs, y)["top1"]
        scores = fidelity(outputs, reference_outputs)
        result.argmax_agreement = scores["argmax_agreement"]
        result.max_abs_error = scores["max_abs_error"]
        result.mean_abs_error = scores["mean_abs_error"]
        result.snr_db = scores["snr_db"]
    result.elapsed_s = round(time.perf_counter() - started, 4)
    return result


def _describe_data(data) -> str:
    if isinstance(data, tuple):  # (x, y) arrays from Python: their shape, not their values
        return f"<in-memory arrays x{tuple(np.shape(data[0]))}, y{tuple(np.shape(data[1]))}>"
    return str(data)


def reference_predict(reference, x):
    """Outputs of the Keras (or SavedModel) reference on ``x``; (outputs, description)."""
    from ..models.keras import load_model

    loaded = load_model(reference)
    if loaded.kind == "saved_model":
        from .._compat import tf

        module = tf().saved_model.load(str(loaded.path))
        function = module.signatures["serving_default"]
        name = sorted(function.structured_input_signature[1])[0]
        chunks = []
        for start in range(0, len(x), 256):
            produced = function(**{name: tf().constant(x[start:start + 256])})
            chunks.append(np.asarray(produced[sorted(produced)[0]]))
        outputs = np.concatenate(chunks)
    else:
        outputs = loaded.model.predict(x, batch_size=256, verbose=0)
    if isinstance(outputs, (list, tuple)):
        outputs = outputs[0]
    return np.asarray(outputs, dtype=np.float32), loaded.source


def accuracy_from_outputs(outputs, labels) -> dict:
    """{samples, classes, top1, top5} from class scores (N, classes) and labels (N,) or one-hot.

    ``top1``/``top5`` are fractions in 0..1; ``top5`` is None below 5 classes.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 0 or len(outputs) == 0:
        raise DataError("no outputs to score (0 samples)")
    outputs = outputs.reshape(len(outputs), -1)
    classes = outputs.shape[1]
    labels = class_labels(labels, count=len(outputs), counted="outputs",
                          classes=classes if classes >= 2 else None)
    if classes < 2:
        raise DataError("the model gives one value per sample; accuracy needs a score per class")
    top1 = float(np.mean(outputs.argmax(axis=1) == labels))
    top5 = None
    if classes >= 5:
        best5 = np.argpartition(-outputs, 4, axis=1)[:, :5]
        top5 = float(np.mean((best5 == labels[:, None]).any(axis=1)))
    return {"samples": int(len(outputs)), "classes": int(classes), "top1": top1, "top5": top5}


def fidelity(outputs, reference_outputs) -> dict:
    """How close outputs are to a reference: argmax agreement (fraction), max/mean absolute error,
    and SNR in dB (10·log10 of reference power over error power; None when the error is zero)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    reference_outputs = np.asarray(reference_outputs, dtype=np.float64)
    if outputs.shape != reference_outputs.shape:
        raise DataError(f"outputs of shape {outputs.shape} cannot be compared with reference outputs "
                        f"of shape {reference_outputs.shape}")
    if outputs.size == 0:
        raise DataError("no outputs to compare (0 samples)")
    flat = outputs.reshape(len(outputs), -1)
    flat_reference = reference_outputs.reshape(len(reference_outputs), -1)
    error = flat - flat_reference
    noise = float(np.sum(error ** 2))
    signal = float(np.sum(flat_reference ** 2))
    snr_db = None
    if noise > 0 and signal > 0:
        snr_db = 10.0 * math.log10(signal / noise)
    agreement = None
    if flat.shape[1] > 1:
        agreement = float(np.mean(flat.argmax(axis=1) == flat_reference.argmax(axis=1)))
    return {"argmax_agreement": agreement, "max_abs_error": float(np.max(np.abs(error))),
            "mean_abs_error": float(np.mean(np.abs(error))), "snr_db": snr_db}


def format_evaluate(result: EvaluateResult) -> str:
    """Human-readable table for the CLI."""
    def pct(value):
        return "-" if value is None else f"{100 * value:.2f}%"

    rows = [("model", result.model_path), ("data", f"{result.data} ({result.samples} samples, "
                                                    f"{result.classes} classes)"),
            ("top-1", pct(result.top1)), ("top-5", pct(result.top5)),
            ("input/output", f"{result.input_dtype} / {result.output_dtype}")]
    if result.reference is not None:
        rows += [("reference", result.reference), ("reference top-1", pct(result.reference_top1)),
                 ("argmax agreement", pct(result.argmax_agreement)),
                 ("max abs error", f"{result.max_abs_error:.6g}"),
                 ("SNR", "identical" if result.snr_db is None else f"{result.snr_db:.1f} dB")]
    rows.append(("time", f"{result.elapsed_s:.2f} s"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
