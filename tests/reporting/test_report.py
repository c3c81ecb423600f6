"""`report`: HTML/Markdown/CSV from real bench result files, escaping, Pareto front, bad inputs."""
from __future__ import annotations

import base64
import copy
import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli
from mobilekit.errors import ProtocolError, ReportError, UsageError
from mobilekit.reporting import render_runs, report
from mobilekit.reporting.pareto import ParetoPoint, pareto_front
from mobilekit.reporting.runs import collect_runs
from conftest import PROTOCOL_FIXTURES  # noqa: E402

FIXTURE_RESULTS = PROTOCOL_FIXTURES / "results"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _result_files(tree: Path) -> list[Path]:
    return sorted(tree.rglob("result.json"))


def _fixture_result(name="ok_host.json") -> dict:
    return json.loads((FIXTURE_RESULTS / name).read_text())


def write_result(folder: Path, data: dict, model_name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "result.json"
    path.write_text(json.dumps(data))
    if model_name is not None:
        (folder / "request.json").write_text(json.dumps({"model": {"path": f"/models/{model_name}.tflite"}}))
    return path


# ---------------------------------------------------------------------------------------------
# the formats, from real results


def test_html_report_is_one_self_contained_file(tmp_path, result_tree):
    output = tmp_path / "out" / "report.html"
    record = report([result_tree], output)
    assert record.format == "html" and record.runs == 3 and record.failed_runs == 0
    assert record.models == ["tiny_dynamic", "tiny_fp32"]
    text = output.read_text(encoding="utf-8")
    # every plot embedded as a decodable PNG; nothing refers outside the file
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(record.images) == 1 + 1 + 3  # Pareto, medians, one per configuration
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for data in images)
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert list(tmp_path.joinpath("out").iterdir()) == [output]
    # the table shows what the result files hold, computed independently here
    for path in _result_files(result_tree):
        samples = np.array(json.loads(path.read_text())["timing"]["samples_ns"], dtype=np.float64)
        assert f">{np.percentile(samples, 50) / 1e6:.4g}<" in text  # 4 significant digits, in a cell
        assert f">{np.percentile(samples, 99) / 1e6:.4g}<" in text
    # accuracy from the bench summary (fp32 was benchmarked with labelled data), device facts
    summary = json.loads((result_tree / "bench_fp32" / "summary.json").read_text())
    top1 = summary["runs"][0]["accuracy"]["top1"]
    assert f"{top1 * 100:.2f}%" in text
    assert "Devices" in text and "litert" in text


def test_markdown_report_writes_pngs_beside_it(tmp_path, result_tree):
    output = tmp_path / "report.md"
    record = report([result_tree], output)
    text = output.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == len(record.images) == 5
    for link in links:
        assert not Path(link).is_absolute()
        assert (tmp_path / link).read_bytes().startswith(PNG_MAGIC)
    assert "| model | target | delegate |" in text
    assert "## Models" in text and "on Pareto front" in text


def test_csv_has_one_row_per_run_with_units_in_column_names(tmp_path, result_tree):
    output = tmp_path / "runs.csv"
    report([result_tree], output)
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    columns = list(rows[0])
    for column in ("latency_ms_mean", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99",
                   "init_ms", "first_inference_ms", "peak_rss_bytes", "model_size_bytes",
                   "delegate_applied", "fallback_reason", "accuracy_top1", "device_soc", "threads"):
        assert column in columns
    by_path = {row["result_path"]: row for row in rows}
    for path in _result_files(result_tree):
        data = json.loads(path.read_text())
        row = by_path[str(path)]
        samples = np.array(data["timing"]["samples_ns"], dtype=np.float64)
        assert float(row["latency_ms_mean"]) == pytest.approx(samples.mean() / 1e6, rel=1e-12)
        assert float(row["latency_ms_p90"]) == pytest.approx(np.percentile(samples, 90) / 1e6, rel=1e-12)
        assert int(row["model_size_bytes"]) == data["model"]["size_bytes"]
        assert int(row["threads"]) == data["delegate"]["threads"]
    # accuracy comes from the bench summary beside the results (fp32 was run on labelled data)
    summary = json.loads((result_tree / "bench_fp32" / "summary.json").read_text())
    expected = {run["threads"]: run["accuracy"]["top1"] for run in summary["runs"]}
    fp32 = {int(row["threads"]): float(row["accuracy_top1"]) for row in rows if row["model"] == "tiny_fp32"}
    assert fp32 == pytest.approx(expected) and len(fp32) == 2
    assert all(row["accuracy_top1"] == "" for row in rows if row["model"] == "tiny_dynamic")


