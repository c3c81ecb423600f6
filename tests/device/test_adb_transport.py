"""Both transports against the emulated phone: exit codes, streaming, files, install, timeouts and
every device state as a clear DeviceError."""
from __future__ import annotations

import hashlib
import os
import stat
import time

import pytest

from adb_emulator import EmulatedDevice
from mobilekit.device import Device, open_transport
from mobilekit.device.discovery import attached_serials
from mobilekit.device.transport import DeviceTimeoutError, parse_install_output
from mobilekit.errors import ApkInstallError, DeviceError, UsageError


def test_shell_exit_codes_quoting_and_streaming(via):
    with via.transport() as transport:
        result = transport.shell(["echo", "a  b", "$(id)", "`id`", "it's", "é日本"])
        assert result.returncode == 0
        assert result.stdout == "a  b $(id) `id` it's é日本\n"
        assert transport.shell("false").returncode == 1
        assert transport.shell(["ls", "/no/such"]).returncode == 1
        pieces = []
        streamed = transport.shell_stream("echo one; sleep 0.1; echo two", pieces.append)
        assert streamed.returncode == 0 and "".join(pieces) == "one\ntwo\n"
        assert "__MOBILEKIT_RC__" not in "".join(pieces) + streamed.stdout
    assert via.device.injections == [] and via.device.unknown_commands == []


def test_push_pull_stat_and_sha(via, tmp_path):
    data = os.urandom(300_000)
    local = tmp_path / "blob.bin"
    local.write_bytes(data)
    remote = "/data/local/tmp/dir with space/blob.bin"
    seen = []
    with via.transport() as transport:
        transport.push(local, remote, progress=lambda done, total: seen.append((done, total)))
        assert seen[-1] == (len(data), len(data))
        assert transport.stat(remote)[1] == len(data)
        assert transport.stat("/data/local/tmp/missing") is None
        assert Device(transport).sha256(remote) == hashlib.sha256(data).hexdigest()
        transport.pull(remote, tmp_path / "back.bin")
        assert (tmp_path / "back.bin").read_bytes() == data
        with pytest.raises(DeviceError, match="pull of /nope failed"):
            transport.pull("/nope", tmp_path / "nope.bin")
        assert not (tmp_path / "nope.bin").exists()
    assert (via.device.fs.root / "data/local/tmp/dir with space/blob.bin").read_bytes() == data


def test_timeout_is_clear_and_transport_recovers(via):
    with via.transport() as transport:
        began = time.monotonic()
        with pytest.raises(DeviceTimeoutError, match="within 0.3 s"):
            transport.shell_stream("sleep 5", lambda text: None, timeout_s=0.3)
        assert time.monotonic() - began < 3
        assert transport.shell(["echo", "back"]).stdout == "back\n"


def test_install_and_reason(via, companion_apk, tmp_path):
    with via.transport() as transport:
        transport.install(companion_apk)
        assert "dev.mobilekit.bench" in via.device.packages
        not_an_apk = tmp_path / "broken.apk"
        not_an_apk.write_bytes(b"not a zip")
        with pytest.raises(ApkInstallError) as info:
            transport.install(not_an_apk)
        assert info.value.reason == "INSTALL_FAILED_INVALID_APK"
        via.device.faults.install_failure = "INSTALL_FAILED_USER_RESTRICTED: Install canceled by user"
        with pytest.raises(ApkInstallError) as info:
            transport.install(companion_apk)
        assert info.value.reason == "INSTALL_FAILED_USER_RESTRICTED"


def test_device_facts(installed, via):
    with via.transport() as transport:
        info = Device(transport).info("dev.mobilekit.bench")
        facts = Device(transport).bench_facts()
        thermal = Device(transport).thermal()
    assert (info.manufacturer, info.model, info.soc, info.android_release, info.sdk_level, info.abi) == \
        ("Google", "Pixel 7", "GS201", "14", 34, "arm64-v8a")
    assert info.app_version_code is not None
    assert facts["cores"] == 8 and facts["os"] == "Android 14"
    assert thermal == {"status": "none", "battery_temp_c": 31.2}


