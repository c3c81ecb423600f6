"""What bench adds around each run for numbers that hold under heat: the cool-down gate before it,
and after it the throttling figure, the contamination flags and the gate's record in its result.

The runner measures and samples; this module judges, on the host, the same way for every runner,
so a phone app that only reports telemetry gets the same flags as the host runner.
"""
from __future__ import annotations

from typing import Callable

from ..results import protocol
from ..results.throttling import contamination_flags, flag_summary, throttling
from .cooldown import Gate, GateRecord, wait_for_gate
from .telemetry import HostProbe

GATE_FIELDS = ("thermal_status", "battery_temp_c", "headroom")


def gate_reader(runner) -> Callable[[], dict]:
    """Read what the gate looks at where ``runner`` runs: a phone over adb, or this computer."""
    from .android import AndroidRunner

    if isinstance(runner, AndroidRunner):
        from ..device.device import Device

        device = Device(runner.transport)

        def read_phone() -> dict:
            thermal = device.thermal()
            # adb shows status and battery; headroom is known only inside the app
            return {"thermal_status": thermal["status"], "battery_temp_c": thermal["battery_temp_c"],
                    "headroom": None}

        return read_phone
    probe = HostProbe()
    return lambda: {name: value for name, value in probe.read().items() if name in GATE_FIELDS}


class CooldownGate:
    """The gate for one bench command: ``start`` readings are taken once per target, before its
    first run, and each later run waits against them."""

    def __init__(self, gate: Gate, *, say: Callable[[str], None] = lambda line: None, **timing):
        self.gate, self.say, self.timing = gate, say, timing
        self._start: dict[str, dict] = {}

    def before_run(self, runner, label: str) -> GateRecord:
        read = gate_reader(runner)
        key = str(getattr(runner, "target", label))
        if key not in self._start:
            self._start[key] = read()
        return wait_for_gate(self.gate, read, start=self._start[key],
                             say=lambda line: self.say(f"{label}: {line}"), **self.timing)

    def battery_limit_c(self, runner, label: str = "") -> float | None:
        start = self._start.get(str(getattr(runner, "target", label)))
        return None if start is None else self.gate.battery_limit_c(start)


def judge(result: protocol.BenchResult, *, record: GateRecord | None = None,
          battery_limit_c: float | None = None) -> protocol.BenchResult:
    """Fill in the result's throttling figure, flags and cool-down record (schema version 2)."""
    result.schema_version = protocol.SCHEMA_VERSION
    result.throttling = throttling(result.timing.samples_ns) if result.ok else None
    result.flags = contamination_flags(
        result.telemetry or [], battery_limit_c=battery_limit_c,
        gate_met=None if record is None else record.met,
        gate_reason=None if record is None or record.met else
        f"the cool-down gate ({record.condition}) was not met after {record.waited_s:.0f} s: "
        f"{', '.join(record.unmet)}")
    result.cooldown = None if record is None else record.to_dict()
    return result


def summary_fields(result: protocol.BenchResult | None) -> dict:
    """The throttling figure and the flags as a run summary shows them."""
    figure = (result.throttling if result is not None else None) or {}
    flags = (result.flags if result is not None else None) or []
    return {"throttling_ratio": figure.get("ratio"), "time_to_rise_s": figure.get("time_to_rise_s"),
            "flags": [flag["code"] for flag in flags], "flag_reasons": flag_summary(flags)}


__all__ = ["CooldownGate", "gate_reader", "judge", "summary_fields"]
