"""The `am instrument -w -r` transcript parser on the transcripts the companion app produces."""
from __future__ import annotations

import json

from mobilekit.device import app as companion
from mobilekit.device.instrument import InstrumentParser, parse_transcript
from conftest import PROTOCOL_FIXTURES  # noqa: E402

FIXTURES = PROTOCOL_FIXTURES


def fixture_text(name: str) -> str:
    return (FIXTURES / f"am_instrument_{name}.txt").read_text()


def test_ok_transcript_streams_bundles_and_keeps_multiline_values():
    seen = []
    parser = InstrumentParser(seen.append)
    text = fixture_text("ok")
    for start in range(0, len(text), 37):   # arbitrary chunk edges, as a socket delivers them
        parser.feed(text[start:start + 37])
    outcome = parser.finish()
    assert outcome.finished and outcome.error_message() is None
    assert seen == outcome.statuses and len(seen) >= 5
    assert [bundle.values["stage"] for bundle in seen][:2] == ["load", "init"]
    fallback = next(b.values["fallback_reason"] for b in seen if "fallback_reason" in b.values)
    assert fallback.count("\n") == 3 and fallback.endswith("delegate application failure.")
    result = json.loads(outcome.result["result"])
    assert result["status"] == "ok" and result["delegate"]["fallback_reason"] == fallback
    assert outcome.result["protocol_version"] == str(companion.PROTOCOL_VERSION)
    assert outcome.result["result_path"].endswith("/result.json")


def test_run_failed_is_a_finished_instrumentation_with_a_failed_result():
    outcome = parse_transcript(fixture_text("run_failed"))
    assert outcome.finished
    assert outcome.result["status"] == "failed" and outcome.result["error"].startswith("inputs:")


def test_crash():
    outcome = parse_transcript(fixture_text("crash"))
    assert outcome.crashed and not outcome.finished
    assert outcome.error_message().startswith("the app's process crashed")
    assert outcome.statuses[-1].values["stage"] == "warmup"


def test_app_missing():
    outcome = parse_transcript(fixture_text("failed"))
    assert not outcome.finished
    assert outcome.failed == companion.component()
    message = outcome.error_message()
    assert "failed to start" in message and "Unable to find instrumentation info" in message


def test_aborted_and_cut_transcripts():
    aborted = parse_transcript("INSTRUMENTATION_STATUS: stage=run\nINSTRUMENTATION_STATUS_CODE: 1\n"
                               "INSTRUMENTATION_ABORTED: System has crashed.\n")
    assert aborted.aborted == "System has crashed." and not aborted.finished
    cut = parse_transcript("INSTRUMENTATION_STATUS: stage=run\nINSTRUMENTATION_STATUS: done=3")
    assert cut.code is None and "ended before INSTRUMENTATION_CODE" in cut.error_message()
    assert cut.statuses[-1].values == {"stage": "run", "done": "3"}
    crlf = parse_transcript("INSTRUMENTATION_RESULT: status=ok\r\nINSTRUMENTATION_CODE: -1\r\n")
    assert crlf.finished and crlf.result == {"status": "ok"}
    no_request = parse_transcript("INSTRUMENTATION_RESULT: error=request: no -e request PATH given\n"
                                  "INSTRUMENTATION_CODE: 0\n")
    assert "code 0: request: no -e request PATH given" in no_request.error_message()


def test_app_constants_match_android_app_json():
    app = json.loads((FIXTURES.parents[2] / "android_app" / "app.json").read_text())
    assert (app["package"], app["instrumentation"], app["protocol_version"], app["version_code"]) == \
        (companion.APP_PACKAGE, companion.APP_INSTRUMENTATION, companion.PROTOCOL_VERSION, companion.APP_VERSION_CODE)
