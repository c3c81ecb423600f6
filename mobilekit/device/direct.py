"""A device reached without platform-tools: adb-shell over TCP (TCP_NODELAY) or USB, keys at
~/.android/adbkey, exit codes through an `echo` sentinel (the legacy shell has none)."""
from __future__ import annotations

import queue
import socket
import threading
import time
from pathlib import Path
from typing import Sequence

from .._io import atomic_path
from .._text import exception_line
from ..errors import DeviceError, UsageError
from .keys import ensure_key, unauthorized_hint
from .transport import (DeviceTimeoutError, OutputFn, ProgressFn, SentinelFilter, ShellResult,
                        Transport, quote_command, split_sentinel, with_sentinel)

DEFAULT_TIMEOUT_S = 30.0


def _adb_shell_errors() -> tuple:
    from adb_shell import exceptions as e

    return (e.AdbCommandFailureException, e.AdbConnectionError, e.AdbTimeoutError, e.DeviceAuthError,
            e.InvalidChecksumError, e.InvalidCommandError, e.InvalidResponseError, e.PushFailedError,
            e.TcpTimeoutException, e.UsbDeviceNotFoundError, e.UsbReadFailedError, e.UsbWriteFailedError,
            e.DevicePathInvalidError, e.InvalidTransportError)


def _no_delay_tcp_transport():
    from adb_shell.transport.tcp_transport import TcpTransport

    class NoDelayTcpTransport(TcpTransport):
        # Without TCP_NODELAY each small ADB packet waits for the peer's delayed ACK: ~40 ms per
        # shell round trip instead of well under a millisecond.
        def connect(self, transport_timeout_s):
            super().connect(transport_timeout_s)
            self._connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def bulk_read(self, numbytes, transport_timeout_s):
            # adb-shell reads b"" from a closed socket as "no data yet" and spins until its read
            # timeout; a closed link must end the operation now.
            data = super().bulk_read(numbytes, transport_timeout_s)
            if not data and numbytes:
                raise ConnectionResetError("the device closed the connection")
            return data

    return NoDelayTcpTransport


def _not_adb(exc: BaseException) -> bool:
    """adb-shell's complaints about a peer whose bytes are not ADB packets at all."""
    name = type(exc).__name__
    return name in ("InvalidCommandError", "InvalidResponseError", "InvalidChecksumError") or \
        str(exc).startswith("Unknown command")


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host:
        return address, 5555
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"bad device address {address!r}: expected HOST:PORT") from None
    if not 1 <= number <= 65535:
        raise UsageError(f"invalid port {port} in {address}: ports run from 1 to 65535",
                         hint="wireless debugging shows the phone's IP address and port")
    return host, number


