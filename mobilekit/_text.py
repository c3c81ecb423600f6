"""Plain-text pieces every stage prints with: UTC timestamps, aligned tables, millisecond figures,
and terminal-safe lines. Standard library only, because the host runner imports it."""
from __future__ import annotations

import datetime as _dt
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def utc_now_iso(timespec: str = "seconds") -> str:
    """Now in UTC as ISO 8601 with a ``Z`` (``2026-11-22T05:12:00Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def replace_control(text: str, *, keep: str = "", blank: str = "") -> str:
    """``text`` with control characters replaced by ``?`` (those in ``blank`` by a space, those in
    ``keep`` kept): outside text (a phone's properties and output) never drives the terminal."""
    def swap(match):
        char = match.group()
        return char if char in keep else " " if char in blank else "?"

    return _CONTROL.sub(swap, str(text))


def one_line(text: str) -> str:
    """``text`` as one terminal-safe line. Messages quote outside text (file names, a phone's
    output): a line break must not split them, an escape sequence must not rewrite the screen."""
    return replace_control(text, blank="\t\n\r").strip()


def exception_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message folded to one line (its type name when it has none), cut to ``limit``."""
    return (" ".join(str(exc).split()) or type(exc).__name__)[:limit]


def format_ms(value) -> str:
    """Four significant digits: tiny models run in microseconds, big ones in hundreds of ms, and a
    fixed number of decimals would hide one or the other."""
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def text_table(headers, rows, *, rule: bool = True) -> str:
    """Columns aligned with two spaces; a dashed rule under the headers when ``rule``."""
    table = [[str(cell) for cell in headers], *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]

    def render(cells):
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    lines = [render(table[0])]
    if rule:
        lines.append("  ".join("-" * width for width in widths))
    lines += [render(cells) for cells in table[1:]]
    return "\n".join(lines)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m|s)?", re.IGNORECASE)
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}


def parse_duration(text) -> float | None:
    """Seconds in ``10m``, ``90s``, ``1h30m``, ``2.5`` (plain numbers are seconds); None when the
    text is not a duration."""
    text = str(text).strip().lower().replace(" ", "")
    if not text:
        return None
    total, position = 0.0, 0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        position = match.end()
    return total if position == len(text) else None


def format_shape(shape) -> str:
    """``(1, 28, 28, 3)``; free dimensions (None or negative) as ``?``; ``(5,)`` for one."""
    dims = ["?" if d is None or int(d) < 0 else str(int(d)) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
