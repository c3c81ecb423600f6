"""The one place that picks tf_keras and LiteRT and hides version differences.

TF-MOT works only with Keras 2 (tf_keras), so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported. Every module gets TensorFlow, Keras and the LiteRT interpreter from
here; nothing else imports ``tensorflow`` or ``tf_keras`` directly. LiteRT loads without TensorFlow,
so inspecting or running a ``.tflite`` never pays for a TensorFlow import.
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
# TensorFlow's C++ start-up chatter is noise for a CLI user; --debug turns it back on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
    return versions
