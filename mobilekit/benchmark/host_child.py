"""The host runner: one bench request in, one result.json out, measured with LiteRT on this computer.

``python -m mobilekit.benchmark.host_child REQUEST.json``. It is started as a subprocess so the peak
memory it reports is its own, and it imports only LiteRT, numpy, the standard library and the
protocol module (never TensorFlow). It measures as TFLite's ``benchmark_model`` does: init time,
first inference, warmup runs, then timed runs bounded by count, ``min_secs`` and ``max_secs``.
Any failure still writes a result with ``status: "failed"`` and a non-zero exit code.
"""
from __future__ import annotations

import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

from .._version import __version__
from .._compat import litert_version, make_interpreter
from .._io import save_npy_atomic, sha256_file
from .._text import exception_line, utc_now_iso
from .telemetry import DEFAULT_INTERVAL_S, HostProbe, TelemetrySampler
from ..results import protocol
from ..results.protocol import (BenchRequest, BenchResult, DelegateApplied, DeviceFacts, Memory,
                                ModelInfo, OutputFile, RunError, RunnerInfo, Thermal, Timing)

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_NO_RESULT = 2

_OUTPUT_DTYPES = {"float32", "float16", "int8", "uint8", "int16", "int32", "int64", "bool"}


class StageError(Exception):
    """A failure with the protocol stage it happened in and a message meant for a person."""

    def __init__(self, stage: str, message: str, type_name: str | None = None):
        super().__init__(message)
        self.stage = stage
        self.type_name = type_name or "BenchError"




# ---------------------------------------------------------------------------------------------
# host facts


def host_facts() -> DeviceFacts:
    cpuinfo = _read_text("/proc/cpuinfo")
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key and value and key not in fields:
            fields[key] = value
    soc = fields.get("model name") or fields.get("hardware") or fields.get("cpu model") or platform.processor()
    manufacturer = fields.get("vendor_id") or fields.get("cpu implementer")
    product = _read_text("/sys/class/dmi/id/product_name").strip() or None
    return DeviceFacts(serial=None, manufacturer=manufacturer or None, model=product or "host",
                       soc=soc or None, os=f"{platform.system()} {platform.release()}".strip(),
                       sdk_level=None, abi=platform.machine() or None, cores=os.cpu_count())


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def memory_figures() -> Memory:
    """Peak RSS (VmHWM, else ru_maxrss) and current PSS of this process, in bytes."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    peak = int(maxrss) if sys.platform == "darwin" else int(maxrss) * 1024
    for line in _read_text("/proc/self/status").splitlines():
        if line.startswith("VmHWM:"):
            # VmHWM belongs to this process image. ru_maxrss does not: Linux carries it across
            # fork and exec, so a runner started by a process holding TensorFlow would report
            # the parent's hundreds of MiB as its own peak.
            peak = int(line.split()[1]) * 1024
    pss = None
    for line in _read_text("/proc/self/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1]) * 1024
    return Memory(peak_rss_bytes=peak, pss_bytes=pss)


# ---------------------------------------------------------------------------------------------
# inputs


def _free_dimensions(details: list[dict]) -> bool:
    return any(int(d) == -1 for detail in details for d in list(detail.get("shape_signature", [])))


def input_shapes(shapes: list[list[int]], details: list[dict]) -> list[tuple]:
    """The request's shapes for random inputs, checked against the model: one per input, each of
    the input's rank, differing from the stored shape only where the signature says -1."""
    if len(shapes) != len(details):
        raise StageError("inputs", f"inputs.shapes: gives {len(shapes)} shape(s) but the model has "
                                   f"{len(details)} input(s): give one per input, in order")
    from ..models.tensors import shape_misfit

    for index, (shape, detail) in enumerate(zip(shapes, details)):
        problem = shape_misfit(shape, detail)
        if problem:
            raise StageError("inputs", f"inputs.shapes[{index}]: {problem}")
    return [tuple(int(d) for d in shape) for shape in shapes]


def random_inputs(details: list[dict], seed: int, shapes: list[tuple] | None = None) -> list[np.ndarray]:
    """One batch per input, seeded, in each input's dtype and a range the model can take; at
    ``shapes`` (one per input) instead of the stored shapes when given."""
    rng = np.random.default_rng(seed)
    arrays = []
    for position, detail in enumerate(details):
        shape = shapes[position] if shapes else tuple(int(d) for d in detail["shape"])
        dtype = np.dtype(detail["dtype"])
        if dtype == np.bool_:
            arrays.append(rng.integers(0, 2, size=shape).astype(np.bool_))
        elif dtype.kind in "iu":
            scale = (detail.get("quantization") or (0.0, 0))[0]
            info = np.iinfo(dtype)
            # Quantized tensors take their full range; plain integers are usually ids or counts.
            low, high = (info.min, info.max) if scale else (0, min(info.max, 100))
            arrays.append(rng.integers(low, high, size=shape, endpoint=True).astype(dtype))
        else:
            arrays.append(rng.random(size=shape, dtype=np.float32).astype(dtype))
    return arrays


