"""Talking to the platform-tools adb server (localhost:5037) over its host protocol directly:
`host:transport:<serial>` then `shell,v2,raw:` (exit codes) or `sync:` (files), no subprocess."""
from __future__ import annotations

import codecs
import os
import socket
import struct
import time
from pathlib import Path
from typing import Sequence

from .._io import atomic_path
from ..errors import DeviceError
from .transport import (DeviceTimeoutError, OutputFn, ProgressFn, SentinelFilter, ShellResult,
                        Transport, parse_install_output, quote_command, split_sentinel,
                        with_sentinel)

DEFAULT_PORT = 5037
SYNC_DATA_MAX = 64 * 1024
_SHELL_FRAME = struct.Struct("<BI")


def server_address() -> tuple[str, int]:
    """Where the adb server listens: ANDROID_ADB_SERVER_PORT, as the adb client itself reads it."""
    port = os.environ.get("ANDROID_ADB_SERVER_PORT", "")
    try:
        number = int(port) if port else DEFAULT_PORT
    except ValueError:
        raise DeviceError(f"ANDROID_ADB_SERVER_PORT={port!r} is not a port number") from None
    host = os.environ.get("ANDROID_ADB_SERVER_ADDRESS") or "127.0.0.1"
    return host, number


class AdbServerError(DeviceError):
    """The adb server answered FAIL."""


class AdbServer:
    """A client of the adb server's host protocol (`<4 hex length><request>` -> OKAY/FAIL)."""

    def __init__(self, host: str | None = None, port: int | None = None):
        default_host, default_port = server_address()
        self.host = host or default_host
        self.port = port or default_port

    # -- plumbing ---------------------------------------------------------------------------------
    def _connect(self, timeout_s: float | None = 10.0) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout_s)
        except OSError as exc:
            raise DeviceError(f"no adb server answers on {self.host}:{self.port} ({exc.strerror or exc})",
                              hint="start it with `adb start-server`, or use --adb direct") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    @staticmethod
    def _send_request(sock: socket.socket, request: str) -> None:
        data = request.encode("utf-8")
        sock.sendall(b"%04x" % len(data) + data)

    @staticmethod
    def _read_exact(sock: socket.socket, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = sock.recv(size - len(chunks))
            if not chunk:
                raise ConnectionError("the adb server closed the connection")
            chunks += chunk
        return bytes(chunks)

    def _read_status(self, sock: socket.socket, request: str) -> None:
        status = self._read_exact(sock, 4)
        if status == b"OKAY":
            return
        if status == b"FAIL":
            length = int(self._read_exact(sock, 4), 16)
            message = self._read_exact(sock, length).decode("utf-8", "replace")
            raise AdbServerError(message.strip())
        raise DeviceError(f"unexpected answer {status!r} from the adb server to {request!r}")

    def _read_string(self, sock: socket.socket) -> str:
        length = int(self._read_exact(sock, 4), 16)
        return self._read_exact(sock, length).decode("utf-8", "replace")

    def query(self, request: str, *, timeout_s: float = 10.0) -> str:
        """A host request answered by a length-prefixed string (host:devices-l, host:version, ...)."""
        with self._connect(timeout_s) as sock:
            try:
                self._send_request(sock, request)
                self._read_status(sock, request)
                return self._read_string(sock)
            except OSError as exc:
                raise DeviceError(f"adb server connection failed during {request!r}: {exc}") from None

    # -- host requests ----------------------------------------------------------------------------
    def answers(self, timeout_s: float = 0.25) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout_s) as sock:
                sock.settimeout(timeout_s)
                self._send_request(sock, "host:version")
                return self._read_exact(sock, 4) == b"OKAY"
        except (OSError, DeviceError):
            return False

    def devices(self, *, timeout_s: float = 5.0) -> list[dict]:
        """[{serial, state, product, model, device, transport_id}] from host:devices-l."""
        entries = []
        for line in self.query("host:devices-l", timeout_s=timeout_s).splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            entry = {"serial": parts[0], "state": parts[1]}
            for item in parts[2:]:
                key, _, value = item.partition(":")
                entry[key] = value
            entries.append(entry)
        return entries

    def connect_device(self, address: str) -> str:
        """`adb connect`; the server answers OKAY even when connecting failed, so read the text."""
        if ":" not in address:
            address = f"{address}:5555"
        message = self.query(f"host:connect:{address}", timeout_s=30.0)
        lowered = message.lower()
        if "connected to" in lowered and "cannot" not in lowered and "failed" not in lowered:
            return address
        if "failed to authenticate" in lowered:
            return address  # present but unauthorized: the state check says so clearly
        raise DeviceError(f"adb connect {address} failed: {message.strip()}",
                          hint="check the address and that the phone has wireless debugging on")

    def disconnect_device(self, address: str) -> None:
        try:
            self.query(f"host:disconnect:{address}", timeout_s=10.0)
        except AdbServerError:
            pass  # not connected: nothing to undo

    def features(self, serial: str) -> set[str]:
        try:
            return set(filter(None, self.query(f"host-serial:{serial}:features").strip().split(",")))
        except AdbServerError:
            return set()

    def open_service(self, serial: str, service: str, *, timeout_s: float | None = 10.0) -> socket.socket:
        sock = self._connect(timeout_s)
        try:
            self._send_request(sock, f"host:transport:{serial}")
            self._read_status(sock, "host:transport")
            self._send_request(sock, service)
            self._read_status(sock, service)
        except AdbServerError as exc:
            sock.close()
            raise state_error(str(exc), serial) from None
        except OSError as exc:
            sock.close()
            raise DeviceError(f"adb server connection failed: {exc}", serial=serial) from None
        except BaseException:
            sock.close()
            raise
        return sock


