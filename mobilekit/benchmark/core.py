"""`bench()`: benchmark a .tflite model on this computer or on phones, one run per configuration.

Builds one request per (target, delegate, threads), lets each target's Runner run them (targets in
parallel, one run at a time per target), then computes statistics, accuracy and fidelity from the
result files in one place and writes ``summary.json``. Finished runs are kept and skipped on rerun.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .._compat import ToolVersions
from .._guard import output_lock, refuse_aliases
from .._io import save_npy_atomic, sha256_file, write_json_atomic
from .._text import format_ms, text_table, utc_now_iso
from ..errors import BenchError, DataError, DeviceError, ModelError, ProtocolError, UsageError
from ..data.labels import class_labels
from ..records import IN_MEMORY, to_dict
from ..results import protocol, stats
from ..results.settings import BenchSettings, bench_settings
from .cooldown import DEFAULT_LIMIT_S, parse_gate
from .host_parent import HostRunner, Runner
from .sustained import CooldownGate, judge, summary_fields

TARGETS = ("auto", "host", "device")
DEFAULT_MAX_SECS = 150.0
# Time a run may take beyond its timed loop: process start, model load, warmup, saving outputs.
RUN_OVERHEAD_ALLOWANCE_S = 120.0
INPUT_SEED = 0


@dataclass
class RunSummary:
    """One configuration on one target: statistics (ms) from the raw samples, plus what ran."""

    run_key: str
    run_id: str
    target: str
    runner_kind: str
    delegate: str
    delegate_applied: str | None
    fallback_reason: str | None
    threads: int
    status: str
    error: str | None
    resumed: bool
    result_path: str
    samples: int = 0
    latency_ms_mean: float | None = None
    latency_ms_std: float | None = None
    latency_ms_min: float | None = None
    latency_ms_max: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_p95: float | None = None
    latency_ms_p99: float | None = None
    latency_ms_p50_ci_low: float | None = None
    latency_ms_p50_ci_high: float | None = None
    init_ms: float | None = None
    first_inference_ms: float | None = None
    peak_rss_bytes: int | None = None
    pss_bytes: int | None = None
    accuracy: dict | None = None
    fidelity: dict | None = None             # on the first output (the one accuracy is on)
    # several outputs and a reference: fidelity of every head, [{name, reference, shape, ...}], and
    # how heads met the reference's: "name", or "shape and order" when names differ
    fidelity_heads: list | None = None
    fidelity_pairing: str | None = None
    device: dict = field(default_factory=dict)
    thermal: dict = field(default_factory=dict)
    # phones: how the run was started, "instrumentation" or "activity" (in front, --foreground)
    launch: str | None = None
    # sustained runs and their trust (results/throttling.py); None and [] for version-1 results
    throttling_ratio: float | None = None
    time_to_rise_s: float | None = None
    flags: list[str] = field(default_factory=list)
    flag_reasons: str = ""
    # The run's result as read once (None when the runner left none): what report and sweep use.
    result: protocol.BenchResult | None = field(default=None, repr=False, compare=False, metadata=IN_MEMORY)


@dataclass
class BenchSummary:
    """Everything ``mobilekit bench`` measured, as written to ``summary.json``."""

    model_path: str
    model_sha256: str
    model_size_bytes: int
    target: str
    targets: list[str]
    target_reason: str
    inputs: str
    input_samples: int
    output_dir: str
    summary_path: str
    runs: list[RunSummary]
    reference: str | None = None
    started_at: str = ""
    finished_at: str = ""
    tool_versions: ToolVersions | None = None

    @property
    def failed_runs(self) -> list[RunSummary]:
        return [run for run in self.runs if run.status != "ok"]

    @property
    def ok(self) -> bool:
        return not self.failed_runs


@dataclass
class _Prepared:
    """Inputs as the runners receive them, plus what accuracy and fidelity need afterwards."""

    inputs: protocol.InputsSpec
    description: str
    identity: str
    samples: int
    labels: np.ndarray | None
    reference_outputs: dict | None   # {reference output name: real-valued outputs}
    output_names: list | None = None  # the model's outputs in output order, as evaluate names them


def bench(model, *, target: str = "auto", devices: Sequence[str] | None = None,
          all_devices: bool = False, delegates: Iterable[str] = ("xnnpack",),
          threads: Iterable[int] = (1,), runs: int = 50, warmup: int = 5, min_secs: float = 0.0,
          max_secs: float = DEFAULT_MAX_SECS, cooldown_secs: float = 0.0, data=None, labels=None,
          reference=None, output_dir=None, adb: str = "auto", connect: str | None = None,
          timeout_s: float | None = None, save_outputs: bool | None = None, force: bool = False,
          parallel: bool = True, seed: int = INPUT_SEED, wait: bool = False,
          duration=None, cooldown_until: str | None = None, cooldown_limit_s: float = DEFAULT_LIMIT_S,
          telemetry_interval_s: float | None = None,
          on_status: Callable[[str], None] | None = None,
          runners: Sequence[Runner] | None = None, foreground: bool = False,
          input_shape=None) -> BenchSummary:
    """Benchmark ``model`` (a .tflite path) once per (target, delegate, threads) configuration.

    ``target="auto"`` uses attached phones when there are any, else this computer. ``data`` (an
    .npz with x[, y], an .npy, an image folder, ...) feeds real samples in the model's input dtype;
    without it inputs are seeded random. ``labels`` (or the data's y) gives accuracy, ``reference``
    (a Keras model or a .tflite) gives fidelity. Results go to
    ``output_dir/runs/<target>/<run_key>/result.json``; a rerun skips finished runs unless ``force``.
    ``input_shape`` (one shape per input, e.g. ``["1,320,320,3"]``) sizes the random inputs of a
    model with free dimensions, which is allocated at that shape on every runner.
    ``runners`` replaces target selection with the given Runners (for callers such as sweep).
    ``foreground`` runs each request on the phone in the companion app's Activity, as the app in
    front (top-app scheduling), instead of the headless instrumentation (default group).
    ``duration`` (seconds, or text such as ``"10m"``) times runs for that long instead of a count;
    ``cooldown_until`` (``"thermal<=none,battery<=start+1"``) waits before each run, at most
    ``cooldown_limit_s``; ``telemetry_interval_s`` sets the sampling interval (0: off). Each result
    gets its throttling figure and contamination flags (docs/bench.md).
    Another bench using ``output_dir`` is an error naming it, or waited for with ``wait``.
    """
    say = on_status or (lambda message: None)
    started_at = utc_now_iso()
    settings = bench_settings(delegates=delegates, threads=threads, runs=runs, warmup=warmup,
                              min_secs=min_secs, max_secs=max_secs, cooldown_secs=cooldown_secs,
                              timeout_s=timeout_s, seed=seed, duration=duration,
                              telemetry_interval_s=telemetry_interval_s)
    gate = None if cooldown_until is None else CooldownGate(
        parse_gate(cooldown_until, limit_s=cooldown_limit_s), say=say)
    if target not in TARGETS:
        raise UsageError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if labels is not None and data is None:
        raise UsageError("labels need data: give --data with the samples the labels belong to")
    if reference is not None and data is None:
        raise UsageError("--reference needs --data: fidelity compares outputs on the same samples")
    if input_shape is not None and data is not None:
        raise UsageError("--input-shape sizes random inputs; with --data the model runs at the data's shape",
                         hint="drop one of them")
    _check_foreground(foreground, target, runners)

    model_path = Path(model).expanduser()
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path}")
    if model_path.suffix.lower() != ".tflite":
        raise ModelError(f"{model_path} is not a .tflite model",
                         hint="convert it first: mobilekit convert MODEL.keras -o model.tflite")
    model_path = model_path.resolve()
    model_sha256 = sha256_file(model_path)
    from ..analysis.gpu_rules import require_stock_litert  # custom ops: refuse before any run
    require_stock_litert(model_path.read_bytes(), where=str(model_path))
    input_details, output_details = _model_io(model_path)
    shapes = None if data is not None else random_input_shapes(input_shape, input_details, model_path)

    out = Path(output_dir if output_dir is not None else f"bench-{model_path.stem}").expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {output_dir or out} is a file; bench writes a folder of results there",
                         hint="give a folder name, e.g. -o results/int8")
    out.mkdir(parents=True, exist_ok=True)
    refuse_aliases([("model", model_path), ("data", data), ("labels", labels),
                    ("reference", reference)],
                   [("summary", out / "summary.json")],
                   folders=[("runs folder", out / "runs"), ("inputs folder", out / "inputs")])
    # One bench per folder: two at once would time side by side and mix their results.
    with output_lock(out, wait=wait):
        timeout = settings.timeout_s if settings.timeout_s is not None else \
            settings.timed_secs + settings.cooldown_secs + RUN_OVERHEAD_ALLOWANCE_S
        prepared = _prepare_inputs(model_path, input_details, output_details, data=data, labels=labels,
                                   reference=reference, out=out, seed=settings.seed,
                                   load_timeout_s=timeout, shapes=shapes)
        if save_outputs is None:
            save_outputs = data is not None

        if runners is None:
            runners, reason = _select_runners(target, devices=devices, all_devices=all_devices, adb=adb,
                                              connect=connect, foreground=foreground)
        else:
            runners, reason = list(runners), "runners given by the caller"
        if not runners:
            raise BenchError("no target to benchmark on", hint="attach a phone or use --target host")
        say(f"benchmarking on {', '.join(r.target for r in runners)} ({reason})")

        plan = []
        for runner in runners:
            for name, count in settings.configurations:
                request = _request(model_path, model_sha256, name, count, settings,
                                   inputs=prepared.inputs, save_outputs=save_outputs)
                key = run_key(model_sha256, runner.kind, request, prepared.identity, launch=runner.launch)
                request = dataclasses.replace(request, run_id=key)
                run_dir = out / "runs" / _safe_name(runner.target) / key
                plan.append((runner, request, key, run_dir))

        lock = threading.Lock()
        summaries: dict[int, RunSummary] = {}  # by place in the plan: two targets share run keys

        def run_target(runner: Runner):
            for index, (item_runner, request, key, run_dir) in enumerate(plan):
                if item_runner is not runner:
                    continue
                label = f"{runner.target} {request.delegate.name} x{request.delegate.threads}"
                result_path = run_dir / "result.json"
                result = None if force else _finished(result_path, model_sha256)
                resumed, failure = result is not None, None
                if resumed:
                    say(f"{label}: done before, kept ({result_path})")
                else:
                    try:
                        record = gate.before_run(runner, label) if gate is not None else None
                        say(f"{label}: running")
                        # The runner's own progress (pushes, the app's status bundles), already
                        # prefixed with its target. The result comes back read and checked once.
                        result = runner.run_result(request, run_dir, timeout_s=timeout, on_status=say)
                        # then judged here, the same for every runner, and written back whole
                        result = judge(result, record=record, battery_limit_c=(
                            gate.battery_limit_c(runner) if gate is not None else None))
                        protocol.save_result(result, result_path)
                    except (BenchError, DeviceError, ProtocolError) as exc:
                        failure = str(exc)
                summary = _summarize(runner, request, key, run_dir, result, resumed, failure,
                                     output_details, prepared)
                with lock:
                    summaries[index] = summary
                if not resumed:
                    say(f"{label}: {_status_word(result, summary, failure)}")

        if parallel and len(runners) > 1:
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(runners)) as pool:
                for future in [pool.submit(run_target, runner) for runner in runners]:
                    future.result()
        else:
            for runner in runners:
                run_target(runner)

        run_summaries = [summaries[index] for index in range(len(plan))]

        summary = BenchSummary(
            model_path=str(model_path), model_sha256=model_sha256, model_size_bytes=model_path.stat().st_size,
            target=target, targets=[runner.target for runner in runners], target_reason=reason,
            inputs=prepared.description, input_samples=prepared.samples, output_dir=str(out),
            summary_path=str(out / "summary.json"), runs=run_summaries,
            reference=None if reference is None else str(reference), started_at=started_at,
            finished_at=utc_now_iso(), tool_versions=_tool_versions())
        write_json_atomic(out / "summary.json", to_dict(summary))
        if run_summaries and all(run.status != "ok" for run in run_summaries):
            first = run_summaries[0]
            details = first.result_path and Path(first.result_path).is_file()
            raise BenchError(f"{first.target} {first.delegate} x{first.threads} failed: {first.error}",
                             hint=f"details in {first.result_path}" if details else None)
        return summary


# ---------------------------------------------------------------------------------------------
# model and inputs


def _model_io(model_path: Path) -> tuple[list[dict], list[dict]]:
    from ..models.tflite import open_interpreter, read_tflite

    interpreter = open_interpreter(read_tflite(model_path), where=str(model_path))
    return interpreter.get_input_details(), interpreter.get_output_details()


def random_input_shapes(input_shape, input_details, model_path) -> list[list[int]] | None:
    """The shapes random inputs are made at: ``input_shape`` (one per input, "1,320,320,3" or
    "1x320x320x3" or a sequence of ints) checked against the model, where only free (-1)
    dimensions may differ from the stored shape; None for the stored shapes. A model whose height
    or width is free needs one: random inputs at the stored shape would be 1 pixel wide."""
    from .._text import format_shape

    if input_shape is None:
        spatial = [detail for detail in input_details
                   if any(int(d) == -1 for d in list(detail.get("shape_signature", []))[1:])]
        if spatial:
            signature = tuple(int(d) for d in spatial[0]["shape_signature"])
            raise UsageError(f"input {spatial[0]['name']} of {model_path.name} has free dimensions "
                             f"besides the batch {format_shape(signature)}: random inputs would be 1 "
                             "pixel wide there",
                             hint="give real samples with --data, or the shape to measure with "
                                  "--input-shape, e.g. --input-shape "
                                  + ",".join(str(d if d > 0 else 1 if i == 0 else 224)
                                             for i, d in enumerate(signature)))
        return None
    if isinstance(input_shape, str):
        input_shape = [input_shape]
    shapes = []
    for text in input_shape:
        if isinstance(text, str):
            parts = [p.strip() for p in text.replace("x", ",").split(",")]
            if not all(p.isdigit() for p in parts):
                raise UsageError(f"--input-shape {text!r} is not a shape", hint="write it as 1,320,320,3")
            shapes.append([int(p) for p in parts])
        else:
            shapes.append([int(d) for d in text])
    if len(shapes) != len(input_details):
        raise UsageError(f"--input-shape gives {len(shapes)} shape(s) but {model_path.name} has "
                         f"{len(input_details)} input(s)", hint="give one --input-shape per input, in order")
    from ..models.tensors import shape_misfit

    for shape, detail in zip(shapes, input_details):
        problem = shape_misfit(shape, detail)
        if problem:
            raise UsageError(f"--input-shape {','.join(map(str, shape))}: {problem}")
    stored = [[int(d) for d in detail["shape"]] for detail in input_details]
    return None if shapes == stored else shapes


def _prepare_inputs(model_path, input_details, output_details, *, data, labels, reference, out,
                    seed, load_timeout_s=None, shapes=None) -> _Prepared:
    if data is None:
        at = "" if not shapes else " at " + ", ".join("x".join(map(str, shape)) for shape in shapes)
        return _Prepared(inputs=protocol.InputsSpec(kind="random", seed=int(seed), shapes=shapes),
                         description=f"random (seed {seed}){at}", identity=f"random:{seed}{at}",
                         samples=1, labels=None, reference_outputs=None)
    from ..models.tensors import check_samples_fit, to_input_dtype

    if len(input_details) == 1:
        detail = input_details[0]
        x, y = _load_data(data, _data_shape(detail), load_timeout_s)
        arrays = [x]
    else:  # one .npz array per input, named after it (and y)
        x, y = _load_named_data(model_path, input_details, data)
        arrays = list(x.values())
    count = len(arrays[0])
    files, digest = [], hashlib.sha256()
    fed_arrays = []
    for detail, values in zip(input_details, arrays):
        check_samples_fit(values, detail, what=f"data {data}")
        batch = max(1, int(detail["shape"][0]))
        if count % batch:
            raise DataError(f"data {data} has {count} samples, not a multiple of the model's batch "
                            f"size {batch}", hint=f"give a multiple of {batch} samples")
        fed = np.ascontiguousarray(to_input_dtype(values, detail, name=detail.get("name", "input")))
        digest.update(fed.tobytes() + str(fed.dtype).encode() + str(fed.shape).encode())
        fed_arrays.append(fed)
    identity = digest.hexdigest()
    for index, fed in enumerate(fed_arrays):  # one input_N.npy per input, in input order
        input_path = out / "inputs" / identity[:16] / f"input_{index}.npy"
        if not input_path.exists():
            save_npy_atomic(input_path, fed)
        files.append(str(input_path))
    if labels is not None:
        y = _load_labels(labels)
    if y is not None:
        # Checked here, before any timing, against the classes the model scores.
        classes = int(np.prod(output_details[0]["shape"][1:]))
        y = class_labels(y, count=count, classes=classes,
                         where=f"labels {labels}" if labels is not None and not isinstance(labels, np.ndarray)
                         else "labels")
    reference_outputs = None
    if reference is not None:
        reference_outputs = _reference_outputs(reference, x)
    from ..models.tflite import open_interpreter, output_names, read_tflite

    names = output_names(open_interpreter(read_tflite(model_path), where=str(model_path)))
    return _Prepared(inputs=protocol.InputsSpec(kind="npy", seed=None, files=files),
                     description=f"{data} ({count} samples)", identity=f"npy:{identity}",
                     samples=count, labels=y, reference_outputs=reference_outputs,
                     output_names=names)


def _data_shape(detail) -> tuple:
    return tuple(-1 if s == -1 else int(d) for d, s in
                 zip(detail["shape"], detail.get("shape_signature", detail["shape"])))


def _load_named_data(model_path, input_details, data):
    """({input name: samples}, y or None) for a model with several inputs."""
    from ..data.loaders import load_named_inputs
    from ..models.tflite import input_names, open_interpreter, read_tflite

    names = input_names(open_interpreter(read_tflite(model_path), where=str(model_path)))
    inputs = {name: _data_shape(detail) for name, detail in zip(names, input_details)}
    try:
        return load_named_inputs(data, inputs, labelled=True)
    except DataError as exc:
        if "labels missing" not in exc.message:
            raise
    return load_named_inputs(data, inputs)


def _load_data(data, shape, timeout_s=None) -> tuple[np.ndarray, np.ndarray | None]:
    from ..data import load_labelled, load_samples

    try:
        return load_labelled(data, input_shape=shape)
    except DataError as exc:
        if "labels missing" not in exc.message:
            raise
    return load_samples(data, input_shape=shape, timeout_s=timeout_s), None


def _load_labels(labels) -> np.ndarray:
    if isinstance(labels, np.ndarray):
        y = labels
    else:
        path = Path(labels).expanduser()
        if not path.is_file():
            raise DataError(f"labels file not found: {path}")
        from ..data.loaders import check_numpy_file

        check_numpy_file(path)
        try:
            loaded = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"cannot read labels {path}: {exc}") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if "y" not in loaded.files:
                    raise DataError(f"{path} has no 'y' array (arrays: {', '.join(loaded.files)})")
                y = loaded["y"]
        else:
            y = loaded
    return y


def _reference_outputs(reference, x) -> dict:
    """Every real-valued output of the reference model on the same samples, computed on the host:
    {output name: outputs}, named as evaluate names them so heads pair the same way."""
    path = Path(reference).expanduser()
    if not path.exists():
        raise ModelError(f"reference model not found: {path}")
    if path.suffix.lower() == ".tflite":
        from ..models.tflite import open_interpreter, read_tflite, run_all_outputs

        # The same batching as evaluate, so a .tflite reference scores the same in both.
        interpreter = open_interpreter(read_tflite(path), where=f"reference {path}")
        fed = list(x.values()) if isinstance(x, dict) else x  # several inputs: in input order
        outputs, _batch = run_all_outputs(interpreter, fed, progress=False, where=f"reference {path}")
        return outputs
    # A Keras model or SavedModel: the only place bench touches TensorFlow, and it happens
    # before any timing starts so TensorFlow's threads never share the CPU with a measured run.
    from ..analysis.evaluation import reference_predict_all

    if isinstance(x, dict):
        x = {name: values.astype(np.float32) for name, values in x.items()}
    else:
        x = x.astype(np.float32)
    outputs, _ = reference_predict_all(path, x)
    return outputs


# ---------------------------------------------------------------------------------------------
# targets and requests


def _check_foreground(foreground: bool, target: str, runners) -> None:
    if not foreground:
        return
    if target == "host":
        raise UsageError("--foreground runs on a phone, in the companion app's Activity; it does not go "
                         "with --target host", hint="drop --foreground, or use --target device")
    if runners is not None:
        raise UsageError("foreground=True chooses how bench makes its phone runners; with runners given, "
                         "pass AndroidRunner(..., foreground=True) instead")


def _select_runners(target, *, devices, all_devices, adb, connect,
                    foreground: bool = False) -> tuple[list[Runner], str]:
    if target == "host":
        if devices or all_devices or connect:
            raise UsageError("--device/--all-devices/--connect choose phones; they do not go with "
                             "--target host")
        return [HostRunner()], "--target host"
    wants_devices = target == "device" or bool(devices) or all_devices or bool(connect) or foreground
    if not wants_devices:
        serials: list[str] = []
        try:
            from ..device.discovery import attached_serials

            serials = list(attached_serials(adb=adb))
        except ImportError:
            serials = []
        except DeviceError:
            serials = []
        if not serials:
            return [HostRunner()], "no phone attached: benchmarking on this computer (host)"
        reason = f"phone(s) attached: {', '.join(serials)}"
    else:
        reason = "--target device" if target == "device" else \
            "phones chosen by option" if devices or all_devices or connect else "--foreground"
    try:
        from .android import device_runners
    except ImportError:
        raise BenchError("phone benchmarking is not available in this installation",
                         hint="use --target host") from None
    found = device_runners(serials=list(devices) if devices else None, all_devices=all_devices,
                           adb=adb, connect=connect, foreground=foreground)
    if not found:
        raise DeviceError("no phone to benchmark on", hint="attach one (adb devices) or use --target host")
    return list(found), reason


def _request(model_path, model_sha256, delegate, threads, settings: BenchSettings, *, inputs,
             save_outputs) -> protocol.BenchRequest:
    return protocol.BenchRequest(
        run_id="pending",
        model=protocol.ModelRef(path=str(model_path), sha256=model_sha256,
                                size_bytes=Path(model_path).stat().st_size),
        delegate=protocol.DelegateSpec(name=delegate, threads=int(threads)),
        runs=protocol.RunsSpec(warmup_runs=settings.warmup, timed_runs=settings.runs,
                               min_secs=settings.min_secs, max_secs=settings.max_secs,
                               cooldown_secs=settings.cooldown_secs, duration_secs=settings.duration_secs,
                               telemetry_interval_secs=settings.telemetry_interval_secs),
        inputs=inputs, save_outputs=bool(save_outputs))


def run_key(model_sha256: str, runner_kind: str, request: protocol.BenchRequest, input_identity: str,
            launch: str | None = None) -> str:
    """A readable, stable name for one configuration: same model + settings -> same folder.

    A run in front (``launch="activity"``) gets its own folder, so it never resumes from (or
    overwrites) the headless run of the same settings; other keys are as they always were."""
    config = {"model": model_sha256, "runner": runner_kind, "delegate": dataclasses.asdict(request.delegate),
              # version-2 settings left at their defaults do not change the key of older runs
              "runs": {name: value for name, value in dataclasses.asdict(request.runs).items()
                       if value is not None}, "inputs": input_identity,
              "save_outputs": request.save_outputs}
    if launch == "activity":
        config["launch"] = launch
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"{model_sha256[:8]}-{request.delegate.name}-t{request.delegate.threads}-{digest}"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "target"


def _finished(result_path: Path, model_sha256: str) -> protocol.BenchResult | None:
    """The result of a finished run of this model at ``result_path``, read once; else None."""
    if not result_path.exists():
        return None
    try:
        result = protocol.load_result(result_path)
    except ProtocolError:
        return None  # unreadable or truncated: run it again
    return result if result.ok and result.model.sha256 == model_sha256 else None


def _status_word(result: protocol.BenchResult | None, summary: RunSummary, failure: str | None) -> str:
    if failure:
        return f"failed: {failure}"
    if result.ok:
        return f"ok, {len(result.timing.samples_ns)} runs, median {summary.latency_ms_p50:.3f} ms"
    return f"failed at {result.error.stage}: {result.error.message}"


# ---------------------------------------------------------------------------------------------
# analysis, in one place


def _summarize(runner, request: protocol.BenchRequest, key, run_dir, result, resumed, failure,
               output_details, prepared: _Prepared) -> RunSummary:
    base = dict(run_key=key, run_id=request.run_id, target=runner.target, runner_kind=runner.kind,
                delegate=request.delegate.name, threads=request.delegate.threads,
                resumed=resumed, result_path=str(run_dir / "result.json"))
    if result is None:
        return RunSummary(**base, delegate_applied=None, fallback_reason=None, status="failed",
                          error=failure, device=runner.facts(), launch=runner.launch)
    summary = RunSummary(**base, delegate_applied=result.delegate.applied,
                         fallback_reason=result.delegate.fallback_reason, status=result.status,
                         error=None, device=dataclasses.asdict(result.device),
                         thermal=dataclasses.asdict(result.thermal),
                         init_ms=stats.ns_to_ms(result.timing.init_ns),
                         first_inference_ms=stats.ns_to_ms(result.timing.first_inference_ns),
                         peak_rss_bytes=result.memory.peak_rss_bytes, pss_bytes=result.memory.pss_bytes,
                         launch=result.runner.launch, result=result, **summary_fields(result))
    if not result.ok:
        error = result.error
        summary.error = f"{error.stage}: {error.type}: {error.message}"
        return summary
    if not result.timing.samples_ns:
        summary.status, summary.error = "failed", "the result holds no timed samples"
        return summary
    for name, value in stats.latency_summary_ms(result.timing.samples_ns).items():
        setattr(summary, name, value)
    if result.outputs and (prepared.labels is not None or prepared.reference_outputs is not None):
        try:
            outputs = _real_outputs(run_dir, result, output_details, prepared.output_names)
            first = next(iter(outputs.values()))
            if prepared.labels is not None:
                summary.accuracy = _accuracy(first, prepared.labels)
            if prepared.reference_outputs is not None:
                _score_heads(summary, outputs, prepared.reference_outputs)
        except (DataError, ValueError, OSError) as exc:
            summary.status, summary.error = "failed", f"outputs: {exc}"
    return summary


def _real_outputs(run_dir: Path, result, output_details, names=None) -> dict:
    """{output name: real-valued outputs} of every output the run saved, in output order."""
    from ..models.tensors import from_output

    names = list(names or [detail["name"] for detail in output_details])
    outputs = {}
    for number, (saved, detail) in enumerate(zip(result.outputs, output_details)):
        path = (run_dir / saved.file).resolve()
        if run_dir.resolve() not in path.parents:
            raise DataError(f"result names an output outside its run folder: {saved.file}")
        raw = np.load(path, allow_pickle=False)
        outputs[names[number] if number < len(names) else saved.name] = from_output(raw, detail)
    return outputs


def _accuracy(outputs, labels) -> dict:
    from ..analysis.evaluation import accuracy_from_outputs

    return dict(accuracy_from_outputs(outputs, labels))


def _score_heads(summary: RunSummary, outputs: dict, reference_outputs: dict) -> None:
    """Fidelity of every output against the reference's, paired as evaluate pairs them (by name,
    else by shape and order); the first output's also as ``summary.fidelity``."""
    from ..analysis.evaluation import fidelity, pair_outputs

    pairs, pairing = pair_outputs(outputs, reference_outputs)
    heads = []
    for name, reference_name in pairs:
        scores = dict(fidelity(outputs[name], reference_outputs[reference_name]))
        heads.append({"name": name, "reference": reference_name,
                      "shape": [None, *np.shape(outputs[name])[1:]], **scores})
    summary.fidelity = {key: value for key, value in heads[0].items()
                        if key not in ("name", "reference", "shape")}
    if len(heads) > 1:
        summary.fidelity_heads, summary.fidelity_pairing = heads, pairing