def npy_inputs(files: list[str], details: list[dict], base_dir: Path) -> list[np.ndarray]:
    """The request's .npy files, checked against the model's inputs (count, dtype, sample shape)."""
    if len(files) != len(details):
        raise StageError("inputs", f"the model has {len(details)} input(s) but the request gives "
                                   f"{len(files)} .npy file(s)")
    arrays = []
    for index, (name, detail) in enumerate(zip(files, details)):
        path = protocol.resolve_path(name, base_dir)
        try:
            array = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise StageError("inputs", f"input file not found: {path}") from None
        except (ValueError, OSError, EOFError) as exc:
            raise StageError("inputs", f"cannot read {path} as .npy (truncated or not an .npy "
                                       f"file?): {exc}", type(exc).__name__) from None
        expected_dtype = np.dtype(detail["dtype"])
        if array.dtype != expected_dtype:
            raise StageError("inputs", f"{path}: dtype {array.dtype} but model input {index} "
                                       f"({detail['name']}) takes {expected_dtype}")
        expected = tuple(int(d) for d in detail["shape"][1:])
        signature = detail.get("shape_signature")
        dynamic = [signature is not None and len(signature) == len(detail["shape"])
                   and int(signature[i + 1]) == -1 for i in range(len(expected))]
        if array.ndim != len(expected) + 1 or any(
                not dyn and got != want for got, want, dyn in zip(array.shape[1:], expected, dynamic)):
            raise StageError("inputs", f"{path}: shape {list(array.shape)} does not fit model input "
                                       f"{index} ({detail['name']}), which takes [N, "
                                       f"{', '.join(map(str, expected))}]")
        if array.shape[0] == 0:
            raise StageError("inputs", f"{path}: holds no samples")
        arrays.append(array)
    counts = {array.shape[0] for array in arrays}
    if len(counts) != 1:
        raise StageError("inputs", f"the input files hold different sample counts: {sorted(counts)}")
    return arrays


def batches(arrays: list[np.ndarray], details: list[dict]) -> list[list[np.ndarray]]:
    """Split [N, ...] arrays into the model's batches (its batch dimension, usually 1)."""
    batch = max(1, int(details[0]["shape"][0]))
    samples = arrays[0].shape[0]
    if samples % batch:
        raise StageError("inputs", f"{samples} samples do not split into batches of {batch} (the "
                                   "model's batch dimension)")
    return [[array[start:start + batch] for array in arrays] for start in range(0, samples, batch)]


# ---------------------------------------------------------------------------------------------
# the run


