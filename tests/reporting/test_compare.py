"""`compare`: the Mann-Whitney U test, the bootstrap interval, verdicts, and budget gates for CI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli
from mobilekit.errors import BudgetExceeded, ReportError, UsageError
from mobilekit.reporting.comparison import (FASTER, NO_CHANGE, SLOWER, compare, compare_samples,
                                            mann_whitney_u, parse_budgets)
from conftest import PROTOCOL_FIXTURES  # noqa: E402

FIXTURE_RESULTS = PROTOCOL_FIXTURES / "results"


def latencies_ns(rng, n=200, median_ms=2.0, scale=1.0):
    """Right-skewed latencies like a real benchmark's: lognormal body, a few slow outliers."""
    values = rng.lognormal(np.log(median_ms * 1e6), 0.08, n)
    outliers = rng.random(n) < 0.03
    values[outliers] *= rng.uniform(1.5, 3.0, outliers.sum())
    return np.round(values * scale).astype(np.int64)


def write_result(folder: Path, samples_ns, *, threads=1, peak_rss_bytes=98304000) -> Path:
    data = json.loads((FIXTURE_RESULTS / "ok_host.json").read_text())
    data["timing"]["samples_ns"] = [int(v) for v in samples_ns]
    data["delegate"]["threads"] = threads
    data["memory"]["peak_rss_bytes"] = peak_rss_bytes
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(data))
    return folder / "result.json"


# ---------------------------------------------------------------------------------------------
# statistics


def test_mann_whitney_u_by_hand():
    # a = [1, 2], b = [3, 4]: every b beats every a -> U(a) = 0; with n = 4 and no ties,
    # sigma^2 = 2*2*5/12, z = (4 - 2 - 0.5)/sqrt(5/3), p = erfc(z/sqrt(2)).
    u, p = mann_whitney_u([1, 2], [3, 4])
    assert u == 0.0
    assert p == pytest.approx(math.erfc(1.5 / math.sqrt(5 / 3) / math.sqrt(2)), rel=1e-12)
    # all values equal: no information, p = 1
    assert mann_whitney_u([5, 5, 5], [5, 5]) == (3.0, 1.0)


def test_mann_whitney_u_matches_scipy_with_ties():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.integers(0, 15, size=rng.integers(5, 80)).astype(float)
        b = rng.integers(1, 16, size=rng.integers(5, 80)).astype(float)
        u, p = mann_whitney_u(a, b)
        expected = scipy_stats.mannwhitneyu(a, b, method="asymptotic", use_continuity=True)
        assert u == pytest.approx(float(expected.statistic), abs=1e-9)
        assert p == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-15)


def test_detects_a_ten_percent_shift_with_200_samples():
    rng = np.random.default_rng(7)
    base, slower = latencies_ns(rng), latencies_ns(rng, scale=1.10)
    figures = compare_samples(base, slower)
    assert figures["verdict"] == SLOWER
    assert figures["p_value"] < 1e-6 and figures["confidence"] > 0.999 and "agree" in figures["reason"]
    assert 5.0 < figures["median_change_pct"] < 15.0
    assert 0 < figures["median_diff_ms_ci_low"] < figures["median_diff_ms"] < figures["median_diff_ms_ci_high"]
    assert compare_samples(slower, base)["verdict"] == FASTER


def test_no_alarm_on_identical_distributions():
    rng = np.random.default_rng(11)
    figures = compare_samples(latencies_ns(rng), latencies_ns(rng))
    assert figures["verdict"] == NO_CHANGE and "finds no shift" in figures["reason"]
    assert figures["median_diff_ms_ci_low"] < 0 < figures["median_diff_ms_ci_high"]
    # Across many seeds the false-alarm rate stays near the 5% the level promises (not zero:
    # a test that never alarms would also pass the line above).
    alarms = sum(compare_samples(latencies_ns(np.random.default_rng(seed)),
                                 latencies_ns(np.random.default_rng(seed + 1000)),
                                 resamples=400)["verdict"] != NO_CHANGE for seed in range(60))
    assert alarms <= 7


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(5)
    a, b = latencies_ns(rng), latencies_ns(rng, scale=1.02)
    assert compare_samples(a, b, seed=1) == compare_samples(a, b, seed=1)
    assert compare_samples(a, b, seed=1)["median_diff_ms_ci_low"] != \
        compare_samples(a, b, seed=2)["median_diff_ms_ci_low"]


# ---------------------------------------------------------------------------------------------
# files and budgets


@pytest.fixture()
def shifted(tmp_path):
    rng = np.random.default_rng(21)
    base = write_result(tmp_path / "base" / "run", latencies_ns(rng))
    same = write_result(tmp_path / "same" / "run", latencies_ns(rng))
    slow = write_result(tmp_path / "slow" / "run", latencies_ns(rng, scale=1.10),
                        peak_rss_bytes=98304000 + (8 << 20))
    return base, same, slow


