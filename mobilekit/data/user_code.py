"""User code that produces data (``module:function``, ``file.py:function``), run with a time limit.

A loader the user wrote may hang (a network read, a lock, an endless generator) or end the process
(``sys.exit`` at import). So it never runs in the command's own process: ``run_loader`` starts a
fresh Python (``python -c`` calling ``_child_main`` here) that imports the function, reads its data
into one array, saves it as ``.npy`` and reports how it went in a small JSON file. The parent waits
at most ``timeout_s`` and then kills the child's whole process group: unlike a thread (which cannot
be stopped) or ``signal.alarm`` (main thread only, and blind while C code runs), a process can always
be stopped, whatever the user's code is doing. The child dies with the parent too (``_lifetime``).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import errors
from .._io import write_json_atomic
from .._lifetime import child_env, die_with_parent, kill_group
from .._text import format_shape as _fmt_shape
from ..errors import DataError

DEFAULT_LOAD_TIMEOUT_S = 600.0
TIMEOUT_ENV = "MOBILEKIT_LOAD_TIMEOUT"
_STDERR_TAIL_CHARS = 800


def load_timeout(timeout_s=None) -> float:
    """The limit for one loader: ``timeout_s``, else $MOBILEKIT_LOAD_TIMEOUT, else the default."""
    if timeout_s is not None:
        return float(timeout_s)
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            raise errors.UsageError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds") from None
        if value > 0:
            return value
    return DEFAULT_LOAD_TIMEOUT_S


def run_loader(spec, input_shape, limit=None, *, timeout_s=None) -> np.ndarray:
    """The samples ``spec`` (``module:function``) produces, read in a child process within
    ``timeout_s`` seconds; DataError naming the function and the limit if it takes longer."""
    limit_s = load_timeout(timeout_s)
    with tempfile.TemporaryDirectory(prefix="mobilekit-loader-") as folder:
        folder = Path(folder)
        job = {"spec": str(spec), "limit": None if limit is None else int(limit),
               "input_shape": [None if d is None else int(d) for d in tuple(input_shape)],
               "sys_path": [p for p in sys.path if isinstance(p, str)], "folder": str(folder)}
        write_json_atomic(folder / "job.json", job)
        code = "from mobilekit.data.user_code import _child_main; _child_main()"
        with open(folder / "stderr.txt", "w+b") as stderr_file:
            process = subprocess.Popen([sys.executable, "-c", code, str(folder / "job.json")],
                                       stdin=subprocess.DEVNULL, stderr=stderr_file,
                                       env=child_env(), start_new_session=True)
            try:
                returncode = process.wait(timeout=limit_s)
            except subprocess.TimeoutExpired:
                kill_group(process)
                raise DataError(f"{spec} did not return its data within {limit_s:g} s; stopped it",
                                hint=f"make the loader finish sooner, or allow more time "
                                     f"(--timeout, or ${TIMEOUT_ENV} seconds)") from None
            except BaseException:
                kill_group(process)
                raise
            stderr_file.seek(0)
            tail = stderr_file.read().decode("utf-8", errors="replace").strip()[-_STDERR_TAIL_CHARS:]
        status_path = folder / "status.json"
        if not status_path.is_file():
            detail = f"; its stderr ended: {' | '.join(tail.splitlines())}" if tail else ""
            raise DataError(f"the process running {spec} ended with exit code {returncode} before "
                            f"it returned data{detail}")
        status = json.loads(status_path.read_text(encoding="utf-8"))
        if "error" in status:
            kind = getattr(errors, status.get("kind", ""), DataError)
            if not (isinstance(kind, type) and issubclass(kind, errors.MobilekitError)):
                kind = DataError
            raise kind(status["error"], hint=status.get("hint"))
        return np.load(folder / "samples.npy", allow_pickle=False)



def _child_main() -> None:
    die_with_parent()
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    folder = Path(job["folder"])
    sys.path[:] = [p for p in job["sys_path"] if p not in ("", ".")] + \
        [p for p in sys.path if p not in job["sys_path"]]
    try:
        samples = _callable_samples(job["spec"], tuple(job["input_shape"]), job["limit"])
        np.save(folder / "samples.npy", np.asarray(samples), allow_pickle=False)
        status = {"ok": True}
    except errors.MobilekitError as exc:
        status = {"error": exc.message, "hint": exc.hint, "kind": type(exc).__name__}
    write_json_atomic(folder / "status.json", status)  # never a half-written status
    sys.stdout.flush()
    os._exit(0)  # skip the interpreter teardown of whatever the user's module started


def _exited(doing: str, spec, exc: SystemExit) -> DataError:
    return DataError(f"{doing} (for {spec}) called sys.exit({exc.code!r}) instead of returning data",
                     hint="guard the script part of the module with if __name__ == '__main__':")



@contextlib.contextmanager
def _cwd_on_path():
    # Console scripts do not put the working directory on sys.path; users expect `mymodule:fn`
    # to find mymodule.py where they run the command.
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def _load_callable(spec):
    target, _, function_name = str(spec).rpartition(":")
    if target.endswith(".py"):
        file = Path(target).expanduser()
        if not file.is_file():
            raise DataError(f"loader file not found: {file} (from {spec})")
        module_name = f"_mobilekit_loader_{abs(hash(str(file.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(module_name, file)
        module = importlib.util.module_from_spec(module_spec)
        try:
            with _cwd_on_path():
                module_spec.loader.exec_module(module)
        except SystemExit as exc:
            raise _exited(f"importing {file}", spec, exc) from None
        except Exception as exc:
            raise DataError(f"importing {file} (for {spec}) raised {type(exc).__name__}: {exc}") from None
    else:
        try:
            with _cwd_on_path():
                module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise DataError(f"cannot import module {target!r} for {spec}: {exc}",
                            hint="check the name, or use path/to/file.py:function") from None
        except SystemExit as exc:
            raise _exited(f"importing {target}", spec, exc) from None
        except Exception as exc:
            raise DataError(f"importing {target} (for {spec}) raised {type(exc).__name__}: {exc}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise DataError(f"{target} has no function {function_name!r} (from {spec})")
    return function


def _callable_samples(spec, input_shape, limit):
    function = _load_callable(spec)
    try:
        produced = function()
    except SystemExit as exc:
        raise _exited("calling it", spec, exc) from None
    except Exception as exc:
        raise DataError(f"{spec} raised {type(exc).__name__}: {exc}") from None
    if isinstance(produced, np.ndarray):
        return produced
    if hasattr(produced, "as_numpy_iterator"):  # a tf.data.Dataset; TF is already imported by it
        produced = produced.as_numpy_iterator()
    try:
        iterator = iter(produced)
    except TypeError:
        raise DataError(f"{spec} returned {type(produced).__name__}; expected an iterable of arrays "
                        "or a tf.data.Dataset") from None
    sample_rank = len(tuple(input_shape)) - 1
    batches, count = [], 0
    while limit is None or count < int(limit):
        try:
            element = next(iterator)
        except StopIteration:
            break
        except SystemExit as exc:
            raise _exited("reading its data", spec, exc) from None
        except Exception as exc:
            raise DataError(f"{spec} raised {type(exc).__name__} while producing data: {exc}") from None
        if isinstance(element, dict):
            raise DataError(f"{spec} yielded a dict; yield arrays (or (x, y) tuples)")
        if isinstance(element, (tuple, list)):
            if not element:
                raise DataError(f"{spec} yielded an empty {type(element).__name__}")
            element = element[0]  # (x, y) pairs, the tf.data convention: x is what calibrates
        array = np.asarray(element)
        if array.dtype.kind not in "biuf":
            raise DataError(f"{spec} yielded dtype {array.dtype}, which cannot be converted to float32")
        if array.ndim == sample_rank:
            array = array[None]
        elif array.ndim != sample_rank + 1:
            raise DataError(f"{spec} yielded an array of shape {_fmt_shape(array.shape)} but the model "
                            f"input expects {_fmt_shape(tuple(input_shape)[1:])} per sample",
                            hint="yield single samples or batches of them")
        batches.append(array)
        count += len(array)
    if not batches:
        return np.zeros((0,) + tuple(1 if d is None or int(d) < 0 else int(d)
                                     for d in tuple(input_shape)[1:]), np.float32)
    first = batches[0].shape[1:]
    for array in batches[1:]:
        if array.shape[1:] != first:
            raise DataError(f"{spec} yielded samples of different shapes {_fmt_shape(first)} and "
                            f"{_fmt_shape(array.shape[1:])}")
    return np.concatenate(batches, axis=0)
