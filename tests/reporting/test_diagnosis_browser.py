"""The diagnosis page with its per-layer chart, opened in a real headless Chromium."""
from __future__ import annotations

from pathlib import Path

import pytest

from test_report_browser import CHROMIUM, open_in_chromium  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run "
                                "scripts/setup.sh --test (installs Debian's chromium)")


def test_diagnosis_page_shows_the_per_layer_chart(tmp_path):
    from mobilekit.analysis.diagnosis import diagnose
    from mobilekit.reporting.diagnosis import render_diagnosis_html

    result = diagnose(REPO / "sample_models" / "outliers_mlp.keras",
                      REPO / "sample_models" / "digits_calibration.npz", calibration_samples=50)
    result.model = "<script>alert(1)</script> model"   # user text stays text
    page = tmp_path / "diagnosis.html"
    render_diagnosis_html(result, page)
    seen = open_in_chromium(page, tmp_path)
    assert seen["problems"] == []
    assert [image["alt"].startswith("Per-layer int8 error") for image in seen["images"]] == [True]
    chart = seen["images"][0]
    assert chart["complete"] and chart["width"] > 300 and chart["height"] > 300
    assert seen["scripts"] == 0
    assert [url for url in seen["requests"] if not url.startswith(("data:", page.resolve().as_uri()))] == []


def test_report_embeds_the_per_layer_chart_of_a_diagnosis_file(tmp_path, result_tree):
    from click.testing import CliRunner

    from mobilekit.cli import cli

    diagnosis = tmp_path / "diagnosis.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["diagnose", str(REPO / "sample_models" / "outliers_mlp.keras"),
                                 "--calibration", str(REPO / "sample_models" / "digits_calibration.npz"),
                                 "--calibration-samples", "50", "--output", str(diagnosis)])
    assert result.exit_code == 0, result.output
    page = tmp_path / "report.html"
    result = runner.invoke(cli, ["report", str(result_tree), "--diagnosis", str(diagnosis),
                                 "-o", str(page)])
    assert result.exit_code == 0, result.output
    seen = open_in_chromium(page, tmp_path)
    assert seen["problems"] == []
    charts = [image for image in seen["images"] if image["alt"].startswith("Per-layer int8 error")]
    assert len(charts) == 1 and charts[0]["complete"] and charts[0]["width"] > 300
    # A file that is not a diagnosis is refused with a one-line error, before anything is written.
    result = runner.invoke(cli, ["report", str(result_tree), "--diagnosis", str(page),
                                 "-o", str(tmp_path / "other.html")])
    assert result.exit_code != 0 and "not a diagnosis file" in result.output
    assert not (tmp_path / "other.html").exists()
