"""The cool-down gate: ``--cooldown-until thermal<=none,battery<=start+1,headroom<=0.5``.

Before each run the gate reads the device and waits (polling, with a limit and a progress line)
until every condition holds; it records how long it waited and the readings when the run began.
``start`` in a condition is the reading taken before the first run of the command. Android's
thermal headroom is 1.0 where severe throttling begins, so a cool phone has a *small* headroom.

The module is pure: the probe, clock and sleep are passed in, so tests run it on fake time.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import UsageError
from ..results.throttling import STATUS_ORDER

# condition name -> the reading it looks at
FIELDS = {"thermal": "thermal_status", "battery": "battery_temp_c", "headroom": "headroom"}
_OPS = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
        ">": lambda a, b: a > b, "=": lambda a, b: a == b}
_CONDITION = re.compile(r"^\s*(\w+)\s*(<=|>=|<|>|=)\s*(start\s*(?:[+-]\s*[0-9.]+)?|[\w.+-]+)\s*$")
DEFAULT_LIMIT_S = 600.0
DEFAULT_POLL_S = 5.0
EXAMPLE = "thermal<=none,battery<=start+1,headroom<=0.5"


@dataclass(frozen=True)
class Condition:
    name: str          # thermal, battery, headroom
    op: str
    value: float | str | None  # a number, a status name, or None for "start"
    offset: float = 0.0        # for start+X

    @property
    def text(self) -> str:
        if self.value is None:
            target = "start" + (f"{self.offset:+g}" if self.offset else "")
        else:
            target = f"{self.value:g}" if isinstance(self.value, float) else str(self.value)
        return f"{self.name}{self.op}{target}"

    def target(self, start: dict) -> float | str | None:
        if self.value is not None:
            return self.value
        base = start.get(FIELDS[self.name])
        return None if base is None else base + self.offset

    def holds(self, reading: dict, start: dict) -> bool | None:
        """True or False; None when the device does not report this figure."""
        got, want = reading.get(FIELDS[self.name]), self.target(start)
        if got is None or want is None:
            return None
        if self.name == "thermal":
            if got not in STATUS_ORDER:
                return False  # "unknown" is not cool
            got, want = STATUS_ORDER.index(got), STATUS_ORDER.index(want)
        return _OPS[self.op](got, want)


@dataclass(frozen=True)
class Gate:
    conditions: tuple[Condition, ...]
    limit_s: float = DEFAULT_LIMIT_S
    poll_s: float = DEFAULT_POLL_S

    @property
    def text(self) -> str:
        return ",".join(condition.text for condition in self.conditions)

    def battery_limit_c(self, start: dict) -> float | None:
        """The highest battery temperature the gate allows (for the battery_warmed flag)."""
        limits = [c.target(start) for c in self.conditions if c.name == "battery" and c.op in ("<=", "<")]
        limits = [limit for limit in limits if limit is not None]
        return min(limits) if limits else None

    def unmet(self, reading: dict, start: dict) -> list[str]:
        """Conditions that do not hold now, with the reading, e.g. ``thermal<=none (now moderate)``."""
        out = []
        for condition in self.conditions:
            held = condition.holds(reading, start)
            if held is None:
                raise UsageError(f"--cooldown-until {condition.text}: this device does not report "
                                 f"its {_describe(condition.name)}",
                                 hint="drop that condition, or use --cooldown SECONDS for a fixed wait")
            if not held:
                out.append(f"{condition.text} (now {_show(reading.get(FIELDS[condition.name]))})")
        return out


def _describe(name: str) -> str:
    return {"thermal": "thermal status", "battery": "battery temperature",
            "headroom": "thermal headroom (Android 11+)"}[name]


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_gate(text: str, *, limit_s: float = DEFAULT_LIMIT_S, poll_s: float = DEFAULT_POLL_S) -> Gate:
    """Parse ``thermal<=none,battery<=start+1,headroom<=0.5``; UsageError naming the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("--cooldown-until needs conditions", hint=f"e.g. --cooldown-until {EXAMPLE}")
    if not limit_s > 0:
        raise UsageError(f"--cooldown-limit must be above 0 seconds, got {limit_s}")
    conditions = []
    for part in text.split(","):
        match = _CONDITION.match(part)
        if not match:
            raise UsageError(f"--cooldown-until: cannot read {part.strip()!r}",
                             hint=f"write NAME OP VALUE, e.g. {EXAMPLE}")
        name, op, raw = match.group(1).lower(), match.group(2), match.group(3).replace(" ", "")
        if name not in FIELDS:
            raise UsageError(f"--cooldown-until: unknown condition {name!r}",
                             hint=f"use one of {', '.join(FIELDS)}")
        if name == "thermal":
            if raw.lower() not in STATUS_ORDER:
                raise UsageError(f"--cooldown-until: {raw!r} is not a thermal status",
                                 hint=f"use one of {', '.join(STATUS_ORDER)}")
            conditions.append(Condition(name, op, raw.lower()))
            continue
        if raw.startswith("start"):
            if name != "battery":
                raise UsageError(f"--cooldown-until: 'start' works with battery only, not {name}")
            offset = raw[len("start"):]
            conditions.append(Condition(name, op, None, float(offset) if offset else 0.0))
            continue
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"--cooldown-until: {name} takes a number, got {raw!r}",
                             hint=f"e.g. {EXAMPLE}") from None
        conditions.append(Condition(name, op, value))
    return Gate(tuple(conditions), float(limit_s), float(poll_s))


@dataclass
class GateRecord:
    """What the gate did before one run; goes into the result's ``cooldown`` block."""
    condition: str
    waited_s: float
    met: bool
    readings: dict = field(default_factory=dict)   # at the run's start
    start: dict = field(default_factory=dict)      # the first run's readings ("start")
    unmet: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"condition": self.condition, "waited_s": round(self.waited_s, 3), "met": self.met,
                "readings": self.readings, "unmet": self.unmet}


def wait_for_gate(gate: Gate, read: Callable[[], dict], *, start: dict | None = None,
                  say: Callable[[str], None] = lambda line: None,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> GateRecord:
    """Poll ``read()`` until the gate holds or ``gate.limit_s`` passes; never raises on time-out
    (the run goes ahead and carries a ``cooldown_not_met`` flag)."""
    began = clock()
    reading = read()
    start = dict(reading) if start is None else start
    while True:
        unmet = gate.unmet(reading, start)
        waited = clock() - began
        if not unmet:
            if waited > 0:
                say(f"cool-down: {gate.text} met after {waited:.0f} s")
            return GateRecord(gate.text, waited, True, reading, start, [])
        if waited >= gate.limit_s:
            say(f"cool-down: gave up after {waited:.0f} s: {', '.join(unmet)}; running anyway, "
                "the run is flagged")
            return GateRecord(gate.text, waited, False, reading, start, unmet)
        say(f"cool-down: waiting for {', '.join(unmet)} ({waited:.0f}/{gate.limit_s:.0f} s)")
        sleep(min(gate.poll_s, max(gate.limit_s - waited, 0.0)))
        reading = read()


__all__ = ["Gate", "Condition", "GateRecord", "parse_gate", "wait_for_gate", "EXAMPLE",
           "DEFAULT_LIMIT_S", "DEFAULT_POLL_S"]
