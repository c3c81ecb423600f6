"""Latency over time with the run's telemetry on the same time axis: one PNG per run.

The time axis is the running sum of the timed samples (``results.throttling.sample_times_s``); a
telemetry sample sits at the time of the latency index it was taken at, so a slowdown and the
heat or clock drop behind it line up vertically. Panels appear only for figures the run recorded.
"""
from __future__ import annotations

import numpy as np

from ..results.throttling import STATUS_ORDER, mean_frequency_khz, sample_times_s, timed_samples
from .plots import _figure, _plain, _png


def _telemetry_times(samples: list[dict], ends: np.ndarray) -> np.ndarray:
    indices = np.clip(np.array([s.get("index", 0) for s in samples], dtype=np.int64), 0, ends.size)
    return np.concatenate([[0.0], ends])[indices]


MIN_TIMELINE_S = 2.0


def has_timeline(samples_ns, telemetry) -> bool:
    """A timeline is worth drawing: the timed runs lasted ``MIN_TIMELINE_S`` or more (a short
    burst has no "over time") and telemetry holds a sample between the stage's start and end."""
    samples_ns = list(samples_ns or ())
    return len(samples_ns) >= 2 and sum(samples_ns) >= MIN_TIMELINE_S * 1e9 \
        and len(timed_samples(telemetry)) >= 3


def timeline_png(samples_ns, telemetry, *, title: str = "", throttling: dict | None = None) -> bytes:
    """Latency (a running median over the raw points), thermal status, temperatures and CPU
    frequency against seconds since the first timed run."""
    latencies_ms = np.asarray(list(samples_ns), dtype=np.float64) / 1e6
    ends = sample_times_s(samples_ns)
    samples = timed_samples(telemetry)
    times = _telemetry_times(samples, ends)
    statuses = [s.get("thermal_status") for s in samples]
    battery = [s.get("battery_temp_c") for s in samples]
    zones = sorted({name for s in samples for name in (s.get("zone_temps_c") or {})})
    freqs = [mean_frequency_khz(s) for s in samples]
    panels = ["latency"]
    if any(status is not None for status in statuses):
        panels.append("status")
    if any(t is not None for t in battery) or zones:
        panels.append("temperature")
    if any(f is not None for f in freqs):
        panels.append("frequency")
    figure = _figure(9.0, 1.2 + 1.6 * len(panels))
    axes_list = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    axes = dict(zip(panels, axes_list))

    latency_axes = axes["latency"]
    latency_axes.plot(ends, latencies_ms, ",", color="#9db4d6", alpha=0.6)
    window = max(1, latencies_ms.size // 100)
    if latencies_ms.size >= 3 * window > 3:
        running = np.array([np.median(latencies_ms[max(0, i - window):i + window + 1])
                            for i in range(0, latencies_ms.size, window)])
        latency_axes.plot(ends[::window], running, color="#4c72b0", linewidth=1.4, label="running median")
    if throttling and throttling.get("first_median_ns"):
        base = throttling["first_median_ns"] / 1e6
        latency_axes.axhline(base, color="#55a868", linestyle="--", linewidth=1,
                             label=f"first-window median {base:.3g} ms")
        limit = base * (1 + throttling.get("rise_fraction", 0.1))
        latency_axes.axhline(limit, color="#c44e52", linestyle=":", linewidth=1,
                             label=f"+{throttling.get('rise_fraction', 0.1):.0%}")
        if throttling.get("time_to_rise_s") is not None:
            for each in axes_list:
                each.axvline(throttling["time_to_rise_s"], color="#c44e52", linewidth=0.8, alpha=0.7)
    latency_axes.set_ylabel("latency (ms)")
    top = np.percentile(latencies_ms, 99.5) if latencies_ms.size else 1
    latency_axes.set_ylim(0, top * 1.15 if top > 0 else 1)
    latency_axes.legend(fontsize=7, loc="upper left")

    if "status" in axes:
        known = [(t, STATUS_ORDER.index(s)) for t, s in zip(times, statuses) if s in STATUS_ORDER]
        if known:
            axes["status"].step([t for t, _ in known], [level for _, level in known], where="post",
                                color="#8172b2")
        high = max([level for _, level in known], default=0)
        axes["status"].set_yticks(range(0, max(high, 2) + 1))
        axes["status"].set_yticklabels(STATUS_ORDER[:max(high, 2) + 1], fontsize=7)
        axes["status"].set_ylabel("thermal status")
    if "temperature" in axes:
        temp_axes = axes["temperature"]
        if any(t is not None for t in battery):
            temp_axes.plot(*_present(times, battery), marker=".", color="#dd8452", label="battery")
        for name in zones:
            values = [(s.get("zone_temps_c") or {}).get(name) for s in samples]
            temp_axes.plot(*_present(times, values), linewidth=1, label=_plain(name))
        temp_axes.set_ylabel("°C")
        temp_axes.legend(fontsize=7, loc="upper left")
    if "frequency" in axes:
        axes["frequency"].plot(*_present(times, [f / 1000 if f else None for f in freqs]),
                               marker=".", color="#55a868", drawstyle="steps-post")
        axes["frequency"].set_ylabel("mean CPU MHz")
        axes["frequency"].set_ylim(bottom=0)
    for each in axes_list:
        each.grid(alpha=0.3)
    axes_list[-1].set_xlabel("seconds since the first timed run")
    figure.suptitle(_plain(title or "latency over time"), fontsize=10)
    return _png(figure)


def _present(times: np.ndarray, values: list) -> tuple[list, list]:
    pairs = [(t, v) for t, v in zip(times, values) if v is not None]
    return [t for t, _ in pairs], [v for _, v in pairs]


__all__ = ["timeline_png", "has_timeline"]
