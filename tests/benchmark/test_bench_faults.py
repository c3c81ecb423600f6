"""bench under fire: killed (SIGKILL, SIGTERM) while a runner times, and two bench processes on one
output folder. Real `mobilekit bench` processes, real host runners, real signals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

BENCH_LONG = ["--target", "host", "--runs", "1000000", "--min-secs", "120", "--max-secs", "120",
              "--warmup", "0", "--timeout", "300"]


def _runner_pids(out: Path) -> list[int]:
    """Host runner processes whose request lies under ``out``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"mobilekit.benchmark.host_child" in args \
                and any(str(out).encode() in arg for arg in args):
            found.append(int(entry.name))
    return found


def _start_bench(model, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "mobilekit", "bench", str(model), "-o", str(out),
                             *BENCH_LONG, *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_runner(out, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = _runner_pids(out)
        if pids:
            return pids
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("the host runner never started")


def _wait_until(condition, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_bench_leaves_no_runner_and_no_result(tmp_path, tiny_tflite_path, sig):
    out = tmp_path / "out"
    bench = _start_bench(tiny_tflite_path, out)
    runner_pids = _wait_for_runner(out, bench)
    os.kill(bench.pid, sig)
    stdout, stderr = bench.communicate(timeout=60)
    assert _wait_until(lambda: not _runner_pids(out)), f"runner {runner_pids} outlived bench"
    time.sleep(1.0)  # a runner that survived would write its result about now
    assert not list(out.rglob("result.json"))
    assert not list(out.rglob(".*.tmp"))
    if sig == signal.SIGTERM:
        assert bench.returncode == 143
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("Terminated (SIGTERM); finished results are kept"), stderr
        assert "Traceback" not in stderr


def test_a_second_bench_on_the_same_folder_names_the_first_and_times_nothing(tmp_path,
                                                                             tiny_tflite_path):
    out = tmp_path / "out"
    first = _start_bench(tiny_tflite_path, out)
    try:
        _wait_for_runner(out, first)
        second = subprocess.run([sys.executable, "-m", "mobilekit", "bench", str(tiny_tflite_path),
                                 "-o", str(out), "--target", "host", "--runs", "3"], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert f"pid {first.pid}" in second.stderr and "--wait" in second.stderr
        assert len(_runner_pids(out)) == 1  # only the first one's runner ever timed
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def test_wait_runs_after_the_first_bench_finishes(tmp_path, tiny_tflite_path):
    out = tmp_path / "out"
    common = ["--target", "host", "--runs", "3", "--warmup", "0"]
    first = subprocess.Popen([sys.executable, "-m", "mobilekit", "bench", str(tiny_tflite_path), "-o",
                              str(out), *common, "--min-secs", "3"], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_runner(out, first)
    second = subprocess.run([sys.executable, "-m", "mobilekit", "bench", str(tiny_tflite_path), "-o",
                             str(out), *common, "--threads", "2", "--wait"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode == 0, second.stderr
    assert "in use by pid" in second.stderr  # it said whom it waited for
    assert len(list(out.rglob("result.json"))) == 2