class _Run:
    def __init__(self, request_path: Path):
        self.request_path = Path(request_path).resolve()
        self.base_dir = self.request_path.parent
        self.started_at = utc_now_iso("microseconds")
        self.request: BenchRequest | None = None
        self.output_dir = self.base_dir
        self.timing = Timing()
        self.model_info = ModelInfo()
        self.delegate = DelegateApplied(requested="xnnpack", applied=None, fallback_reason=None, threads=1)
        self.outputs: list[OutputFile] = []
        self.stage = "request"
        self.sampler: TelemetrySampler | None = None

    def _enter(self, stage: str) -> None:
        """Start a stage: a telemetry sample at each boundary, as the protocol promises."""
        self.stage = stage
        if self.sampler is not None:
            self.sampler.mark(stage)

    def execute(self) -> BenchResult:
        error = None
        try:
            self._measure()
        except StageError as exc:
            error = RunError(stage=exc.stage, type=exc.type_name, message=str(exc))
        except MemoryError as exc:
            error = RunError(stage=self.stage, type="MemoryError", message=f"out of memory: {exc}")
        except Exception as exc:  # any failure must still become a result
            error = RunError(stage=self.stage, type=type(exc).__name__, message=exception_line(exc, limit=2000))
        telemetry = self.sampler.stop() if self.sampler is not None else None
        return BenchResult(
            run_id=self.request.run_id if self.request else _fallback_run_id(self.request_path),
            status="ok" if error is None else "failed", error=error,
            runner=RunnerInfo(kind="host", version=__version__, runtime="litert",
                              runtime_version=litert_version()),
            device=host_facts(), model=self.model_info, delegate=self.delegate, timing=self.timing,
            memory=memory_figures(), thermal=Thermal(), outputs=self.outputs if error is None else [],
            started_at=self.started_at, finished_at=utc_now_iso("microseconds"), telemetry=telemetry)

    def _measure(self) -> None:
        self.stage = "request"
        try:
            request = protocol.load_request(self.request_path)
        except protocol.ProtocolError as exc:
            raise StageError("request", str(exc), "ProtocolError") from None
        self.request = request
        if request.output_dir:
            self.output_dir = protocol.resolve_path(request.output_dir, self.base_dir)
        runs = request.runs
        if runs.min_secs > runs.max_secs:
            raise StageError("request", f"runs.min_secs ({runs.min_secs}) is above runs.max_secs "
                                        f"({runs.max_secs})")
        name = request.delegate.name
        threads = request.delegate.threads
        self.delegate = DelegateApplied(requested=name, applied=None, fallback_reason=None, threads=threads)
        interval = runs.telemetry_interval_secs
        interval = DEFAULT_INTERVAL_S if interval is None else interval
        samples: list[int] = []
        if interval > 0:
            # index: how many timed runs have finished, read by the sampler thread
            self.sampler = TelemetrySampler(HostProbe(), interval_s=interval, index=samples.__len__)
            self.sampler.start("load")

        self.stage = "load"
        model_path = protocol.resolve_path(request.model.path, self.base_dir)
        if not model_path.is_file():
            raise StageError("load", f"model file not found: {model_path}", "FileNotFoundError")
        self.model_info = ModelInfo(sha256=sha256_file(model_path), size_bytes=model_path.stat().st_size)
        if self.model_info.sha256 != request.model.sha256:
            raise StageError("load", f"{model_path} has sha256 {self.model_info.sha256} but the request "
                                     f"expects {request.model.sha256} (the file changed?)")

        use_xnnpack = name != "cpu"
        applied = "cpu" if name == "cpu" else "xnnpack"
        fallback = (None if name in ("cpu", "xnnpack") else
                    f"the host runner has no {name.upper()} delegate; ran the default XNNPACK delegate")

        self._enter("init")
        start = time.perf_counter_ns()
        try:
            interpreter = make_interpreter(model_path=model_path, num_threads=threads,
                                           use_xnnpack=use_xnnpack)
            # A model with free dimensions is allocated once, at the inputs' shape (below):
            # allocating first at the default shape (1 for every free dimension) makes XNNPACK
            # fail to reshape a free-height/width model.
            free = _free_dimensions(interpreter.get_input_details())
            if not free:
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise StageError("init", f"LiteRT cannot load or allocate tensors for {model_path.name}: "
                                     f"{exception_line(exc, limit=2000)}", type(exc).__name__) from None
        self.timing.init_ns = time.perf_counter_ns() - start
        self.delegate.applied = applied
        self.delegate.fallback_reason = fallback

        self._enter("inputs")
        input_details = interpreter.get_input_details()
        output_details = interpreter.get_output_details()
        if request.inputs.kind == "random":
            shapes = (input_shapes(request.inputs.shapes, input_details) if request.inputs.shapes
                      else None)
            spatial = [detail["name"] for detail in input_details
                       if any(int(d) == -1 for d in list(detail.get("shape_signature", []))[1:])]
            if spatial and not shapes:
                raise StageError("inputs", f"input {spatial[0]} of {model_path.name} has free "
                                           "dimensions besides the batch; random inputs would be 1 "
                                           "pixel wide: give real inputs with --data or the shape "
                                           "to measure with --input-shape")
            arrays = random_inputs(input_details, request.inputs.seed or 0, shapes)
        else:
            arrays = npy_inputs(request.inputs.files or [], input_details, self.base_dir)
        # Random inputs at the request's shapes are one batch of that shape (its batch included).
        feeds = ([arrays] if request.inputs.kind == "random" and request.inputs.shapes
                 else batches(arrays, input_details))
        indices = [detail["index"] for detail in input_details]
        if free or any(feed.shape != tuple(detail["shape"]) for feed, detail in zip(feeds[0], input_details)):
            start = time.perf_counter_ns()
            try:
                for index, feed in zip(indices, feeds[0]):
                    interpreter.resize_tensor_input(index, list(feed.shape))
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                shapes = ", ".join(str(tuple(feed.shape)) for feed in feeds[0])
                raise StageError("inputs", f"LiteRT cannot run {model_path.name} at the inputs' "
                                           f"shape {shapes}: {exception_line(exc, limit=2000)}",
                                 type(exc).__name__) from None
            if free:  # allocation is part of initialisation, as for a fixed-shape model
                self.timing.init_ns += time.perf_counter_ns() - start

        set_tensor, invoke, clock = interpreter.set_tensor, interpreter.invoke, time.perf_counter_ns

        def feed(i: int) -> None:
            for index, value in zip(indices, feeds[i % len(feeds)]):
                set_tensor(index, value)

        self._enter("warmup")
        feed(0)
        start = clock()
        invoke()
        self.timing.first_inference_ns = clock() - start
        single = len(feeds) == 1
        warmup = []
        for i in range(runs.warmup_runs):
            if not single:
                feed(i + 1)
            start = clock()
            invoke()
            warmup.append(clock() - start)
        self.timing.warmup_ns = warmup

        if runs.cooldown_secs > 0:
            time.sleep(runs.cooldown_secs)

        self._enter("run")
        append = samples.append
        timed_runs = runs.timed_runs
        min_ns = int(runs.min_secs * 1e9)
        max_ns = int(runs.max_secs * 1e9)
        if runs.duration_secs is not None:  # sustained: the clock alone ends the loop
            timed_runs = 1
            min_ns = max_ns = int(runs.duration_secs * 1e9)
        if single:
            feed(0)
        began = clock()
        count = 0
        while True:
            if not single:
                feed(count)
            start = clock()
            invoke()
            end = clock()
            append(end - start)
            count += 1
            elapsed = end - began
            # As benchmark_model: at least timed_runs and min_secs, never past max_secs.
            if elapsed >= max_ns or (count >= timed_runs and elapsed >= min_ns):
                break
        self.timing.samples_ns = samples
        if self.sampler is not None:
            self.sampler.mark("run")  # the end of timing: the last sample of the series

        if request.save_outputs:
            self._enter("outputs")
            self.outputs = self._save_outputs(interpreter, feeds, feed, output_details)

    def _save_outputs(self, interpreter, feeds, feed, output_details) -> list[OutputFile]:
        collected: list[list[np.ndarray]] = [[] for _ in output_details]
        for i in range(len(feeds)):
            feed(i)
            interpreter.invoke()
            for slot, detail in zip(collected, output_details):
                slot.append(np.array(interpreter.get_tensor(detail["index"])))
        records = []
        for number, (slot, detail) in enumerate(zip(collected, output_details)):
            array = np.concatenate(slot, axis=0)
            file_name = "outputs.npy" if number == 0 else f"outputs_{number}.npy"
            dtype = array.dtype.name
            if dtype not in _OUTPUT_DTYPES:
                raise StageError("outputs", f"output {detail['name']} has dtype {dtype}, which the "
                                            "protocol cannot record")
            save_npy_atomic(self.output_dir / file_name, array)
            records.append(OutputFile(file=file_name, name=detail["name"],
                                      shape=[int(d) for d in array.shape], dtype=dtype))
        return records


