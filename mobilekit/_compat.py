"""The one place that picks tf_keras and LiteRT and hides version differences.

TF-MOT works only with Keras 2 (tf_keras), so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported, and so must ``TF_ENABLE_ONEDNN_OPTS=0`` (see below). Every module
gets TensorFlow, Keras and the LiteRT interpreter from here; nothing else imports ``tensorflow`` or
``tf_keras`` directly. LiteRT loads without TensorFlow, so inspecting or running a ``.tflite``
never pays for a TensorFlow import.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
import tempfile
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's oneDNN kernels off unless the user chose: oneDNN's weight gradient of a 1x1 strided
# convolution on fewer than 16 channels (fer's emotion model) writes past its buffer and kills
# training with a segfault or "double free or corruption". Off costs nothing measurable here
# (bench/bench_onednn.py); conversion's calibration and the host benchmark run LiteRT anyway. Set
# for every process, not only training ones: TensorFlow reads it once, when it loads, and a process
# may convert or evaluate before it trains (sweep, the Python API).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# TensorFlow's C++ start-up chatter is noise for a CLI user; --debug turns it back on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def keras_layer_name_counters():
    """The counters tf_keras names new layers from ({(namespace, "conv2d"): next number}), or None
    when this tf_keras keeps them elsewhere. Internal to tf_keras: reached only here."""
    keras()
    try:
        from tf_keras.src import backend
    except ImportError:
        return None
    counters = getattr(backend, "get_default_graph_uid_map", None)
    return counters() if callable(counters) else None


@functools.lru_cache(maxsize=None)
def tf():
    """TensorFlow, imported on first use with legacy Keras selected."""
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    with warnings.catch_warnings(), _quiet_native_stderr():
        warnings.simplefilter("ignore")
        import tensorflow as tensorflow_module

        # Kernel registration writes its own start-up lines on first use; do it while quiet.
        tensorflow_module.constant(0)
    tensorflow_module.get_logger().setLevel("ERROR")
    return tensorflow_module


@contextlib.contextmanager
def _quiet_native_stderr():
    """Hide the lines TensorFlow's C++ runtime prints at import (CUDA probing, oneDNN notes).

    They are written to file descriptor 2 before absl logging starts, so TF_CPP_MIN_LOG_LEVEL
    cannot stop them. Kept with --debug (MOBILEKIT_DEBUG=1); replayed if the import fails.
    """
    if os.environ.get("MOBILEKIT_DEBUG") not in (None, "", "0"):
        yield
        return
    try:
        saved_fd = os.dup(2)
    except OSError:  # no usable stderr (daemonised): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved_fd, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


def onednn_enabled() -> bool | None:
    """Whether TensorFlow's oneDNN kernels are on in this process; None before TensorFlow loads.

    TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it loads: this is the setting in force, not
    the variable's current value."""
    if "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


@functools.lru_cache(maxsize=None)
def keras():
    """Keras 2 (``tf_keras``), the Keras TF-MOT understands."""
    tf()
    import tf_keras

    return tf_keras


@functools.lru_cache(maxsize=None)
def keras3():
    """Keras 3, only to read models saved by it; ``None`` when it is not installed."""
    try:
        import keras as keras_module
    except ImportError:  # pragma: no cover - keras 3 ships with tensorflow 2.21
        return None
    if not keras_module.__version__.startswith("3"):
        return None
    return keras_module


@functools.lru_cache(maxsize=None)
def tfmot():
    """The TensorFlow Model Optimization Toolkit."""
    keras()
    import tensorflow_model_optimization

    return tensorflow_model_optimization


def interpreter_class():
    """``ai_edge_litert.interpreter.Interpreter`` (no TensorFlow import)."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter


def make_interpreter(model_path=None, model_content=None, num_threads=None, use_xnnpack=True,
                     preserve_all_tensors=False):
    """A LiteRT interpreter; ``use_xnnpack=False`` selects the plain builtin CPU kernels."""
    from ai_edge_litert import interpreter as litert

    resolver = (litert.OpResolverType.AUTO if use_xnnpack
                else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return litert.Interpreter(
        model_path=None if model_path is None else str(model_path),
        model_content=model_content,
        num_threads=num_threads,
        experimental_op_resolver_type=resolver,
        experimental_preserve_all_tensors=preserve_all_tensors,
    )


def litert_schema():
    """LiteRT's generated flatbuffer schema module (reads a .tflite without an interpreter).

    Not a public LiteRT API: kept here so an upgrade that moves it breaks one place."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def litert_version() -> str:
    try:
        from importlib.metadata import version

        return version("ai-edge-litert")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "unknown"


@dataclasses.dataclass
class ToolVersions:
    """Versions of the tools that produced a record (model cards, optimize records, bench
    summaries). TensorFlow's are None where the record's stage never loads it."""

    mobilekit: str
    numpy: str
    ai_edge_litert: str
    tensorflow: str | None = None
    tf_keras: str | None = None
    tensorflow_model_optimization: str | None = None
    keras: str | None = None  # Keras 3, when it loaded the source model
    # TensorFlow's oneDNN kernels on in the process that made the record (TF_ENABLE_ONEDNN_OPTS as
    # TensorFlow read it); None where TensorFlow never loaded.
    onednn: bool | None = None

    def __getitem__(self, key: str):
        """Read like the JSON record it is written as: ``versions["tensorflow"]``."""
        if key not in {field.name for field in dataclasses.fields(self)}:
            raise KeyError(key)
        return getattr(self, key)


