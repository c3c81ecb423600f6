"""Telemetry while timing: thermal zones, CPU frequencies and memory, sampled beside the latency series.

A ``TelemetrySampler`` reads a probe at a fixed interval in a background thread and whenever the
runner marks a stage boundary. Each sample records the index of the latency sample it was taken at
(how many timed runs had finished), so the two series line up without sharing a clock. A figure the
machine does not expose is recorded as ``None`` (absent), never as zero.

The host probe reads Linux's ``/proc`` and ``/sys``; a phone's runner supplies its own probe with
thermal status, headroom and battery temperature. Only the standard library is used: the host
runner child imports this and must stay free of TensorFlow.
"""
from __future__ import annotations

import glob
import os
import re
import threading
import time
from typing import Callable

from ..errors import UsageError

DEFAULT_INTERVAL_S = 1.0
# The fields of one sample, in the order the protocol lists them.
FIELDS = ("t_ns", "index", "stage", "thermal_status", "headroom", "battery_temp_c", "zone_temps_c",
          "cpu_freq_khz", "rss_bytes", "pss_bytes")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


class HostProbe:
    """Readings of this Linux machine. ``root`` moves ``/sys`` (a test tree, an emulated phone's)."""

    def __init__(self, root: str = "/", proc_self: str = "/proc/self"):
        sys_dir = os.path.join(root, "sys")
        cpu_dirs = sorted(glob.glob(os.path.join(sys_dir, "devices/system/cpu/cpu[0-9]*")),
                          key=lambda path: int(re.sub(r"\D", "", os.path.basename(path)) or 0))
        freq_files = [os.path.join(path, "cpufreq/scaling_cur_freq") for path in cpu_dirs]
        # Cores without cpufreq stay in the list (as None) so index i is always cpu i.
        self._freq_files = freq_files if any(os.path.exists(path) for path in freq_files) else []
        self._zones = []
        for zone in sorted(glob.glob(os.path.join(sys_dir, "class/thermal/thermal_zone[0-9]*")),
                           key=lambda path: int(re.sub(r"\D", "", os.path.basename(path)) or 0)):
            name = (_read(os.path.join(zone, "type")) or "").strip() or os.path.basename(zone)
            self._zones.append((name, os.path.join(zone, "temp")))
        batteries = [path for path in sorted(glob.glob(os.path.join(sys_dir, "class/power_supply/*")))
                     if (_read(os.path.join(path, "type")) or "").strip().lower() == "battery"]
        self._battery = os.path.join(batteries[0], "temp") if batteries else None
        self._status = os.path.join(proc_self, "status")
        self._smaps = os.path.join(proc_self, "smaps_rollup")

    def read(self) -> dict:
        zones = {}
        for name, path in self._zones:
            millis = _int(_read(path))
            if millis is not None:
                zones[name] = millis / 1000.0
        freqs = [_int(_read(path)) for path in self._freq_files]
        battery = _int(_read(self._battery)) if self._battery else None
        rss = pss = None
        for line in (_read(self._status) or "").splitlines():
            if line.startswith("VmRSS:"):
                rss = _kilobytes(line)
        for line in (_read(self._smaps) or "").splitlines():
            if line.startswith("Pss:"):
                pss = _kilobytes(line)
                break
        return {"thermal_status": None, "headroom": None,
                # power_supply reports tenths of a degree Celsius
                "battery_temp_c": None if battery is None else battery / 10.0,
                "zone_temps_c": zones or None,
                "cpu_freq_khz": freqs if any(f is not None for f in freqs) else None,
                "rss_bytes": rss, "pss_bytes": pss}


def _kilobytes(line: str) -> int | None:
    parts = line.split()
    return int(parts[1]) * 1024 if len(parts) >= 2 and parts[1].isdigit() else None


class TelemetrySampler:
    """Samples ``probe.read()`` every ``interval_s`` in a daemon thread and at each ``mark``.

    ``index`` returns how many latency samples exist now (``len`` of the runner's list); ``clock``
    is the runner's nanosecond clock, and ``t_ns`` counts from ``start()``. A probe that raises
    gives a sample with every reading absent rather than stopping the run.
    """

    def __init__(self, probe, *, interval_s: float = DEFAULT_INTERVAL_S,
                 index: Callable[[], int] = lambda: 0,
                 clock: Callable[[], int] = time.perf_counter_ns):
        if not interval_s > 0:
            raise UsageError(f"telemetry interval must be above 0 s, got {interval_s}",
                             hint="e.g. --telemetry-interval 1 (or 0 to turn sampling off)")
        self.probe, self.interval_s, self.index, self.clock = probe, float(interval_s), index, clock
        self.samples: list[dict] = []
        self.stage: str | None = None
        self._began = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, stage: str | None = None) -> "TelemetrySampler":
        self._began = self.clock()
        self.mark(stage)
        self._thread = threading.Thread(target=self._loop, name="mobilekit-telemetry", daemon=True)
        self._thread.start()
        return self

    def mark(self, stage: str | None) -> dict:
        """Take a sample now, at a stage boundary; later interval samples carry this stage."""
        self.stage = stage
        return self._sample()

    def stop(self) -> list[dict]:
        """Take a last sample, stop the thread, and return every sample in time order."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._sample()
        return self.samples

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> dict:
        try:
            reading = dict(self.probe.read())
        except Exception:  # a sensor that fails is absent, the run goes on
            reading = {}
        with self._lock:
            began = self._began if self._began is not None else self.clock()
            sample = {"t_ns": self.clock() - began, "index": int(self.index()), "stage": self.stage}
            for name in FIELDS[3:]:
                sample[name] = reading.get(name)
            self.samples.append(sample)
        return sample


__all__ = ["HostProbe", "TelemetrySampler", "DEFAULT_INTERVAL_S", "FIELDS"]