def test_failed_runs_are_listed_not_plotted(tmp_path):
    files = [FIXTURE_RESULTS / "ok_host.json", FIXTURE_RESULTS / "failed_init.json"]
    record = report(files, tmp_path / "r.html")
    assert record.runs == 2 and record.failed_runs == 1
    assert len(record.images) == 2  # medians + the one good configuration
    text = (tmp_path / "r.html").read_text()
    assert "failed at init" in text and "MobilekitMissingOp" in text
    with open(report(files, tmp_path / "r.csv").output, newline="") as handle:
        rows = {row["run_id"]: row for row in csv.DictReader(handle)}
    assert rows["broken-cpu-t1"]["status"] == "failed"
    assert rows["broken-cpu-t1"]["latency_ms_p50"] == ""
    assert "init: RuntimeError" in rows["broken-cpu-t1"]["error"]


# ---------------------------------------------------------------------------------------------
# escaping


HOSTILE = "<script>alert('x')</script>"


def test_text_is_escaped_in_every_format(tmp_path):
    data = _fixture_result("ok_host_gpu_fallback.json")
    data["delegate"]["fallback_reason"] = '<img src=x onerror="alert(1)"> & more'
    path = write_result(tmp_path / "r1", data)
    runs = collect_runs([path])
    runs[0].model_name = HOSTILE
    html_text = Path(render_runs(runs, tmp_path / "r.html", title="a <b>title</b>").output).read_text()
    assert "<script" not in html_text and "<img src=x" not in html_text and "<b>" not in html_text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html_text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; more" in html_text
    md_text = Path(render_runs(runs, tmp_path / "r.md").output).read_text()
    assert "<script" not in md_text and "&lt;script&gt;" in md_text
    runs[0].model_name = "=HYPERLINK(\"http://evil\")"
    with open(render_runs(runs, tmp_path / "r.csv").output, newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["model"].startswith("'=")  # a spreadsheet shows it, never runs it


def _gfm_cells(line: str) -> list[str]:
    """A GitHub-flavoured Markdown table row split as cmark-gfm does: a backslash escapes the next
    character, so only a pipe not so escaped ends a cell."""
    return re.findall(r"(?:\\.|[^|\\])+", line.strip().strip("|"))


def test_markdown_tables_survive_pipes_backslashes_and_line_breaks_in_names(tmp_path):
    runs = collect_runs([FIXTURE_RESULTS / "ok_host.json"])
    runs[0].model_name = "evil\\|name\rnext | row\nthird\\"
    text = Path(render_runs(runs, tmp_path / "r.md").output).read_text()
    assert "\r" not in text
    lines = text.split("\n")
    header = next(i for i, line in enumerate(lines) if line.startswith("| model |"))
    width = len(_gfm_cells(lines[header]))
    row = lines[header + 2]
    assert len(_gfm_cells(row)) == width, row
    assert row.startswith("| evil\\\\\\|name next \\| row third\\\\ |")


def test_csv_cells_starting_with_minus_are_not_formulas(tmp_path):
    runs = collect_runs([FIXTURE_RESULTS / "ok_host.json"])
    runs[0].model_name = "-2+3+cmd|' /C calc'!A0"
    with open(render_runs(runs, tmp_path / "r.csv").output, newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["model"].startswith("'-")


def _sweep_record(folder: Path, variants) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.json"
    path.write_text(json.dumps({"record": "mobilekit.sweep", "variants": variants}))
    return path


def test_a_sweep_record_naming_results_outside_its_folder_is_refused(tmp_path):
    write_result(tmp_path / "elsewhere", _fixture_result())
    inside = write_result(tmp_path / "sweep" / "bench" / "v1", _fixture_result())
    for item in ["../elsewhere/result.json", str(tmp_path / "elsewhere" / "result.json")]:
        record = _sweep_record(tmp_path / "sweep", [{"name": "v1", "results": [str(inside.relative_to(
            tmp_path / "sweep"))]}, {"name": "v2", "results": [item]}])
        with pytest.raises(ReportError, match="outside the sweep folder"):
            collect_runs([record])
    record = _sweep_record(tmp_path / "sweep", [{"name": "v1", "accuracy_top1": "high",
                                                 "results": ["bench/v1/result.json"]}])
    runs = collect_runs([record])
    assert [(run.model_name, run.accuracy_top1) for run in runs] == [("v1", None)]


@pytest.mark.parametrize("variants", [["junk"], [{"name": "v", "results": [7]}], {"v": 1},
                                      [{"name": "v", "results": "bench/v1/result.json"}]])
def test_a_malformed_sweep_record_is_a_clear_error(tmp_path, variants):
    write_result(tmp_path / "sweep" / "bench" / "v1", _fixture_result())
    record = _sweep_record(tmp_path / "sweep", variants)
    with pytest.raises(ReportError, match="not a valid sweep record"):
        collect_runs([record])


def test_dollar_signs_in_names_do_not_break_the_plots(tmp_path):
    runs = collect_runs([FIXTURE_RESULTS / "ok_host.json"])
    runs[0].model_name = "cost $x^2$ {model} \\frac"
    record = render_runs(runs, tmp_path / "r.html")
    assert len(record.images) == 2


# ---------------------------------------------------------------------------------------------
# Pareto


def test_pareto_front_on_known_points():
    points = [ParetoPoint("big_fast_best", 1000, 1.0, 0.99),
              ParetoPoint("small_slow", 100, 5.0, 0.90),
              ParetoPoint("dominated", 1000, 2.0, 0.95),     # big_fast_best is better in all three
              ParetoPoint("mid", 500, 2.0, 0.97),
              ParetoPoint("mid_worse", 600, 2.5, 0.97),      # mid is better
              ParetoPoint("small_accurate_only", 1200, 9.0, 0.995)]  # best accuracy: on the front
    front = {p.name for p in pareto_front(points)}
    assert front == {"big_fast_best", "small_slow", "mid", "small_accurate_only"}


def test_pareto_ignores_accuracy_unless_every_model_has_it():
    points = [ParetoPoint("a", 100, 2.0, None), ParetoPoint("b", 200, 3.0, 0.99),
              ParetoPoint("c", 50, 4.0, None), ParetoPoint("d", 100, 2.0, None)]
    # b would be on a 3-objective front for its accuracy; with accuracy unknown for others it is
    # dominated by a in size and latency. Equal points do not dominate each other.
    assert {p.name for p in pareto_front(points)} == {"a", "c", "d"}


def test_pareto_chart_uses_a_configuration_every_model_ran(result_tree):
    from mobilekit.reporting.render import pareto_points

    points, basis = pareto_points(collect_runs([result_tree]))
    assert {p.name for p in points} == {"tiny_fp32", "tiny_dynamic"}
    assert "1 thread" in basis and "every model ran" in basis
    fp32 = next(p for p in points if p.name == "tiny_fp32")
    assert fp32.accuracy_top1 is not None
    assert any(p.on_front for p in points)


# ---------------------------------------------------------------------------------------------
# bad inputs: one line, naming the problem


def test_no_results_given():
    # A missing argument is a usage error (exit 2), like click's own, not a runtime failure.
    with pytest.raises(UsageError, match="no results given"):
        report([], "r.html")
    outcome = CliRunner().invoke(cli, ["report", "-o", "r.html"])
    assert outcome.exit_code == 2
    assert outcome.output.strip().splitlines() == [outcome.output.strip()]
    assert outcome.output.startswith("Error: no results given")


def test_result_of_another_schema_version(tmp_path):
    data = _fixture_result()
    data["schema_version"] = 2
    path = write_result(tmp_path / "v2", data)
    with pytest.raises(ProtocolError, match="schema version 2"):
        report([path], tmp_path / "r.html")
    outcome = CliRunner().invoke(cli, ["report", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert outcome.exit_code == 1 and "schema version 2" in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1 and "Traceback" not in outcome.output


def test_truncated_json(tmp_path):
    text = (FIXTURE_RESULTS / "ok_host.json").read_text()
    path = tmp_path / "run" / "result.json"
    path.parent.mkdir()
    path.write_text(text[: len(text) // 2])
    outcome = CliRunner().invoke(cli, ["report", str(tmp_path), "-o", str(tmp_path / "r.csv")])
    assert outcome.exit_code == 1
    assert "truncated" in outcome.output and str(path) in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1


def test_other_bad_inputs(tmp_path):
    with pytest.raises(UsageError, match="format"):
        report([FIXTURE_RESULTS / "ok_host.json"], tmp_path / "r.pdf")
    outcome = CliRunner().invoke(cli, ["report", str(FIXTURE_RESULTS / "ok_host.json"), "-o",
                                       str(tmp_path / "r.pdf")])
    assert outcome.exit_code == 2 and outcome.output.startswith("Error: cannot tell the report format")
    with pytest.raises(ReportError, match="no bench results found"):
        report([tmp_path], tmp_path / "r.html")
    with pytest.raises(ReportError, match="no such file"):
        report([tmp_path / "missing"], tmp_path / "r.html")
    other = tmp_path / "card.json"
    other.write_text(json.dumps({"quantize": "int8"}))
    with pytest.raises(ReportError, match="not a bench result"):
        report([other], tmp_path / "r.html")
    broken = copy.deepcopy(_fixture_result())
    broken["delegate"]["threads"] = 0
    with pytest.raises(ProtocolError, match="delegate.threads"):
        report([write_result(tmp_path / "t0", broken)], tmp_path / "r.html")


def test_report_command(tmp_path, result_tree):
    outcome = CliRunner().invoke(cli, ["report", str(result_tree), "-o", str(tmp_path / "r.html")],
                                 catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    assert "3 run(s) of 2 model(s), 5 plot(s)" in outcome.output and "Pareto front" in outcome.output
    outcome = CliRunner().invoke(cli, ["report", str(result_tree), "-o", str(tmp_path / "r.csv"), "--json"],
                                 catch_exceptions=False)
    assert json.loads(outcome.output)["format"] == "csv"
    help_text = CliRunner().invoke(cli, ["report", "--help"]).output
    assert "Example" in help_text


def test_a_bench_summary_names_its_results_even_after_the_folder_moved(tmp_path, result_tree):
    moved = tmp_path / "moved"
    shutil.copytree(result_tree / "bench_fp32", moved)
    runs = collect_runs([moved / "summary.json"])
    assert len(runs) == 2 and {run.threads for run in runs} == {1, 2}
    assert all(run.model_name == "tiny_fp32" and run.accuracy_top1 is not None for run in runs)
    assert all(moved in run.path.parents for run in runs)


def test_phone_results_show_thermal_delegate_fallback_and_device_facts(tmp_path):
    files = [FIXTURE_RESULTS / "ok_android_thermal.json", FIXTURE_RESULTS / "ok_host_gpu_fallback.json"]
    text = Path(report(files, tmp_path / "r.html").output).read_text()
    phone = json.loads(files[0].read_text())
    start, end = phone["thermal"]["start"], phone["thermal"]["end"]
    assert (f"{start['status']} {start['battery_temp_c']:.1f} °C → {end['status']} "
            f"{end['battery_temp_c']:.1f} °C") in text
    assert phone["device"]["soc"] in text and phone["device"]["os"] in text
    fallback = json.loads(files[1].read_text())["delegate"]
    assert f"{fallback['requested']} → {fallback['applied']}" in text
    assert fallback["fallback_reason"].replace("'", "&#x27;") in text
