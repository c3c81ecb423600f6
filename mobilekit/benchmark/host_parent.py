"""Where a bench request runs: the Runner interface shared by the host and phone runners.

``bench()`` hands each Runner BenchRequests whose paths are absolute on the host; the runner makes
them available where it runs, runs them, leaves ``result.json`` (and ``outputs*.npy``) in
``run_dir`` and gives the result back as a BenchResult, parsed and validated once.
"""
from __future__ import annotations

import abc
import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .._lifetime import child_env, kill_group
from ..errors import BenchError
from ..results import protocol

STDERR_TAIL_CHARS = 1500


class Runner(abc.ABC):
    kind: str = ""
    target: str = ""
    launch: str | None = None   # phones: "instrumentation", or "activity" (bench --foreground)

    def facts(self) -> dict:
        """Device facts for the summary (may be empty before the first run)."""
        return {}

    @abc.abstractmethod
    def run(self, request: protocol.BenchRequest | dict, run_dir: Path, *, timeout_s: float,
            on_status: Callable[[str], None] | None = None) -> Path:
        """Run ``request`` and leave result.json in ``run_dir``; return its path.

        Raises BenchError (or DeviceError) when no result could be had at all.
        """

    def run_result(self, request: protocol.BenchRequest, run_dir: Path, *, timeout_s: float,
                   on_status: Callable[[str], None] | None = None) -> protocol.BenchResult:
        """Run ``request`` like ``run`` and return its result, read and validated once.

        A runner that already holds the checked result (the phone's) returns it without reading
        the file back. ProtocolError when the file the runner left is not a valid result.
        """
        return protocol.load_result(self.run(request, run_dir, timeout_s=timeout_s, on_status=on_status))


class HostRunner(Runner):
    """Runs requests with ``python -m mobilekit.benchmark.host_child`` in a fresh process each time,
    so peak memory, imports and interpreter state of one run never leak into the next."""

    kind = "host"
    target = "host"

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable
        self._facts: dict | None = None

    def facts(self) -> dict:
        if self._facts is None:
            import dataclasses

            from .host_child import host_facts

            self._facts = dataclasses.asdict(host_facts())
        return dict(self._facts)

    def run(self, request: protocol.BenchRequest | dict, run_dir: Path, *, timeout_s: float,
            on_status: Callable[[str], None] | None = None) -> Path:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        request = dataclasses.replace(protocol.as_request(request), output_dir=str(run_dir.resolve()))
        request_path = run_dir / "request.json"
        protocol.save_request(request, request_path)
        result_path = run_dir / "result.json"
        if result_path.is_file() or result_path.is_symlink():
            result_path.unlink()  # a stale result must never pass for this run's
        if on_status:
            on_status(f"host: running {request.run_id}")
        env = child_env()  # the child watches this process and dies with it
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with tempfile.TemporaryFile(mode="w+b") as stderr_file:
            process = subprocess.Popen([self.python, "-m", "mobilekit.benchmark.host_child", str(request_path)],
                                       stdout=subprocess.DEVNULL, stderr=stderr_file, env=env,
                                       start_new_session=True)
            try:
                returncode = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                kill_group(process)
                _remove_partial_files(run_dir)
                raise BenchError(f"host runner for {request.run_id} did not finish within "
                                 f"{timeout_s:g} s{_tail(stderr_file)}",
                                 hint="raise --timeout or lower --runs/--max-secs") from None
            except BaseException:
                kill_group(process)
                _remove_partial_files(run_dir)
                raise
            tail = _tail(stderr_file)
        if not result_path.is_file():
            raise BenchError(f"host runner for {request.run_id} exited with code {returncode} and "
                             f"wrote no result{tail}")
        return result_path



def _remove_partial_files(run_dir: Path) -> None:
    # A runner killed mid-write leaves the temp files of _io.atomic_path (".<name>.<random>.tmp")
    # behind: SIGKILL runs no cleanup. Nothing else in a run folder is named so.
    for partial in run_dir.glob(".*.tmp"):
        try:
            partial.unlink()
        except OSError:
            pass


def _tail(handle) -> str:
    handle.seek(0)
    text = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines()
             if line.strip() and "Created TensorFlow Lite XNNPACK delegate" not in line]
    tail = " | ".join(lines)[-STDERR_TAIL_CHARS:]
    return f"; its stderr ended: {tail}" if tail else ""
