"""The bench protocol: request and result records, validated against the JSON Schemas on write and read.

The schemas in ``schemas/`` are the contract with the Android app and the emulated device; these
dataclasses mirror them so Python code gets typed records, and every file crossing a process or
device boundary is checked against the schema both when written and when read.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import write_json_atomic
from ..errors import ProtocolError

SCHEMA_VERSION = 2
# Every version this mobilekit reads. Version 2 adds sustained runs and telemetry (requests:
# runs.duration_secs, runs.telemetry_interval_secs, inputs.shapes; results: telemetry, throttling,
# flags, cooldown), all optional, so a version-1 file reads as a version-2 one with those absent.
READABLE_VERSIONS = (1, 2)
# A request is written at the lowest version that holds it, so an app that reads version 1 still
# runs every request that asks for nothing new.
_REQUEST_V2_RUNS = ("duration_secs", "telemetry_interval_secs")
_RESULT_V2 = ("telemetry", "throttling", "flags", "cooldown")
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi")
ERROR_STAGES = ("request", "load", "init", "inputs", "warmup", "run", "outputs", "write")


# ---------------------------------------------------------------------------------------------
# request


@dataclass
class ModelRef:
    path: str
    sha256: str
    size_bytes: int | None = None


@dataclass
class DelegateSpec:
    name: str = "xnnpack"
    threads: int = 1
    gpu_precision_loss_allowed: bool = False
    nnapi_accelerator: str | None = None
    nnapi_allow_fp16: bool = False


@dataclass
class RunsSpec:
    warmup_runs: int = 5
    timed_runs: int = 50
    min_secs: float = 0.0
    max_secs: float = 150.0
    cooldown_secs: float = 0.0
    duration_secs: float | None = None            # timed runs for this long instead of a count
    telemetry_interval_secs: float | None = None  # None: the runner's default (1 s); 0: off


@dataclass
class InputsSpec:
    kind: str = "random"  # "random" or "npy"
    seed: int | None = 0
    files: list[str] | None = None
    # random only (version 2): one shape per input, for a model with free dimensions
    shapes: list[list[int]] | None = None


@dataclass
class BenchRequest:
    run_id: str
    model: ModelRef
    delegate: DelegateSpec
    runs: RunsSpec
    inputs: InputsSpec
    save_outputs: bool = False
    output_dir: str | None = None
    schema_version: int = 1

    def to_dict(self) -> dict:
        runs = dataclasses.asdict(self.runs)
        for name in _REQUEST_V2_RUNS:
            if runs[name] is None:
                del runs[name]
        shapes = self.inputs.shapes if self.inputs.kind == "random" else None
        version = max(self.schema_version, 2 if shapes or any(name in runs for name in _REQUEST_V2_RUNS) else 1)
        inputs = ({"kind": "random", "seed": self.inputs.seed} if self.inputs.kind == "random"
                  else {"kind": self.inputs.kind, "files": list(self.inputs.files or [])})
        if shapes:
            inputs["shapes"] = [[int(d) for d in shape] for shape in shapes]
        data = {"schema_version": version, "run_id": self.run_id,
                "model": _drop_none(dataclasses.asdict(self.model)),
                "delegate": dataclasses.asdict(self.delegate),
                "runs": runs,
                "inputs": inputs,
                "save_outputs": self.save_outputs}
        if self.output_dir is not None:
            data["output_dir"] = self.output_dir
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "BenchRequest":
        data = dict(data)
        inputs = data["inputs"]
        return cls(
            schema_version=data["schema_version"], run_id=data["run_id"],
            model=ModelRef(**data["model"]), delegate=DelegateSpec(**data["delegate"]),
            runs=RunsSpec(**data["runs"]),
            inputs=InputsSpec(kind=inputs["kind"], seed=inputs.get("seed"), files=inputs.get("files"),
                              shapes=inputs.get("shapes")),
            save_outputs=data["save_outputs"], output_dir=data.get("output_dir"))


# ---------------------------------------------------------------------------------------------
# result


@dataclass
class RunError:
    stage: str
    type: str
    message: str


@dataclass
class RunnerInfo:
    kind: str
    version: str
    runtime: str
    runtime_version: str
    # optional (schema_version 1 results without them stay valid); written only when known
    runtime_artifact: str | None = None   # e.g. "org.tensorflow:tensorflow-lite:2.16.1"
    launch: str | None = None             # phones: "instrumentation" or "activity"


@dataclass
class DeviceFacts:
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    soc: str | None = None
    os: str | None = None
    sdk_level: int | None = None
    abi: str | None = None
    cores: int | None = None


@dataclass
class ModelInfo:
    sha256: str | None = None
    size_bytes: int | None = None


@dataclass
class DelegateApplied:
    requested: str
    applied: str | None
    fallback_reason: str | None
    threads: int


@dataclass
class Timing:
    init_ns: int | None = None
    first_inference_ns: int | None = None
    warmup_ns: list[int] = field(default_factory=list)
    samples_ns: list[int] = field(default_factory=list)


@dataclass
class Memory:
    peak_rss_bytes: int | None = None
    pss_bytes: int | None = None


@dataclass
class ThermalState:
    status: str | None = None
    battery_temp_c: float | None = None


@dataclass
class Thermal:
    start: ThermalState = field(default_factory=ThermalState)
    end: ThermalState = field(default_factory=ThermalState)


@dataclass
class OutputFile:
    file: str
    name: str
    shape: list[int]
    dtype: str


@dataclass
class BenchResult:
    run_id: str
    status: str
    error: RunError | None
    runner: RunnerInfo
    device: DeviceFacts
    model: ModelInfo
    delegate: DelegateApplied
    timing: Timing
    memory: Memory
    thermal: Thermal
    outputs: list[OutputFile]
    started_at: str
    finished_at: str
    schema_version: int = SCHEMA_VERSION
    # version 2: telemetry samples (see benchmark/telemetry.py), the throttling figure and the
    # contamination flags (results/throttling.py), and what the cool-down gate did
    telemetry: list[dict] | None = None
    throttling: dict | None = None
    flags: list[dict] | None = None
    cooldown: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["runner"] = {key: value for key, value in data["runner"].items()
                          if value is not None or key not in ("runtime_artifact", "launch")}
        ordered = {"schema_version": data.pop("schema_version")}
        ordered.update(data)
        if ordered["schema_version"] == 1:  # a version-1 result stays as it was read
            for name in _RESULT_V2:
                if ordered[name] is None:
                    del ordered[name]
        return ordered

    @classmethod
    def from_dict(cls, data: dict) -> "BenchResult":
        error = data.get("error")
        thermal = data["thermal"]
        return cls(
            schema_version=data["schema_version"], run_id=data["run_id"], status=data["status"],
            error=None if error is None else RunError(**error),
            runner=RunnerInfo(**data["runner"]), device=DeviceFacts(**data["device"]),
            model=ModelInfo(**data["model"]), delegate=DelegateApplied(**data["delegate"]),
            timing=Timing(**data["timing"]), memory=Memory(**data["memory"]),
            thermal=Thermal(start=ThermalState(**thermal["start"]), end=ThermalState(**thermal["end"])),
            outputs=[OutputFile(**item) for item in data["outputs"]],
            started_at=data["started_at"], finished_at=data["finished_at"],
            **{name: data.get(name) for name in _RESULT_V2})


# ---------------------------------------------------------------------------------------------
# validation


@functools.lru_cache(maxsize=None)
def _validator(kind: str):
    import jsonschema

    schema = json.loads((SCHEMA_DIR / f"bench_{kind}.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema(kind: str) -> dict:
    """The JSON Schema for ``"request"`` or ``"result"``."""
    return _validator(kind).schema


def validate(kind: str, data: Any, *, where: str = "") -> None:
    """Raise ProtocolError naming the file, the field and the problem when ``data`` breaks the schema."""
    label = where or f"bench {kind}"
    if not isinstance(data, dict):
        raise ProtocolError(f"{label}: a bench {kind} must be a JSON object, got {type(data).__name__}")
    check_schema_version(kind, data, where=label)
    _check_version_fields(kind, data, where=label)
    if kind == "result":
        data = _check_sample_arrays(data, where=label)
    errors = sorted(_validator(kind).iter_errors(data), key=_error_rank)
    if errors:
        raise ProtocolError(f"{label}: {_describe(errors[0])}",
                            hint=f"see mobilekit/results/schemas/bench_{kind}.schema.json")


_SAMPLE_ARRAYS = ("warmup_ns", "samples_ns")
_FAST_CHECK_ABOVE = 64


def _check_sample_arrays(data: dict, *, where: str) -> dict:
    """Check long nanosecond arrays directly and hand the schema validator short stand-ins.

    A run bounded by --min-secs on a fast model keeps hundreds of thousands of samples, and
    jsonschema checks each item through a $ref at a few microseconds apiece. The direct check
    applies the same rule as the schema's ``nanos`` (an integer, not a boolean, >= 0).
    """
    timing = data.get("timing")
    if not isinstance(timing, dict):
        return data
    replaced = None
    for name in _SAMPLE_ARRAYS:
        values = timing.get(name)
        if not isinstance(values, list) or len(values) <= _FAST_CHECK_ABOVE:
            continue
        for index, value in enumerate(values):
            if type(value) is not int or value < 0:
                raise ProtocolError(f"{where}: timing.{name}.{index}: {value!r} is not a whole number "
                                    "of nanoseconds >= 0")
        if replaced is None:
            replaced = dict(timing)
        replaced[name] = values[:1]
    if replaced is None:
        return data
    return {**data, "timing": replaced}


def check_schema_version(kind: str, data: dict, *, where: str) -> None:
    version = data.get("schema_version")
    if version in READABLE_VERSIONS and type(version) is int:
        return
    if "schema_version" not in data:
        raise ProtocolError(f"{where}: no schema_version; this mobilekit reads {kind}s of "
                            f"schema version {SCHEMA_VERSION}")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise ProtocolError(f"{where}: {kind} written by schema version {version}; this mobilekit "
                            f"reads versions up to {SCHEMA_VERSION} — upgrade mobilekit")
    raise ProtocolError(f"{where}: {kind} written by schema version {version!r}; this mobilekit "
                        f"reads version {SCHEMA_VERSION} — regenerate it with this mobilekit")


def _check_version_fields(kind: str, data: dict, *, where: str) -> None:
    """A version-1 file carries no version-2 field (the schema says so too, in words less clear)."""
    if data.get("schema_version") != 1:
        return
    if kind == "result":
        found = [name for name in _RESULT_V2 if name in data]
    else:
        runs = data.get("runs")
        found = [f"runs.{name}" for name in _REQUEST_V2_RUNS if isinstance(runs, dict) and name in runs]
        inputs = data.get("inputs")
        found += ["inputs.shapes"] if isinstance(inputs, dict) and "shapes" in inputs else []
    if found:
        raise ProtocolError(f"{where}: {found[0]} is a schema version 2 field but the {kind} says "
                            "schema_version 1", hint="write schema_version 2")


def _error_rank(error):
    # Report the shallowest problem first: it is the one a person fixes.
    return (len(error.absolute_path), str(error.message))


def _describe(error) -> str:
    location = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - allowed) if isinstance(error.instance, dict) else []
        where = "" if location == "(top level)" else f" in {location}"
        return f"unknown field(s) {', '.join(map(repr, unknown))}{where}"
    if error.validator == "oneOf" and error.context:
        # inputs matched neither form: explain against the form whose "kind" it claims to be.
        branches: dict[int, list] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        claimed = [subs for subs in branches.values()
                   if not any(list(sub.relative_path) == ["kind"] or
                              (sub.validator == "required" and "'kind'" in sub.message) for sub in subs)]
        if not claimed:
            kinds = [option.get("properties", {}).get("kind", {}).get("const")
                     for option in error.schema["oneOf"]]
            got = error.instance.get("kind") if isinstance(error.instance, dict) else error.instance
            return f"{location}.kind: {got!r} is not one of {', '.join(map(repr, kinds))}"
        best = sorted(claimed[0], key=_error_rank)[0]
        if best.validator == "additionalProperties":
            best_location = ".".join(str(part) for part in best.absolute_path) or location
            return _describe(best).replace(" in " + best_location, "") + f" in {best_location}"
        sub_location = ".".join(str(part) for part in best.absolute_path) or location
        return f"{sub_location}: {best.message}"
    return f"{location}: {error.message}"


def _drop_none(data: dict) -> dict:
    return {key: value for key, value in data.items() if value is not None}


# ---------------------------------------------------------------------------------------------
# files


def read_json(path, *, kind: str) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError(f"{path}: bench {kind} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{path}: cannot read bench {kind}: {exc}") from None
    if not text.strip():
        raise ProtocolError(f"{path}: bench {kind} file is empty (was the run interrupted?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # A file cut short fails at its very end, or inside a string that never closes.
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        reason = "truncated" if truncated else "not valid JSON"
        hint = "rerun the benchmark to rewrite it" if kind == "result" else "rewrite the request file"
        raise ProtocolError(f"{path}: bench {kind} is {reason} (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg})", hint=hint) from None


def load_request(path) -> BenchRequest:
    data = read_json(path, kind="request")
    validate("request", data, where=str(path))
    return BenchRequest.from_dict(data)


def load_result(path) -> BenchResult:
    data = read_json(path, kind="result")
    validate("result", data, where=str(path))
    return BenchResult.from_dict(data)


def as_request(request: BenchRequest | dict, *, where: str = "bench request") -> BenchRequest:
    """``request`` as a BenchRequest; a dict (the wire form, as a caller may hold it) is checked first."""
    if isinstance(request, BenchRequest):
        return request
    validate("request", request, where=where)
    return BenchRequest.from_dict(request)


def save_request(request: BenchRequest | dict, path) -> Path:
    data = request.to_dict() if isinstance(request, BenchRequest) else request
    validate("request", data, where=f"{path} (refusing to write)")
    return write_json_atomic(path, data)


def save_result(result: BenchResult | dict, path) -> Path:
    data = result.to_dict() if isinstance(result, BenchResult) else result
    validate("result", data, where=f"{path} (refusing to write)")
    return write_json_atomic(path, data)


def resolve_path(value: str, base_dir) -> Path:
    """Request paths are absolute or relative to the folder holding the request file."""
    path = Path(value)
    return path if path.is_absolute() else Path(base_dir) / path
