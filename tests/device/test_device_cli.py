"""`mobilekit devices` and `mobilekit app install|check` on the emulated phone, both transports."""
from __future__ import annotations

import json

from click.testing import CliRunner

from adb_emulator import make_test_apk
from mobilekit.cli import cli
from mobilekit.device import app as companion


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_devices_json_and_table(installed, via):
    result = invoke("devices", "--json", *via.args)
    assert result.exit_code == 0, result.output
    rows = [row for row in json.loads(result.stdout) if row["serial"] == installed.address]
    assert len(rows) == 1
    row = rows[0]
    assert (row["state"], row["manufacturer"], row["model"], row["soc"], row["android_release"],
            row["sdk_level"], row["abi"], row["app_version_code"]) == \
        ("device", "Google", "Pixel 7", "GS201", "14", 34, "arm64-v8a", companion.APP_VERSION_CODE)
    table = invoke("devices", *via.args)
    assert table.exit_code == 0
    assert "Pixel 7" in table.stdout and "14 (SDK 34)" in table.stdout and "0.1.1 (1002)" in table.stdout


def test_devices_without_phones(no_adb_server):
    result = invoke("devices")
    assert result.exit_code == 0 and "No Android device attached" in result.stdout
    assert json.loads(invoke("devices", "--json").stdout) == []


def test_app_install_check_and_reinstall(via, companion_apk, tmp_path):
    device = via.device
    missing = invoke("app", "check", *via.args)
    assert missing.exit_code == 1 and "is not installed" in missing.stderr
    first = invoke("app", "install", "--apk", str(companion_apk), *via.args)
    assert first.exit_code == 0, first.output
    assert "installed dev.mobilekit.bench 0.1.1 (versionCode 1002)" in first.stdout
    again = invoke("app", "install", "--apk", str(companion_apk), *via.args)
    assert "nothing to do" in again.stdout and device.install_log == [companion.APP_PACKAGE]
    assert invoke("app", "check", *via.args).exit_code == 0

    old = make_test_apk(tmp_path / "old.apk", package=companion.APP_PACKAGE, version_code=1000,
                        instrumentation=companion.APP_INSTRUMENTATION)
    device.install_app(old)
    outdated = invoke("app", "check", *via.args)
    assert outdated.exit_code == 1 and "outdated" in outdated.stderr
    fixed = invoke("app", "install", "--apk", str(companion_apk), *via.args)
    assert "reinstalled" in fixed.stdout
    assert device.packages[companion.APP_PACKAGE].version_code == companion.APP_VERSION_CODE


def test_app_install_failure_reason(via, companion_apk):
    via.device.faults.install_failure = "INSTALL_FAILED_INSUFFICIENT_STORAGE"
    result = invoke("app", "install", "--apk", str(companion_apk), *via.args)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: app install failed: INSTALL_FAILED_INSUFFICIENT_STORAGE"


def test_app_install_wrong_protocol_is_refused(emulator, no_adb_server, tmp_path):
    future = make_test_apk(tmp_path / "future.apk", package=companion.APP_PACKAGE, version_code=2001,
                           instrumentation=companion.APP_INSTRUMENTATION)
    result = invoke("app", "install", "--apk", str(future), "--adb", "direct", "--connect", emulator.address)
    assert result.exit_code == 1 and "speaks protocol 2" in result.stderr


def test_app_install_says_what_is_missing(emulator, no_adb_server, no_bundled_apk, tmp_path, monkeypatch):
    monkeypatch.delenv("ANDROID_HOME", raising=False)
    monkeypatch.delenv("ANDROID_SDK_ROOT", raising=False)
    project = tmp_path / "android_app"
    project.mkdir()
    (project / "gradlew").write_text("#!/bin/sh\nexit 1\n")
    monkeypatch.setattr(companion, "REPO_ANDROID_APP", project)
    result = invoke("app", "install", "--adb", "direct", "--connect", emulator.address)
    assert result.exit_code == 1
    assert "no Android SDK is configured" in result.stderr and "ANDROID_HOME" in result.stderr
    assert "--apk" in result.stderr
    missing_file = invoke("app", "install", "--apk", str(tmp_path / "nope.apk"), "--adb", "direct",
                          "--connect", emulator.address)
    assert missing_file.exit_code == 1 and "APK not found" in missing_file.stderr


def test_devices_shows_an_unauthorized_phone(emulator, no_adb_server, monkeypatch):
    monkeypatch.setenv("MOBILEKIT_ADB_AUTH_TIMEOUT_S", "1")
    emulator.authorized.clear()
    rows = json.loads(invoke("devices", "--json", "--adb", "direct", "--connect", emulator.address).stdout)
    assert [(row["serial"], row["state"]) for row in rows] == [(emulator.address, "unauthorized")]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"   # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_gradle_build_past_its_time_is_stopped_with_everything_it_started(tmp_path, monkeypatch, no_bundled_apk):
    import os
    import signal
    import time

    import pytest

    from mobilekit.errors import DeviceError

    project = tmp_path / "android_app"
    project.mkdir()
    # gradlew starts a worker (as Gradle starts its JVM and workers) and waits for it
    gradlew = project / "gradlew"
    gradlew.write_text('#!/bin/sh\nsleep 120 &\necho $! > "$(dirname "$0")/worker.pid"\nwait\n')
    gradlew.chmod(0o755)
    monkeypatch.setenv("ANDROID_HOME", str(tmp_path / "sdk"))
    monkeypatch.setattr(companion, "GRADLE_TIMEOUT_S", 1.0)
    began = time.monotonic()
    try:
        with pytest.raises(DeviceError) as failure:
            companion.find_apk(project_dir=project)
        assert time.monotonic() - began < 30
        worker = int((project / "worker.pid").read_text())
        deadline = time.monotonic() + 5
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker)
        assert "did not finish within 1 s" in str(failure.value)
    finally:
        if (project / "worker.pid").exists() and _alive(int((project / "worker.pid").read_text())):
            os.kill(int((project / "worker.pid").read_text()), signal.SIGKILL)


def test_odd_property_values_from_a_phone_do_not_crash_devices(emulator, no_adb_server):
    emulator.props["ro.build.version.sdk"] = "3\u00b2"   # isdigit() is true for "²"; int() refuses it
    emulator.props["ro.product.model"] = "<b>Pixel</b> | 7"
    result = invoke("devices", "--json", "--adb", "direct", "--connect", emulator.address)
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)[0]
    assert row["sdk_level"] is None and row["model"] == "<b>Pixel</b> | 7"
    emulator.props["ro.product.manufacturer"] = "\x1b[2J\x1b]0;pwned\x07Google"   # clear screen, retitle
    table = invoke("devices", "--adb", "direct", "--connect", emulator.address)
    assert table.exit_code == 0, table.output
    assert "?[2J?]0;pwned?Google" in table.stdout and "\x1b" not in table.output and "\x07" not in table.output



def test_devices_connect_that_fails_exits_1(no_adb_server):
    # Nothing listens on a port we just freed: the table shows it and the exit status says so.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    result = CliRunner().invoke(cli, ["devices", "--adb", "direct", "--connect", address])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: could not reach {address}")
    assert address in result.stdout