# ---------------------------------------------------------------------------------------------
# presentation


def format_table(summary: BenchSummary) -> str:
    """The screen table: one row per run, medians with their 95% bootstrap interval."""
    headers = ["target", "delegate", "thr", "runs", "p50 ms [95% CI]", "p90 ms", "p99 ms",
               "mean±std ms", "init ms", "peak RSS MB", "top-1", "agree"]
    rows = []
    for run in summary.runs:
        delegate = run.delegate if run.delegate_applied in (None, run.delegate) else \
            f"{run.delegate}->{run.delegate_applied}"
        if run.status != "ok":
            rows.append([run.target, delegate, str(run.threads), "-", f"FAILED: {run.error}"[:70],
                         "", "", "", "", "", "", ""])
            continue
        accuracy = (run.accuracy or {}).get("top1")
        agreement = (run.fidelity or {}).get("argmax_agreement")
        rows.append([
            run.target, delegate, str(run.threads), str(run.samples),
            f"{format_ms(run.latency_ms_p50)} [{format_ms(run.latency_ms_p50_ci_low)}, {format_ms(run.latency_ms_p50_ci_high)}]",
            format_ms(run.latency_ms_p90), format_ms(run.latency_ms_p99),
            f"{format_ms(run.latency_ms_mean)}±{format_ms(run.latency_ms_std)}",
            "-" if run.init_ms is None else f"{run.init_ms:.1f}",
            "-" if run.peak_rss_bytes is None else f"{run.peak_rss_bytes / 1e6:.1f}",
            "-" if accuracy is None else f"{accuracy:.4f}",
            "-" if agreement is None else f"{agreement:.4f}",
        ])
    return text_table(*_with_launch(headers, rows, summary.runs))


def _with_launch(headers, rows, runs):
    """The table with a launch column (instrumentation or activity) when phones ran: which
    scheduling the figures saw."""
    if not any(run.launch for run in runs):
        return headers, rows
    at = headers.index("thr") + 1
    return (headers[:at] + ["launch"] + headers[at:],
            [row[:at] + [run.launch or "-"] + row[at:] for row, run in zip(rows, runs)])


def _tool_versions() -> ToolVersions:
    from .._compat import tool_versions

    return tool_versions(include_tf=False)
