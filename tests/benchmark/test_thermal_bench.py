"""Sustained, thermal-aware benchmarking end to end on the emulated phone with its thermal model,
through the real adb server: `bench --duration --cooldown-until`, the aligned telemetry, the
throttling figure against the emulated slowdown, the flags, and `compare` refusing a flagged run.

The model's clock runs 20x real time, so 6 real seconds of timing are 2 emulated minutes.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from adb_emulator.fixtures import Via
from adb_emulator.thermal import ThermalModel
from mobilekit.cli import cli
from mobilekit.results import protocol
from mobilekit.results.throttling import throttling

TIME_SCALE = 20.0


@pytest.fixture
def hot_phone(emulator, adb_server, companion_apk, monkeypatch):
    monkeypatch.setenv("MOBILEKIT_APK", str(companion_apk))
    monkeypatch.setenv("MOBILEKIT_ADB_AUTH_TIMEOUT_S", "3")
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    emulator.thermal_model = ThermalModel(time_scale=TIME_SCALE)
    yield Via("server", emulator, adb_server)
    adb_server.run("disconnect", emulator.address, timeout=10)


def bench(via, model, out, *extra):
    return CliRunner().invoke(cli, ["bench", str(model), "--device", via.device.address, *via.args,
                                    "--warmup", "2", "-o", str(out), "--json", *extra],
                              catch_exceptions=False)


def only_run(outcome) -> tuple[dict, protocol.BenchResult]:
    assert outcome.exit_code == 0, outcome.output
    run = json.loads(outcome.stdout)["runs"][0]
    return run, protocol.load_result(run["result_path"])


def emulated_slowdown(result: protocol.BenchResult, *, early: bool) -> dict:
    """The throttling figure of the latency series the model's clock predicts: each run at the
    frequency the telemetry reported around it. A clock step falls somewhere between the sample
    that last saw the old frequency and the first that saw the new one: ``early`` puts it just
    after the former, otherwise at the latter, so the two bound the truth."""
    samples = [s for s in result.telemetry if s["stage"] == "run"]
    top = max(max(s["cpu_freq_khz"]) for s in samples)
    speeds = np.ones(len(result.timing.samples_ns))
    for before, sample in zip([samples[0]] + samples, samples):
        speeds[(before if early else sample)["index"]:] = max(sample["cpu_freq_khz"]) / top
    base = float(np.median(result.timing.samples_ns[:20]))
    return throttling((base / speeds).astype(np.int64).tolist())


def test_sustained_run_on_a_heating_phone_is_flagged_and_compare_will_not_judge_it(
        hot_phone, tiny_tflite_path, tmp_path):
    cool_run, cool = only_run(bench(hot_phone, tiny_tflite_path, tmp_path / "cool", "--runs", "100"))
    assert cool_run["flags"] == [] and cool.flags == []
    assert cool.schema_version == 2 and cool.telemetry

    outcome = bench(hot_phone, tiny_tflite_path, tmp_path / "hot", "--duration", "6s",
                    "--cooldown-until", "thermal<=none", "--telemetry-interval", "0.1")
    run, hot = only_run(outcome)
    # the whole series for the duration, with the telemetry lined up on it
    assert sum(hot.timing.samples_ns) / 1e9 >= 5.5
    timed = [s for s in hot.telemetry if s["stage"] == "run"]
    assert timed[0]["index"] == 0 and timed[-1]["index"] == len(hot.timing.samples_ns)
    assert len(timed) >= 20 and all(a["index"] <= b["index"] for a, b in zip(timed, timed[1:]))
    assert {s["thermal_status"] for s in timed} >= {"none", "moderate"}
    assert timed[-1]["battery_temp_c"] > timed[0]["battery_temp_c"]
    assert timed[-1]["headroom"] > timed[0]["headroom"]
    # the throttling figure is the emulated slowdown
    bounds = [emulated_slowdown(hot, early=early) for early in (True, False)]
    assert hot.throttling["ratio"] > 1.3
    ratios = sorted(bound["ratio"] for bound in bounds)
    assert ratios[0] * 0.95 <= hot.throttling["ratio"] <= ratios[1] * 1.05, (hot.throttling, bounds)
    rises = sorted(bound["time_to_rise_s"] for bound in bounds)
    assert rises[0] - 0.3 <= hot.throttling["time_to_rise_s"] <= rises[1] + 0.3, (hot.throttling, bounds)
    assert run["throttling_ratio"] == hot.throttling["ratio"]
    # flagged, with the reasons, in the result and the summary
    codes = {flag["code"] for flag in hot.flags}
    assert {"thermal_status_changed", "cpu_frequency_dropped"} <= codes
    assert run["flags"] == [flag["code"] for flag in hot.flags] and "thermal status changed during timing (none to " in run["flag_reasons"]
    # the gate held at the start (the phone was cool) and recorded its readings
    assert hot.cooldown["met"] and hot.cooldown["readings"]["thermal_status"] == "none"

    refused = CliRunner().invoke(cli, ["compare", str(tmp_path / "cool"), str(tmp_path / "hot")])
    assert refused.exit_code == 0, refused.output
    assert "will not judge" in refused.output and "B's run is flagged" in refused.output
    assert "overall: not judged" in refused.output
    budget = CliRunner().invoke(cli, ["compare", str(tmp_path / "cool"), str(tmp_path / "hot"),
                                      "--budget", "median=+5%"])
    assert budget.exit_code == 1 and "will not judge a flagged run" in budget.output
    assert len(budget.output.strip().splitlines()) == 1
    judged = CliRunner().invoke(cli, ["compare", str(tmp_path / "cool"), str(tmp_path / "hot"),
                                      "--allow-throttled", "--json"])
    assert judged.exit_code == 0, judged.output
    assert json.loads(judged.stdout)["verdict"] == "slower"


def test_the_gate_waits_for_a_hot_phone_to_cool_and_gives_up_at_its_limit(hot_phone, tiny_tflite_path,
                                                                          tmp_path):
    model = hot_phone.device.thermal_model
    model.soc_c, model.battery_c = 47.0, 34.0  # just off a long run: moderate
    gave_up = bench(hot_phone, tiny_tflite_path, tmp_path / "impatient", "--runs", "20",
                    "--cooldown-until", "thermal<=none", "--cooldown-limit", "0.2")
    run, result = only_run(gave_up)
    assert not result.cooldown["met"] and result.cooldown["readings"]["thermal_status"] != "none"
    assert "cooldown_not_met" in run["flags"]
    assert "gave up" in gave_up.stderr

    model.soc_c = 47.0
    waited = bench(hot_phone, tiny_tflite_path, tmp_path / "patient", "--runs", "20",
                   "--cooldown-until", "thermal<=none,battery<=40", "--cooldown-limit", "60")
    run, result = only_run(waited)
    assert result.cooldown["met"] and result.cooldown["waited_s"] > 0
    assert result.cooldown["readings"]["thermal_status"] == "none"
    assert "waiting for thermal<=none (now " in waited.stderr
    assert "cooldown_not_met" not in run["flags"]


def test_the_gate_refuses_a_figure_the_host_does_not_report(tiny_tflite_path, tmp_path):
    outcome = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "host", "--runs", "5",
                                       "-o", str(tmp_path / "out"), "--cooldown-until", "thermal<=none"])
    assert outcome.exit_code == 2
    error = outcome.output.strip().splitlines()[-1]
    assert error.startswith("Error: --cooldown-until thermal<=none: this device does not report its "
                            "thermal status") and "Traceback" not in outcome.output
    assert not (tmp_path / "out" / "runs").exists() or not list((tmp_path / "out" / "runs").rglob("result.json"))
