"""Statistical comparison of two sets of bench results, and budgets that gate CI on the outcome.

A Mann-Whitney U test (SciPy's, normal approximation with tie and continuity correction) says
whether the candidate's latencies are shifted at all; a seeded bootstrap interval on the difference
of medians (``results.stats.bootstrap_interval``) says by how much. Both must agree before a change is called faster or slower.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import BudgetExceeded, ReportError, UsageError
from ..results import stats

FASTER, SLOWER, NO_CHANGE = "faster", "slower", "no detectable change"
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0

# budget metric -> how to read it from a ReportRun, and whether it is a time or a size
_LATENCY_KEYS = {"mean": "mean", "median": "p50", "p50": "p50", "p90": "p90", "p95": "p95",
                 "p99": "p99", "min": "min", "max": "max"}
_OTHER_METRICS = {"init": "time", "first_inference": "time", "peak_rss": "bytes"}
_TIME_UNITS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}  # -> milliseconds
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000 ** 2, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3}
_BUDGET_PATTERN = re.compile(r"^\s*([a-z_0-9]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*([a-z%]+)\s*$", re.IGNORECASE)


@dataclass
class Budget:
    """``p95=+5%``: the candidate's p95 may be at most 5% above the baseline's."""

    text: str
    metric: str
    limit: float
    unit: str  # "%", "ms" or "bytes"


@dataclass
class BudgetCheck:
    budget: str
    configuration: str
    baseline: float | None
    candidate: float | None
    change: float | None  # in the budget's unit
    unit: str  # the budget's unit: "%", "ms" or "bytes"
    metric_unit: str  # the unit of baseline and candidate: "ms" or "bytes"
    passed: bool
    # Latency metrics: bootstrap interval of the change. A budget fails only when the change is
    # both over the limit and real (the interval excludes zero), so noise alone never fails CI.
    change_ci_low: float | None = None
    change_ci_high: float | None = None


@dataclass
class Comparison:
    """One configuration of A against the matching one of B (B is the candidate)."""

    configuration: str
    a_result: str | None
    b_result: str | None
    a_samples: int
    b_samples: int
    a_latency_ms_p50: float
    b_latency_ms_p50: float
    a_latency_ms_mean: float
    b_latency_ms_mean: float
    a_latency_ms_p95: float
    b_latency_ms_p95: float
    median_diff_ms: float
    median_diff_ms_ci_low: float
    median_diff_ms_ci_high: float
    median_change_pct: float
    mann_whitney_u: float
    p_value: float
    verdict: str
    confidence: float  # 1 - p: how sure the rank test is that there is a shift at all
    reason: str = ""  # why the verdict, in one sentence


@dataclass
class CompareRecord:
    a: list[str]
    b: list[str]
    verdict: str
    comparisons: list[Comparison]
    budgets: list[BudgetCheck] = field(default_factory=list)
    budgets_passed: bool = True
    alpha: float = ALPHA
    ci_level: float = 0.95
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED


# ---------------------------------------------------------------------------------------------
# statistics


def mann_whitney_u(a, b) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test, normal approximation with tie and continuity correction.

    Returns (U of ``a``, p-value) from ``scipy.stats.mannwhitneyu(a, b, method="asymptotic",
    use_continuity=True)``. Identical constant samples give p = 1.
    """
    from scipy.stats import mannwhitneyu

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one value")
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return a.size * b.size / 2.0, 1.0  # no variance: no evidence of a shift
    result = mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)
    return float(result.statistic), min(1.0, float(result.pvalue))


