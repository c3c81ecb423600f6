"""Selective int8: calibrate once, measure every quantized op's error, and quantize again with
chosen Keras layers kept in float (QUANTIZE/DEQUANTIZE pairs around the float islands).

``Calibrated`` holds one calibration of a model and answers the questions diagnose and
``convert --keep-float`` ask: which Keras layer each quantized op comes from, how much error each
op adds (per-layer: float and int8 op fed the same quantized input), and the int8 model with a
given set of layers kept float. ``keep_float_auto`` is the greedy search under an accuracy budget.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..data.loaders import sample_count
from ..errors import UsageError


@dataclasses.dataclass
class OpError:
    """The quantization error one quantized op adds, measured on the calibration data."""

    layer: str                 # Keras layer the op comes from (its tensor name when unknown)
    op: str                    # TFLite op type, e.g. CONV_2D
    tensor: str                # the op's output tensor name (what the quantizer is told to skip)
    order: int                 # position in network order (op order in the .tflite)
    rmse_over_scale: float     # RMS error in units of the output's quantization step
    max_abs_error: float       # largest absolute error in a sample, averaged over samples
    mean_abs_error: float
    snr_db: float | None       # output power over error power; None when the error is zero
    scale: float
    zero_point: int
    elements: int


@dataclasses.dataclass
class LayerError:
    """An op's errors gathered per Keras layer: the layer's worst op decides its rank."""

    layer: str
    order: int
    ops: list                  # op types, in order
    tensors: list              # output tensor names of its quantized ops
    rmse_over_scale: float
    max_abs_error: float
    mean_abs_error: float
    snr_db: float | None       # the layer's lowest op SNR


class Calibrated:
    """One calibration of a model for int8: ``quantize(keep_float)`` re-quantizes in well under a
    second, so trying many float-layer sets costs no new calibration."""

    def __init__(self, converter, samples, *, layer_names=(), input_type=None, output_type=None,
                 input_names=None):
        """``converter``: a TFLiteConverter configured for int8 (optimizations set); ``samples``:
        the calibration inputs: an (N, ...) array for a single-input model; for several inputs a
        {input name: (N, ...) array} dict (what the plain converter calibrates on), or a list of
        arrays in input order (named by ``input_names`` when given, else in the order of the
        graph's input tensors); ``layer_names``: the Keras model's layer names, to tie ops to
        layers; ``input_type``/``output_type``: tf dtypes of the model's interface (None =
        float32). When the converter asks for sparse storage (``EXPERIMENTAL_SPARSITY``, a model
        pruned for latency), every quantized model keeps its pruned kernels stored sparse."""
        from .._compat import calibrated_model, stores_sparse

        if isinstance(samples, (list, tuple)) and input_names is not None:
            if len(samples) != len(input_names):
                raise UsageError(f"{len(samples)} calibration arrays for a model with "
                                 f"{len(input_names)} inputs ({', '.join(input_names)})")
            samples = dict(zip(input_names, samples))
        self.samples = samples
        self.layer_names = list(layer_names)
        self.input_type, self.output_type = input_type, output_type
        self.sparse = stores_sparse(converter)

        def representative_dataset():
            for index in range(sample_count(samples)):
                yield _sample(samples, index)

        converter.representative_dataset = representative_dataset
        self.calibrated = calibrated_model(converter)
        self._errors = None

    @property
    def sample_count(self) -> int:
        return sample_count(self.samples)

    def quantize(self, keep_float=()) -> bytes:
        """The int8 model with the named layers (or op output tensors) left in float."""
        from .._compat import quantize_calibrated

        return quantize_calibrated(self.calibrated, input_type=self.input_type,
                                   output_type=self.output_type, sparsify=self.sparse,
                                   denylisted_nodes=self.tensors_of(keep_float))

    def op_errors(self) -> list[OpError]:
        """Every quantized op's error, in network order (cached)."""
        if self._errors is None:
            from .._compat import quantization_debugger_rows, quantize_calibrated

            debug_model = quantize_calibrated(self.calibrated, numeric_verify=True)
            order = _input_order(debug_model, self.samples)

            def dataset():  # the debugger feeds plain lists, in the graph's input order
                for index in range(sample_count(self.samples)):
                    yield _sample(self.samples, index, order)

            rows = quantization_debugger_rows(debug_model, dataset)
            self._errors = [_op_error(row, position, self.layer_names)
                            for position, row in enumerate(rows)]
            for before, error in zip(self._errors, self._errors[1:]):
                if error.layer == error.tensor and before.layer != before.tensor:
                    # An op no layer name matches (the model's output softmax is named after the
                    # graph's output): it belongs to the layer whose op runs just before it.
                    error.layer = before.layer
        return self._errors

    def layer_errors(self) -> list[LayerError]:
        """Errors per Keras layer, in network order."""
        layers: dict[str, list[OpError]] = {}
        for error in self.op_errors():
            layers.setdefault(error.layer, []).append(error)
        return [_layer_error(name, errors) for name, errors in layers.items()]

    def tensors_of(self, keep_float) -> list[str]:
        """Output tensor names of the ops of the given layers; a UsageError names unknown ones."""
        if not keep_float:
            return []
        errors = self.op_errors()
        by_layer: dict[str, list[str]] = {}
        for error in errors:
            by_layer.setdefault(error.layer, []).append(error.tensor)
        tensors = {error.tensor for error in errors}
        chosen, unknown = [], []
        for name in keep_float:
            if name in by_layer:
                chosen += by_layer[name]
            elif name in tensors:
                chosen.append(name)
            else:
                unknown.append(name)
        if unknown:
            raise UsageError(f"--keep-float names {', '.join(unknown)}, which the int8 model has "
                             f"no quantized op for; quantized layers: {', '.join(by_layer)}",
                             hint="see them ranked with `mobilekit diagnose`")
        return list(dict.fromkeys(chosen))


