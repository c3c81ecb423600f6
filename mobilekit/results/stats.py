"""Latency statistics from raw per-run samples, computed in one place (nanoseconds, float64).

The definitions are shared with the Android app's Java core (TEAM.md interface 2) and held equal
by the vectors in ``tests/fixtures/protocol/stats/``: mean, sample std (ddof=1, 0 for one sample),
min, max and percentiles by linear interpolation between closest ranks (numpy's default).
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np

PERCENTILES = (50, 90, 95, 99)
STAT_KEYS = ("mean", "std", "min", "max") + tuple(f"p{p}" for p in PERCENTILES)

# Bootstrap defaults: fixed so the same samples always give the same interval.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
_BOOTSTRAP_CHUNK_VALUES = 1_000_000  # values per index matrix: 8 MB of float64


def _as_sorted(samples_ns: Sequence[int]) -> np.ndarray:
    values = np.asarray(samples_ns, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("statistics need at least one sample")
    if not np.all(np.isfinite(values)):
        raise ValueError("samples must be finite")
    return np.sort(values)


def percentile_sorted(sorted_values: np.ndarray, p: float) -> float:
    """Linear interpolation between closest ranks: h = (n-1)*p/100, x[lo] + (h-lo)*(x[lo+1]-x[lo])."""
    n = sorted_values.size
    h = (n - 1) * (p / 100.0)
    lower = int(math.floor(h))
    if lower >= n - 1:
        return float(sorted_values[n - 1])
    low_value = float(sorted_values[lower])
    return low_value + (h - lower) * (float(sorted_values[lower + 1]) - low_value)


def latency_stats_ns(samples_ns: Sequence[int]) -> dict[str, float]:
    """``{"mean_ns", "std_ns", "min_ns", "max_ns", "p50_ns", "p90_ns", "p95_ns", "p99_ns"}``."""
    values = _as_sorted(samples_ns)
    n = values.size
    # Integer nanoseconds below 2**53 sum exactly in float64, so mean = sum / n is the same
    # number in any language that sums doubles, whatever the summation order.
    mean = math.fsum(values.tolist()) / n
    if n == 1:
        std = 0.0
    else:
        deviations = values - mean
        std = math.sqrt(math.fsum((deviations * deviations).tolist()) / (n - 1))
    stats = {"mean_ns": mean, "std_ns": std, "min_ns": float(values[0]), "max_ns": float(values[-1])}
    for p in PERCENTILES:
        stats[f"p{p}_ns"] = percentile_sorted(values, p)
    return stats


def bootstrap_interval(samples: Sequence, statistic, *, confidence: float = CONFIDENCE,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """The one bootstrap: a seeded percentile interval of ``statistic`` over independent resamples.

    ``samples`` is a sequence of 1-D sample sets, each resampled with replacement on its own;
    ``statistic(*resampled, axis=-1)`` is vectorized over the resamples (``scipy.stats.bootstrap``
    with ``method="percentile"``). Seeded (numpy ``default_rng(seed)``), so the same samples always
    give the same interval. Resamples are drawn in chunks that keep each index matrix near 8 MB
    even for 100k-sample runs. A statistic that is NaN on some resamples (a relative change over a
    zero) is judged on the others.
    """
    from scipy.stats import bootstrap

    arrays = []
    for values in samples:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError("statistics need at least one sample")
        # SciPy wants two observations; every resample of [x, x] is the resample of [x]: x.
        arrays.append(np.repeat(values, 2) if values.size == 1 else values)
    chunk = max(1, min(resamples, _BOOTSTRAP_CHUNK_VALUES // max(a.size for a in arrays)))
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy's DegenerateDataWarning for the NaN case below
        result = bootstrap(tuple(arrays), statistic, n_resamples=resamples, batch=chunk,
                           vectorized=True, paired=False, confidence_level=confidence,
                           method="percentile", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    if np.isnan(low) or np.isnan(high):
        alpha = (1.0 - confidence) / 2.0
        low, high = np.nanpercentile(result.bootstrap_distribution, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def median_ci_ns(samples_ns: Sequence[int], *, confidence: float = CONFIDENCE,
                 resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median (see ``bootstrap_interval``).

    One sample gives (x, x).
    """
    values = np.asarray(samples_ns, dtype=np.float64)
    if values.size == 0:
        raise ValueError("statistics need at least one sample")
    if values.size == 1:
        return float(values[0]), float(values[0])
    return bootstrap_interval([values], np.median, confidence=confidence, resamples=resamples, seed=seed)


def latency_summary_ms(samples_ns: Sequence[int], *, with_ci: bool = True) -> dict[str, float | int]:
    """Summary figures in milliseconds for records and tables: ``latency_ms_p50`` etc.

    Computed from the nanosecond statistics, so the two never disagree beyond the unit change.
    """
    stats = latency_stats_ns(samples_ns)
    summary: dict[str, float | int] = {"samples": len(samples_ns)}
    for key in STAT_KEYS:
        summary[f"latency_ms_{key}"] = stats[f"{key}_ns"] / 1e6
    if with_ci:
        low, high = median_ci_ns(samples_ns)
        summary["latency_ms_p50_ci_low"] = low / 1e6
        summary["latency_ms_p50_ci_high"] = high / 1e6
    return summary


def ns_to_ms(value_ns: float | int | None) -> float | None:
    return None if value_ns is None else value_ns / 1e6