def bootstrap_median_diff(a, b, *, confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                          seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """(median(b) - median(a), CI low, CI high) by a seeded percentile bootstrap, each side resampled
    independently."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    low, high = stats.bootstrap_interval(
        [a, b], lambda a_res, b_res, axis: np.median(b_res, axis=axis) - np.median(a_res, axis=axis),
        confidence=confidence, resamples=resamples, seed=seed)
    return float(np.median(b) - np.median(a)), low, high


def compare_samples(a_ns, b_ns, *, alpha: float = ALPHA, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> dict:
    """The statistics of one pair of sample sets, in milliseconds, with the verdict for B vs A."""
    a_ms = np.asarray(a_ns, dtype=np.float64) / 1e6
    b_ms = np.asarray(b_ns, dtype=np.float64) / 1e6
    u_stat, p_value = mann_whitney_u(a_ms, b_ms)
    diff, low, high = bootstrap_median_diff(a_ms, b_ms, confidence=1 - alpha, resamples=resamples,
                                            seed=seed)
    # A shift needs both: the rank test sees one, and the median interval excludes zero.
    if p_value < alpha and (low > 0 or high < 0):
        verdict = SLOWER if diff > 0 else FASTER
        reason = (f"the rank test (p = {p_value:.3g}) and the interval of the median difference "
                  "agree")
    elif p_value < alpha:
        verdict = NO_CHANGE
        reason = (f"the ranks differ (p = {p_value:.3g}) but the interval of the median difference "
                  "includes zero: the distributions differ in shape more than in median")
    else:
        verdict = NO_CHANGE
        reason = f"the rank test finds no shift (p = {p_value:.3g} >= {alpha:g})"
    median_a = float(np.median(a_ms))
    return {"median_diff_ms": diff, "median_diff_ms_ci_low": low, "median_diff_ms_ci_high": high,
            "median_change_pct": 100.0 * diff / median_a if median_a else float("inf"),
            "mann_whitney_u": u_stat, "p_value": p_value, "verdict": verdict,
            "confidence": 1.0 - p_value, "reason": reason}


# ---------------------------------------------------------------------------------------------
# budgets


def parse_budgets(budgets) -> list[Budget]:
    """``"p95=+5%"``, ``["median=+2ms", "peak_rss=+10MiB"]`` or ``{"p95": "+5%"}`` -> Budgets."""
    if budgets is None:
        return []
    if isinstance(budgets, str):
        budgets = [part for part in budgets.split(",") if part.strip()]
    elif isinstance(budgets, dict):
        budgets = [f"{key}={value}" for key, value in budgets.items()]
    parsed = []
    for text in budgets:
        if isinstance(text, Budget):
            parsed.append(text)
            continue
        match = _BUDGET_PATTERN.match(str(text))
        known = ", ".join(list(_LATENCY_KEYS) + list(_OTHER_METRICS))
        if not match:
            raise UsageError(f"budget {text!r} is not METRIC=CHANGE",
                             hint=f"e.g. p95=+5% or median=+2ms; metrics: {known}")
        metric, number, unit = match.group(1).lower(), float(match.group(2)), match.group(3).lower()
        if metric not in _LATENCY_KEYS and metric not in _OTHER_METRICS:
            raise UsageError(f"budget {text!r}: unknown metric {metric!r}", hint=f"use one of {known}")
        kind = "bytes" if metric == "peak_rss" else "time"
        if unit == "%":
            parsed.append(Budget(str(text).strip(), metric, number, "%"))
        elif kind == "time" and unit in _TIME_UNITS:
            parsed.append(Budget(str(text).strip(), metric, number * _TIME_UNITS[unit], "ms"))
        elif kind == "bytes" and unit in _SIZE_UNITS:
            parsed.append(Budget(str(text).strip(), metric, number * _SIZE_UNITS[unit], "bytes"))
        else:
            allowed = "%, " + ", ".join(_SIZE_UNITS if kind == "bytes" else _TIME_UNITS)
            raise UsageError(f"budget {text!r}: unit {unit!r} does not fit {metric}",
                             hint=f"use one of {allowed}")
    return parsed


def _metric_value(run, metric: str) -> float | None:
    if metric in _LATENCY_KEYS:
        return run.latency[f"latency_ms_{_LATENCY_KEYS[metric]}"]
    if metric == "init":
        value = run.result.timing.init_ns
        return None if value is None else value / 1e6
    if metric == "first_inference":
        value = run.result.timing.first_inference_ns
        return None if value is None else value / 1e6
    return run.result.memory.peak_rss_bytes


def check_budget(budget: Budget, a_run, b_run, configuration: str, *, alpha: float = ALPHA,
                 resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> BudgetCheck:
    baseline, candidate = _metric_value(a_run, budget.metric), _metric_value(b_run, budget.metric)
    if baseline is None or candidate is None:
        raise ReportError(f"budget {budget.text}: {budget.metric} was not measured in "
                          f"{'A' if baseline is None else 'B'} ({configuration})",
                          hint="drop that budget or rerun with a runner that measures it")
    change = _change(baseline, candidate, budget.unit)
    low = high = None
    over = change > budget.limit + 1e-12
    if budget.metric in _LATENCY_KEYS:
        low, high = _bootstrap_change(a_run.result.timing.samples_ns, b_run.result.timing.samples_ns,
                                      budget, alpha=alpha, resamples=resamples, seed=seed)
        zero = 0.0
        # Over the limit counts only when the interval of the change excludes "no change".
        over = over and (low > zero if change > zero else high < zero)
    return BudgetCheck(budget=budget.text, configuration=configuration, baseline=baseline,
                       candidate=candidate, change=change, unit=budget.unit,
                       metric_unit="bytes" if budget.metric == "peak_rss" else "ms", passed=not over,
                       change_ci_low=low, change_ci_high=high)


def _change(baseline, candidate, unit):
    if unit == "%":
        if baseline:
            return 100.0 * (candidate - baseline) / baseline
        return 0.0 if candidate == baseline else float("inf")
    return candidate - baseline


def _metric_along(resampled: np.ndarray, metric: str, axis: int) -> np.ndarray:
    key = _LATENCY_KEYS[metric]
    if key == "mean":
        return resampled.mean(axis=axis)
    if key == "min":
        return resampled.min(axis=axis)
    if key == "max":
        return resampled.max(axis=axis)
    # numpy's default "linear" method is the percentile definition of results.stats.
    return np.percentile(resampled, float(key[1:]), axis=axis)


def _bootstrap_change(a_ns, b_ns, budget: Budget, *, alpha, resamples, seed) -> tuple[float, float]:
    a = np.asarray(a_ns, dtype=np.float64) / 1e6
    b = np.asarray(b_ns, dtype=np.float64) / 1e6

    def change(a_res, b_res, axis):
        a_stat, b_stat = _metric_along(a_res, budget.metric, axis), _metric_along(b_res, budget.metric, axis)
        if budget.unit == "%":
            return 100.0 * (b_stat - a_stat) / np.where(a_stat == 0, np.nan, a_stat)
        return b_stat - a_stat

    return stats.bootstrap_interval([a, b], change, confidence=1 - alpha, resamples=resamples, seed=seed)


# ---------------------------------------------------------------------------------------------
# the API


def _pair_runs(a_runs, b_runs) -> list[tuple]:
    """Match configurations of A and B: one run each pairs directly; otherwise by target, delegate
    and threads (and the model name when a side holds several models)."""
    a_ok = [run for run in a_runs if run.ok]
    b_ok = [run for run in b_runs if run.ok]
    if len(a_ok) == 1 and len(b_ok) == 1:
        return [(a_ok[0], b_ok[0])]

    def keyed(runs, with_model):
        table = {}
        for run in runs:
            key = (run.target, run.delegate, run.threads) + ((run.model_name,) if with_model else ())
            table.setdefault(key, run)
        return table

    with_model = any(len({r.model_name for r in side}) > 1 for side in (a_ok, b_ok))
    a_table, b_table = keyed(a_ok, with_model), keyed(b_ok, with_model)
    return [(a_table[key], b_table[key]) for key in a_table if key in b_table]


def _sides(paths, label):
    from .runs import collect_runs

    runs = collect_runs(paths)
    failed = [run for run in runs if not run.ok]
    if failed and len(failed) == len(runs):
        run = failed[0]
        why = run.result.error.message if run.result.error else "no timed samples"
        raise ReportError(f"{label}: every run failed ({run.result.run_id}: {why})",
                          hint="fix the benchmark before comparing")
    return runs


def compare(a, b, *, budgets=None, alpha: float = ALPHA, resamples: int = BOOTSTRAP_RESAMPLES,
            seed: int = BOOTSTRAP_SEED, raise_on_budget: bool = True) -> CompareRecord:
    """Compare bench results ``b`` (candidate) against ``a`` (baseline).

    ``a`` and ``b`` are result files, folders or summaries (a path or a list of them). Raises
    BudgetExceeded (exit code 3), carrying the record as ``.record``, when a budget is exceeded.
    """
    parsed = parse_budgets(budgets)  # a typo in a budget should fail before any work
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    if int(seed) != seed or seed < 0:  # numpy's generator refuses negative seeds with a bare ValueError
        raise UsageError(f"seed must be a whole number 0 or more, got {seed!r}")
    a_runs, b_runs = _sides(a, "A"), _sides(b, "B")
    pairs = _pair_runs(a_runs, b_runs)
    if not pairs:
        describe = lambda runs: ", ".join(sorted({f"{r.target}/{r.delegate}/{r.threads}t"  # noqa: E731
                                                  for r in runs if r.ok})) or "none"
        raise ReportError("A and B share no configuration to compare "
                          f"(A: {describe(a_runs)}; B: {describe(b_runs)})",
                          hint="benchmark both with the same target, delegate and threads")
    comparisons, checks = [], []
    for a_run, b_run in pairs:
        if a_run.config_key[2:] == b_run.config_key[2:] and a_run.model_name != b_run.model_name:
            configuration = f"{a_run.model_name} → {b_run.model_name} | {a_run.target} | " \
                            f"{a_run.delegate} | {a_run.threads}t"
        else:
            configuration = f"{b_run.model_name} | {b_run.target} | {b_run.delegate} | {b_run.threads}t"
        figures = compare_samples(a_run.result.timing.samples_ns, b_run.result.timing.samples_ns,
                                  alpha=alpha, resamples=resamples, seed=seed)
        comparisons.append(Comparison(
            configuration=configuration,
            a_result=None if a_run.path is None else str(a_run.path),
            b_result=None if b_run.path is None else str(b_run.path),
            a_samples=len(a_run.result.timing.samples_ns), b_samples=len(b_run.result.timing.samples_ns),
            a_latency_ms_p50=a_run.latency["latency_ms_p50"], b_latency_ms_p50=b_run.latency["latency_ms_p50"],
            a_latency_ms_mean=a_run.latency["latency_ms_mean"],
            b_latency_ms_mean=b_run.latency["latency_ms_mean"],
            a_latency_ms_p95=a_run.latency["latency_ms_p95"], b_latency_ms_p95=b_run.latency["latency_ms_p95"],
            **figures))
        checks += [check_budget(budget, a_run, b_run, configuration, alpha=alpha, resamples=resamples,
                                 seed=seed) for budget in parsed]
    verdicts = {c.verdict for c in comparisons}
    if verdicts == {FASTER} or verdicts == {SLOWER} or verdicts == {NO_CHANGE}:
        verdict = verdicts.pop()
    elif SLOWER in verdicts and FASTER in verdicts:
        verdict = "mixed"
    else:
        verdict = SLOWER if SLOWER in verdicts else FASTER
    record = CompareRecord(a=_names(a), b=_names(b), verdict=verdict, comparisons=comparisons,
                           budgets=checks, budgets_passed=all(c.passed for c in checks), alpha=alpha,
                           ci_level=1 - alpha, bootstrap_resamples=resamples, seed=seed)
    if raise_on_budget and not record.budgets_passed:
        failed = [c for c in checks if not c.passed]
        first = failed[0]
        error = BudgetExceeded(
            f"budget {first.budget} exceeded ({first.configuration}): "
            f"{_show(first.baseline, first.metric_unit)} → {_show(first.candidate, first.metric_unit)} "
            f"({_show_change(first)})"
            + (f"; {len(failed) - 1} more budget check(s) failed" if len(failed) > 1 else ""))
        error.record = record
        raise error
    return record


def _names(paths) -> list[str]:
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    return [str(p) for p in paths]


def _show(value, unit) -> str:
    if unit == "bytes":
        return f"{value / (1 << 20):.2f} MiB"
    return f"{value:.4g} ms"


def _show_change(check: BudgetCheck) -> str:
    def one(value):
        if check.unit == "%":
            return f"{value:+.1f}%"
        if check.unit == "bytes":
            return f"{value / (1 << 20):+.2f} MiB"
        return f"{value:+.4g} ms"

    text = one(check.change)
    if check.change_ci_low is not None:
        text += f", interval {one(check.change_ci_low)} .. {one(check.change_ci_high)}"
    return text


def format_compare(record: CompareRecord) -> str:
    """A short human summary (the CLI prints this without --json)."""
    lines = []
    for c in record.comparisons:
        verdict = c.verdict if c.verdict == NO_CHANGE else f"{c.verdict} ({c.confidence:.2%} confidence)"
        lines.append(f"{c.configuration}: {verdict} — median {c.a_latency_ms_p50:.4g} → "
                     f"{c.b_latency_ms_p50:.4g} ms ({c.median_change_pct:+.1f}%, "
                     f"{record.ci_level:.0%} interval of the difference {c.median_diff_ms_ci_low:+.4g} .. "
                     f"{c.median_diff_ms_ci_high:+.4g} ms; n = {c.a_samples}/{c.b_samples}): {c.reason}")
    for check in record.budgets:
        lines.append(f"budget {check.budget} [{check.configuration}]: "
                     f"{'ok' if check.passed else 'EXCEEDED'} ({_show(check.baseline, check.metric_unit)} → "
                     f"{_show(check.candidate, check.metric_unit)}, {_show_change(check)})")
    lines.append(f"overall: {record.verdict}")
    return "\n".join(lines)
