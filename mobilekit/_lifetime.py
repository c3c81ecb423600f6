"""No child process outlives its command, and SIGTERM ends a command as Ctrl-C does.

Children mobilekit starts (the host runner, a user's data loader) call ``die_with_parent()`` first
thing. On Linux the kernel kills them the moment the parent dies, however it dies (SIGKILL
included): ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. Everywhere, and for the instant before prctl took
effect, a watchdog thread also checks that the parent is still the one that started it and ends the
child when it is not. The parent passes its pid in ``MOBILEKIT_PARENT_PID`` (``child_env()``).

``sigterm_as_interrupt()`` makes SIGTERM (what CI sends to cancel) raise ``Terminated``, a
KeyboardInterrupt, so every cleanup that Ctrl-C runs (runner children killed, partial files
removed, finished results kept) runs for it too; the CLI prints one line and exits 143.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

PARENT_ENV = "MOBILEKIT_PARENT_PID"
_PR_SET_PDEATHSIG = 1
_WATCH_INTERVAL_S = 0.25


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled like Ctrl-C, exit code 143 (128 + 15)."""

    exit_code = 128 + signal.SIGTERM


def kill_group(process) -> None:
    """End a child started with ``start_new_session=True`` and its whole process group, then reap
    it (draining its pipes when it has any, so it cannot block on a full one)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.stdout is not None or process.stderr is not None:
        process.communicate()
    else:
        process.wait()


def child_env(env: dict | None = None) -> dict:
    """``env`` (default: this process's) with this process named as the parent to watch."""
    env = dict(os.environ if env is None else env)
    env[PARENT_ENV] = str(os.getpid())
    return env


def die_with_parent() -> None:
    """Arrange for this process to end when the process that started it ends."""
    expected = os.environ.get(PARENT_ENV)
    parent = int(expected) if expected and expected.isdigit() else os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog below still holds
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(128 + signal.SIGKILL)
    watcher = threading.Thread(target=_watch, args=(parent,), name="mobilekit-parent-watch",
                               daemon=True)
    watcher.start()


def _watch(parent: int) -> None:
    import time

    while True:
        time.sleep(_WATCH_INTERVAL_S)
        if os.getppid() != parent:
            os._exit(128 + signal.SIGKILL)  # no cleanup that could still write a result


def sigterm_as_interrupt() -> None:
    """On the main thread: SIGTERM raises Terminated in it from now on."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _raise(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, _raise)