def _fallback_run_id(request_path: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in request_path.stem)
    return stem or "unknown"


def run_request(request_path) -> tuple[BenchResult, Path]:
    """Run one request file; returns the result and where result.json was written."""
    run = _Run(Path(request_path))
    result = run.execute()
    result_path = run.output_dir / "result.json"
    protocol.save_result(result, result_path)
    return result, result_path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m mobilekit.benchmark.host_child REQUEST.json\n"
              "Runs one bench request with LiteRT and writes result.json beside it "
              "(or into the request's output_dir).", file=sys.stderr)
        return EXIT_NO_RESULT if args[:1] not in (["-h"], ["--help"]) else EXIT_OK
    try:
        result, result_path = run_request(args[0])
    except Exception as exc:  # the result itself could not be written: say so on stderr
        print(f"host_runner: no result written: {exception_line(exc, limit=2000)}", file=sys.stderr)
        return EXIT_NO_RESULT
    if not result.ok:
        error = result.error
        print(f"host_runner: {result.run_id} failed at {error.stage}: {error.type}: {error.message}",
              file=sys.stderr)
        return EXIT_RUN_FAILED
    print(str(result_path))
    return EXIT_OK


if __name__ == "__main__":
    from .._lifetime import die_with_parent

    die_with_parent()  # a runner never keeps timing (or writes a result) after bench died
    sys.exit(main())
