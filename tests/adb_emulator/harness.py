"""Test plumbing around the emulator: a private AOSP adb server (own port, own HOME, stopped by
PID) and helpers to reach the emulated device through it or directly."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the test process dies without its teardown (a killed
    pytest must not leave adb servers behind)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AdbServerProcess:
    """`adb -P PORT server nodaemon` in the foreground of a process we own, with HOME pointing at
    a temp folder so it never touches the user's keys or their own server on 5037."""

    def __init__(self, home: Path, port: int | None = None):
        self.adb = shutil.which("adb")
        if self.adb is None:
            raise RuntimeError("adb not installed")
        self.home = Path(home)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.env = dict(os.environ, HOME=str(self.home), ANDROID_ADB_SERVER_PORT=str(self.port))
        for name in ("ANDROID_SDK_HOME", "ANDROID_USER_HOME", "ADB_VENDOR_KEYS", "ADB_SERVER_SOCKET"):
            self.env.pop(name, None)

    @property
    def key_path(self) -> Path:
        return self.home / ".android" / "adbkey"

    def start(self) -> "AdbServerProcess":
        # adb 29 cannot take a host in -L; without -a its server listens on loopback only.
        (self.home / ".android").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([self.adb, "-P", str(self.port), "server", "nodaemon"],
                                        env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"adb server exited with {self.process.returncode}")
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("adb server did not start")

    def run(self, *args, timeout=60) -> subprocess.CompletedProcess:
        return subprocess.run([self.adb, "-P", str(self.port), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.run("kill-server", timeout=10)
        except (subprocess.SubprocessError, OSError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