def state_error(message: str, serial: str | None) -> DeviceError:
    """A server FAIL about a device, as a clear DeviceError."""
    text = message.strip().splitlines()[0] if message.strip() else "unknown adb server error"
    lowered = text.lower()
    if "unauthorized" in lowered:
        from .keys import unauthorized_hint

        return DeviceError(f"device {serial} is unauthorized", hint=unauthorized_hint(), serial=serial)
    if "offline" in lowered:
        return DeviceError(f"device {serial} is offline",
                           hint="reconnect the cable or run `adb reconnect`, then retry", serial=serial)
    if "not found" in lowered:
        return DeviceError(f"device {serial} not found", hint="see `mobilekit devices` for attached phones",
                           serial=serial)
    return DeviceError(f"adb server refused: {text}", serial=serial)


class ServerTransport(Transport):
    """A device reached through the adb server (which owns USB when it runs)."""

    kind = "server"

    def __init__(self, serial: str, server: AdbServer | None = None):
        self.server = server or AdbServer()
        self.serial = serial
        self._features: set[str] | None = None

    @property
    def features(self) -> set[str]:
        if self._features is None:
            self._features = self.server.features(self.serial)
        return self._features

    # -- shell ------------------------------------------------------------------------------------
    def shell(self, command: Sequence[str] | str, *, timeout_s: float | None = None) -> ShellResult:
        return self._shell(command, None, timeout_s)

    def shell_stream(self, command, on_output: OutputFn, *, timeout_s: float | None = None) -> ShellResult:
        return self._shell(command, on_output, timeout_s)

    def _shell(self, command, on_output, timeout_s) -> ShellResult:
        text = quote_command(command)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        if "shell_v2" in self.features:
            return self._shell_v2(text, on_output, deadline, timeout_s)
        return self._shell_legacy(text, on_output, deadline, timeout_s)

    def _recv(self, sock, size, deadline, text, timeout_s):
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeoutError(f"command did not finish within {timeout_s:g} s: {text[:200]}",
                                         serial=self.serial)
            sock.settimeout(remaining)
        try:
            return sock.recv(size)
        except socket.timeout:
            raise DeviceTimeoutError(f"command did not finish within {timeout_s:g} s: {text[:200]}",
                                     serial=self.serial) from None
        except OSError as exc:
            raise DeviceError(f"connection to {self.serial} lost during: {text[:200]} ({exc})",
                              serial=self.serial) from None

    def _shell_v2(self, text, on_output, deadline, timeout_s) -> ShellResult:
        sock = self.server.open_service(self.serial, f"shell,v2,raw:{text}")
        stdout, stderr = bytearray(), bytearray()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        returncode = None
        buffer = bytearray()
        with sock:
            sock.sendall(_SHELL_FRAME.pack(4, 0))  # close stdin: nothing is ever typed into it
            while returncode is None:
                chunk = self._recv(sock, 1 << 16, deadline, text, timeout_s)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 5:
                    kind, length = _SHELL_FRAME.unpack_from(buffer)
                    if len(buffer) < 5 + length:
                        break
                    data = bytes(buffer[5:5 + length])
                    del buffer[:5 + length]
                    if kind == 1:
                        stdout += data
                        if on_output:
                            piece = decoder.decode(data)
                            if piece:
                                on_output(piece)
                    elif kind == 2:
                        stderr += data
                    elif kind == 3:
                        returncode = data[0] if data else None
        if returncode is None:
            raise DeviceError(f"connection to {self.serial} lost before the command finished: {text[:200]}",
                              serial=self.serial)
        return ShellResult(text, returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))

    def _shell_legacy(self, text, on_output, deadline, timeout_s) -> ShellResult:
        sock = self.server.open_service(self.serial, "shell:" + with_sentinel(text))
        collected = bytearray()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        sentinel = SentinelFilter(on_output) if on_output else None
        with sock:
            while True:
                chunk = self._recv(sock, 1 << 16, deadline, text, timeout_s)
                if not chunk:
                    break
                collected += chunk
                if sentinel:
                    sentinel.feed(decoder.decode(chunk))
        if sentinel:
            sentinel.finish()
        body, code = split_sentinel(collected.decode("utf-8", "replace"))
        return ShellResult(text, code, body, "")

    # -- files ------------------------------------------------------------------------------------
    def _sync(self) -> socket.socket:
        sock = self.server.open_service(self.serial, "sync:", timeout_s=60.0)
        return sock

    @staticmethod
    def _sync_request(ident: bytes, path: str) -> bytes:
        raw = path.encode("utf-8")
        return ident + struct.pack("<I", len(raw)) + raw

    def _sync_failure(self, sock, what: str) -> DeviceError:
        length = struct.unpack("<I", AdbServer._read_exact(sock, 4))[0]
        message = AdbServer._read_exact(sock, length).decode("utf-8", "replace")
        return DeviceError(f"{what} failed on {self.serial}: {message}", serial=self.serial)

    def stat(self, remote: str):
        with self._sync() as sock:
            try:
                sock.sendall(self._sync_request(b"STAT", remote))
                ident, mode, size, mtime = struct.unpack("<4sIII", AdbServer._read_exact(sock, 16))
                sock.sendall(b"QUIT" + struct.pack("<I", 0))
            except OSError as exc:
                raise DeviceError(f"connection to {self.serial} lost during stat: {exc}", serial=self.serial) from None
        if ident != b"STAT" or (mode == 0 and size == 0 and mtime == 0):
            return None
        return mode, size, mtime

    def push(self, local, remote: str, progress: ProgressFn | None = None) -> None:
        local = Path(local)
        total = local.stat().st_size
        done = 0
        with self._sync() as sock:
            try:
                sock.sendall(self._sync_request(b"SEND", f"{remote},{0o100644}"))
                with open(local, "rb") as handle:
                    while True:
                        chunk = handle.read(SYNC_DATA_MAX)
                        if not chunk:
                            break
                        sock.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                sock.sendall(b"DONE" + struct.pack("<I", int(local.stat().st_mtime)))
                answer = AdbServer._read_exact(sock, 4)
                if answer == b"FAIL":
                    raise self._sync_failure(sock, f"push of {local.name} to {remote}")
                AdbServer._read_exact(sock, 4)
                if answer != b"OKAY":
                    raise DeviceError(f"push to {remote}: unexpected answer {answer!r}", serial=self.serial)
                sock.sendall(b"QUIT" + struct.pack("<I", 0))
            except OSError:
                raise DeviceError(f"connection to {self.serial} lost while pushing {local.name} "
                                  f"({done} of {total} bytes sent)", serial=self.serial,
                                  hint="check the cable and rerun; finished runs are kept") from None

    def pull(self, remote: str, local, progress: ProgressFn | None = None) -> None:
        local = Path(local)
        received = 0
        with self._sync() as sock, atomic_path(local) as tmp:
            try:
                sock.sendall(self._sync_request(b"RECV", remote))
                with open(tmp, "wb") as handle:
                    while True:
                        ident, length = struct.unpack("<4sI", AdbServer._read_exact(sock, 8))
                        if ident == b"DATA":
                            handle.write(AdbServer._read_exact(sock, length))
                            received += length
                            if progress:
                                progress(received, 0)
                        elif ident == b"DONE":
                            break
                        elif ident == b"FAIL":
                            message = AdbServer._read_exact(sock, length).decode("utf-8", "replace")
                            raise DeviceError(f"pull of {remote} failed on {self.serial}: {message}",
                                              serial=self.serial)
                        else:
                            raise DeviceError(f"pull of {remote}: unexpected answer {ident!r}", serial=self.serial)
                sock.sendall(b"QUIT" + struct.pack("<I", 0))
            except OSError as exc:
                raise DeviceError(f"connection to {self.serial} lost while pulling {remote}: {exc}",
                                  serial=self.serial) from None

    def install(self, apk, *, timeout_s: float = 300.0) -> str:
        apk = Path(apk)
        if not apk.is_file():
            raise DeviceError(f"APK not found: {apk}")
        if "cmd" not in self.features:
            return super().install(apk, timeout_s=timeout_s)
        # Streamed install, as `adb install` does on Android 7+: no copy left in /data/local/tmp.
        size = apk.stat().st_size
        command = quote_command(["cmd", "package", "install", "-r", "-t", "-S", str(size)])
        sock = self.server.open_service(self.serial, f"exec:{command}", timeout_s=timeout_s)
        output = bytearray()
        with sock, open(apk, "rb") as handle:
            try:
                for chunk in iter(lambda: handle.read(SYNC_DATA_MAX), b""):
                    sock.sendall(chunk)
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    output += chunk
            except OSError as exc:
                raise DeviceError(f"connection to {self.serial} lost while installing {apk.name}: {exc}",
                                  serial=self.serial) from None
        text = output.decode("utf-8", "replace")
        parse_install_output(text, serial=self.serial)
        return text