def test_unauthorized_is_a_clear_error(adb_home, via):
    via.device.authorized.clear()
    began = time.monotonic()
    with pytest.raises(DeviceError, match="unauthorized") as info:
        via.transport()
    assert "Allow USB debugging" in str(info.value)
    assert time.monotonic() - began < 10
    assert via.device.offered_keys, "the host must offer its public key, as adb does"


def test_legacy_checksums_for_old_clients(installed, no_adb_server):
    # adb-shell speaks version 0x01000000: the device must compute checksums, which adb-shell checks.
    with open_transport(adb="direct", connect=installed.address) as transport:
        assert transport.shell(["getprop", "ro.product.model"]).stdout == "Pixel 7\n"
    assert installed.connections_authorized == 1


def test_no_device_and_bad_serial(adb_server, monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    for line in adb_server.run("devices").stdout.splitlines()[1:]:
        if line.strip():
            adb_server.run("disconnect", line.split()[0])
    with pytest.raises(DeviceError, match="no Android device attached"):
        open_transport(adb="server")
    with pytest.raises(DeviceError, match="device R58M123 not found"):
        open_transport("R58M123", adb="server")
    with pytest.raises(UsageError):
        open_transport(adb="usb")


def test_several_devices_need_a_serial(adb_home, adb_server, monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    _, key = adb_home
    with EmulatedDevice(authorized_keys=[f"{key}.pub"]) as one, EmulatedDevice(authorized_keys=[f"{key}.pub"]) as two:
        try:
            for device in (one, two):
                assert "connected to" in adb_server.run("connect", device.address).stdout
            assert sorted(attached_serials(adb="server")) == sorted([one.address, two.address])
            with pytest.raises(DeviceError, match="several devices attached") as info:
                open_transport(adb="server")
            assert "--serial" in str(info.value)
            with open_transport(two.address, adb="server") as transport:
                assert transport.shell(["echo", "hi"]).stdout == "hi\n"
        finally:
            for device in (one, two):
                adb_server.run("disconnect", device.address)


def test_offline_device_is_a_clear_error(adb_home, adb_server, monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    _, key = adb_home
    device = EmulatedDevice(authorized_keys=[f"{key}.pub"]).start()
    address = device.address
    try:
        adb_server.run("connect", address)
        device.stop()  # the phone goes away: the server keeps it, offline
        deadline = time.monotonic() + 10
        while "offline" not in adb_server.run("devices").stdout and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(DeviceError, match="offline|not found"):
            open_transport(address, adb="server")
    finally:
        adb_server.run("disconnect", address)


def test_discovery_is_fast_without_a_server(no_adb_server):
    began = time.monotonic()
    assert attached_serials() == []
    assert time.monotonic() - began < 0.3


def test_key_file_mode_and_format(tmp_path, monkeypatch):
    monkeypatch.setenv("ANDROID_USER_HOME", str(tmp_path / "android"))
    from mobilekit.device.keys import ensure_key

    old_umask = os.umask(0o022)
    try:
        key = ensure_key()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    from adb_emulator import wire

    n, e = wire.parse_public_key(key.with_name("adbkey.pub").read_bytes())
    assert e == 65537 and n.bit_length() == 2048
    os.chmod(key, 0o644)
    ensure_key()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_damaged_key_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ANDROID_USER_HOME", str(tmp_path))
    from mobilekit.device.keys import ensure_key

    (tmp_path / "adbkey").write_bytes(b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN")  # cut short
    (tmp_path / "adbkey").chmod(0o600)
    with pytest.raises(DeviceError, match="not a readable private key"):
        ensure_key()


def test_keys_made_at_once_by_several_callers_end_as_one_pair(tmp_path, monkeypatch):
    """Each caller passes the "no key yet" check before any finishes making one: the losers must
    take the winner's key, not fail on it or pair their own public key with it."""
    import threading

    from adb_emulator import wire
    from cryptography.hazmat.primitives import serialization

    monkeypatch.setenv("ANDROID_USER_HOME", str(tmp_path / "android"))
    from mobilekit.device.keys import ensure_key

    outcomes = []
    start = threading.Barrier(4)

    def make():
        start.wait()
        try:
            outcomes.append(ensure_key())
        except DeviceError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    key = tmp_path / "android" / "adbkey"
    assert outcomes == [key] * 4
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    n, _ = wire.parse_public_key(key.with_name("adbkey.pub").read_bytes())
    assert n == private.public_key().public_numbers().n
    assert sorted(p.name for p in key.parent.iterdir()) == ["adbkey", "adbkey.pub"]   # no temp files left


def test_install_output_parsing():
    parse_install_output("Performing Streamed Install\nSuccess\n")
    with pytest.raises(ApkInstallError) as info:
        parse_install_output("Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: Package x signatures do not match]")
    assert info.value.reason == "INSTALL_FAILED_UPDATE_INCOMPATIBLE"
    with pytest.raises(ApkInstallError, match="INSTALL_FAILED_UNKNOWN"):
        parse_install_output("")


def test_real_adb_binary_drives_the_emulator(adb_server, emulator, companion_apk, tmp_path):
    """The AOSP client itself (push with stat_v2, streamed install, shell v2 exit codes)."""
    assert "connected to" in adb_server.run("connect", emulator.address).stdout
    try:
        serial = ["-s", emulator.address]
        assert adb_server.run(*serial, "shell", "exit 7").returncode == 7
        blob = tmp_path / "b.bin"
        blob.write_bytes(os.urandom(200_000))
        assert adb_server.run(*serial, "push", str(blob), "/data/local/tmp/b.bin").returncode == 0
        assert (emulator.fs.root / "data/local/tmp/b.bin").read_bytes() == blob.read_bytes()
        installed = adb_server.run(*serial, "install", "-r", str(companion_apk))
        assert "Success" in installed.stdout
        assert "dev.mobilekit.bench" in emulator.packages
    finally:
        adb_server.run("disconnect", emulator.address)


def test_server_transport_without_shell_v2_uses_the_sentinel(adb_home, adb_server, companion_apk, monkeypatch):
    """A phone older than Android 7 advertises no shell_v2/cmd: exit codes come from the sentinel and
    installs go through a pushed file and `pm install`."""
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    _, key = adb_home
    with EmulatedDevice(authorized_keys=[f"{key}.pub"], features=()) as old_phone:
        try:
            with open_transport(adb="server", connect=old_phone.address) as transport:
                assert "shell_v2" not in transport.features
                result = transport.shell(["ls", "/nope"])
                assert result.returncode == 1 and "No such file" in result.stdout
                pieces = []
                streamed = transport.shell_stream(["echo", "x"], pieces.append)
                assert streamed.returncode == 0 and "".join(pieces) == "x\n"
                transport.install(companion_apk)
            assert "dev.mobilekit.bench" in old_phone.packages
            assert any(line.startswith("pm install") for line in old_phone.command_log)
        finally:
            adb_server.run("disconnect", old_phone.address)


def test_the_adb_server_authenticates_with_the_key_mobilekit_made(adb_home, adb_server, emulator):
    """adb_home made ~/.android/adbkey with mobilekit before the AOSP server started; the phone
    accepts only that key, so a connection proves the files are in platform-tools' format."""
    try:
        assert "connected to" in adb_server.run("connect", emulator.address).stdout
        assert emulator.offered_keys == [] and emulator.connections_authorized == 1
    finally:
        adb_server.run("disconnect", emulator.address)


def test_connect_to_nothing_is_a_clear_error(via):
    from adb_emulator.harness import free_port

    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(DeviceError) as info:
        open_transport(adb=via.mode, connect=address)
    text = str(info.value)
    assert address in text and ("failed" in text or "nothing listens" in text)
