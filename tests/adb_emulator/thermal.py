"""The emulated phone's thermal model: a SoC that heats while the app runs and cools when idle.

The SoC temperature approaches a hot limit while busy and the ambient when idle (first-order, time
constants in emulated seconds); the CPU frequency steps down as it heats (before the thermal status
moves, as on real phones), the thermal status follows the temperature, the battery follows the SoC
with a lag, and headroom is Android's (1.0 where severe throttling starts).

``time_scale`` runs the model's clock faster than real time (env ``ADB_EMU_THERMAL_TIME_SCALE``),
so a few real seconds of a test are minutes of emulated heat. The state is a pure function of the
busy/idle history, so the runner child (``python -m adb_emulator.thermal STATE REQUEST``) rebuilds
the same model from the state at launch and reads the same figures the emulator later reports.

While running, the child slows each inference by the frequency the model gives: an emulated phone
inference is the real LiteRT invoke plus ``base_ms`` of work at full clock, scaled by
``max_freq / freq`` -- what a throttled CPU does to a compute-bound model.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field

STATUSES = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")
SCALE_ENV = "ADB_EMU_THERMAL_TIME_SCALE"


@dataclass
class ThermalModel:
    time_scale: float = field(default_factory=lambda: float(os.environ.get(SCALE_ENV, "1") or 1))
    ambient_c: float = 31.0
    hot_c: float = 56.0            # where a busy SoC settles
    heat_tau_s: float = 120.0      # emulated seconds
    cool_tau_s: float = 40.0
    battery_share: float = 0.3     # the battery settles at ambient + share * (soc - ambient)
    battery_tau_s: float = 30.0
    # SoC temperatures where the status becomes light, moderate, severe, critical
    status_c: tuple = (40.0, 44.0, 48.0, 52.0)
    # the frequency steps: above each temperature the clock drops one step
    freq_step_c: tuple = (37.0, 40.0, 43.0, 46.0, 49.0)
    freq_steps: tuple = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
    max_freq_khz: int = 2_850_000
    cores: int = 8
    base_ms: float = 2.0           # emulated work per inference at full clock
    soc_c: float = 31.0
    battery_c: float = 31.2
    busy: bool = False
    at: float = field(default_factory=time.monotonic)  # real monotonic time of the state above

    def advance(self, now: float | None = None) -> "ThermalModel":
        now = time.monotonic() if now is None else now
        dt = max(0.0, now - self.at) * self.time_scale
        if dt:
            target, tau = (self.hot_c, self.heat_tau_s) if self.busy else (self.ambient_c, self.cool_tau_s)
            self.soc_c = target + (self.soc_c - target) * math.exp(-dt / tau)
            battery_target = self.ambient_c + 0.2 + self.battery_share * (self.soc_c - self.ambient_c)
            self.battery_c = battery_target + (self.battery_c - battery_target) * math.exp(-dt / self.battery_tau_s)
        self.at = max(self.at, now)
        return self

    def set_busy(self, busy: bool, now: float | None = None) -> None:
        self.advance(now)
        self.busy = busy

    # -- readings --
    @property
    def status_code(self) -> int:
        return sum(self.soc_c >= limit for limit in self.status_c)

    @property
    def status(self) -> str:
        return STATUSES[self.status_code]

    @property
    def headroom(self) -> float:
        return round(max(0.0, (self.soc_c - self.ambient_c) / (self.status_c[2] - self.ambient_c)), 4)

    @property
    def speed(self) -> float:
        return self.freq_steps[sum(self.soc_c >= limit for limit in self.freq_step_c)]

    @property
    def cpu_freq_khz(self) -> list[int]:
        return [int(self.max_freq_khz * self.speed)] * self.cores

    def reading(self, now: float | None = None) -> dict:
        """What the app's probes would read: the telemetry fields."""
        self.advance(now)
        return {"thermal_status": self.status, "headroom": self.headroom,
                "battery_temp_c": round(self.battery_c, 2),
                "zone_temps_c": {"soc": round(self.soc_c, 2), "battery": round(self.battery_c, 2)},
                "cpu_freq_khz": self.cpu_freq_khz}

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ThermalModel":
        data = json.loads(text)
        for key in ("status_c", "freq_step_c", "freq_steps"):
            data[key] = tuple(data[key])
        return cls(**data)


class _PhoneProbe:
    """The app's probes on the emulated phone: the model's sensors, this process's memory."""

    def __init__(self, model: ThermalModel, host_probe):
        self.model, self.host_probe = model, host_probe

    def read(self) -> dict:
        memory = self.host_probe.read()
        return {**self.model.reading(), "rss_bytes": memory["rss_bytes"], "pss_bytes": memory["pss_bytes"]}


class _ThrottledInterpreter:
    """A LiteRT interpreter whose invoke also does the emulated phone's work at the model's clock."""

    def __init__(self, interpreter, model: ThermalModel):
        self._interpreter, self._model = interpreter, model

    def __getattr__(self, name):
        return getattr(self._interpreter, name)

    def invoke(self):
        self._interpreter.invoke()
        model = self._model.advance()
        end = time.perf_counter() + model.base_ms / 1000.0 / model.speed
        # sleep most of it (do not burn the shared cores), spin the last bit for a steady figure
        if end - time.perf_counter() > 0.0004:
            time.sleep(end - time.perf_counter() - 0.0003)
        while time.perf_counter() < end:
            pass


def child_main(state_path: str, request_path: str) -> int:
    """The host runner, run as the emulated phone's app: its sensors and its clock from the model."""
    from mobilekit.benchmark import host_child, telemetry

    with open(state_path, encoding="utf-8") as handle:
        model = ThermalModel.from_json(handle.read())
    make_interpreter = host_child.make_interpreter
    host_child.make_interpreter = lambda **kwargs: _ThrottledInterpreter(make_interpreter(**kwargs), model)
    host_probe = telemetry.HostProbe()
    host_child.HostProbe = lambda *args, **kwargs: _PhoneProbe(model, host_probe)
    return host_child.main([request_path])


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1], sys.argv[2]))
