"""How far a run slowed while it ran, and whether its numbers can be trusted: pure functions over a
result's latency series and telemetry samples.

The time axis of the latency series is the running sum of its samples (the timed loop does
nothing else between runs), so it exists for every result, old or new, and a telemetry sample sits
on it at the time of the latency index it was taken at.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

WINDOW_S = 60.0
RISE_FRACTION = 0.10
FREQ_DROP_FRACTION = 0.15
# A shorter run compares its first and last third, so the two windows never overlap.
_MIN_PARTS = 3
# The rise is read from a running median over this share of a window, so one slow sample (a
# page fault, a context switch) is not called throttling.
_RISE_BLOCK_SHARE = 1 / 12

STATUS_ORDER = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")


def sample_times_s(samples_ns: Iterable[int]) -> np.ndarray:
    """The end time of each timed run, in seconds from the first run's start."""
    return np.cumsum(np.asarray(list(samples_ns), dtype=np.float64)) / 1e9


def throttling(samples_ns: Iterable[int], *, window_s: float = WINDOW_S,
               rise: float = RISE_FRACTION) -> dict | None:
    """The throttling figure of one latency series, or None when it has under two samples.

    ``ratio`` is the median latency of the last window over the first (window = a minute, or a
    third of a run shorter than three minutes); ``time_to_rise_s`` is when a running median first
    rose more than ``rise`` over the first window's median (None: it never did).
    """
    latencies = np.asarray(list(samples_ns), dtype=np.float64)
    if latencies.size < 2:
        return None
    ends = np.cumsum(latencies) / 1e9
    total = float(ends[-1])
    window = min(float(window_s), total / _MIN_PARTS)
    first = latencies[ends <= window] if window > 0 else latencies[:1]
    first = first if first.size else latencies[:1]
    last = latencies[ends >= total - window]
    last = last if last.size else latencies[-1:]
    baseline = float(np.median(first))
    return {"window_s": round(window, 6), "first_median_ns": int(round(baseline)),
            "last_median_ns": int(round(float(np.median(last)))),
            "ratio": round(float(np.median(last)) / baseline, 6) if baseline > 0 else None,
            "rise_fraction": rise,
            "time_to_rise_s": _time_to_rise(latencies, ends, baseline * (1 + rise),
                                            max(window * _RISE_BLOCK_SHARE, 1e-9))}


def _time_to_rise(latencies: np.ndarray, ends: np.ndarray, limit: float, block_s: float) -> float | None:
    starts = ends - latencies / 1e9
    edges = np.searchsorted(starts, np.arange(0.0, float(ends[-1]), block_s), side="left")
    edges = np.unique(np.append(edges, latencies.size))
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi > lo and float(np.median(latencies[lo:hi])) > limit:
            return round(float(starts[lo]), 6)
    return None


def timed_samples(telemetry: Iterable[dict]) -> list[dict]:
    """The telemetry samples taken while the timed runs ran (stage ``run``)."""
    return [sample for sample in telemetry or () if sample.get("stage") == "run"]


def mean_frequency_khz(sample: dict) -> float | None:
    freqs = [f for f in sample.get("cpu_freq_khz") or () if f is not None]
    return sum(freqs) / len(freqs) if freqs else None


def contamination_flags(telemetry: Iterable[dict], *, freq_drop: float = FREQ_DROP_FRACTION,
                        battery_limit_c: float | None = None, gate_met: bool | None = None,
                        gate_reason: str | None = None) -> list[dict]:
    """Why a run's numbers should not be trusted, as ``[{"code", "reason"}]`` (empty: none).

    - ``thermal_status_changed``: the thermal status read during timing was not one value;
    - ``cpu_frequency_dropped``: the mean CPU frequency fell more than ``freq_drop`` below its
      first reading during timing;
    - ``battery_warmed``: the battery passed ``battery_limit_c`` (the cool-down gate's limit);
    - ``cooldown_not_met``: the cool-down gate gave up waiting (``gate_met`` False).
    """
    samples = timed_samples(telemetry)
    flags = []
    statuses = [s["thermal_status"] for s in samples if s.get("thermal_status") is not None]
    changes = [b for a, b in zip(statuses, statuses[1:]) if a != b]
    if changes:
        worst = max(statuses, key=lambda name: STATUS_ORDER.index(name) if name in STATUS_ORDER else -1)
        flags.append({"code": "thermal_status_changed",
                      "reason": f"thermal status changed during timing ({statuses[0]} to {worst})"})
    freqs = [(s, f) for s in samples if (f := mean_frequency_khz(s)) is not None]
    if len(freqs) >= 2 and freqs[0][1] > 0:
        low_sample, low = min(freqs[1:], key=lambda pair: pair[1])
        fell = 1 - low / freqs[0][1]
        if fell > freq_drop:
            flags.append({"code": "cpu_frequency_dropped",
                          "reason": f"mean CPU frequency fell {fell:.0%} during timing "
                                    f"({freqs[0][1] / 1000:.0f} to {low / 1000:.0f} MHz, over the "
                                    f"{freq_drop:.0%} allowed)"})
    if battery_limit_c is not None:
        temps = [s["battery_temp_c"] for s in samples if s.get("battery_temp_c") is not None]
        if temps and max(temps) > battery_limit_c:
            flags.append({"code": "battery_warmed",
                          "reason": f"battery reached {max(temps):.1f} °C during timing, past the "
                                    f"cool-down gate's {battery_limit_c:.1f} °C"})
    if gate_met is False:
        flags.append({"code": "cooldown_not_met",
                      "reason": gate_reason or "the cool-down gate was not met before the run"})
    return flags


def flag_summary(flags: Iterable[dict] | None) -> str:
    """One line naming every flag's reason, or "" for a clean run."""
    return "; ".join(flag["reason"] for flag in flags or ())


def refusal(sides: Iterable[tuple[str, object]]) -> str | None:
    """Why a comparison will not judge, given ``(name, BenchResult)`` pairs; None when every run
    is clean. The text names each flagged run and its reasons."""
    parts = [f"{name}'s run is flagged ({flag_summary(result.flags)})"
             for name, result in sides if getattr(result, "flags", None)]
    return "; ".join(parts) or None


__all__ = ["throttling", "refusal", "contamination_flags", "sample_times_s", "timed_samples", "flag_summary",
           "mean_frequency_khz", "STATUS_ORDER", "WINDOW_S", "RISE_FRACTION", "FREQ_DROP_FRACTION"]
