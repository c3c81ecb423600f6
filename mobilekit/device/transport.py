"""The one interface every way of reaching a phone implements: shell with an exit code, push,
pull, install. Callers pass argv lists; `quote_command` quotes every part for the device's sh."""
from __future__ import annotations

import abc
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import AdbCommandError, ApkInstallError, DeviceError

ProgressFn = Callable[[int, int], None]   # (bytes_done, bytes_total)
OutputFn = Callable[[str], None]


class DeviceTimeoutError(DeviceError):
    """A command on the device that did not finish in its time budget."""


@dataclass
class ShellResult:
    command: str
    returncode: int | None     # None when the transport could not learn it
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def quote_command(argv: Sequence[str] | str) -> str:
    """A command line for the device's /system/bin/sh with every argument quoted."""
    if isinstance(argv, str):
        return argv
    return " ".join(shlex.quote(str(part)) for part in argv)


_INSTALL_FAILURE = re.compile(r"Failure \[([A-Z_]+)(?::\s*([^\]]*))?\]")


def parse_install_output(output: str, *, serial: str | None = None) -> None:
    """Raise ApkInstallError unless `pm install` said Success."""
    match = _INSTALL_FAILURE.search(output)
    if match:
        raise ApkInstallError(match.group(1), output, serial=serial)
    if "Success" not in output:
        reason = "INSTALL_FAILED_UNKNOWN"
        for line in output.splitlines():
            if line.strip().startswith(("Error", "Exception", "adb: failed")):
                reason = f"INSTALL_FAILED_UNKNOWN ({line.strip()[:200]})"
                break
        raise ApkInstallError(reason, output, serial=serial)


class Transport(abc.ABC):
    """A connection to one device. Implementations: ServerTransport, DirectTransport."""

    kind: str = ""
    serial: str = ""

    @abc.abstractmethod
    def shell(self, command: Sequence[str] | str, *, timeout_s: float | None = None) -> ShellResult:
        """Run a command (argv list: every part quoted; str: used as is) and wait for it."""

    @abc.abstractmethod
    def shell_stream(self, command: Sequence[str] | str, on_output: OutputFn, *,
                     timeout_s: float | None = None) -> ShellResult:
        """Like shell(), handing stdout to ``on_output`` as it arrives (text chunks).

        Raises DeviceTimeoutError when ``timeout_s`` passes first."""

    @abc.abstractmethod
    def push(self, local, remote: str, progress: ProgressFn | None = None) -> None: ...

    @abc.abstractmethod
    def pull(self, remote: str, local, progress: ProgressFn | None = None) -> None: ...

    @abc.abstractmethod
    def stat(self, remote: str) -> tuple[int, int, int] | None:
        """(mode, size, mtime) or None when the path does not exist."""

    def install(self, apk, *, timeout_s: float = 300.0) -> str:
        """Install an APK (push, then `pm install -r -t`); raises ApkInstallError with the reason."""
        apk = Path(apk)
        if not apk.is_file():
            raise DeviceError(f"APK not found: {apk}")
        remote = f"/data/local/tmp/mobilekit-install-{apk.stat().st_size}.apk"
        self.push(apk, remote)
        try:
            result = self.shell(["pm", "install", "-r", "-t", remote], timeout_s=timeout_s)
        finally:
            self.shell(["rm", "-f", remote])
        parse_install_output(result.output, serial=self.serial)
        return result.output

    def check(self, command: Sequence[str] | str, *, timeout_s: float | None = None) -> ShellResult:
        """shell() that raises AdbCommandError on a non-zero exit."""
        result = self.shell(command, timeout_s=timeout_s)
        if result.returncode != 0:
            raise AdbCommandError(result.command, result.returncode, result.output, serial=self.serial)
        return result

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- the exit-code sentinel for the legacy shell, which has none ---------------------------------
RC_MARKER = "__MOBILEKIT_RC__"


def with_sentinel(command: str) -> str:
    return f"{command} ; echo {RC_MARKER}$?"


def split_sentinel(output: str) -> tuple[str, int | None]:
    head, marker, tail = output.rpartition(RC_MARKER)
    if not marker:
        return output, None
    digits = tail.strip()
    if not digits.isdigit():
        return output, None
    return head, int(digits)


class SentinelFilter:
    """Passes streamed text on, holding back only what could be the start of the sentinel line."""

    def __init__(self, sink: OutputFn):
        self.sink = sink
        self.pending = ""
        self.text: list[str] = []

    def feed(self, chunk: str) -> None:
        self.text.append(chunk)
        self.pending += chunk
        index = self.pending.find(RC_MARKER[0])
        while index >= 0:
            candidate = self.pending[index:]
            if RC_MARKER.startswith(candidate[:len(RC_MARKER)]):
                break
            index = self.pending.find(RC_MARKER[0], index + 1)
        if index < 0:
            out, self.pending = self.pending, ""
        else:
            out, self.pending = self.pending[:index], self.pending[index:]
        if out:
            self.sink(out)

    def finish(self) -> tuple[str, int | None]:
        body, code = split_sentinel("".join(self.text))
        rest = self.pending
        if code is not None:
            rest, _ = split_sentinel(rest)
        if rest:
            self.sink(rest)
        return body, code