def ranked(layers: list[LayerError]) -> list[LayerError]:
    """Worst first: lowest SNR (a layer whose output drowns in rounding noise), then RMSE/scale."""
    def key(layer):
        snr = math.inf if layer.snr_db is None else layer.snr_db
        return (snr, -layer.rmse_over_scale, layer.order)

    return sorted(layers, key=key)


def parse_keep_float(value) -> list[str] | str | None:
    """``--keep-float`` text -> a list of names, ``"auto"``, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return "auto"
        names = [part.strip() for part in value.split(",") if part.strip()]
    else:
        names = [str(part) for part in value]
    if not names:
        raise UsageError("--keep-float needs layer names (comma-separated) or auto")
    return names


@dataclasses.dataclass
class KeepFloatStep:
    layers: list               # layers kept float at this step (cumulative)
    top1: float
    size_bytes: int


@dataclasses.dataclass
class KeepFloatSearch:
    """What ``keep_float_auto`` tried, and where it stopped."""

    layers: list               # the chosen layers, worst first
    top1: float                # top-1 of the chosen model
    int8_top1: float           # all-int8 top-1
    float_top1: float
    met_budget: bool
    stopped: str               # "budget met", "size cap", "no layers left"
    steps: list                # KeepFloatStep per tried set


def keep_float_auto(calibrated: Calibrated, score, *, float_top1: float, max_drop_points: float,
                    size_cap_bytes: int | None = None, quantized=None) -> tuple[bytes, KeepFloatSearch]:
    """Keep layers float worst first (``ranked``) until ``score(model_bytes)`` (top-1, 0..1) is
    within ``max_drop_points`` of ``float_top1``, or the next model would be larger than
    ``size_cap_bytes``. Returns the chosen model and the search record."""
    content = quantized if quantized is not None else calibrated.quantize()
    int8_top1 = score(content)
    best, layers, steps = content, [], []
    top1 = int8_top1
    stopped = "budget met"
    order = [layer.layer for layer in ranked(calibrated.layer_errors())]
    while _drop_points(float_top1, top1) > max_drop_points:
        remaining = [name for name in order if name not in layers]
        if not remaining:
            stopped = "no layers left"
            break
        trial_layers = layers + [remaining[0]]
        trial = calibrated.quantize(trial_layers)
        if size_cap_bytes is not None and len(trial) > size_cap_bytes:
            stopped = "size cap"
            break
        trial_top1 = score(trial)
        steps.append(KeepFloatStep(layers=list(trial_layers), top1=trial_top1, size_bytes=len(trial)))
        layers, best, top1 = trial_layers, trial, trial_top1
    met = _drop_points(float_top1, top1) <= max_drop_points
    return best, KeepFloatSearch(layers=layers, top1=top1, int8_top1=int8_top1,
                                 float_top1=float_top1, met_budget=met,
                                 stopped="budget met" if met else stopped, steps=steps)


def _drop_points(reference: float, value: float) -> float:
    return 100.0 * (reference - value)


def _op_error(row: dict, position: int, layer_names) -> OpError:
    mse = max(0.0, row["mean_squared_error"])
    snr = None
    if mse > 0 and row["signal_power"] > 0 and math.isfinite(row["signal_power"]):
        snr = 10.0 * math.log10(row["signal_power"] / mse)
    return OpError(layer=keras_layer_of(row["tensor"], layer_names), op=row["op"],
                   tensor=row["tensor"], order=position,
                   rmse_over_scale=math.sqrt(mse) / row["scale"] if row["scale"] else 0.0,
                   max_abs_error=row["max_abs_error"], mean_abs_error=row["mean_abs_error"],
                   snr_db=snr, scale=row["scale"], zero_point=row["zero_point"],
                   elements=row["elements"])


def _layer_error(name: str, errors: list[OpError]) -> LayerError:
    snrs = [error.snr_db for error in errors if error.snr_db is not None]
    return LayerError(layer=name, order=errors[0].order, ops=[error.op for error in errors],
                      tensors=[error.tensor for error in errors],
                      rmse_over_scale=max(error.rmse_over_scale for error in errors),
                      max_abs_error=max(error.max_abs_error for error in errors),
                      mean_abs_error=max(error.mean_abs_error for error in errors),
                      snr_db=min(snrs) if snrs else None)


def keras_layer_of(tensor: str, layer_names) -> str:
    """The Keras layer a TFLite tensor comes from. The converter names fused ops after every
    TensorFlow op they fold, ``model/layer/op;model/layer/op2``; the first path component that
    is a layer name wins. Tensors no layer name matches keep their own name."""
    names = set(layer_names)
    for part in tensor.split(";"):
        for component in part.split("/"):
            if component in names:
                return component
    return tensor


def top1_of(content: bytes, x, y, *, batch_size: int = 64) -> float:
    """Top-1 (0..1) of a .tflite model's bytes on labelled arrays, run in LiteRT with XNNPACK.
    ``x``: an array, a {input name: array} dict (fed by the model's input names), or a list of
    arrays in the model's input order."""
    from ..analysis.evaluation import accuracy_from_outputs
    from ..models.tflite import open_interpreter, run_over_samples

    interpreter = open_interpreter(content, where="int8 candidate")
    fed = np.asarray(x) if not isinstance(x, (dict, list, tuple)) else x
    if isinstance(x, dict):
        fed = [x[name] for name in _input_order(interpreter, x)]
    outputs, _ = run_over_samples(interpreter, fed, batch_size=batch_size, progress=False)
    return accuracy_from_outputs(outputs, y)["top1"]


def _sample(samples, index, order=None):
    """One calibration sample, batch of one: ``[array]``; a dict keyed by input name (or, with
    ``order``, a list in that order); a list as given."""
    if isinstance(samples, dict):
        if order is not None:
            return [samples[name][index:index + 1] for name in order]
        return {name: values[index:index + 1] for name, values in samples.items()}
    if isinstance(samples, (list, tuple)):
        return [values[index:index + 1] for values in samples]
    return [samples[index:index + 1]]


def _input_order(model, samples) -> list | None:
    """The names of ``samples`` (a dict) in the input order of ``model`` (bytes or an interpreter);
    None for an array or a list, which are fed as they are."""
    if not isinstance(samples, dict):
        return None
    from ..models.tflite import input_names, open_interpreter

    interpreter = model if not isinstance(model, (bytes, bytearray)) else open_interpreter(
        bytes(model), where="int8 model")
    names = input_names(interpreter)
    missing = [name for name in names if name not in samples]
    if missing:
        raise UsageError(f"the int8 model's input(s) {', '.join(missing)} have no array among "
                         f"{', '.join(samples)}", hint="name one array after each model input")
    return names


def labelled_inputs(loaded, data, *, normalize=None, limit=None):
    """(x, y) to score a model on: ``x`` an array for a single-input model, a {input name: array}
    dict for several (an .npz with one array per input, named after it, and y)."""
    from ..data.loaders import load_labelled_inputs

    shapes = loaded.input_shapes()
    if len(shapes) > 1 and normalize is not None and normalize != "none":
        raise UsageError(f"--normalize {normalize} applies to image folders; a model with "
                         f"{len(shapes)} inputs reads an .npz used as stored")
    return load_labelled_inputs(data, dict(zip(loaded.input_names(), shapes)),
                                normalize=normalize, limit=limit)


def calibrate(converter, samples, loaded, *, io_type: str = "float32") -> Calibrated:
    """``Calibrated`` for a loaded Keras model and an int8-configured converter."""
    from .._compat import tf

    dtype = {"float32": None, "int8": tf().int8, "uint8": tf().uint8}[io_type]
    names = loaded.input_names() if isinstance(samples, (list, tuple)) else None
    return Calibrated(converter, samples,
                      layer_names=[layer.name for layer in getattr(loaded.model, "layers", [])],
                      input_type=dtype, output_type=dtype, input_names=names)


DEFAULT_SIZE_CAP = 1.0   # --keep-float auto never makes a model larger than its float32 twin


def keep_float_convert(converter, samples, loaded, keep_float, *, data=None,
                       max_accuracy_drop: float | None = None, io_type: str = "float32",
                       size_cap: float = DEFAULT_SIZE_CAP, normalize=None,
                       reference=None) -> tuple[bytes, dict]:
    """``convert --keep-float`` and ``--max-accuracy-drop`` for int8: the model bytes and the
    card's ``keep_float`` record (layers kept float, size cost, top-1 before and after on
    ``data``, whether the budget was met). ``converter`` is configured for int8 already.
    ``reference``: the float model top-1 is compared with (default: the model converted; an
    optimized model is compared with the model before optimization)."""
    requested = parse_keep_float(keep_float)
    if requested == "auto" and (data is None or max_accuracy_drop is None):
        raise UsageError("--keep-float auto needs --max-accuracy-drop PTS and labelled data "
                         "(--data, or --val when optimizing) to measure top-1 on")
    check_budget_arguments(data, max_accuracy_drop)
    # The labelled data first: a wrong file is refused before the calibration's work.
    record, score = _baseline(loaded, data, reference, normalize, max_accuracy_drop)
    calibrated = calibrate(converter, samples, loaded, io_type=io_type)
    int8 = calibrated.quantize()
    record.update(requested=requested, int8_size_bytes=len(int8))
    if requested == "auto":
        content, search = keep_float_auto(
            calibrated, score, float_top1=record["float_top1"], max_drop_points=max_accuracy_drop,
            size_cap_bytes=int(size_cap * len(calibrated.calibrated)) if size_cap else None,
            quantized=int8)
        record.update(layers=search.layers, int8_top1=search.int8_top1, top1=search.top1,
                      stopped=search.stopped, search=[dataclasses.asdict(s) for s in search.steps])
    else:
        content = calibrated.quantize(requested or [])
        record["layers"] = list(requested or [])
        if score is not None:
            record["int8_top1"] = score(int8)
            record["top1"] = score(content) if requested else record["int8_top1"]
    record["size_bytes"] = len(content)
    record["size_cost_bytes"] = len(content) - len(int8)
    if max_accuracy_drop is not None:
        record["met_budget"] = _drop_points(record["float_top1"], record["top1"]) <= max_accuracy_drop
    return content, record


def check_budget_arguments(data, max_accuracy_drop):
    if max_accuracy_drop is not None and data is None:
        raise UsageError("--max-accuracy-drop needs labelled data to measure top-1 on",
                         hint="add --data DATA (.npz with x, y), or --val when optimizing")
    if max_accuracy_drop is not None and max_accuracy_drop < 0:
        raise UsageError(f"--max-accuracy-drop must be 0 or more points, got {max_accuracy_drop}")


def _baseline(loaded, data, reference, normalize, max_accuracy_drop):
    """The card record's accuracy part before the model is scored, and ``score(bytes)``."""
    record = {"requested": None, "layers": [], "int8_size_bytes": None, "size_bytes": None,
              "size_cost_bytes": 0, "data": None, "samples": None, "float_top1": None,
              "int8_top1": None, "top1": None, "max_accuracy_drop": max_accuracy_drop,
              "met_budget": None, "stopped": None, "search": None}
    if data is None:
        return record, None
    from ..analysis.evaluation import accuracy_from_outputs, reference_predict

    x, y = labelled_inputs(loaded, data, normalize=normalize)
    outputs, described = reference_predict(loaded.model if reference is None else reference, x)
    record.update(data=str(data), samples=sample_count(x), reference=described,
                  float_top1=accuracy_from_outputs(outputs, y)["top1"])
    if reference is not None:  # an optimized model: how much the optimization itself lost
        record["optimized_top1"] = accuracy_from_outputs(
            reference_predict(loaded.model, x)[0], y)["top1"]

    def score(content):
        return top1_of(content, x, y)

    return record, score


def accuracy_budget(content: bytes, loaded, *, data, max_accuracy_drop: float, reference=None,
                    normalize=None) -> dict:
    """``--max-accuracy-drop`` for a model converted without keep-float (any mode): the card's
    record of top-1 on ``data`` against the float model and whether the budget was met."""
    check_budget_arguments(data, max_accuracy_drop)
    record, score = _baseline(loaded, data, reference, normalize, max_accuracy_drop)
    record.update(size_bytes=len(content), top1=score(content))
    record["met_budget"] = _drop_points(record["float_top1"], record["top1"]) <= max_accuracy_drop
    return record


def budget_advice(record: dict) -> str:
    """What to change when the int8 model misses ``--max-accuracy-drop``."""
    drop = _drop_points(record["float_top1"], record["top1"])
    kept = ", ".join(record["layers"]) or "none"
    advice = [f"top-1 {100 * record['top1']:.2f}% is {drop:.2f} points below the float model's "
              f"{100 * record['float_top1']:.2f}% on {record['data']}, over the "
              f"--max-accuracy-drop {record['max_accuracy_drop']:g} budget (layers kept float: "
              f"{kept}); the files are written"]
    optimized = record.get("optimized_top1")
    if optimized is not None and _drop_points(record["float_top1"], optimized) > record["max_accuracy_drop"]:
        advice.append(f"the optimization itself lost it (the fine-tuned Keras model scores "
                      f"{100 * optimized:.2f}%), so keeping layers float cannot help: fine-tune "
                      "longer (--epochs) or on more data, or lower the sparsity (--prune)")
    elif record["int8_top1"] is None:
        advice.append("fine-tune longer or on more data, or choose a lighter optimization")
    elif record["requested"] != "auto":
        advice.append("try --keep-float auto, or see the worst layers with mobilekit diagnose")
    elif record["stopped"] == "size cap":
        advice.append("the size cap stopped the search: raise --keep-float-size-cap, or use "
                      "--quantize fp16")
    else:
        advice.append("more fine-tuning epochs or data, lower sparsity, or quantization-aware "
                      "training (--qat)")
    return "; ".join(advice)
