"""EmulatedDevice: an ADB device on 127.0.0.1:<free port>, served from background threads."""
from __future__ import annotations

import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import android, services, wire
from .fs import DeviceFS
from .shell import Shell
from .transport import Connection

FEATURES = ("shell_v2", "cmd", "stat_v2", "fixed_push_mkdir")


@dataclass
class Faults:
    """Set an attribute to make the next matching operation fail like a real phone can."""
    drop_push_after_bytes: int | None = None   # cut the link once this many sync DATA bytes arrived
    drop_during_run: bool = False              # cut the link after the instrumentation started
    runner_crash: bool = False                 # the app's process dies: "Process crashed."
    run_hang_s: float = 0.0                    # the run stalls this long before running
    install_failure: str | None = None         # e.g. "INSTALL_FAILED_USER_RESTRICTED: Install canceled by user"
    result_output_name: str | None = None      # a hostile app names this file in result.outputs
    status_extra: dict | None = None           # extra values in every status bundle the app sends
    result_patch: dict | None = None           # a hostile app's result: these top-level keys replaced
    outputs_tamper: Callable | None = None     # called with the host path of outputs.npy before the pull


class EmulatedDevice:
    """An ADB device speaking the real wire protocol.

    ``auth_required``: send AUTH tokens and check signatures against ``authorized_keys``;
    ``accept_new_keys``: accept a host's RSAPUBLICKEY (a person tapping "Allow"); without it an
    unknown key stays unauthorized, as on a phone whose dialog nobody answers.
    """

    def __init__(self, root=None, *, serial: str | None = None, props: dict | None = None,
                 auth_required: bool = True, accept_new_keys: bool = False, authorized_keys=(),
                 features=FEATURES, free_bytes: int | None = None, cores: int = 8):
        self._tmp = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="adb-emu-root-")
            root = self._tmp.name
        self.fs = DeviceFS(Path(root), free_bytes=free_bytes)
        self.props = dict(android.PIXEL_7_PROPS, **(props or {}))
        self.auth_required = auth_required
        self.accept_new_keys = accept_new_keys
        self.authorized: list[tuple[int, int]] = []
        for key in authorized_keys:
            self.authorize_key(key)
        self.features = tuple(features)
        self.cores = cores
        cpu = self.fs.host("/sys/devices/system/cpu/possible")
        cpu.parent.mkdir(parents=True, exist_ok=True)
        cpu.write_text(f"0-{cores - 1}\n")
        self.faults = Faults()
        self.packages: dict[str, android.InstalledPackage] = {}
        self.thermal_status = 0
        self.battery_temp_c = 31.2
        self.shell = Shell(self)
        android.install_commands(self, self.shell)
        # what tests look at
        self.injections: list[str] = []
        self.unknown_commands: list[str] = []
        self.command_log: list[str] = []
        self.sync_log: list[tuple[str, str]] = []
        self.install_log: list[str] = []
        self.fault_log: list[str] = []
        self.offered_keys: list[bytes] = []
        self.bytes_received = 0
        self.connections_authorized = 0
        self.running: dict = {}
        self._stop_events: dict[str, threading.Event] = {}
        self._server: socket.socket | None = None
        self._connections: list[Connection] = []
        self._lock = threading.Lock()
        self.port = None
        self.serial = serial

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "EmulatedDevice":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        self._server = server
        self.port = server.getsockname()[1]
        if self.serial is None:
            self.serial = f"127.0.0.1:{self.port}"
        self.props.setdefault("ro.serialno", self.serial)
        threading.Thread(target=self._accept_loop, daemon=True, name="adb-emu-accept").start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.close()
            except OSError:
                pass
            self._server = None
        self.drop_all_connections()
        for package in list(self.running):
            self.force_stop(package)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self):
        server = self._server
        while True:
            try:
                sock, _ = server.accept()
            except OSError:
                return
            connection = Connection(self, sock)
            with self._lock:
                self._connections = [c for c in self._connections if c.alive] + [connection]
            threading.Thread(target=connection.serve, daemon=True, name="adb-emu-conn").start()

    def drop_all_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.drop()

    # ---- auth -----------------------------------------------------------------------------------
    def authorize_key(self, key) -> None:
        """Accept a public key: adbkey.pub bytes/text, a path to it, or (n, e)."""
        if isinstance(key, Path) or (isinstance(key, str) and Path(key).is_file()):
            key = Path(key).read_bytes()
        if isinstance(key, str):
            key = key.encode()
        if isinstance(key, (bytes, bytearray)):
            key = wire.parse_public_key(bytes(key))
        if key not in self.authorized:
            self.authorized.append(key)

    def signature_accepted(self, token: bytes, signature: bytes) -> bool:
        return any(wire.verify_token_signature(token, signature, key) for key in self.authorized)

    def banner(self) -> str:
        p = self.props
        return (f"device::ro.product.name={p['ro.product.name']};ro.product.model={p['ro.product.model']};"
                f"ro.product.device={p['ro.product.device']};features={','.join(self.features)}")

    # ---- services -------------------------------------------------------------------------------
    def service_handler(self, service: str):
        name = services.split_service(service)[0]
        if name == "shell" and (service.startswith("shell:") or "v2" not in service or "shell_v2" in self.features):
            return lambda stream: services.shell_service(self, stream)
        if name == "exec":
            return lambda stream: services.exec_service(self, stream)
        if service == "sync:":
            return lambda stream: services.sync_service(self, stream)
        return None

    # ---- app process control --------------------------------------------------------------------
    def stop_event_for(self, package: str) -> threading.Event:
        with self._lock:
            event = self._stop_events.get(package)
            if event is None or event.is_set():
                event = self._stop_events[package] = threading.Event()
            return event

    def force_stop(self, package: str) -> None:
        with self._lock:
            event = self._stop_events.get(package)
        if event is not None:
            event.set()

    def app_version_name(self, package: str) -> str:
        record = self.packages.get(package)
        return record.version_name if record else "?"

    def install_app(self, apk_path, **kwargs) -> None:
        """Preinstall an APK without going through adb (a phone that already has the app)."""
        payload = Path(apk_path).read_bytes()
        info = android.apk_info(payload)
        apk_device = f"/data/app/{info.package}-1/base.apk"
        host = self.fs.host(apk_device)
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_bytes(payload)
        self.packages[info.package] = android.installed_package(info, apk_device)
