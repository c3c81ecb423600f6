"""pytest fixtures for device tests, registered for the whole suite by tests/conftest.py (pytest_plugins).

One private AOSP adb server per session (skipped with a reason when `adb` is not installed), one
emulated phone per test, and `via` to run the same test through the adb server and direct.
"""
from __future__ import annotations


import shutil
from pathlib import Path

import pytest

from .android import apk_tools_missing
from .device import EmulatedDevice
from .harness import AdbServerProcess, free_port


@pytest.fixture(scope="session")
def adb_home(tmp_path_factory):
    """A HOME of our own: mobilekit's key (made by mobilekit, so the AOSP server proves the format)."""
    home = tmp_path_factory.mktemp("adb-home")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("ANDROID_USER_HOME", str(home / ".android"))
    patcher.delenv("ANDROID_SDK_HOME", raising=False)
    patcher.delenv("MOBILEKIT_APK", raising=False)
    from mobilekit.device.keys import ensure_key

    key = ensure_key()
    yield home, key
    patcher.undo()


@pytest.fixture(scope="session")
def adb_server(adb_home):
    if shutil.which("adb") is None:
        pytest.skip("the AOSP `adb` is not installed (apt-get install adb, or scripts/setup.sh --test)")
    home, _ = adb_home
    server = AdbServerProcess(home).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def companion_apk():
    """The companion app's real APK, as bundled with mobilekit (built by scripts/setup.sh --test)."""
    from mobilekit.device import app

    problem = apk_tools_missing()
    if problem:
        pytest.skip(f"the emulated phone reads real APKs with aapt/apksigner: {problem}")
    if not app.BUNDLED_APK.is_file():
        pytest.skip(f"the companion APK is not built ({app.BUNDLED_APK}); build it with `make apk`")
    return app.BUNDLED_APK


@pytest.fixture
def no_bundled_apk(monkeypatch, tmp_path):
    """mobilekit as installed without its bundled APK."""
    from mobilekit.device import app

    monkeypatch.setattr(app, "BUNDLED_APK", tmp_path / "not-bundled" / "mobilekit-bench.apk")


@pytest.fixture
def emulator(adb_home, tmp_path):
    _, key = adb_home
    root = tmp_path / "device-root"
    root.mkdir()
    device = EmulatedDevice(root, authorized_keys=[Path(f"{key}.pub")]).start()
    yield device
    device.stop()


@pytest.fixture
def installed(emulator, companion_apk):
    """The emulated phone with the current companion app already on it."""
    emulator.install_app(companion_apk)
    return emulator


class Via:
    """How a test reaches the emulator: mode 'server' (private adb server) or 'direct'."""

    def __init__(self, mode, device, server):
        self.mode, self.device, self.server = mode, device, server

    @property
    def args(self) -> list[str]:
        return ["--adb", self.mode, "--connect", self.device.address]

    def transport(self):
        from mobilekit.device.discovery import open_transport

        return open_transport(adb=self.mode, connect=self.device.address)


@pytest.fixture(params=["direct", "server"])
def via(request, emulator, monkeypatch, adb_home):
    mode = request.param
    monkeypatch.setenv("MOBILEKIT_ADB_AUTH_TIMEOUT_S", "3")
    if mode == "server":
        server = request.getfixturevalue("adb_server")
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
    else:
        server = None
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(free_port()))  # nothing answers there
    yield Via(mode, emulator, server)
    if server is not None:
        server.run("disconnect", emulator.address, timeout=10)


@pytest.fixture
def no_adb_server(monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(free_port()))


__all__ = ["adb_home", "adb_server", "companion_apk", "no_bundled_apk", "emulator", "installed", "via", "Via",
           "no_adb_server"]
