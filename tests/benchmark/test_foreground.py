"""`mobilekit bench --foreground` through the real adb server and the emulated phone with the bundled
APK installed: the phone is woken and unlocked, the request runs in the app's Activity (`am start`),
the host waits for result.json and records which path ran; a run that never ends is stopped."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilekit.benchmark import android
from mobilekit.cli import cli
from mobilekit.device import app as companion

ACTIVITY = f"{companion.APP_PACKAGE}/.BenchActivity"
server_only = pytest.mark.parametrize("via", ["server"], indirect=True)


def bench_cli(via, model, out, *extra):
    args = ["bench", str(model), *via.args, "--runs", "3", "--warmup", "1", "-o", str(out), *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def commands(device, prefix: str) -> list[int]:
    return [index for index, line in enumerate(device.command_log) if line.startswith(prefix)]


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error")]


@server_only
def test_foreground_run_wakes_the_phone_runs_in_the_activity_and_says_so(via, installed, tiny_tflite_path,
                                                                         tmp_path, monkeypatch):
    monkeypatch.setattr(android, "FRONT_STATUS_S", 0.2)   # say "still running" often enough to see it
    installed.faults.run_hang_s = 1.0                     # and a run long enough to say it
    installed.screen_on, installed.locked = False, True  # dark and locked: the Activity would wait
    out = tmp_path / "out"
    result = bench_cli(via, tiny_tflite_path, out, "--foreground", "--timeout", "60")
    assert result.exit_code == 0, result.output
    assert "runs in front" in result.stderr and "still running in front" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    run = summary["runs"][0]
    assert run["status"] == "ok" and run["launch"] == "activity" and run["samples"] >= 3
    stored = json.loads(Path(run["result_path"]).read_text())
    assert stored["runner"]["launch"] == "activity" and stored["run_id"] == run["run_id"]
    # the table says which path ran
    header = next(line for line in result.stdout.splitlines() if line.startswith("target"))
    assert "launch" in header and "activity" in result.stdout

    # woken and unlocked before the Activity starts, with the request that was pushed; no instrumentation
    wake, unlock = commands(installed, "input keyevent KEYCODE_WAKEUP"), commands(installed, "wm dismiss-keyguard")
    start = commands(installed, f"am start -S -W -n {ACTIVITY} --es request ")
    assert len(wake) == len(unlock) == len(start) == 1 and wake[0] < unlock[0] < start[0]
    assert installed.command_log[start[0]].endswith(f"/runs/{run['run_id']}/request.json")
    assert commands(installed, "am instrument") == []
    assert installed.unknown_commands == [] and installed.injections == []

    # the headless run of the same settings is another run, in its own folder: not resumed from this one
    headless = bench_cli(via, tiny_tflite_path, out, "--target", "device", "--json")
    assert headless.exit_code == 0, headless.output
    other = json.loads(headless.stdout)["runs"][0]
    assert not other["resumed"] and other["launch"] == "instrumentation"
    assert other["run_key"] != run["run_key"] and len(commands(installed, "am instrument")) == 1
    # and the run in front is resumed by a rerun with --foreground
    again = bench_cli(via, tiny_tflite_path, out, "--foreground", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["runs"][0]["resumed"] and len(commands(installed, "am start")) == 1


@server_only
@pytest.mark.parametrize("stall", ["run_hang_s", "lock_secure"])
def test_a_run_in_front_that_writes_no_result_is_stopped_at_the_timeout(stall, via, installed, tiny_tflite_path,
                                                                       tmp_path):
    if stall == "run_hang_s":
        installed.faults.run_hang_s = 60.0
    else:
        installed.locked = installed.lock_secure = True   # a PIN lock: nothing over adb opens it
    result = bench_cli(via, tiny_tflite_path, tmp_path / "out", "--foreground", "--timeout", "2")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    assert "wrote no result.json within 2 s; the app was stopped" in errors[0]
    assert "unlocked" in errors[0]                          # the hint names the likely cause
    start, stop = commands(installed, "am start"), commands(installed, f"am force-stop {companion.APP_PACKAGE}")
    assert start and stop and stop[-1] > start[-1]
    assert "run in front stopped" in installed.fault_log     # the force-stop reached the Activity


@server_only
def test_ctrl_c_while_waiting_stops_the_app(via, installed, tiny_tflite_path, tmp_path):
    from mobilekit.benchmark.core import bench

    installed.faults.run_hang_s = 60.0

    def interrupt_on_wait(message):
        if "runs in front" in message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bench(tiny_tflite_path, target="device", adb="server", connect=installed.address, runs=2, warmup=0,
              foreground=True, output_dir=tmp_path / "out", on_status=interrupt_on_wait)
    assert commands(installed, f"am force-stop {companion.APP_PACKAGE}")
    assert "run in front stopped" in installed.fault_log


@server_only
def test_am_start_error_and_an_outdated_result_are_one_line_errors(via, installed, tiny_tflite_path, tmp_path):
    record = installed.packages[companion.APP_PACKAGE]
    activity, record.activity = record.activity, "dev.mobilekit.bench.MainActivity"   # no BenchActivity
    result = bench_cli(via, tiny_tflite_path, tmp_path / "a", "--foreground")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = error_lines(result)
    assert len(errors) == 1 and "`am start` could not start" in errors[0], result.stderr
    assert "does not exist" in errors[0] and "app install --force" in errors[0]

    record.activity = activity
    # an app that runs the request but does not say it ran in front
    installed.faults.result_patch = {"runner": {"kind": "android", "version": "0.0.9", "runtime": "litert",
                                                "runtime_version": "2.16.1"}}
    result = bench_cli(via, tiny_tflite_path, tmp_path / "b", "--foreground")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = error_lines(result)
    assert len(errors) == 1 and "no runner.launch" in errors[0] and "too old" in errors[0], result.stderr


def test_foreground_with_the_host_target_is_a_usage_error(tiny_tflite_path, tmp_path):
    from mobilekit.benchmark.core import bench
    from mobilekit.errors import UsageError

    result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "host", "--foreground",
                                      "-o", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = error_lines(result)
    assert len(errors) == 1 and "--foreground" in errors[0] and "--target host" in errors[0], result.stderr
    assert not (tmp_path / "out").exists()                  # refused before anything ran or was written
    with pytest.raises(UsageError, match="--target host"):
        bench(tiny_tflite_path, target="host", foreground=True, output_dir=tmp_path / "api")


def test_help_says_what_foreground_measures():
    result = CliRunner().invoke(cli, ["bench", "--help"], catch_exceptions=False)
    text = " ".join(result.output.split())
    assert "--foreground" in text and "top-app" in text and "default group" in text
