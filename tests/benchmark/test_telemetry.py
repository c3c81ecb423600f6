"""Telemetry sampler, throttling figure, contamination flags and the cool-down gate (pure parts)."""
from __future__ import annotations

import threading

import pytest

from mobilekit.benchmark.cooldown import parse_gate, wait_for_gate
from mobilekit.benchmark.telemetry import HostProbe, TelemetrySampler
from mobilekit.errors import UsageError
from mobilekit.results.throttling import contamination_flags, throttling


def _sysfs(root, *, freqs=(1800000, 1800000), zone_milli=41500, battery_tenths=305):
    for cpu, freq in enumerate(freqs):
        base = root / "sys/devices/system/cpu" / f"cpu{cpu}"
        base.mkdir(parents=True)
        if freq is not None:
            (base / "cpufreq").mkdir()
            (base / "cpufreq/scaling_cur_freq").write_text(f"{freq}\n")
    zone = root / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("soc_therm\n")
    (zone / "temp").write_text(f"{zone_milli}\n")
    battery = root / "sys/class/power_supply/battery"
    battery.mkdir(parents=True)
    (battery / "type").write_text("Battery\n")
    (battery / "temp").write_text(f"{battery_tenths}\n")


def test_host_probe_reads_sysfs_and_keeps_absent_cores_absent(tmp_path):
    _sysfs(tmp_path, freqs=(1800000, None, 900000))
    reading = HostProbe(str(tmp_path)).read()
    assert reading["cpu_freq_khz"] == [1800000, None, 900000]
    assert reading["zone_temps_c"] == {"soc_therm": 41.5}
    assert reading["battery_temp_c"] == 30.5
    assert reading["rss_bytes"] > 0  # this process's /proc/self


def test_host_probe_on_a_machine_without_sensors_records_absent_not_zero(tmp_path):
    reading = HostProbe(str(tmp_path)).read()
    for name in ("cpu_freq_khz", "zone_temps_c", "battery_temp_c", "thermal_status", "headroom"):
        assert reading[name] is None, name


class _Clock:
    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


def test_sampler_tags_samples_with_latency_index_and_stage():
    clock, latencies, readings = _Clock(), [], iter(range(100))
    probe = type("P", (), {"read": lambda self: {"battery_temp_c": float(next(readings))}})()
    sampler = TelemetrySampler(probe, interval_s=3600, index=lambda: len(latencies), clock=clock)
    sampler.start("warmup")
    clock.now = 5_000
    latencies.extend([1, 2, 3])
    sampler.mark("run")
    clock.now = 9_000
    latencies.extend([4, 5])
    samples = sampler.stop()
    assert [(s["t_ns"], s["index"], s["stage"]) for s in samples] == \
        [(0, 0, "warmup"), (5_000, 3, "run"), (9_000, 5, "run")]
    assert samples[1]["battery_temp_c"] == 1.0 and samples[1]["cpu_freq_khz"] is None


def test_sampler_samples_on_its_interval_and_survives_a_failing_probe():
    calls = threading.Event()
    count = {"n": 0}

    class Probe:
        def read(self):
            count["n"] += 1
            if count["n"] >= 4:
                calls.set()
            if count["n"] == 2:
                raise OSError("sensor gone")
            return {"headroom": 0.25}

    sampler = TelemetrySampler(Probe(), interval_s=0.01).start("run")
    assert calls.wait(5)
    samples = sampler.stop()
    assert len(samples) >= 4
    assert samples[1]["headroom"] is None and samples[0]["headroom"] == 0.25
    assert all(a["t_ns"] <= b["t_ns"] for a, b in zip(samples, samples[1:]))


def test_throttling_figure_of_a_series_that_doubles_after_a_minute():
    series = [10_000_000] * 6000 + [20_000_000] * 6000  # 60 s at 10 ms, then 120 s at 20 ms
    figure = throttling(series)
    assert figure["window_s"] == 60.0
    assert figure["ratio"] == 2.0
    assert figure["time_to_rise_s"] == pytest.approx(60.0, abs=5.1)


def test_throttling_figure_of_a_steady_series_and_a_short_one():
    steady = throttling([5_000_000, 5_100_000, 4_900_000] * 400)
    assert steady["ratio"] == pytest.approx(1.0, abs=0.03) and steady["time_to_rise_s"] is None
    short = throttling([1_000_000] * 30 + [3_000_000] * 30)  # 0.12 s run: thirds
    assert short["window_s"] == pytest.approx(0.04) and short["ratio"] == 3.0
    assert throttling([1]) is None


def _run(status_seq=("none",), freqs=(2_000_000,), battery=(30.0,)):
    samples = []
    for i in range(max(len(status_seq), len(freqs), len(battery))):
        samples.append({"stage": "run", "index": i,
                        "thermal_status": status_seq[min(i, len(status_seq) - 1)],
                        "cpu_freq_khz": [freqs[min(i, len(freqs) - 1)]] * 2,
                        "battery_temp_c": battery[min(i, len(battery) - 1)]})
    return samples


def test_flags_name_their_reason():
    assert contamination_flags(_run()) == []
    codes = {f["code"]: f["reason"] for f in contamination_flags(
        _run(("none", "light", "moderate"), (2_000_000, 1_500_000), (30.0, 32.5)),
        battery_limit_c=31.0, gate_met=False)}
    assert "none to moderate" in codes["thermal_status_changed"]
    assert "25%" in codes["cpu_frequency_dropped"]
    assert "32.5 °C" in codes["battery_warmed"]
    assert "cooldown_not_met" in codes
    # a 10% dip is inside the default 15% allowance; warmup samples do not count
    assert contamination_flags(_run(freqs=(2_000_000, 1_800_000))) == []
    assert contamination_flags([dict(s, stage="warmup") for s in _run(("none", "severe"))]) == []