def test_compare_result_files(shifted):
    base, same, slow = shifted
    record = compare(base, slow)
    assert record.verdict == SLOWER and len(record.comparisons) == 1
    assert record.comparisons[0].a_samples == record.comparisons[0].b_samples == 200
    assert compare(base, same).verdict == NO_CHANGE
    # folders work too, matched by configuration
    assert compare(base.parent.parent, slow.parent.parent).verdict == SLOWER


def test_budgets_pass_and_fail(shifted):
    base, same, slow = shifted
    record = compare(base, same, budgets=["p95=+5%", "median=+2ms", "mean=+5%"])
    assert record.budgets_passed and len(record.budgets) == 3
    # The tail of two same-distribution samples differs by more than 5% here, by chance alone:
    # the budget holds because the interval of the change includes zero.
    p95 = record.budgets[0]
    assert p95.change > 5.0 and p95.change_ci_low < 0 < p95.change_ci_high and p95.passed
    with pytest.raises(BudgetExceeded, match=r"budget p95=\+5% exceeded") as caught:
        compare(base, slow, budgets=["p95=+5%"])
    assert caught.value.exit_code == 3
    assert caught.value.record.verdict == SLOWER
    # a loose budget passes even though B is measurably slower
    assert compare(base, slow, budgets={"median": "+20%", "peak_rss": "+10MiB"}).budgets_passed
    with pytest.raises(BudgetExceeded, match="peak_rss"):
        compare(base, slow, budgets=["peak_rss=+4MiB"])
    # absolute budgets are in the unit given
    with pytest.raises(BudgetExceeded):
        compare(base, slow, budgets=["median=+50us"])
    assert compare(base, slow, budgets=["median=+1ms"]).budgets_passed


def test_budget_syntax_errors():
    assert [(b.metric, b.limit, b.unit) for b in parse_budgets("p95=+5%,median=2ms,init=-500us")] == \
        [("p95", 5.0, "%"), ("median", 2.0, "ms"), ("init", -0.5, "ms")]
    for text, message in (("p95", "METRIC=CHANGE"), ("p42=+5%", "unknown metric"),
                          ("median=+5MiB", "does not fit"), ("peak_rss=+3ms", "does not fit")):
        with pytest.raises(UsageError, match=message):
            parse_budgets([text])


def test_compare_command_exit_codes(shifted):
    base, same, slow = shifted
    runner = CliRunner()
    ok = runner.invoke(cli, ["compare", str(base), str(same), "--budget", "p95=+5%"],
                       catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert "no detectable change" in ok.output and "budget p95=+5%" in ok.output
    gate = runner.invoke(cli, ["compare", str(base), str(slow), "--budget", "p95=+5%"])
    assert gate.exit_code == 3
    assert "slower" in gate.output and "Error: budget p95=+5% exceeded" in gate.output
    as_json = runner.invoke(cli, ["compare", str(base), str(slow), "--json"], catch_exceptions=False)
    assert as_json.exit_code == 0 and json.loads(as_json.output)["verdict"] == SLOWER
    bad = runner.invoke(cli, ["compare", str(base), str(slow), "--budget", "p95=lots"])
    assert bad.exit_code == 2 and "METRIC=CHANGE" in bad.output and "Traceback" not in bad.output
    bad_seed = runner.invoke(cli, ["compare", str(base), str(slow), "--seed", "-1"])
    assert bad_seed.exit_code == 2 and bad_seed.output == "Error: seed must be a whole number 0 or more, got -1\n"
    assert "Example" in runner.invoke(cli, ["compare", "--help"]).output


def test_compare_bad_inputs(tmp_path, shifted):
    base, _same, _slow = shifted
    with pytest.raises(ReportError, match="every run failed"):
        compare(base, FIXTURE_RESULTS / "failed_init.json")
    other_threads = write_result(tmp_path / "t2" / "run", [1000000, 1100000] * 10, threads=2)
    extra = write_result(tmp_path / "t2" / "run4", [1000000, 1100000] * 10, threads=4)
    with pytest.raises(ReportError, match="share no configuration"):
        compare([base, write_result(tmp_path / "t1b" / "run", [1] * 5, threads=8)],
                [other_threads, extra])
    truncated = tmp_path / "cut" / "result.json"
    truncated.parent.mkdir()
    truncated.write_text(base.read_text()[:100])
    outcome = CliRunner().invoke(cli, ["compare", str(base), str(truncated)])
    assert outcome.exit_code == 1 and "truncated" in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1
