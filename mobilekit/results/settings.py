"""The one check of benchmark settings: delegates, thread counts, run counts and time limits.

``bench()`` and ``sweep()`` pass what the user gave (a list, or the CLI's comma-separated text)
through ``bench_settings``, and the CLI checks its --delegate/--threads text with the same two
checks (naming the flag), so a bad value is refused the same way, with the
same words, before any model is converted or timed.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from ..errors import UsageError
from .protocol import DELEGATES

MAX_THREADS = 64


@dataclass(frozen=True)
class BenchSettings:
    """Checked settings of one benchmark: every configuration is a (delegate, threads) pair."""

    delegates: tuple[str, ...]
    threads: tuple[int, ...]
    runs: int = 50
    warmup: int = 5
    min_secs: float = 0.0
    max_secs: float = 150.0
    cooldown_secs: float = 0.0
    timeout_s: float | None = None
    seed: int = 0

    @property
    def configurations(self) -> list[tuple[str, int]]:
        return [(name, count) for name in self.delegates for count in self.threads]


def bench_settings(*, delegates=("xnnpack",), threads=(1,), runs=50, warmup=5, min_secs=0.0,
                   max_secs=150.0, cooldown_secs=0.0, timeout_s=None, seed=0) -> BenchSettings:
    """Check and normalise benchmark settings; a UsageError (exit 2) names the first bad one.

    ``delegates`` and ``threads`` may be sequences or comma-separated text ("cpu,xnnpack", "1,2");
    repeats are dropped, order is kept.
    """
    return BenchSettings(delegates=tuple(check_delegates(delegates)), threads=tuple(check_threads(threads)),
                         runs=_whole(runs, "runs", minimum=1, hint="e.g. --runs 50"),
                         warmup=_whole(warmup, "warmup", minimum=0),
                         **_check_times(min_secs, max_secs, cooldown_secs, timeout_s),
                         seed=_seed(seed))


def check_delegates(delegates, *, option: str | None = None) -> list[str]:
    """Delegate names, checked; ``option`` ("--delegate") names the flag they came from."""
    prefix = f"{option}: " if option else ""
    if isinstance(delegates, str):
        delegates = [part.strip() for part in delegates.split(",") if part.strip()]
    delegates = list(dict.fromkeys(delegates))
    if not delegates:
        raise UsageError(f"{prefix}give at least one delegate (cpu, xnnpack, gpu, nnapi)")
    for name in delegates:
        if name not in DELEGATES:
            raise UsageError(f"{prefix}unknown delegate {name!r}: choose from {', '.join(DELEGATES)}")
    return delegates


def check_threads(threads, *, option: str | None = None) -> list[int]:
    """Thread counts, checked; ``option`` ("--threads") names the flag they came from."""
    prefix = f"{option}: " if option else ""
    if isinstance(threads, (numbers.Integral, str)) and not isinstance(threads, bool):
        threads = [threads] if isinstance(threads, numbers.Integral) else threads.split(",")
    counts = []
    for value in threads:
        if isinstance(value, str) and not value.strip():
            continue
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise UsageError(f"{prefix}threads must be whole numbers, got {value!r}")
        try:
            count = int(str(value).strip()) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{prefix}threads must be whole numbers, got {value!r}") from None
        if count < 1:
            # On the command line the flag is the clearer subject; in the API the argument is.
            raise UsageError(f"{option}: {count} is not a thread count; use 1 or more" if option
                             else f"threads must be 1 or more, got {count}", hint="e.g. --threads 1,2")
        if count > MAX_THREADS:
            raise UsageError(f"{prefix}threads must be at most {MAX_THREADS}, got {count}")
        counts.append(count)
    if not counts:
        raise UsageError(f"{prefix}give at least one thread count, e.g. --threads 1")
    return list(dict.fromkeys(counts))


def _whole(value, name: str, *, minimum: int, hint: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise UsageError(f"{name} must be {minimum} or more, got {value}", hint=hint)
    return int(value)


def _check_times(min_secs, max_secs, cooldown_secs, timeout_s) -> dict:
    for name, value in (("min-secs", min_secs), ("max-secs", max_secs), ("cooldown", cooldown_secs),
                        ("timeout", timeout_s)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or value != value):
            raise UsageError(f"{name} must be a number of seconds, got {value!r}")
    if min_secs < 0:
        raise UsageError(f"min-secs must be 0 or more, got {min_secs:g}")
    if max_secs <= 0:
        raise UsageError(f"max-secs must be above 0, got {max_secs:g}")
    if min_secs > max_secs:
        raise UsageError(f"min-secs ({min_secs:g}) is above max-secs ({max_secs:g})")
    if cooldown_secs < 0:
        raise UsageError(f"cooldown must be 0 or more seconds, got {cooldown_secs:g}")
    if timeout_s is not None and timeout_s <= 0:
        raise UsageError(f"timeout must be above 0 seconds, got {timeout_s:g}")
    return {"min_secs": float(min_secs), "max_secs": float(max_secs),
            "cooldown_secs": float(cooldown_secs),
            "timeout_s": None if timeout_s is None else float(timeout_s)}


def _seed(seed) -> int:
    # The request schema wants a seed >= 0; caught here, it is a usage error before any run.
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise UsageError(f"seed must be a whole number 0 or more, got {seed!r}")
    return int(seed)