class DirectTransport(Transport):
    kind = "direct"

    def __init__(self, address: str | None = None, *, usb_serial: str | None = None, key_path=None,
                 auth_timeout_s: float = 20.0, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.address = address
        self.usb_serial = usb_serial
        self.serial = address or usb_serial or "usb"
        self.key_path = ensure_key(key_path)
        self.auth_timeout_s = auth_timeout_s
        self.timeout_s = timeout_s
        self._device = None
        self._tcp = None
        self._errors = _adb_shell_errors()
        self.connect()

    # -- connection -------------------------------------------------------------------------------
    def connect(self) -> None:
        from adb_shell.adb_device import AdbDevice
        from adb_shell.auth.sign_cryptography import CryptographySigner

        if self.address:
            host, port = split_address(self.address)
            self._tcp = _no_delay_tcp_transport()(host, port)
            device = AdbDevice(self._tcp, default_transport_timeout_s=self.timeout_s)
        else:
            try:
                from adb_shell.adb_device import AdbDeviceUsb

                device = AdbDeviceUsb(serial=self.usb_serial, default_transport_timeout_s=self.timeout_s)
            except self._errors + (ImportError, OSError) as exc:
                raise DeviceError(f"no USB device for a direct connection: {exception_line(exc)}",
                                  hint="attach a phone with USB debugging on, or use --connect HOST:PORT") from None
        asked = []
        try:
            signer = CryptographySigner(str(self.key_path))
            device.connect(rsa_keys=[signer], transport_timeout_s=self.timeout_s,
                           auth_timeout_s=self.auth_timeout_s, read_timeout_s=self.timeout_s,
                           auth_callback=lambda _device: asked.append(True))
        except ConnectionRefusedError:
            raise DeviceError(f"nothing listens on {self.serial}", serial=self.serial,
                              hint="check the address and that wireless debugging is on") from None
        except self._errors + (OSError,) as exc:
            _close_quietly(device)
            from adb_shell.exceptions import DeviceAuthError
            if asked or isinstance(exc, DeviceAuthError):
                raise DeviceError(f"device {self.serial} is unauthorized", serial=self.serial,
                                  hint=unauthorized_hint(self.key_path)) from None
            if _not_adb(exc):
                raise DeviceError(f"{self.serial} answered but does not speak ADB", serial=self.serial,
                                  hint="check the port: Developer options > Wireless debugging shows "
                                       "the phone's IP address and port") from None
            raise DeviceError(f"cannot connect to {self.serial}: {exception_line(exc)}", serial=self.serial) from None
        self._device = device

    def _ensure(self):
        if self._device is None:
            self.connect()
        return self._device

    def close(self) -> None:
        if self._device is not None:
            _close_quietly(self._device)
            self._device = None

    def _shutdown_socket(self) -> None:
        connection = getattr(self._tcp, "_connection", None)
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # wakes the reader's select()
            except OSError:
                pass
            connection.close()  # and its next select() fails instead of spinning on EOF

    def _lost(self, what: str, exc: BaseException) -> DeviceError:
        self.close()
        return DeviceError(f"connection to {self.serial} lost during {what}: {exception_line(exc)}",
                           serial=self.serial, hint="check the cable or network and rerun; finished runs are kept")

    # -- shell ------------------------------------------------------------------------------------
    def shell(self, command: Sequence[str] | str, *, timeout_s: float | None = None) -> ShellResult:
        text = quote_command(command)
        device = self._ensure()
        try:
            wait_s = max(self.timeout_s, timeout_s or 0.0)
            raw = device.shell(with_sentinel(text), transport_timeout_s=wait_s, read_timeout_s=wait_s,
                               timeout_s=timeout_s, decode=False)
        except self._errors + (OSError,) as exc:
            from adb_shell.exceptions import AdbTimeoutError
            if isinstance(exc, AdbTimeoutError) and timeout_s is not None:
                self.close()
                raise DeviceTimeoutError(f"command did not finish within {timeout_s:g} s: {text[:200]}",
                                         serial=self.serial) from None
            raise self._lost(text[:200], exc) from None
        body, code = split_sentinel(raw.decode("utf-8", "replace"))
        return ShellResult(text, code, body, "")

    def shell_stream(self, command, on_output: OutputFn, *, timeout_s: float | None = None) -> ShellResult:
        import codecs

        text = quote_command(command)
        device = self._ensure()
        chunks: queue.Queue = queue.Queue()

        def pump():
            try:
                # No transport timeout: a long run may print nothing for minutes; our own deadline
                # below ends it instead.
                for chunk in device.streaming_shell(with_sentinel(text), transport_timeout_s=10 ** 6,
                                                    read_timeout_s=10 ** 6, decode=False):
                    chunks.put(("data", chunk))
                chunks.put(("end", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                chunks.put(("error", exc))

        worker = threading.Thread(target=pump, daemon=True, name="mobilekit-direct-stream")
        worker.start()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        sentinel = SentinelFilter(on_output)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            try:
                if remaining is not None and remaining <= 0:
                    raise queue.Empty
                kind, value = chunks.get(timeout=remaining)
            except queue.Empty:
                # adb-shell cannot abandon a stream, and its close() waits for the reader's lock:
                # shut the socket under the reader so it returns at once, then drop the link.
                self._shutdown_socket()
                self.close()
                worker.join(5)
                raise DeviceTimeoutError(f"command did not finish within {timeout_s:g} s: {text[:200]}",
                                         serial=self.serial) from None
            if kind == "data":
                try:
                    sentinel.feed(decoder.decode(value))
                except BaseException:
                    # the caller gave up (Ctrl-C in on_output): free the link for what comes next
                    self._shutdown_socket()
                    self.close()
                    raise
            elif kind == "end":
                break
            else:
                raise self._lost(text[:200], value)
        body, code = sentinel.finish()
        return ShellResult(text, code, body, "")

    # -- files ------------------------------------------------------------------------------------
    def push(self, local, remote: str, progress: ProgressFn | None = None) -> None:
        from adb_shell.exceptions import PushFailedError, AdbCommandFailureException

        local = Path(local)
        total = local.stat().st_size
        done = [0]

        def callback(_path, written, _total):
            done[0] += written
            if progress:
                progress(done[0], total)

        device = self._ensure()
        try:
            device.push(str(local), remote, st_mode=0o100644, progress_callback=callback,
                        read_timeout_s=self.timeout_s)
        except (PushFailedError, AdbCommandFailureException) as exc:
            raise DeviceError(f"push of {local.name} to {remote} failed on {self.serial}: "
                              f"{exception_line(exc)}", serial=self.serial) from None
        except self._errors + (OSError,) as exc:
            raise self._lost(f"push of {local.name} ({done[0]} of {total} bytes sent)", exc) from None

    def pull(self, remote: str, local, progress: ProgressFn | None = None) -> None:
        from adb_shell.exceptions import AdbCommandFailureException

        device = self._ensure()
        received = [0]

        def callback(_path, written, total):
            received[0] += written
            if progress:
                progress(received[0], total)

        with atomic_path(Path(local)) as tmp:
            try:
                device.pull(remote, str(tmp), progress_callback=callback, read_timeout_s=self.timeout_s)
            except AdbCommandFailureException as exc:
                raise DeviceError(f"pull of {remote} failed on {self.serial}: {exception_line(exc)}",
                                  serial=self.serial) from None
            except self._errors + (OSError,) as exc:
                raise self._lost(f"pull of {remote}", exc) from None

    def stat(self, remote: str):
        device = self._ensure()
        try:
            mode, size, mtime = device.stat(remote, read_timeout_s=self.timeout_s)
        except self._errors + (OSError,) as exc:
            raise self._lost(f"stat of {remote}", exc) from None
        if mode == 0 and size == 0 and mtime == 0:
            return None
        return mode, size, mtime


def _close_quietly(device) -> None:
    try:
        device.close()
    except Exception:  # noqa: BLE001 - closing a broken link must not hide the real error
        pass


