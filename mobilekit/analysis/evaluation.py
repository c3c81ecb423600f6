"""Host-side accuracy of a .tflite model, and its fidelity to the Keras model it came from.

The model runs in LiteRT (no TensorFlow unless a Keras reference is given). ``accuracy_from_outputs``
and ``fidelity`` are pure numpy so bench can score outputs pulled from a phone the same way.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

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
    head: str | None = None                  # the output accuracy (and the fields above) are on
    heads: list | None = None                # fidelity per output: [{name, reference, shape, ...}]
    pairing: str | None = None               # "name", or "shape and order" when names differ


def evaluate(model_path, data, *, reference=None, head: str | None = None,
             limit: int | None = None, normalize: str | None = None, batch_size: int = 64,
             num_threads: int | None = None, progress: bool | None = None) -> EvaluateResult:
    """Top-1/top-5 of ``model_path`` (.tflite) on labelled ``data`` (.npz with x, y, or an image
    folder with one subfolder per class); with ``reference`` (a Keras model path or object),
    also argmax agreement, max absolute error and SNR of the dequantized outputs, for every
    output (paired with the reference's by name, else by shape and order). ``head`` names the
    output accuracy is computed on (default: the first)."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    _check_reference_kind(reference)
    from ..models.tflite import open_interpreter, output_names, read_tflite, run_all_outputs

    started = time.perf_counter()
    content = read_tflite(model_path)
    interpreter = open_interpreter(content, where=str(model_path), num_threads=num_threads)
    inputs = interpreter.get_input_details()
    detail = inputs[0]
    input_shapes = [_free_shape(entry) for entry in inputs]
    names = output_names(interpreter)
    head_index = _head_index(names, head, model_path)
    output_detail = interpreter.get_output_details()[head_index]
    # Labels checked against the classes the model scores before any inference, as bench does.
    classes = int(np.prod(output_detail["shape"][1:]))
    from ..data.loaders import load_labelled_inputs
    from ..models.tflite import input_names

    # One input: an array; several: one .npz array per input, named after it, and y.
    x, y = load_labelled_inputs(data, dict(zip(input_names(interpreter), input_shapes)),
                                normalize=normalize, limit=limit,
                                classes=classes if classes > 1 else None)
    fed = list(x.values()) if isinstance(x, dict) else x
    outputs, used_batch = run_all_outputs(interpreter, fed, batch_size=batch_size, progress=progress,
                                          where=str(model_path))
    accuracy = accuracy_from_outputs(outputs[names[head_index]], y)
    result = EvaluateResult(
        model_path=str(model_path), data=_describe_data(data), samples=accuracy["samples"],
        classes=accuracy["classes"], top1=accuracy["top1"], top5=accuracy["top5"],
        input_dtype=np.dtype(detail["dtype"]).name,
        output_dtype=np.dtype(output_detail["dtype"]).name,
        batch_size=used_batch, elapsed_s=0.0, head=names[head_index] if len(names) > 1 else None)
    if reference is not None:
        reference_outputs, result.reference = reference_predict_all(reference, x)
        pairs, result.pairing = pair_outputs(outputs, reference_outputs)
        result.heads = []
        for name, reference_name in pairs:
            scores = fidelity(outputs[name], reference_outputs[reference_name])
            result.heads.append({"name": name, "reference": reference_name,
                                 "shape": [None, *outputs[name].shape[1:]], **scores})
            if name == names[head_index]:
                result.reference_top1 = _top1_or_none(reference_outputs[reference_name], y)
                result.argmax_agreement = scores["argmax_agreement"]
                result.max_abs_error = scores["max_abs_error"]
                result.mean_abs_error = scores["mean_abs_error"]
                result.snr_db = scores["snr_db"]
        if len(names) == 1:
            result.heads = result.pairing = None  # one output: the top-level fields say it all
    result.elapsed_s = round(time.perf_counter() - started, 4)
    return result


def _free_shape(detail) -> tuple:
    signature = detail.get("shape_signature")
    shape = signature if signature is not None and len(signature) else detail["shape"]
    return tuple(None if int(d) < 0 else int(d) for d in shape)


def _head_index(names: list[str], head: str | None, model_path) -> int:
    if head is None:
        return 0
    if head in names:
        return names.index(head)
    raise UsageError(f"--head {head}: {model_path} has no output of that name",
                     hint=f"its outputs are {', '.join(names)}")


def _top1_or_none(outputs, y):
    try:
        return accuracy_from_outputs(outputs, y)["top1"]
    except DataError:
        return None


def pair_outputs(outputs: dict, reference_outputs: dict) -> tuple[list, str]:
    """Pair each model output with a reference output: by name when every name matches, else by
    shape and order (the first unused reference output of the same shape). ([(name, ref)], how)."""
    if set(outputs) <= set(reference_outputs):
        return [(name, name) for name in outputs], "name"
    unused = list(reference_outputs)
    pairs = []
    for name, values in outputs.items():
        match = next((ref for ref in unused
                      if np.shape(reference_outputs[ref])[1:] == np.shape(values)[1:]), None)
        if match is None:
            raise DataError(f"output {name} of shape {tuple(np.shape(values))} has no reference "
                            f"output of the same shape (reference outputs: "
                            f"{', '.join(f'{ref} {tuple(np.shape(v))}' for ref, v in reference_outputs.items())})",
                            hint="pass the Keras model this .tflite was converted from")
        unused.remove(match)
        pairs.append((name, match))
    return pairs, "shape and order"


def _describe_data(data) -> str:
    if isinstance(data, tuple):  # (x, y) arrays from Python: their shape, not their values
        return f"<in-memory arrays x{tuple(np.shape(data[0]))}, y{tuple(np.shape(data[1]))}>"
    return str(data)


def reference_predict(reference, x):
    """First output of the Keras (or SavedModel) reference on ``x``; (outputs, description)."""
    outputs, described = reference_predict_all(reference, x)
    return next(iter(outputs.values())), described


def reference_predict_all(reference, x, *, signature: str | None = None):
    """Every output of the Keras (or SavedModel) reference on ``x``: ({name: outputs}, description).

    Keras outputs are named as the model names them (``model.output_names``); a SavedModel's by
    its signature's keys, in sorted order (``signature`` or serving_default).
    """
    from ..models.keras import load_model

    loaded = load_model(reference)
    _check_reference_shape(loaded, x)
    if loaded.kind == "saved_model":
        from .._compat import tf

        module = tf().saved_model.load(str(loaded.path))
        function = module.signatures[signature or "serving_default"]
        arrays = x if isinstance(x, dict) else {
            sorted(function.structured_input_signature[1])[0]: x}
        chunks: dict[str, list] = {}
        for start in range(0, len(next(iter(arrays.values()))), 256):
            produced = function(**{name: tf().constant(values[start:start + 256])
                                   for name, values in arrays.items()})
            for key in sorted(produced):
                chunks.setdefault(key, []).append(np.asarray(produced[key]))
        outputs = {key: np.concatenate(parts) for key, parts in chunks.items()}
    else:
        produced = loaded.model.predict(x, batch_size=256, verbose=0)
        if isinstance(produced, dict):
            outputs = dict(produced)
        else:
            produced = produced if isinstance(produced, (list, tuple)) else [produced]
            names = list(getattr(loaded.model, "output_names", None) or [])
            if len(names) != len(produced):
                names = [f"output_{index}" for index in range(len(produced))]
            outputs = dict(zip(names, produced))
    return ({key: np.asarray(value, dtype=np.float32) for key, value in outputs.items()},
            loaded.source)


def _check_reference_kind(reference) -> None:
    if isinstance(reference, (str, Path)) and (Path(reference).suffix.lower() == ".tflite"):
        raise UsageError(f"--reference {reference} is a .tflite model; the reference is the Keras "
                         "model (.keras, .h5 or SavedModel) the .tflite was converted from",
                         hint="pass the source model, e.g. --reference model.keras")


def _check_reference_shape(loaded, x) -> None:
    """Name both shapes when the reference takes other inputs than the .tflite (not TF's trace)."""
    from .._text import format_shape

    if isinstance(x, dict):  # several inputs, by name: left to predict's own check
        return
    try:
        shapes = loaded.input_shapes()
    except Exception:  # a model whose shape cannot be read is left to predict's own check
        return
    if len(shapes) != 1:
        raise UsageError(f"the reference {loaded.source} has {len(shapes)} inputs; the .tflite has one")
    expected = tuple(shapes[0])[1:]
    got = tuple(x.shape[1:])
    if len(expected) != len(got) or any(e is not None and int(e) != g for e, g in zip(expected, got)):
        raise UsageError(f"the reference {loaded.source} takes inputs of shape "
                         f"{format_shape((None, *expected))} but the .tflite takes "
                         f"{format_shape((None, *got))}",
                         hint="pass the Keras model this .tflite was converted from")


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
                 ("SNR", _snr_text(result.snr_db))]
    if result.head is not None:
        rows.insert(2, ("accuracy on", f"output {result.head}"))
    for entry in result.heads or []:
        agreement = entry["argmax_agreement"]
        rows.append((f"head {entry['name']}",
                     f"vs {entry['reference']}: agreement {pct(agreement)}, max abs "
                     f"{entry['max_abs_error']:.4g}, mean abs {entry['mean_abs_error']:.4g}, "
                     f"SNR {_snr_text(entry['snr_db'])}"))
    if result.pairing == "shape and order":
        rows.append(("pairing", "output names differ from the reference's: paired by shape and "
                                "order"))
    rows.append(("time", f"{result.elapsed_s:.2f} s"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _snr_text(snr_db) -> str:
    return "identical" if snr_db is None else f"{snr_db:.1f} dB"
