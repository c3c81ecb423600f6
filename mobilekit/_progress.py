"""Progress bars for long work: on a terminal they draw, in CI logs and pipes they stay quiet."""
from __future__ import annotations

import contextlib
import os
import sys


def progress_enabled() -> bool:
    if os.environ.get("MOBILEKIT_PROGRESS") == "1":
        return True
    if os.environ.get("MOBILEKIT_PROGRESS") == "0":
        return False
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress(iterable=None, *, length=None, label="", enabled=None):
    """``with progress(items, label="evaluating") as bar: for item in bar: ...``

    A thin wrapper around ``click.progressbar`` writing to stderr, so JSON on stdout stays clean.
    ``bar.update(n)`` works when iterating by hand with ``length``.
    """
    show = progress_enabled() if enabled is None else enabled
    if not show:
        yield _Silent(iterable)
        return
    import click

    with click.progressbar(iterable, length=length, label=label, file=sys.stderr,
                           show_eta=True, show_pos=True) as bar:
        yield bar


class _Silent:
    def __init__(self, iterable):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n_steps, current_item=None):
        pass
