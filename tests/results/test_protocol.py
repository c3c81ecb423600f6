"""The bench protocol: golden fixtures, round trips, and the clear errors for bad files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobilekit.results import protocol
from mobilekit.errors import ProtocolError
from conftest import PROTOCOL_FIXTURES  # noqa: E402

FIXTURES = PROTOCOL_FIXTURES
VALID_REQUESTS = sorted((FIXTURES / "requests").glob("*.json"))
# schema_version_2.json was the "from the future" vector of version 1; since version 2 it is a
# valid request (the Java app, still at version 1, goes on refusing it). Version 2's own invalid
# vectors, schema_version_3 among them, live in v2/requests_invalid.
INVALID_REQUESTS = sorted(p for p in (FIXTURES / "requests_invalid").glob("*.json")
                          if p.stem != "schema_version_2") + sorted((FIXTURES / "v2" / "requests_invalid").glob("*.json"))
V2_REQUESTS = sorted((FIXTURES / "v2" / "requests").glob("*.json"))
V2_RESULTS = sorted((FIXTURES / "v2" / "results").glob("*.json"))
RESULTS = sorted((FIXTURES / "results").glob("*.json"))


def test_fixture_sets_are_not_empty():
    assert len(VALID_REQUESTS) >= 5 and len(INVALID_REQUESTS) >= 7 and len(RESULTS) >= 3
    names = {p.stem for p in VALID_REQUESTS}
    kinds = {json.loads(p.read_text())["delegate"]["name"] for p in VALID_REQUESTS}
    assert kinds == set(protocol.DELEGATES)
    assert any("npy" in n for n in names) and any("random" in n for n in names)


@pytest.mark.parametrize("path", VALID_REQUESTS, ids=lambda p: p.stem)
def test_valid_request_round_trips(path, tmp_path):
    original = json.loads(path.read_text())
    request = protocol.load_request(path)
    assert isinstance(request, protocol.BenchRequest)
    again = tmp_path / "again.json"
    protocol.save_request(request, again)
    reloaded = json.loads(again.read_text())
    # Writing fills schema defaults explicitly; every field the fixture has comes back unchanged.
    for key, value in original.items():
        if isinstance(value, dict):
            for sub_key, sub_value in value.items():
                assert reloaded[key][sub_key] == sub_value, (key, sub_key)
        else:
            assert reloaded[key] == value, key
    assert protocol.load_request(again) == request


@pytest.mark.parametrize("path", INVALID_REQUESTS, ids=lambda p: p.stem)
def test_invalid_request_is_refused_naming_the_field(path):
    with pytest.raises(ProtocolError) as caught:
        protocol.load_request(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    # The offending field is named in the file name; the message names it too.
    stem = path.stem
    expected_word = {
        "model_missing": "model", "model_path_missing": "path", "model_sha256_bad": "model.sha256",
        "model_sha256_uppercase": "model.sha256", "delegate_name_unknown": "delegate.name",
        "delegate_threads_zero": "delegate.threads", "delegate_threads_negative": "delegate.threads",
        "runs_timed_runs_zero": "runs.timed_runs", "runs_warmup_runs_negative": "runs.warmup_runs",
        "runs_max_secs_zero": "runs.max_secs", "schema_version_2": "schema version 2",
        "schema_version_missing": "schema_version", "unknown_field_priority": "'priority'",
        "delegate_unknown_field_use_hexagon": "'use_hexagon'", "inputs_kind_unknown": "inputs.kind",
        "inputs_files_empty": "inputs.files", "inputs_seed_negative": "inputs.seed", "run_id_with_slash": "run_id",
        "save_outputs_missing": "save_outputs", "schema_version_3": "schema version 3",
        "v1_with_duration_secs": "runs.duration_secs", "runs_duration_secs_zero": "runs.duration_secs",
        "runs_telemetry_interval_secs_negative": "runs.telemetry_interval_secs",
        "inputs_shapes_in_v1": "inputs.shapes", "inputs_shapes_empty": "inputs",
        "inputs_shapes_zero_dimension": "inputs",
    }[stem]
    assert expected_word in message


def test_other_schema_version_says_upgrade(tmp_path):
    data = json.loads((FIXTURES / "results" / "ok_host.json").read_text())
    data["schema_version"] = 3
    data["new_field_from_the_future"] = 1
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProtocolError, match="result written by schema version 3; this mobilekit reads "
                                            "versions up to 2 — upgrade mobilekit"):
        protocol.load_result(path)


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.stem)
def test_result_round_trips(path, tmp_path):
    original = json.loads(path.read_text())
    result = protocol.load_result(path)
    assert result.ok == (original["status"] == "ok")
    again = tmp_path / "result.json"
    protocol.save_result(result, again)
    assert json.loads(again.read_text()) == original
    assert protocol.load_result(again) == result


def test_truncated_json_names_the_file(tmp_path):
    text = (FIXTURES / "results" / "ok_host.json").read_text()
    path = tmp_path / "result.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ProtocolError, match=r"result\.json: bench result is truncated"):
        protocol.load_result(path)
    path.write_text("")
    with pytest.raises(ProtocolError, match="empty"):
        protocol.load_result(path)
    with pytest.raises(ProtocolError, match="not found"):
        protocol.load_result(tmp_path / "missing.json")


def test_unknown_result_field_refused(tmp_path):
    data = json.loads((FIXTURES / "results" / "ok_host.json").read_text())
    data["timing"]["median_ns"] = 5
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProtocolError, match=r"unknown field\(s\) 'median_ns' in timing"):
        protocol.load_result(path)


def test_invalid_record_is_not_written(tmp_path):
    request = protocol.load_request(VALID_REQUESTS[0])
    request.delegate.threads = 0
    target = tmp_path / "request.json"
    with pytest.raises(ProtocolError, match="refusing to write.*delegate.threads"):
        protocol.save_request(request, target)
    assert not target.exists()


def test_relative_paths_resolve_against_the_request_folder(tmp_path):
    assert protocol.resolve_path("m.tflite", tmp_path) == tmp_path / "m.tflite"
    assert protocol.resolve_path("/abs/m.tflite", tmp_path) == Path("/abs/m.tflite")


def test_long_sample_arrays_are_checked_item_by_item(tmp_path):
    data = json.loads((FIXTURES / "results" / "ok_host.json").read_text())
    data["timing"]["samples_ns"] = list(range(1, 200_001))
    path = tmp_path / "result.json"
    protocol.save_result(data, path)
    assert len(protocol.load_result(path).timing.samples_ns) == 200_000
    for bad in (-5, 1.5, True, "7"):
        data["timing"]["samples_ns"][150_000] = bad
        with pytest.raises(ProtocolError, match=r"timing\.samples_ns\.150000"):
            protocol.validate("result", data)
    data["timing"]["samples_ns"] = [1, -5]  # short arrays go through the schema itself
    with pytest.raises(ProtocolError, match=r"timing\.samples_ns\.1"):
        protocol.validate("result", data)


def test_run_id_with_a_trailing_newline_is_refused():
    # A run id names folders on the phone; Python's `$` alone would let "abc\n" through.
    data = json.loads(VALID_REQUESTS[0].read_text())
    data["run_id"] = "abc\n"
    with pytest.raises(ProtocolError, match="run_id"):
        protocol.validate("request", data)


# ---- schema version 2 ---------------------------------------------------------------------------

def test_v1_request_fixtures_load_and_write_back_as_version_1(tmp_path):
    """A request that asks for nothing new stays version 1, so an app that reads 1 still runs it."""
    for path in VALID_REQUESTS:
        again = tmp_path / path.name
        protocol.save_request(protocol.load_request(path), again)
        assert json.loads(again.read_text())["schema_version"] == 1


@pytest.mark.parametrize("path", V2_REQUESTS, ids=lambda p: p.stem)
def test_v2_request_round_trips(path, tmp_path):
    original = json.loads(path.read_text())
    request = protocol.load_request(path)
    again = tmp_path / "again.json"
    protocol.save_request(request, again)
    reloaded = json.loads(again.read_text())
    assert reloaded["schema_version"] == 2
    assert {k: v for k, v in reloaded["runs"].items() if k in original["runs"]} == original["runs"]
    assert protocol.load_request(again) == request


def test_a_request_using_a_v2_field_is_written_as_version_2(tmp_path):
    request = protocol.load_request(VALID_REQUESTS[0])
    request.runs.duration_secs = 120.0
    protocol.save_request(request, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema_version"] == 2 and data["runs"]["duration_secs"] == 120.0


@pytest.mark.parametrize("path", V2_RESULTS, ids=lambda p: p.stem)
def test_v2_result_round_trips_with_telemetry_throttling_and_flags(path, tmp_path):
    original = json.loads(path.read_text())
    result = protocol.load_result(path)
    assert result.schema_version == 2 and result.telemetry == original["telemetry"]
    assert result.flagged == bool(original["flags"])
    again = tmp_path / "result.json"
    protocol.save_result(result, again)
    assert json.loads(again.read_text()) == original


def test_v1_results_read_with_the_new_fields_absent():
    for path in RESULTS:
        result = protocol.load_result(path)
        assert result.schema_version == 1
        assert (result.telemetry, result.throttling, result.flags, result.cooldown) == (None,) * 4
        assert not result.flagged


def test_a_v1_result_may_not_carry_v2_fields(tmp_path):
    data = json.loads((FIXTURES / "results" / "ok_host.json").read_text())
    data["flags"] = []
    with pytest.raises(ProtocolError, match="flags"):
        protocol.validate("result", data)


def test_absent_telemetry_figures_are_null_not_zero_in_the_fixture():
    data = json.loads((FIXTURES / "v2" / "results" / "ok_host_telemetry.json").read_text())
    first = data["telemetry"][0]
    assert first["thermal_status"] is None and first["cpu_freq_khz"] is None and first["rss_bytes"] > 0
