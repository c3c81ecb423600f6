"""`sweep()`: every variant of a recipe optimized, converted, evaluated, benchmarked and reported.

Resumable: converted models are keyed by a hash of the variant's options (and the source model),
evaluations by the model's sha256 and the data, bench results by the model's sha256 and the
configuration (bench() itself skips finished runs), so a rerun redoes only what is missing.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ._guard import output_lock, refuse_aliases
from ._io import sha256_file, sha256_path, write_json_atomic
from ._text import format_ms, text_table, utc_now_iso
from .errors import BudgetExceeded, DataError, MobilekitError, ModelError, UsageError
from .records import to_dict
from .reporting.runs import SWEEP_RECORD_KIND
from .results.settings import bench_settings

STAGES = ("optimize", "convert", "evaluate", "bench")


@dataclass
class VariantRecord:
    name: str
    status: str  # "ok", "failed", "interrupted"
    options: dict
    options_hash: str
    source_model: str | None = None
    data: str | None = None  # the evaluation data accuracy was measured on
    error: str | None = None
    model_path: str | None = None  # relative to the sweep folder
    model_sha256: str | None = None
    model_size_bytes: int | None = None
    model_size_gzip_bytes: int | None = None
    accuracy_top1: float | None = None
    # True when the variant's max_accuracy_drop was missed (its files are kept, it is reported,
    # and it is kept off the Pareto front); None without a budget.
    missed_accuracy_budget: bool | None = None
    # Fraction of samples whose top class matches the source Keras model's, and the SNR of the
    # outputs against it: what conversion and optimization cost, apart from the labels.
    agreement_with_source: float | None = None
    snr_db_vs_source: float | None = None
    latency_ms_p50: float | None = None  # at the first configuration (lowest threads)
    # "<target> <delegate> x<threads>" -> median ms, for every configuration that ran
    latency_ms_p50_by_config: dict = field(default_factory=dict)
    evaluation_path: str | None = None
    bench_summary_path: str | None = None
    results: list = field(default_factory=list)  # result.json paths relative to the sweep folder
    stages: dict = field(default_factory=dict)  # stage -> "done", "resumed" or "skipped"
    elapsed_s: float = 0.0


@dataclass
class SweepRecord:
    recipe: str
    source_model: str
    data: str | None
    target: str
    threads: list
    delegates: list
    output_dir: str
    variants: list  # VariantRecord, in recipe order
    report_path: str | None = None
    pareto_front: list = field(default_factory=list)
    # e.g. a quantized variant slower than its float32 twin on the same configuration
    warnings: list = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    record: str = SWEEP_RECORD_KIND

    @property
    def failed_variants(self) -> list:
        return [v for v in self.variants if v.status != "ok"]


def sweep(recipe, *, model=None, data=None, target: str = "host", output_dir=None,
          threads: Sequence[int] = (1,), delegates: Sequence[str] = ("xnnpack",), runs: int = 50,
          warmup: int = 5, min_secs: float = 0.0, variants: Sequence[str] | None = None,
          report: str | None = "report.html", epochs: int | None = None,
          on_stage: Callable[[str, str], None] | None = None,
          on_status: Callable[[str], None] | None = None) -> SweepRecord:
    """Run every variant of ``recipe`` (a recipe path or a loaded Recipe) against ``model``.

    ``data`` is the labelled evaluation set (.npz with x and y, or an image folder) that accuracy is
    measured on; without it the report has no accuracy. A variant that fails is recorded and the
    sweep moves on; finished work is kept. ``on_stage(variant, stage)`` is called before each stage.
    Writes ``sweep.json`` after every variant and, unless ``report`` is None, a report (with the
    Pareto chart) into the output folder.
    """
    say = on_status or (lambda message: None)
    stage_hook = on_stage or (lambda name, stage: None)
    loaded = _load(recipe)
    chosen = _choose(loaded, variants)
    # --model/--data win over the recipe's `model`/`eval` ([defaults] or a variant's own).
    plan = []
    for variant in chosen:
        variant_model = model if model is not None else variant.options.get("model")
        variant_data = data if data is not None else variant.options.get("eval")
        if variant_model is None:
            raise UsageError(f"no model to sweep for variant {variant.name!r}: give --model MODEL.keras "
                             "or model = \"...\" in the recipe's [defaults]")
        variant_model = Path(variant_model).expanduser()
        if not variant_model.exists():
            # A missing file exits 1 as in convert, evaluate and bench; bad option values exit 2.
            raise ModelError(f"model not found: {variant_model}")
        if variant_data is not None and not Path(variant_data).expanduser().exists() \
                and ":" not in str(variant_data):
            raise DataError(f"evaluation data not found: {variant_data}")
        plan.append((variant, variant_model, variant_data))
    if epochs is not None and epochs < 1:
        raise UsageError(f"epochs must be 1 or more, got {epochs}")
    # Refused before any variant is converted; bench() takes the checked values.
    settings = bench_settings(delegates=delegates, threads=threads, runs=runs, warmup=warmup,
                              min_secs=min_secs)
    threads, delegates = list(settings.threads), list(settings.delegates)
    if report is not None:
        from .reporting import report_format

        report_format(report)

    out = Path(output_dir if output_dir is not None else f"sweep-{Path(loaded.path).stem}").expanduser()
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {output_dir or out} is a file; a sweep writes a folder there",
                         hint="give a folder name, e.g. -o sweep_out")
    reads = [("recipe", loaded.path)]
    for variant, variant_model, variant_data in plan:
        reads += [("model", variant_model), ("evaluation data", variant_data)]
        reads += [(f"{what} of variant {variant.name!r}", variant.options.get(key))
                  for key, what in _VARIANT_INPUTS]
    refuse_aliases(reads, [("sweep record", out / "sweep.json"),
                           ("report", None if report is None else out / report)],
                   folders=[("models folder", out / "models"), ("bench folder", out / "bench")])
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out):  # one sweep per folder; held until the record is final
        return _sweep_into(out, loaded, plan, target=target, threads=threads, delegates=delegates,
                           epochs=epochs, runs=runs, warmup=warmup, min_secs=min_secs, report=report,
                           stage_hook=stage_hook, say=say)


_VARIANT_INPUTS = (("train", "train data"), ("val", "validation data"),
                   ("calibration", "calibration data"), ("distill_from", "teacher model"))


def _sweep_into(out, loaded, plan, *, target, threads, delegates, epochs, runs, warmup, min_secs,
                report, stage_hook, say) -> SweepRecord:
    first_model, first_data = plan[0][1], plan[0][2]
    record = SweepRecord(recipe=str(loaded.path), source_model=str(first_model.resolve()),
                         data=None if first_data is None else str(first_data), target=target,
                         threads=threads, delegates=delegates, output_dir=str(out), variants=[],
                         started_at=utc_now_iso())
    hashes: dict = {}  # sources and data hashed once per sweep, however many variants use them

    def content_hash(path) -> str:
        if path not in hashes:
            hashes[path] = _content_hash(path)
        return hashes[path]

    report_runs = []
    from ._progress import progress

    with progress(plan, label="sweep") as bar:
        for variant, model_path, variant_data in bar:
            options = dict(variant.options)
            if epochs is not None and variant.optimizes:
                options["epochs"] = int(epochs)
            entry = VariantRecord(name=variant.name, status="interrupted", options=options,
                                  options_hash=_options_hash(options, content_hash(model_path)),
                                  source_model=str(model_path.resolve()),
                                  data=None if variant_data is None else str(variant_data))
            record.variants.append(entry)
            started = time.perf_counter()
            try:
                bench_summary = _run_variant(
                    variant, options, entry, model_path=model_path, data=variant_data, out=out,
                    target=target, threads=threads, delegates=delegates, runs=runs, warmup=warmup,
                    min_secs=min_secs, content_hash=content_hash, stage_hook=stage_hook, say=say)
                entry.status = "ok"
                if report is not None:
                    report_runs += _report_runs(entry, bench_summary)
            except MobilekitError as exc:
                entry.status, entry.error = "failed", str(exc)
                say(f"{variant.name}: failed: {exc}")
            finally:
                # Written even on KeyboardInterrupt, so what finished is on record for the rerun.
                entry.elapsed_s = round(time.perf_counter() - started, 3)
                record.finished_at = utc_now_iso()
                write_json_atomic(out / "sweep.json", to_dict(record))

    record.warnings = slower_than_float(record.variants)
    for warning in record.warnings:
        say(f"warning: {warning}")
    if report is not None:
        if report_runs:
            from .reporting import render_runs

            written = render_runs(report_runs, out / report,
                                  title=f"mobilekit sweep: {Path(loaded.path).name} on {first_model.name}")
            record.report_path = written.output
            record.pareto_front = written.pareto_front
    record.finished_at = utc_now_iso()
    write_json_atomic(out / "sweep.json", to_dict(record))
    return record


def _run_variant(variant, options, entry: VariantRecord, *, model_path, data, out: Path, target,
                 threads, delegates, runs, warmup, min_secs, content_hash, stage_hook, say):
    """Every stage of one variant, filling ``entry``; returns bench's BenchSummary. Files are read
    only to resume: what a stage did now comes from its return value."""
    slug = _slug(variant.name)
    # Named after the variant (reports and summaries show the file name), kept apart by the hash.
    tflite = out / "models" / entry.options_hash[:12] / f"{slug}.tflite"
    card = tflite.with_suffix(".json")
    # Written only after conversion (and the optimization's read-back check) succeeded: a model and
    # card left by an interrupted or refused run are never taken for finished work.
    finished = tflite.with_suffix(".done")
    if tflite.exists() and card.exists() and finished.exists():
        entry.stages["optimize"] = "resumed" if variant.optimizes else "skipped"
        entry.stages["convert"] = "resumed"
        say(f"{variant.name}: converted model kept ({tflite.name})")
        entry.model_size_bytes = tflite.stat().st_size
        card_record = json.loads(card.read_text(encoding="utf-8"))
        entry.model_size_gzip_bytes = card_record.get("model_size_gzip_bytes")
        entry.missed_accuracy_budget = _missed_budget(card_record.get("accuracy_check"))
    else:
        finished.unlink(missing_ok=True)
        from .conversion.optimized import convert_variant

        if variant.optimizes:
            stage_hook(variant.name, "optimize")
            say(f"{variant.name}: optimizing and converting")
        else:
            entry.stages["optimize"] = "skipped"
            stage_hook(variant.name, "convert")
            say(f"{variant.name}: converting")
        # options carry a --epochs override the recipe's variant does not know about
        try:
            converted = convert_variant(str(model_path), variant, tflite,
                                        epochs=options.get("epochs"), progress=False)
        except BudgetExceeded as exc:
            if getattr(exc, "record", None) is None:
                raise
            # Written and kept: a variant over its accuracy budget is still measured and reported.
            converted = exc.record
            say(f"{variant.name}: {exc}")
        entry.missed_accuracy_budget = _missed_budget(converted.accuracy_check)
        if variant.optimizes:
            entry.stages["optimize"] = "done"
        finished.write_text(entry.options_hash + "\n", encoding="utf-8")
        entry.stages["convert"] = "done"
        entry.model_size_bytes = converted.model_size_bytes
        entry.model_size_gzip_bytes = converted.model_size_gzip_bytes
    entry.model_path = str(tflite.relative_to(out))
    # The converted model's own hash (ConvertResult carries the source's only): names its evaluation.
    entry.model_sha256 = sha256_file(tflite)

    if data is not None:
        # The source model is the reference, so its hash is part of what the evaluation depends on.
        evaluation = out / "evaluations" / (f"{slug}-{entry.model_sha256[:12]}-{content_hash(data)[:12]}"
                                            f"-ref{content_hash(model_path)[:8]}.json")
        scores = _evaluation_kept(evaluation)
        if scores is not None:
            entry.stages["evaluate"] = "resumed"
        else:
            stage_hook(variant.name, "evaluate")
            say(f"{variant.name}: evaluating on {data}")
            from .analysis.evaluation import evaluate

            scores = evaluate(tflite, data, reference=str(model_path), progress=False)
            write_json_atomic(evaluation, to_dict(scores))
            entry.stages["evaluate"] = "done"
        entry.accuracy_top1 = scores.top1
        entry.agreement_with_source = scores.argmax_agreement
        entry.snr_db_vs_source = scores.snr_db
        entry.evaluation_path = str(evaluation.relative_to(out))
    else:
        entry.stages["evaluate"] = "skipped"

    stage_hook(variant.name, "bench")
    from .benchmark.core import bench

    summary = bench(tflite, target=target, threads=threads, delegates=delegates, runs=runs,
                    warmup=warmup, min_secs=min_secs, output_dir=out / "bench" / slug,
                    on_status=lambda message: say(f"{variant.name}: {message}"))
    entry.stages["bench"] = "resumed" if summary.runs and all(r.resumed for r in summary.runs) else "done"
    entry.bench_summary_path = str(Path(summary.summary_path).relative_to(out))
    entry.results = [str(Path(r.result_path).relative_to(out)) for r in summary.runs
                     if Path(r.result_path).exists()]
    first_ok = next((r for r in summary.runs if r.status == "ok"), None)
    entry.latency_ms_p50 = None if first_ok is None else first_ok.latency_ms_p50
    entry.latency_ms_p50_by_config = {_config_label(r): r.latency_ms_p50 for r in summary.runs
                                      if r.status == "ok"}
    return summary


def _evaluation_kept(path: Path):
    """The EvaluateResult a previous sweep wrote at ``path``; None when there is none to trust."""
    if not path.exists():
        return None
    from .analysis.evaluation import EvaluateResult
    from .errors import ProtocolError
    from .records import from_dict

    try:
        return from_dict(EvaluateResult, json.loads(path.read_text(encoding="utf-8")), where=str(path))
    except (OSError, ValueError, TypeError, ProtocolError):
        return None  # unreadable, cut short or of another version: evaluate again


def _config_label(run) -> str:
    return f"{run.target} {run.delegate} x{run.threads}"


def _missed_budget(check) -> bool | None:
    if not check or check.get("met_budget") is None:
        return None
    return not check["met_budget"]


def _report_runs(entry: VariantRecord, summary) -> list:
    """The report's runs of one finished variant, from the BenchSummary bench returned."""
    from .reporting.runs import runs_from_summary

    description = entry.options.get("description")
    return runs_from_summary(summary.runs, model_name=entry.name, accuracy_top1=entry.accuracy_top1,
                             variant=entry.name, over_budget=bool(entry.missed_accuracy_budget),
                             description=description if isinstance(description, str) else None,
                             source=entry.source_model)


