"""`mobilekit bench --target device` end to end against the emulated phone, through the real adb
server and through adb-shell: app install, pushes skipped by sha256, status lines, results and
outputs pulled, every fault a clear error, finished runs kept, reruns resumed."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from adb_emulator import make_test_apk
from mobilekit.cli import cli
from mobilekit.device import app as companion


def bench_cli(via, model, out, *extra, data=None):
    args = ["bench", str(model), "--target", "device", *via.args, "--runs", "3", "--warmup", "1",
            "-o", str(out), "--json", *extra]
    if data is not None:
        args += ["--data", str(data)]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def summary_of(result) -> dict:
    return json.loads(result.stdout)


def sends(device) -> list[str]:
    return [path for kind, path in device.sync_log if kind == "SEND"]


def instruments(device) -> list[str]:
    return [line for line in device.command_log if line.startswith("am instrument")]


@pytest.fixture
def small_data(tmp_path, digits):
    _, _, x_test, y_test = digits
    path = tmp_path / "data.npz"
    np.savez(path, x=x_test[:12], y=y_test[:12])
    return path


def test_bench_end_to_end_installs_runs_pulls_and_resumes(via, tiny_tflite_path, companion_apk, small_data,
                                                           tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILEKIT_APK", str(companion_apk))
    device = via.device
    out = tmp_path / "out"
    result = bench_cli(via, tiny_tflite_path, out, "--threads", "1,2", data=small_data)
    assert result.exit_code == 0, result.output
    summary = summary_of(result)
    assert summary["targets"] == [device.address]
    assert [run["status"] for run in summary["runs"]] == ["ok", "ok"]
    assert device.install_log == [companion.APP_PACKAGE]            # the app was missing: installed
    # the phone's progress reaches the person running the command
    assert f"{device.address}: pushing" in result.stderr and f"{device.address}: running" in result.stderr
    for run in summary["runs"]:
        assert run["runner_kind"] == "android" and run["samples"] >= 3
        assert run["accuracy"] is not None
        run_dir = Path(run["result_path"]).parent
        stored = json.loads((run_dir / "result.json").read_text())
        assert stored["device"]["model"] == "Pixel 7" and stored["device"]["sdk_level"] == 34
        assert stored["thermal"]["start"]["status"] == "none"
        outputs = np.load(run_dir / "outputs.npy", allow_pickle=False)
        assert outputs.shape == (12, 10)
    # the model and the inputs went over once, though two runs used them
    pushed = sends(device)
    assert sum(path.endswith(Path(tiny_tflite_path).name + ",33188") for path in pushed) == 1
    assert device.injections == [] and device.unknown_commands == []

    before_sends, before_runs = len(sends(device)), len(instruments(device))
    again = bench_cli(via, tiny_tflite_path, out, "--threads", "1,2", data=small_data)
    assert again.exit_code == 0, again.output
    assert all(run["resumed"] for run in summary_of(again)["runs"])
    assert len(sends(device)) == before_sends and len(instruments(device)) == before_runs


def test_dropped_mid_push_is_clear_and_rerun_resumes(via, installed, tiny_tflite_path, tmp_path):
    installed.faults.drop_push_after_bytes = 2000
    out = tmp_path / "out"
    failed = bench_cli(via, tiny_tflite_path, out)
    assert failed.exit_code == 1
    assert "Error:" in failed.stderr and "Traceback" not in failed.output
    assert "lost" in failed.stderr or "closed" in failed.stderr
    assert installed.fault_log == ["dropped connection mid-push"]
    rerun = bench_cli(via, tiny_tflite_path, out)
    assert rerun.exit_code == 0, rerun.output
    assert summary_of(rerun)["runs"][0]["status"] == "ok"


def test_dropped_mid_run_keeps_finished_runs(via, installed, tiny_tflite_path, tmp_path):
    out = tmp_path / "out"
    first = bench_cli(via, tiny_tflite_path, out, "--threads", "1")
    assert first.exit_code == 0, first.output
    installed.faults.drop_during_run = True
    second = bench_cli(via, tiny_tflite_path, out, "--threads", "1,2")
    assert second.exit_code == 1
    assert "1 of 2 runs failed" in second.stderr and "connection lost" in second.stderr
    runs = {run["threads"]: run for run in json.loads((out / "summary.json").read_text())["runs"]}
    assert runs[1]["status"] == "ok" and runs[1]["resumed"]
    assert runs[2]["status"] != "ok"
    third = bench_cli(via, tiny_tflite_path, out, "--threads", "1,2")
    assert third.exit_code == 0, third.output
    assert [run["resumed"] for run in summary_of(third)["runs"]] == [True, False]


@pytest.mark.parametrize("fault, expected", [
    ("runner_crash", "the app's process crashed"),
    ("run_hang_s", "did not finish within 1.5 s"),
])
def test_run_faults_are_clear(fault, expected, installed, tiny_tflite_path, tmp_path, no_adb_server):
    setattr(installed.faults, fault, 30.0 if fault == "run_hang_s" else True)
    args = ["bench", str(tiny_tflite_path), "--target", "device", "--adb", "direct", "--connect",
            installed.address, "--runs", "2", "--warmup", "0", "--timeout", "1.5", "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1
    assert expected in result.stderr and "Traceback" not in result.output
    if fault == "run_hang_s":
        assert any("am force-stop" in line for line in installed.command_log)


def test_full_disk_is_clear(installed, tiny_tflite_path, tmp_path, no_adb_server):
    installed.fs.free_bytes = 1000
    result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "device", "--adb", "direct",
                                      "--connect", installed.address, "--runs", "2", "-o", str(tmp_path / "o")],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr


def test_missing_app_without_apk_says_what_is_missing(emulator, tiny_tflite_path, tmp_path, no_adb_server,
                                                      monkeypatch, no_bundled_apk):
    monkeypatch.delenv("MOBILEKIT_APK", raising=False)
    monkeypatch.delenv("ANDROID_HOME", raising=False)
    monkeypatch.delenv("ANDROID_SDK_ROOT", raising=False)
    monkeypatch.setattr(companion, "REPO_ANDROID_APP", tmp_path / "no_android_app")
    result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "device", "--adb", "direct",
                                      "--connect", emulator.address, "--runs", "2", "-o", str(tmp_path / "o")],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "APK" in result.stderr and "--apk" in result.stderr


def test_outdated_app_is_reinstalled(emulator, companion_apk, tiny_tflite_path, tmp_path, no_adb_server,
                                     monkeypatch):
    old = make_test_apk(tmp_path / "old.apk", package=companion.APP_PACKAGE,
                        version_code=companion.APP_VERSION_CODE - 1, instrumentation=companion.APP_INSTRUMENTATION)
    emulator.install_app(old)
    monkeypatch.setenv("MOBILEKIT_APK", str(companion_apk))
    result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "device", "--adb", "direct",
                                      "--connect", emulator.address, "--runs", "2", "-o", str(tmp_path / "o")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert emulator.install_log == [companion.APP_PACKAGE]
    assert emulator.packages[companion.APP_PACKAGE].version_code == companion.APP_VERSION_CODE


def test_unauthorized_phone_is_a_clear_bench_error(emulator, tiny_tflite_path, tmp_path, no_adb_server,
                                                   monkeypatch):
    monkeypatch.setenv("MOBILEKIT_ADB_AUTH_TIMEOUT_S", "1")
    emulator.authorized.clear()
    result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "device", "--adb", "direct",
                                      "--connect", emulator.address, "-o", str(tmp_path / "o")],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "unauthorized" in result.stderr and "Allow USB debugging" in result.stderr


def test_all_devices_run_in_parallel_through_the_server(adb_home, adb_server, companion_apk, tiny_tflite_path,
                                                        tmp_path, monkeypatch):
    from adb_emulator import EmulatedDevice

    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    _, key = adb_home
    phones = [EmulatedDevice(authorized_keys=[f"{key}.pub"]).start() for _ in range(2)]
    try:
        for phone in phones:
            phone.install_app(companion_apk)
            phone.faults.run_hang_s = 3.0   # each run stalls 3 s first: one after the other takes >= 6 s
            assert "connected to" in adb_server.run("connect", phone.address).stdout
        began = time.monotonic()
        result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--all-devices", "--adb", "server",
                                          "--runs", "2", "--warmup", "0", "-o", str(tmp_path / "o"), "--json"],
                                    catch_exceptions=False)
        elapsed = time.monotonic() - began
        assert result.exit_code == 0, result.output
        # Not a speed threshold: 6 s is the least the two stalls take in sequence, so only
        # overlapping runs can finish sooner.
        assert elapsed < 2 * 3.0, f"the phones ran one after the other ({elapsed:.1f} s)"
        summary = summary_of(result)
        assert sorted(summary["targets"]) == sorted(phone.address for phone in phones)
        assert all(run["status"] == "ok" for run in summary["runs"])
        for phone in phones:
            assert len(instruments(phone)) == 1
    finally:
        for phone in phones:
            adb_server.run("disconnect", phone.address)
            phone.stop()


def test_pulled_outputs_stay_inside_the_run_folder(installed, tiny_tflite_path, small_data, tmp_path, no_adb_server):
    installed.faults.result_output_name = "../../escaped.npy"
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "device", "--adb", "direct",
                                      "--connect", installed.address, "--runs", "2", "--data", str(small_data),
                                      "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "refusing to pull it" in result.stderr
    assert not list(tmp_path.rglob("escaped.npy"))


def _bench_direct(installed, model, out, data=None):
    args = ["bench", str(model), "--target", "device", "--adb", "direct", "--connect", installed.address,
            "--runs", "2", "--warmup", "0", "-o", str(out)]
    if data is not None:
        args += ["--data", str(data)]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.mark.parametrize("patch, expected", [
    ({"thermal": "hot"}, "thermal"),
    ({"outputs": {"file": "outputs.npy"}}, "outputs"),
    ({"device": ["Pixel"]}, "device"),
    ({"run_id": "some-other-run"}, "with the result of 'some-other-run'"),
])
def test_a_malformed_result_from_the_phone_is_a_clear_error(patch, expected, installed, tiny_tflite_path,
                                                            small_data, tmp_path, no_adb_server):
    installed.faults.result_patch = patch
    result = _bench_direct(installed, tiny_tflite_path, tmp_path / "out", small_data)
    assert result.exit_code == 1, result.output
    assert "Error:" in result.stderr and expected in result.stderr and "Traceback" not in result.output
    assert not list((tmp_path / "out" / "runs").rglob("result.json"))


def _claim_a_huge_array(path: Path) -> None:
    # The header says 2**40 float32 values; the file holds none of them.
    header = {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)}
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)


def _swap_dtype(path: Path) -> None:
    array = np.load(path, allow_pickle=False)
    np.save(path, array.astype(np.float64), allow_pickle=False)


@pytest.mark.parametrize("tamper, expected", [
    (_claim_a_huge_array, "holds shape [1099511627776]"),
    (_swap_dtype, "holds dtype float64"),
    (lambda path: path.write_bytes(b"PK\x03\x04 a zip, not an array"), "not a readable .npy"),
])
def test_pulled_outputs_must_match_what_the_result_declares(tamper, expected, installed, tiny_tflite_path,
                                                            small_data, tmp_path, no_adb_server):
    installed.faults.outputs_tamper = tamper
    out = tmp_path / "out"
    result = _bench_direct(installed, tiny_tflite_path, out, small_data)
    assert result.exit_code == 1, result.output
    assert expected in result.stderr and "refusing it" in result.stderr and "Traceback" not in result.output
    assert not list((out / "runs").rglob("outputs*.npy")) and not list((out / "runs").rglob("result.json"))


def test_escape_sequences_from_the_phone_never_reach_the_terminal(installed, tiny_tflite_path, tmp_path,
                                                                  no_adb_server):
    # ESC ] 0 ; ... BEL sets the terminal's title; ESC [ 2 J clears the screen
    installed.faults.status_extra = {"note": "\x1b]0;pwned\x07\x1b[2Jhello"}
    result = _bench_direct(installed, tiny_tflite_path, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "note=?]0;pwned??[2Jhello" in result.stderr
    assert "\x1b" not in result.output and "\x07" not in result.output

    # the same sequences in the result file itself: stored clean, so no later command prints them
    installed.faults.status_extra = None
    installed.faults.result_patch = {"status": "failed", "outputs": [],
                                     "error": {"stage": "run", "type": "Boom", "message": "\x1b[2Jgone\rbad"}}
    failed = _bench_direct(installed, tiny_tflite_path, tmp_path / "out2")
    assert failed.exit_code == 1, failed.output
    assert "?[2Jgone?bad" in failed.stderr and "\x1b" not in failed.output and "\r" not in failed.output
    stored = next((tmp_path / "out2" / "runs").rglob("result.json")).read_text()
    assert "\\u001b" not in stored and "?[2Jgone?bad" in stored


def test_a_dot_dot_run_id_never_names_a_folder_on_the_phone(installed, tiny_tflite_path, tmp_path, no_adb_server):
    from mobilekit.benchmark.android import AndroidRunner
    from mobilekit.device import open_transport
    from mobilekit.errors import BenchError

    model_sha = __import__("hashlib").sha256(Path(tiny_tflite_path).read_bytes()).hexdigest()
    job = {"schema_version": 1, "run_id": "first", "model": {"path": str(tiny_tflite_path), "sha256": model_sha},
           "delegate": {"name": "cpu", "threads": 1}, "runs": {"warmup_runs": 0, "timed_runs": 1},
           "inputs": {"kind": "random", "seed": 0}, "save_outputs": False}
    runner = AndroidRunner(open_transport(adb="direct", connect=installed.address))
    try:
        runner.run(job, tmp_path / "first", timeout_s=60)
        pushed = list((installed.fs.root / "sdcard").rglob(Path(tiny_tflite_path).name))
        assert len(pushed) == 1
        with pytest.raises(BenchError, match="cannot name a run folder"):
            runner.run(dict(job, run_id=".."), tmp_path / "dots", timeout_s=60)
    finally:
        runner.transport.close()
    assert pushed[0].exists()   # `rm -rf .../runs/..` would have taken the pushed model with it
    assert not any(line.startswith("rm -rf") and line.rstrip().endswith("/..") for line in installed.command_log)


@pytest.mark.parametrize("mode", ["direct", "server"])
def test_interrupt_stops_the_app_on_the_phone(mode, installed, tiny_tflite_path, tmp_path, request, monkeypatch):
    from mobilekit.benchmark.android import AndroidRunner
    from mobilekit.device import open_transport

    if mode == "server":
        server = request.getfixturevalue("adb_server")
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
    else:
        request.getfixturevalue("no_adb_server")
    installed.faults.run_hang_s = 30.0
    model_sha = __import__("hashlib").sha256(Path(tiny_tflite_path).read_bytes()).hexdigest()
    job = {"schema_version": 1, "run_id": "interrupted", "model": {"path": str(tiny_tflite_path), "sha256": model_sha},
           "delegate": {"name": "cpu", "threads": 1}, "runs": {"warmup_runs": 0, "timed_runs": 1},
           "inputs": {"kind": "random", "seed": 0}, "save_outputs": False}

    def press_ctrl_c(line):
        if "stage=load" in line:
            raise KeyboardInterrupt

    runner = AndroidRunner(open_transport(adb=mode, connect=installed.address))
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.run(job, tmp_path / "run", timeout_s=60, on_status=press_ctrl_c)
        assert any(line.startswith("am force-stop") for line in installed.command_log)
        assert not (tmp_path / "run" / "result.json").exists()
    finally:
        runner.transport.close()
        if mode == "server":
            request.getfixturevalue("adb_server").run("disconnect", installed.address)


def test_a_phone_without_sha256sum_is_checked_by_pulling_back(via, installed, tiny_tflite_path, tmp_path):
    installed.faults.no_sha256sum = True
    out = tmp_path / "out"
    first = bench_cli(via, tiny_tflite_path, out)
    assert first.exit_code == 0, first.output
    assert "damaged" not in first.output
    assert "sha256sum" in installed.unknown_commands  # it was asked, found missing, and worked around
    again = bench_cli(via, tiny_tflite_path, out, "--force")
    assert again.exit_code == 0, again.output
    # the model already on the phone is recognised without the tool: it went over once
    model_sends = [path for path in sends(installed) if path.endswith(Path(tiny_tflite_path).name + ",33188")]
    assert len(model_sends) == 1


def test_a_free_height_and_width_model_benches_on_the_phone_at_the_data_shape(installed, tmp_path, no_adb_server):
    from mobilekit._compat import keras, tf

    k = keras()
    image = k.Input((None, None, 1), name="image")
    x = k.layers.Conv2D(3, 3, activation="relu")(image)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = tmp_path / "free_hw.tflite"
    model.write_bytes(tf().lite.TFLiteConverter.from_keras_model(
        k.Model(image, k.layers.Dense(2)(x))).convert())
    data = tmp_path / "wide.npz"
    np.savez(data, x=np.random.default_rng(0).random((5, 12, 20, 1), dtype=np.float32))
    result = _bench_direct(installed, model, tmp_path / "out", data=data)
    assert result.exit_code == 0, result.output
    random = _bench_direct(installed, model, tmp_path / "out_random")
    assert random.exit_code != 0 and "free dimensions besides the batch" in random.stderr
    assert "--data" in random.stderr and "--input-shape" in random.stderr
    shaped = CliRunner().invoke(cli, ["bench", str(model), "--target", "device", "--adb", "direct", "--connect",
                                      installed.address, "--runs", "2", "--warmup", "0", "--input-shape",
                                      "1,16,24,1", "-o", str(tmp_path / "out_shaped"), "--json"],
                                catch_exceptions=False)
    assert shaped.exit_code == 0, shaped.output
    run_dir = Path(summary_of(shaped)["runs"][0]["result_path"]).parent
    sent = json.loads((run_dir / "request.json").read_text())
    assert sent["schema_version"] == 2 and sent["inputs"]["shapes"] == [[1, 16, 24, 1]]
