"""The report on sustained runs: the latency-over-time figure (checked in headless Chromium), the
throttling figure and the flags in the tables, the Pareto front built from unflagged runs, and
version-1 results beside version-2 ones."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mobilekit.reporting import report
from mobilekit.reporting.pareto import ParetoPoint, pareto_front
from test_report_browser import CHROMIUM, open_in_chromium

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "protocol"
FLAGGED = FIXTURES / "v2" / "results" / "ok_android_sustained_flagged.json"
V1 = [FIXTURES / "results" / "ok_host.json", FIXTURES / "results" / "ok_android_thermal.json"]


def test_report_draws_the_timeline_and_lists_throttling_and_flags(tmp_path):
    record = report([FLAGGED, *V1], tmp_path / "r.html")
    timelines = [name for name in record.images if name.startswith("timeline_")]
    assert len(timelines) == 1  # version-1 results have no telemetry: no timeline, still reported
    assert record.runs == 3 and record.failed_runs == 0
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Latency over time with thermal status, temperature and CPU frequency" in text
    figure = json.loads(FLAGGED.read_text())["throttling"]
    assert f"×{figure['ratio']:.2f}, +10% at {figure['time_to_rise_s']:.1f} s" in text
    assert "thermal status changed during timing (none to moderate)" in text
    with open(report([FLAGGED, *V1], tmp_path / "r.csv").output, newline="") as handle:
        rows = {row["run_id"]: row for row in csv.DictReader(handle)}
    flagged = rows["tiny_cnn-xnnpack-t1-sustained"]
    assert flagged["flags"] == "thermal_status_changed,cpu_frequency_dropped,battery_warmed"
    assert float(flagged["throttling_ratio"]) == figure["ratio"]
    assert all(rows[r]["flags"] == "" and rows[r]["throttling_ratio"] == "" for r in rows if r != flagged["run_id"])


def test_pareto_front_comes_from_unflagged_runs_and_marks_the_others():
    fast_but_hot = ParetoPoint("hot", 1000, 1.0, flagged=True)
    points = [fast_but_hot, ParetoPoint("a", 2000, 2.0), ParetoPoint("b", 3000, 3.0)]
    front = pareto_front(points)
    # without the flag "hot" would dominate both; flagged, it is shown but neither on nor shaping the front
    assert [p.name for p in front] == ["a"] and not fast_but_hot.on_front


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run scripts/setup.sh --test")
def test_the_timeline_figure_loads_in_chromium(tmp_path):
    output = tmp_path / "report.html"
    record = report([FLAGGED], output)
    seen = open_in_chromium(output, tmp_path)
    assert seen["problems"] == []
    timeline = [image for image in seen["images"] if image["alt"].startswith("Latency over time")]
    assert len(timeline) == 1 and len(seen["images"]) == len(record.images)
    assert timeline[0]["complete"] and timeline[0]["width"] >= 800 and timeline[0]["height"] >= 500