# ---------------------------------------------------------------------------------------------
# recipe access


def _load(recipe):
    if hasattr(recipe, "variants") and hasattr(recipe, "path"):
        return recipe
    from .optimization.recipe import load_recipe

    return load_recipe(recipe)


def _choose(recipe, names):
    if not names:
        return list(recipe.variants)
    by_name = {variant.name: variant for variant in recipe.variants}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise UsageError(f"recipe {recipe.path} has no variant {', '.join(map(repr, missing))}; it has "
                         f"{', '.join(by_name)}")
    return [by_name[name] for name in names]


# ---------------------------------------------------------------------------------------------
# keys


def _content_hash(path) -> str:
    """sha256 of a file, of a folder's files (names and contents), or of the text of a spec."""
    path_obj = Path(str(path)).expanduser()
    if path_obj.exists():
        return sha256_path(path_obj)
    return hashlib.sha256(str(path).encode()).hexdigest()


def _options_hash(options: dict, source_sha: str) -> str:
    """Same options on the same model and data files -> the same converted model file."""
    # The model enters by content (source_sha); eval data and the description change no model.
    keyed = {key: value for key, value in options.items() if key not in ("description", "model", "eval")}
    for key in ("train", "val", "calibration", "distill_from"):
        if isinstance(keyed.get(key), str):
            keyed[key] = {"path": keyed[key], "sha256": _content_hash(keyed[key])}
    text = json.dumps({"model": source_sha, "options": keyed}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "variant"




# Quantized variants slower than float32 by more than this fraction are pointed out.


def slower_than_float(variants) -> list[str]:
    """A line per quantized variant whose median latency exceeds its float32 twin's (a variant
    that only converts, without quantization or optimization) on the same configuration:
    integer kernels are not faster on every CPU (MTCNN's int8 nets run about 4x slower on x86)."""
    from .optimization.recipe import STEP_KEYS
    from .reporting.runs import QUANTIZED_MODES, SLOWER_MARGIN, slower_line

    def plain_float(variant):
        return (variant.options.get("quantize", "none") == "none"
                and not any(variant.options.get(key) not in (None, False) for key in STEP_KEYS))

    floats = [v for v in variants if v.status == "ok" and plain_float(v)]
    if not floats:
        return []
    baseline = floats[0]
    lines = []
    for variant in variants:
        mode = variant.options.get("quantize", "none")
        if variant.status != "ok" or mode not in QUANTIZED_MODES:
            continue
        for label, p50 in variant.latency_ms_p50_by_config.items():
            reference = baseline.latency_ms_p50_by_config.get(label)
            if p50 is not None and reference and p50 > reference * (1 + SLOWER_MARGIN):
                lines.append(slower_line(variant.name, mode, p50, baseline.name, reference, label))
                break
    return lines


def format_sweep(record: SweepRecord) -> str:
    """The screen table: one row per variant, a median-latency column per configuration."""
    configs = []
    for v in record.variants:
        configs += [label for label in v.latency_ms_p50_by_config if label not in configs]
    many_targets = len({label.split(" ")[0] for label in configs}) > 1
    config_headers = [f"p50 ms {label if many_targets else label.split(' ', 1)[1]}" for label in configs]
    headers = ["variant", "status", "size KiB", "gzip KiB", "top-1", "agree", *config_headers, "stages"]
    rows = []
    for v in record.variants:
        stages = " ".join(f"{stage}:{state}" for stage, state in v.stages.items() if state != "skipped")
        status = "ok, over accuracy budget" if v.status == "ok" and v.missed_accuracy_budget else v.status
        rows.append([v.name, status if v.status == "ok" else f"{v.status}: {v.error}"[:60],
                     "-" if v.model_size_bytes is None else f"{v.model_size_bytes / 1024:.1f}",
                     "-" if v.model_size_gzip_bytes is None else f"{v.model_size_gzip_bytes / 1024:.1f}",
                     "-" if v.accuracy_top1 is None else f"{v.accuracy_top1 * 100:.2f}%",
                     "-" if v.agreement_with_source is None else f"{v.agreement_with_source * 100:.1f}%",
                     *[format_ms(v.latency_ms_p50_by_config.get(label)) for label in configs],
                     stages])
    return "\n".join([text_table(headers, rows), *(f"warning: {w}" for w in record.warnings)])


__all__ = ["sweep", "SweepRecord", "VariantRecord", "format_sweep", "STAGES"]
