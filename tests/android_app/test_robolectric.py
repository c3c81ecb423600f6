"""The Android layer on the JVM: android_app/app/src/test (Robolectric, run offline from Maven Central
jars, no Gradle) drives BenchInstrumentation, the probes and BenchActivity with a fake engine, and
writes what the instrumentation sent as `am instrument -r` prints it. Those transcripts go through
mobilekit's own parser here: one contract, tested from both ends."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mobilekit.results import protocol
from mobilekit.device.instrument import parse_transcript

from conftest import REPO  # noqa: E402
SCRIPT = REPO / "android_app" / "scripts" / "build_apk.py"
TOOLS = ["javac", "java", "mvn", "aapt"]
missing = [tool for tool in TOOLS if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"missing {', '.join(missing)}: scripts/setup.sh --test "
                                                      "installs them")


@pytest.fixture(scope="module")
def robolectric(tmp_path_factory):
    transcripts = tmp_path_factory.mktemp("transcripts")
    done = subprocess.run([sys.executable, str(SCRIPT), "robolectric", "--transcripts", str(transcripts)],
                          capture_output=True, text=True, timeout=1500)
    return done, transcripts


def test_robolectric_suite_passes(robolectric):
    done, _ = robolectric
    output = done.stdout + done.stderr
    match = re.search(r"^(\d+) passed, (\d+) failed$", done.stdout, re.MULTILINE)
    assert match, output[-4000:]
    passed, failed = map(int, match.groups())
    assert failed == 0 and done.returncode == 0, output[-8000:]
    # BenchInstrumentation (4), the probes and NNAPI checks (7), BenchActivity (3): a drop in the
    # count means tests stopped being found.
    assert passed >= 14, output[-3000:]


def _transcript(transcripts: Path, name: str):
    path = transcripts / f"{name}.txt"
    assert path.is_file(), f"the Robolectric test did not write {path.name}"
    return parse_transcript(path.read_text())


def test_a_run_transcript_from_the_app_reads_as_a_finished_run(robolectric):
    _, transcripts = robolectric
    outcome = _transcript(transcripts, "robolectric_ok")
    assert outcome.finished and outcome.error_message() is None
    stages = [bundle.values["stage"] for bundle in outcome.statuses]
    assert stages[0] == "load" and stages[-1] == "write" and "run" in stages
    assert all(bundle.code == 1 and bundle.values["id"] == "mobilekit" for bundle in outcome.statuses)
    applied = [bundle.values for bundle in outcome.statuses if "applied" in bundle.values]
    assert applied == [{"applied": "xnnpack", "id": "mobilekit", "run_id": "echo-run", "stage": "init"}]
    final = outcome.result
    assert final["status"] == "ok" and final["protocol_version"] == "1" and final["samples"] == "20"
    assert "result" not in final                     # the host pulls result.json instead
    assert final["result_path"].endswith("/result.json") and final["outputs"].endswith("/outputs.npy")
    result = json.loads((transcripts / "robolectric_ok.result.json").read_text())
    protocol.validate("result", result, where="the app's result.json")
    assert result["runner"]["launch"] == "instrumentation"
    assert result["runner"]["runtime_artifact"].startswith("org.tensorflow:tensorflow-lite:")
    assert protocol.BenchResult.from_dict(result).to_dict()["runner"] == result["runner"]


def test_a_200000_sample_run_ends_with_a_small_bundle_and_a_full_result_file(robolectric):
    _, transcripts = robolectric
    text = (transcripts / "robolectric_200k.txt").read_text()
    outcome = parse_transcript(text)
    assert outcome.finished
    final_lines = [line for line in text.splitlines() if line.startswith("INSTRUMENTATION_RESULT: ")]
    assert sum(len(line) for line in final_lines) < 2000
    assert outcome.result["samples"] == "200000"
    result = json.loads((transcripts / "robolectric_200k.result.json").read_text())
    protocol.validate("result", result, where="the app's result.json")
    assert len(result["timing"]["samples_ns"]) == 200_000


def test_failures_from_the_app_read_as_the_host_reports_them(robolectric):
    _, transcripts = robolectric
    missing_request = _transcript(transcripts, "robolectric_no_request")
    assert not missing_request.finished
    assert "-e request" in missing_request.error_message()
    failed = _transcript(transcripts, "robolectric_failed")
    assert failed.finished                          # the run ended; its result says it failed
    assert failed.result["status"] == "failed" and failed.result["error"].startswith("load: model.sha256")
    result = json.loads((transcripts / "robolectric_failed.result.json").read_text())
    protocol.validate("result", result, where="the app's result.json")
    assert result["error"]["stage"] == "load"