def test_gate_parses_and_refuses_bad_conditions():
    gate = parse_gate("thermal<=none, battery<=start+1,headroom<=0.5")
    assert gate.text == "thermal<=none,battery<=start+1,headroom<=0.5"
    assert gate.battery_limit_c({"battery_temp_c": 30.0}) == 31.0
    for bad, words in (("thermal<=warm", "not a thermal status"), ("fan<=1", "unknown condition"),
                       ("headroom<=start", "battery only"), ("battery<=hot", "takes a number"),
                       ("", "needs conditions"), ("thermal", "cannot read")):
        with pytest.raises(UsageError, match=words):
            parse_gate(bad)


def test_gate_waits_on_fake_time_and_records_readings():
    now = {"t": 0.0}
    temps = iter([34.0, 33.0, 31.8, 31.2])
    lines = []

    def read():
        return {"thermal_status": "none" if now["t"] >= 10 else "light",
                "battery_temp_c": next(temps), "headroom": 0.3}

    def sleep(seconds):
        now["t"] += seconds

    gate = parse_gate("thermal<=none,battery<=start+1", poll_s=5)
    record = wait_for_gate(gate, read, start={"battery_temp_c": 30.5}, say=lines.append,
                           clock=lambda: now["t"], sleep=sleep)
    assert record.met and record.waited_s == 15.0
    assert record.readings["battery_temp_c"] == 31.2
    assert "waiting for thermal<=none (now light)" in lines[0] and "met after 15 s" in lines[-1]


def test_gate_gives_up_at_its_limit_and_refuses_a_figure_the_device_lacks():
    now = {"t": 0.0}
    gate = parse_gate("thermal<=none", limit_s=12, poll_s=5)
    record = wait_for_gate(gate, lambda: {"thermal_status": "severe"}, clock=lambda: now["t"],
                           sleep=lambda s: now.__setitem__("t", now["t"] + s))
    assert not record.met and record.waited_s == 12 and record.unmet == ["thermal<=none (now severe)"]
    with pytest.raises(UsageError, match="does not report its thermal headroom"):
        wait_for_gate(parse_gate("headroom<=0.5"), lambda: {"headroom": None})


# ---- the host runner child, for real ----------------------------------------------------------

def test_host_runner_times_for_a_duration_and_keeps_aligned_telemetry(tmp_path, tiny_tflite_path):
    from test_host_runner import make_request, run

    request = make_request(tmp_path, tiny_tflite_path, schema_version=2,
                           runs={"timed_runs": 5, "max_secs": 0.05, "duration_secs": 0.6,
                                 "telemetry_interval_secs": 0.1})
    completed, result = run(request)
    assert completed.returncode == 0, completed.stderr
    samples = result.timing.samples_ns
    assert len(samples) > 5 and sum(samples) / 1e9 > 0.3  # duration, not count or max_secs, ended it
    telemetry = result.telemetry
    stages = [s["stage"] for s in telemetry]
    assert stages[0] == "load" and {"init", "warmup", "run"} <= set(stages)
    run_samples = [s for s in telemetry if s["stage"] == "run"]
    assert len(run_samples) >= 4  # the boundaries and the interval samples in between
    assert run_samples[0]["index"] == 0 and run_samples[-1]["index"] == len(samples)
    assert [s["index"] for s in run_samples] == sorted(s["index"] for s in run_samples)
    assert all(a["t_ns"] <= b["t_ns"] for a, b in zip(telemetry, telemetry[1:]))
    for sample in telemetry:
        assert sample["rss_bytes"] > 0
        assert sample["headroom"] is None and sample["thermal_status"] is None  # no such thing on Linux
        assert sample["cpu_freq_khz"] is None or all(f is None or f > 0 for f in sample["cpu_freq_khz"])


def test_host_runner_with_sampling_off_writes_no_telemetry(tmp_path, tiny_tflite_path):
    from test_host_runner import make_request, run

    completed, result = run(make_request(tmp_path, tiny_tflite_path, schema_version=2,
                                         runs={"telemetry_interval_secs": 0}))
    assert completed.returncode == 0, completed.stderr
    assert result.telemetry is None and len(result.timing.samples_ns) == 20


# ---- compare and flagged runs -------------------------------------------------------------------

def _flagged_and_clean(tmp_path):
    import json
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "protocol" / "v2" / "results" / "ok_android_sustained_flagged.json"
    flagged = json.loads(fixture.read_text())
    clean = json.loads(fixture.read_text())
    clean["timing"]["samples_ns"] = clean["timing"]["samples_ns"][:1500]  # the cool first half minute
    clean["telemetry"] = [s for s in clean["telemetry"] if s["index"] <= 1500]
    clean["flags"], clean["run_id"] = [], "cool"
    for name, data in (("a", clean), ("b", flagged)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps(data))
    return tmp_path / "a", tmp_path / "b"


def test_compare_will_not_judge_a_flagged_run_unless_allowed(tmp_path):
    from mobilekit.errors import ReportError
    from mobilekit.reporting.comparison import NOT_JUDGED, compare, format_compare

    a, b = _flagged_and_clean(tmp_path)
    record = compare(a, b)
    assert record.verdict == NOT_JUDGED
    reason = record.comparisons[0].reason
    assert "will not judge a flagged run: B's run is flagged (thermal status changed" in reason
    assert "--allow-throttled" in reason and "overall: not judged" in format_compare(record)
    with pytest.raises(ReportError, match="budget median=\\+5%.*will not judge a flagged run"):
        compare(a, b, budgets="median=+5%")
    assert compare(a, b, allow_throttled=True).verdict == "slower"
    assert compare(a, a).verdict != NOT_JUDGED  # clean on both sides: judged as ever
