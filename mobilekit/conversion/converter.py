"""Keras model -> .tflite in one of five modes, plus the model card written beside it."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import io
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

from .._compat import ToolVersions
from .._fileset import output_set
from .._guard import refuse_aliases
from .._io import sha256_path, write_bytes_atomic, write_json_atomic
from ..errors import CalibrationError, ConversionError, DataError, OptimizationError, UsageError
from ..data.loaders import sample_count
from ..models.keras import load_model
from ..optimization.record import OptimizeRecord

QUANTIZE_MODES = ("none", "fp16", "dynamic", "int8", "int16x8")
INT16X8_FALLBACK_NOTE = (
    "ops with no int16x8 kernel (e.g. PReLU) were left in float32 (TFLITE_BUILTINS fallback): the "
    "model converts, but those ops run in float with QUANTIZE/DEQUANTIZE around them, costing "
    "size and speed, and the model is no longer integer-only (NPUs and integer-only "
    "accelerators reject it)")
IO_TYPES = ("float32", "int8", "uint8")
DEFAULT_CALIBRATION_SAMPLES = 200
MODEL_CARD_SCHEMA = "mobilekit.model_card/1"

# Modes that are traps on a phone's (or laptop's) CPU: said once per process, plainly.
TRAP_WARNINGS = {
    "int16x8": "int16x8 models run without XNNPACK on the CPU (reference kernels), often tens of "
               "times slower than int8 or float32; use it for accuracy, measure before shipping",
    "dynamic": "dynamic-range models quantize activations on the fly and can be slower than "
               "float32 on a CPU; benchmark both (mobilekit bench)",
    "fp16": "float16 halves the file but not CPU time: CPUs compute in float32 after "
            "dequantizing; the speed-up is on the GPU delegate",
}
_warned: set[str] = set()


@dataclasses.dataclass
class ConvertResult:
    output_path: str
    model_card_path: str
    source_model: str
    source_model_kind: str
    source_sha256: str | None
    quantize: str
    io_type: str
    model_size_bytes: int
    model_size_gzip_bytes: int
    inputs: list
    outputs: list
    op_histogram: dict
    weight_sparsity: dict
    calibration_source: str | None
    calibration_samples: int | None
    normalize: str | None
    conversion_time_s: float
    total_time_s: float
    tool_versions: ToolVersions
    optimization: object  # OptimizeRecord (with its tflite_verification), a dict kept verbatim, or None
    warnings: list
    created_utc: str
    # --keep-float and --max-accuracy-drop: layers kept float (int8), size cost, top-1 before and
    # after on the labelled data, whether the budget was met
    accuracy_check: dict | None = None
    signature: str | None = None   # SavedModel signature converted (None: serving_default)
    # int16x8 with --int16x8-fallback: ops without an int16x8 kernel stay float32
    int16x8_fallback: str | None = None


def convert(model, output, *, quantize: str = "none", calibration=None,
            calibration_samples: int | None = None, io_type: str = "float32",
            normalize: str | None = None, optimization=None,
            progress: bool | None = None, keep_float=None, max_accuracy_drop: float | None = None,
            data=None, keep_float_size_cap: float | None = None,
            accuracy_reference=None, also_reads=(), signature: str | None = None,
            int16x8_fallback: bool = False) -> ConvertResult:
    """Convert ``model`` (a .keras/.h5 path, a SavedModel folder, or an in-memory Keras model) to
    ``output`` (.tflite) and write the model card ``output`` with suffix ``.json``.

    ``quantize``: ``none`` (float32), ``fp16``, ``dynamic`` (int8 weights), ``int8`` (full
    integer, calibrated on ``calibration``), ``int16x8`` (int16 activations, calibrated).
    ``calibration``: any source ``mobilekit.data.load_samples`` reads; the first
    ``calibration_samples`` (default 200) samples are used. ``io_type``: the dtype of the int8
    model's inputs and outputs.

    ``optimization``: the ``OptimizeRecord`` of the steps that produced ``model`` (its dict form is
    read back strictly). Kernels pruned for latency are then stored sparse, and the claims are
    read back from the converted flatbuffer before anything is written; the card holds the record
    with that ``tflite_verification``, and a failed read-back raises OptimizationError after the
    .tflite and its card (with the failures) are written. Any other dict is stored verbatim.
    ``also_reads``: (what, path) pairs of other files the caller read for this model (train data,
    a recipe), which the outputs must not overwrite either.

    ``signature``: the SavedModel signature to convert (default serving_default). A model with
    several inputs calibrates on an ``.npz`` with one array per input, named after the input.

    ``keep_float`` (int8 only): Keras layer names to leave in float, or ``"auto"`` to keep the
    worst layers float until top-1 on labelled ``data`` is within ``max_accuracy_drop`` points
    of the Keras model (or of ``accuracy_reference``, the model before optimization), stopping
    before the model passes ``keep_float_size_cap`` of its float32 size (default 1.0). When the
    final model misses ``max_accuracy_drop``, the files are still written and
    ``BudgetExceeded`` (exit 3) is raised with the result as ``.record``.
    """
    started = time.perf_counter()
    output = Path(output).expanduser()
    _check_arguments(quantize, io_type, calibration, calibration_samples, output)
    refuse_overwriting_inputs(output, model=model, calibration=calibration, also_reads=[*also_reads, ("data", data)])
    if int16x8_fallback and quantize != "int16x8":
        raise UsageError(f"--int16x8-fallback applies to --quantize int16x8, not {quantize}")
    if keep_float is not None and quantize != "int8":
        raise UsageError(f"--keep-float needs --quantize int8, not {quantize}")
    selective = keep_float is not None or (max_accuracy_drop is not None and quantize == "int8")
    optimization = _optimize_record(optimization)
    if calibration_samples is None:
        calibration_samples = DEFAULT_CALIBRATION_SAMPLES
    needs_calibration = quantize in ("int8", "int16x8")
    messages = []
    if calibration is not None and not needs_calibration:
        messages.append(_warn(f"calibration-{quantize}",
                              f"--calibration is only used by int8 and int16x8; ignored for {quantize}"))
    if quantize in TRAP_WARNINGS:
        messages.append(_warn(quantize, TRAP_WARNINGS[quantize]))

    loaded, converter, samples = prepared_converter(
        model, quantize=quantize, calibration=calibration, calibration_samples=calibration_samples,
        normalize=normalize, io_type=io_type, signature=signature,
        int16x8_fallback=int16x8_fallback, sparse_weights=isinstance(optimization, OptimizeRecord) and optimization.pruned_for_latency)

    from .._compat import tool_versions
    conversion_started = time.perf_counter()
    keep_record = None
    if selective:
        from .selective import DEFAULT_SIZE_CAP, keep_float_convert

        content, keep_record = keep_float_convert(
            converter, samples, loaded, keep_float, data=data, max_accuracy_drop=max_accuracy_drop,
            io_type=io_type, normalize=normalize, reference=accuracy_reference,
            size_cap=DEFAULT_SIZE_CAP if keep_float_size_cap is None else keep_float_size_cap)
    else:
        content = _run_converter(converter, samples, progress=progress)
        if max_accuracy_drop is not None:
            from .selective import accuracy_budget

            keep_record = accuracy_budget(content, loaded, data=data, reference=accuracy_reference,
                                          max_accuracy_drop=max_accuracy_drop, normalize=normalize)
    conversion_time_s = time.perf_counter() - conversion_started

    from ..models.tflite import describe_tflite, gzip_size

    described = describe_tflite(content, where=f"converted {output.name}")
    if isinstance(optimization, OptimizeRecord):
        from ..optimization.verification import verify_against_record

        optimization = dataclasses.replace(optimization, tflite_verification=verify_against_record(
            content, optimization, model_path=output))
    versions = tool_versions()
    if loaded.kind == "keras3":
        from .._compat import keras3

        versions.keras = keras3().__version__
    card_path = output.with_suffix(".json")
    result = ConvertResult(
        output_path=str(output), model_card_path=str(card_path), source_model=loaded.source,
        source_model_kind=loaded.kind,
        source_sha256=_source_sha256(loaded.path), quantize=quantize,
        io_type=io_type, model_size_bytes=len(content), model_size_gzip_bytes=gzip_size(content),
        inputs=described["inputs"], outputs=described["outputs"],
        op_histogram=described["op_histogram"], weight_sparsity=described["weight_sparsity"],
        calibration_source=_describe_source(calibration) if needs_calibration else None,
        calibration_samples=sample_count(samples) if samples is not None else None,
        normalize=normalize if needs_calibration else None,
        conversion_time_s=round(conversion_time_s, 4),
        total_time_s=round(time.perf_counter() - started, 4), tool_versions=versions,
        optimization=optimization, warnings=[m for m in messages if m],
        created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        accuracy_check=keep_record, signature=signature,
        int16x8_fallback=INT16X8_FALLBACK_NOTE if int16x8_fallback and quantize == "int16x8" else None)
    from ..records import to_dict

    # A set: never a model without its card (nor an old card beside a new model). The card is
    # written first only so that a write failing on the bigger file is the usual case.
    with output_set() as out:
        write_json_atomic(out.file(card_path), {"schema": MODEL_CARD_SCHEMA, **to_dict(result)})
        write_bytes_atomic(out.file(output), content)
    verification = getattr(optimization, "tflite_verification", None)
    if verification is not None and not verification.passed:
        raise OptimizationError(f"the .tflite does not hold the optimization's claims: "
                                f"{verification.failures[0]} (details in {card_path})")
    if keep_record is not None and keep_record["met_budget"] is False:
        from ..errors import BudgetExceeded
        from .selective import budget_advice

        error = BudgetExceeded(budget_advice(keep_record))
        error.record = result
        raise error
    return result


def prepared_converter(model, *, quantize: str, calibration=None,
                       calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
                       normalize: str | None = None, io_type: str = "float32",
                       sparse_weights: bool = False, signature: str | None = None,
                       int16x8_fallback: bool = False):
    """(LoadedModel, TFLiteConverter configured for ``quantize``, calibration samples or None):
    what convert, diagnose and the selective int8 path start from."""
    from .._compat import tf

    loaded = load_model(model)
    if signature is not None:
        if loaded.kind != "saved_model":
            raise UsageError(f"--signature {signature} applies to SavedModel folders; "
                             f"{loaded.source} is a Keras model")
        loaded.signature = signature
    samples = None
    if quantize in ("int8", "int16x8"):
        samples = _calibration_samples(loaded, calibration, calibration_samples, normalize)
    converter = _make_converter(tf(), loaded)
    _configure(tf(), converter, quantize, io_type, sparse_weights=sparse_weights,
               int16x8_fallback=int16x8_fallback)
    return loaded, converter, samples


def _optimize_record(optimization):
    """An OptimizeRecord, or its dict form parsed strictly; any other value is kept as given."""
    if isinstance(optimization, dict) and "steps" in optimization:
        return OptimizeRecord.from_dict(optimization)
    return optimization


def refuse_overwriting_inputs(output, *, model=None, calibration=None, also_reads=()) -> None:
    """UsageError before any work if the .tflite or its card would overwrite a file the
    conversion reads (the model, calibration data, ``also_reads``), or ``output`` is not a .tflite."""
    output = Path(output).expanduser()
    if output.suffix.lower() != ".tflite":
        raise UsageError(f"output {output} does not end in .tflite; convert writes a TFLite "
                         f"flatbuffer and its model card {output.with_suffix('.json').name}",
                         hint=f"name the output {output.with_suffix('.tflite').name}")
    model_path = model if isinstance(model, (str, os.PathLike)) else None
    refuse_aliases([("model", model_path), ("calibration data", calibration), *also_reads],
                   [("output", output), ("model card", output.with_suffix(".json"))])


def _check_arguments(quantize, io_type, calibration, calibration_samples, output):
    if quantize not in QUANTIZE_MODES:
        raise UsageError(f"unknown --quantize {quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    if io_type not in IO_TYPES:
        raise UsageError(f"unknown --io-type {io_type!r}; choose one of {', '.join(IO_TYPES)}")
    if io_type != "float32" and quantize != "int8":
        raise UsageError(f"--io-type {io_type} needs --quantize int8 (a {quantize} model keeps "
                         "float32 inputs and outputs)")
    if quantize in ("int8", "int16x8") and calibration is None:
        raise UsageError(f"--quantize {quantize} needs --calibration DATA: a few hundred "
                         "representative input samples (.npz/.npy, image folder, module:function)")
    if calibration_samples is not None and int(calibration_samples) < 1:
        raise UsageError(f"--calibration-samples must be at least 1, got {calibration_samples}")
    if output.suffix.lower() == ".json":
        raise UsageError(f"output {output} ends in .json, which is where the model card goes",
                         hint="name the output model.tflite")
    if output.is_dir():
        raise UsageError(f"output {output} is a folder; give a file name such as model.tflite")


def _describe_source(calibration) -> str:
    shape = getattr(calibration, "shape", None)
    if shape is not None:  # an array passed from Python: its shape, not its values
        return f"<in-memory array {tuple(int(d) for d in shape)}>"
    return str(calibration)


def _warn(key: str, message: str) -> str | None:
    if key in _warned:
        return message
    _warned.add(key)
    print(f"Warning: {message}", file=sys.stderr)
    return message


def _calibration_samples(loaded, calibration, limit, normalize):
    from ..data import load_samples

    shapes = loaded.input_shapes()
    try:
        if len(shapes) != 1:
            from ..data.loaders import load_named_inputs

            return load_named_inputs(calibration, dict(zip(loaded.input_names(), shapes)),
                                     limit=limit, what="calibration data")[0]
        return load_samples(calibration, input_shape=shapes[0], limit=limit, normalize=normalize,
                            what="calibration data")
    except DataError as exc:
        raise CalibrationError(exc.message, hint=exc.hint) from None


def _make_converter(tf, loaded):
    lite = tf.lite
    try:
        if loaded.kind == "saved_model":
            if loaded.signature is None:
                loaded.input_shapes()  # names the signatures when there is no serving_default
            keys = None if loaded.signature is None else [loaded.signature]
            return lite.TFLiteConverter.from_saved_model(str(loaded.path), signature_keys=keys)
        with _quiet_stdout():  # Keras 3 export prints its SavedModel signature to stdout
            return lite.TFLiteConverter.from_keras_model(loaded.model)
    except Exception as exc:
        raise ConversionError(f"cannot prepare {loaded.source} for conversion: {useful_error(exc)}") from None


def _configure(tf, converter, quantize, io_type, *, sparse_weights=False, int16x8_fallback=False):
    lite = tf.lite
    # XNNPACK's sparse inference reads only kernels stored sparse (with DENSIFY); a model pruned
    # for latency but stored dense would run exactly as fast as its dense twin.
    sparsity = [lite.Optimize.EXPERIMENTAL_SPARSITY] if sparse_weights else []
    if quantize == "none":
        converter.optimizations = sparsity
        return
    converter.optimizations = [lite.Optimize.DEFAULT, *sparsity]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.target_spec.supported_ops = [lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io_type != "float32":
            dtype = {"int8": tf.int8, "uint8": tf.uint8}[io_type]
            converter.inference_input_type = dtype
            converter.inference_output_type = dtype
    elif quantize == "int16x8":
        # The fallback lets ops with no int16x8 kernel (PReLU, ...) stay float32, with
        # QUANTIZE/DEQUANTIZE around them: the model converts, but those ops run in float.
        fallback = [lite.OpsSet.TFLITE_BUILTINS] if int16x8_fallback else []
        converter.target_spec.supported_ops = [
            lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8, *fallback]


def _run_converter(converter, samples, *, progress=None):
    from .._progress import progress as progress_bar

    failure = None
    # The stderr capture goes outside the progress bar so the bar binds to the real terminal.
    with _quiet_stdout(), _captured_native_stderr() as native_log, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bar_context = contextlib.nullcontext(None)
        if samples is not None:
            bar_context = progress_bar(length=sample_count(samples), label="calibrating",
                                       enabled=progress)
        with bar_context as bar:
            if samples is not None:
                def representative_dataset():
                    for index in range(sample_count(samples)):
                        if isinstance(samples, dict):  # several inputs: keyed by input name
                            yield {name: values[index:index + 1] for name, values in samples.items()}
                        else:
                            yield [samples[index:index + 1]]
                        if bar is not None:
                            bar.update(1)

                converter.representative_dataset = representative_dataset
            try:
                return converter.convert()
            except Exception as exc:
                failure = exc
    error_class = CalibrationError if samples is not None and "calibrat" in str(failure).lower() \
        else ConversionError
    reason = useful_error(failure, native_log.text())
    hint = "rerun with --debug for the converter's full log"
    if "16x8-bit not yet supported" in reason:
        hint = ("--int16x8-fallback leaves such ops in float32 (the model is then no longer "
                "integer-only); or use --quantize int8")
    raise error_class(f"TFLite conversion failed: {reason}", hint=hint)


_NOISE = re.compile(r"^(loc\(|<unknown>|\s*note:|\s*$)")


def useful_error(exc, log: str = "") -> str:
    """The line of a converter failure a user can act on: the first MLIR ``error:`` message, else
    the exception's last line. Converter errors carry pages of call-site locations."""
    text = f"{exc}\n{log}"
    for line in text.splitlines():
        if "error:" in line and "failed while converting" not in line:
            message = line.split("error:", 1)[1].strip()
            if message:
                return message[:400]
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not _NOISE.match(line)]
    return (lines[-1] if lines else type(exc).__name__)[:400]


@contextlib.contextmanager
def _quiet_stdout():
    if os.environ.get("MOBILEKIT_DEBUG") not in (None, "", "0"):
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


class _NativeLog:
    def __init__(self):
        self._text = ""

    def text(self) -> str:
        return self._text


@contextlib.contextmanager
def _captured_native_stderr():
    """Hold the converter's C++ chatter (written straight to fd 2) and show it only with --debug;
    Python-level stderr (progress bars, warnings) keeps going to the real stderr meanwhile."""
    log = _NativeLog()
    if os.environ.get("MOBILEKIT_DEBUG") not in (None, "", "0"):
        yield log
        return
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): leave it alone
        yield log
        return
    python_stderr = sys.stderr
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        if getattr(python_stderr, "fileno", None) is not None and _fileno(python_stderr) == 2:
            sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved_fd), "wb"), write_through=True)
        try:
            yield log
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            if sys.stderr is not python_stderr:
                replacement = sys.stderr
                sys.stderr = python_stderr
                replacement.close()
            sink.seek(0)
            log._text = sink.read().decode("utf-8", "replace")


def _fileno(stream):
    try:
        return stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def _source_sha256(path):
    return None if path is None else sha256_path(path)