def tool_versions(include_tf: bool = True) -> ToolVersions:
    """Versions of the tools that produced a record, for model cards and results."""
    from importlib.metadata import PackageNotFoundError, version

    import numpy

    from ._version import __version__

    versions = ToolVersions(mobilekit=__version__, numpy=numpy.__version__,
                            ai_edge_litert=litert_version())
    if include_tf:
        for dist, key in (("tensorflow", "tensorflow"), ("tf-keras", "tf_keras"),
                          ("tensorflow-model-optimization", "tensorflow_model_optimization")):
            try:
                setattr(versions, key, version(dist))
            except PackageNotFoundError:
                pass
        versions.onednn = onednn_enabled()
    return versions


# --- TFLite's quantization debugger and MLIR quantizer --------------------------------------
# Per-layer quantization error and selective float layers use TensorFlow internals that have no
# stable public path (the debugger's NumericVerify bookkeeping, the calibrated-model quantizer).
# They are read here only, so an upgrade that moves them breaks one place.

_NUMERIC_VERIFY = "NumericVerify"


def stores_sparse(converter) -> bool:
    """Whether ``converter`` stores pruned kernels sparse (``Optimize.EXPERIMENTAL_SPARSITY``)."""
    return tf().lite.Optimize.EXPERIMENTAL_SPARSITY in list(converter.optimizations or [])


def calibrated_model(converter) -> bytes:
    """The converter's float model carrying calibration statistics (no quantization applied).

    ``converter`` must have optimizations and a representative dataset set; it is left as it was
    found. Quantizing the result with ``quantize_calibrated`` reproduces ``converter.convert()``
    (with ``sparsify=stores_sparse(converter)``). The calibrated model itself is kept dense:
    with ``EXPERIMENTAL_SPARSITY`` the converter sparsifies it after calibration, and the MLIR
    quantizer turns that sparse float model into one with no ops at all (TF 2.21), which the
    quantization debugger refuses ("Please check if the quantized model is in debug mode").
    """
    saved = converter._experimental_calibrate_only, converter.optimizations
    sparsity = tf().lite.Optimize.EXPERIMENTAL_SPARSITY
    converter._experimental_calibrate_only = True
    converter.optimizations = [o for o in list(converter.optimizations or []) if o != sparsity]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return converter.convert()
    finally:
        converter._experimental_calibrate_only, converter.optimizations = saved


def quantize_calibrated(calibrated: bytes, *, input_type=None, output_type=None,
                        denylisted_nodes=None, numeric_verify: bool = False,
                        sparsify: bool = False) -> bytes:
    """Quantize a calibrated model to int8 keeping the ops named in ``denylisted_nodes`` (their
    output tensor names) in float; QUANTIZE/DEQUANTIZE pairs are placed around them.
    ``sparsify``: store mostly-zero kernels sparse afterwards (int8 and float ones, read through
    DENSIFY), as the converter's ``EXPERIMENTAL_SPARSITY`` does after its own quantization."""
    from tensorflow.lite.python import convert as lite_convert

    tensorflow = tf()
    with _quiet_native_stderr():  # the quantizer prints its options on fd 2
        content = lite_convert.mlir_quantize(
            calibrated, disable_per_channel=False,
            input_data_type=input_type or tensorflow.float32,
            output_data_type=output_type or tensorflow.float32,
            enable_numeric_verify=numeric_verify,
            denylisted_nodes=list(denylisted_nodes) if denylisted_nodes else None)
        if sparsify:
            content = lite_convert.mlir_sparsify(content)
    return content


def quantization_debugger_rows(debug_model: bytes, dataset) -> list[dict]:
    """Run ``tf.lite.experimental.QuantizationDebugger`` on an int8 model instrumented with
    NumericVerify ops (``quantize_calibrated(..., numeric_verify=True)``) over ``dataset`` (a
    callable yielding input lists, like a representative dataset).

    One row per quantized op, in op order: its output tensor name and index, op index and type,
    scale and zero point, and its error against the float op fed the same quantized input:
    elements, mean squared and mean absolute error, the largest absolute error in a sample (mean
    over samples), and the float output's mean power (for SNR). Row values are per-sample means.
    """
    import numpy as np

    tensorflow = tf()
    options = tensorflow.lite.experimental.QuantizationDebugOptions(
        layer_debug_metrics={"mean_abs_error": lambda diff: float(np.mean(np.abs(diff)))},
        layer_direct_compare_metrics={
            "signal_power": lambda reference, quantized, scale, zero_point:
                float(np.mean(np.square(np.asarray(reference, dtype=np.float64))))})
    with warnings.catch_warnings(), _quiet_native_stderr():
        warnings.simplefilter("ignore")
        debugger = tensorflow.lite.experimental.QuantizationDebugger(
            quant_debug_model_content=debug_model, debug_dataset=dataset, debug_options=options)
        debugger.run()
    interpreter = debugger._quant_interpreter
    rows = []
    for name, metrics in debugger.layer_statistics.items():
        tensor_name, _ = debugger._get_operand_name_and_index(name)
        tensor_index = int(debugger._numeric_verify_op_details[name]["inputs"][0])
        op_index = int(debugger._defining_op[tensor_index])
        detail = interpreter._get_tensor_details(tensor_index, subgraph_index=0)
        params = detail["quantization_parameters"]
        rows.append({"tensor": tensor_name, "tensor_index": tensor_index, "op_index": op_index,
                     "op": interpreter._get_op_details(op_index)["op_name"],
                     "scale": float(params["scales"][0]) if len(params["scales"]) else 0.0,
                     "zero_point": int(params["zero_points"][0]) if len(params["zero_points"]) else 0,
                     "elements": int(metrics["num_elements"]),
                     "mean_squared_error": float(metrics["mean_squared_error"]),
                     "mean_abs_error": float(metrics["mean_abs_error"]),
                     "max_abs_error": float(metrics["max_abs_error"]),
                     "signal_power": float(metrics["signal_power"])})
    return sorted(rows, key=lambda row: row["op_index"])
