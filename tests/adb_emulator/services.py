"""The device's services: `shell:` (legacy, merged output), `shell,v2,...:` (framed, with an exit
code), `exec:` (raw, used by `cmd package install -S`) and `sync:` (stat, list, send, recv)."""
from __future__ import annotations

import errno
import os
import queue
import stat as stat_module
import struct
import threading
import time

from . import transport as t
from .fs import DiskFull

SYNC_DATA_MAX = 64 * 1024
_STAT_V1 = struct.Struct("<4sIII")
_STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
_DENT = struct.Struct("<4sIIII")


class BufferedOutput:
    """Collects output and sends it in few WRTEs: a shell round trip then costs one packet, not one
    per `echo`; long-running commands call flush() to stream as they go."""

    def __init__(self, send):
        self._send = send
        self._buffer = bytearray()
        self.lock = threading.Lock()

    def __call__(self, data: bytes):
        with self.lock:
            self._buffer += data
            big = len(self._buffer) >= SYNC_DATA_MAX
        if big:
            self.flush()

    def flush(self):
        with self.lock:
            data, self._buffer = bytes(self._buffer), bytearray()
        if data:
            self._send(data)


def split_service(service: str):
    """'shell,v2,raw:ls -l' -> ('shell', ['v2', 'raw'], 'ls -l')."""
    head, _, command = service.partition(":")
    name, *args = head.split(",")
    return name, args, command


def shell_service(device, stream: t.Stream):
    _, args, command = split_service(stream.service)
    if not command:
        # An interactive shell needs a pty; nothing in mobilekit asks for one.
        return
    if "v2" in args:
        _shell_v2(device, stream, command)
    else:
        out = BufferedOutput(stream.write)
        device.shell.run(command, out, out, cancelled=stream.closed, flush=out.flush)
        out.flush()


def _shell_v2(device, stream: t.Stream, command: str):
    stdin_queue: queue.Queue = queue.Queue()

    def pump_stdin():
        try:
            while True:
                kind, data = t.read_shell_frame(stream)
                if kind == t.SHELL_STDIN:
                    stdin_queue.put(data)
                elif kind == t.SHELL_CLOSE_STDIN:
                    stdin_queue.put(b"")
                    return
        except t.StreamClosed:
            stdin_queue.put(b"")

    threading.Thread(target=pump_stdin, daemon=True).start()

    def read_stdin():
        return stdin_queue.get()

    sink = BufferedOutput(stream.write)
    out = lambda data: sink(t.shell_frame(t.SHELL_STDOUT, data))  # noqa: E731
    err = lambda data: sink(t.shell_frame(t.SHELL_STDERR, data))  # noqa: E731
    status = device.shell.run(command, out, err, stdin=read_stdin, cancelled=stream.closed, flush=sink.flush)
    sink(t.shell_frame(t.SHELL_EXIT, bytes([status & 0xFF])))
    sink.flush()


def exec_service(device, stream: t.Stream):
    _, _, command = split_service(stream.service)
    out = BufferedOutput(stream.write)
    device.shell.run(command, out, out, stdin=stream.read_some, cancelled=stream.closed, flush=out.flush)
    out.flush()


# ---- sync ----------------------------------------------------------------------------------------

def sync_service(device, stream: t.Stream):
    fs = device.fs
    while True:
        ident, length = struct.unpack("<4sI", stream.read_exact(8))
        if ident == b"QUIT":
            return
        if length > 4096:
            _sync_fail(stream, "path too long")
            return
        path = stream.read_exact(length).decode("utf-8", "surrogateescape")
        device.sync_log.append((ident.decode(), path))
        if ident == b"STAT":
            stream.write(_stat_v1(fs, path))
        elif ident in (b"STA2", b"LST2"):
            stream.write(_stat_v2(fs, path, ident))
        elif ident == b"LIST":
            stream.write(_list(fs, path))
        elif ident == b"SEND":
            if not _send(device, stream, path):
                return
        elif ident == b"RECV":
            _recv(fs, stream, path)
        else:
            _sync_fail(stream, f"unknown sync command {ident!r}")
            return


def _sync_fail(stream, message: str):
    data = message.encode()
    stream.write(b"FAIL" + struct.pack("<I", len(data)) + data)


def _lookup(fs, path):
    try:
        host = fs.host(path)
        return host, os.stat(host)
    except OSError:
        return None, None


def _stat_v1(fs, path) -> bytes:
    _, info = _lookup(fs, path)
    if info is None:
        return _STAT_V1.pack(b"STAT", 0, 0, 0)
    return _STAT_V1.pack(b"STAT", info.st_mode & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF, int(info.st_mtime))


def _stat_v2(fs, path, ident) -> bytes:
    _, info = _lookup(fs, path)
    if info is None:
        return _STAT_V2.pack(ident, errno.ENOENT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return _STAT_V2.pack(ident, 0, info.st_dev, info.st_ino, info.st_mode, info.st_nlink, 2000, 2000,
                         info.st_size, int(info.st_atime), int(info.st_mtime), int(info.st_ctime))


def _list(fs, path) -> bytes:
    host, info = _lookup(fs, path)
    parts = []
    if info is not None and stat_module.S_ISDIR(info.st_mode):
        for name in sorted(os.listdir(host)):
            entry = os.stat(host / name)
            raw = name.encode("utf-8", "surrogateescape")
            parts.append(_DENT.pack(b"DENT", entry.st_mode, entry.st_size & 0xFFFFFFFF,
                                    int(entry.st_mtime), len(raw)) + raw)
    parts.append(_DENT.pack(b"DONE", 0, 0, 0, 0))
    return b"".join(parts)


def _send(device, stream, spec: str) -> bool:
    """Receive one file. Returns False when the stream must end (after a FAIL)."""
    fs = device.fs
    path, _, _mode = spec.rpartition(",")
    failure = None
    handle = None
    host = None
    try:
        host = fs.host(path)
        if host.is_dir():
            failure = f"{path}: Is a directory"
        else:
            host.parent.mkdir(parents=True, exist_ok=True)  # feature fixed_push_mkdir
            handle = open(host, "wb")
    except OSError as exc:
        failure = f"open failed: {exc.strerror}"
    written = 0
    while True:
        ident, length = struct.unpack("<4sI", stream.read_exact(8))
        if ident == b"DATA":
            if length > SYNC_DATA_MAX:
                _sync_fail(stream, "data too large")
                return False
            data = stream.read_exact(length)
            device.bytes_received += length
            limit = device.faults.drop_push_after_bytes
            if limit is not None and device.bytes_received >= limit:
                device.faults.drop_push_after_bytes = None
                device.fault_log.append("dropped connection mid-push")
                if handle:
                    handle.close()
                stream.connection.drop()
                raise t.ConnectionDropped()
            if handle is not None and failure is None:
                try:
                    fs.reserve(length)
                    handle.write(data)
                    written += length
                except (DiskFull, OSError) as exc:
                    failure = f"write failed: {exc.strerror or exc}"
        elif ident == b"DONE":
            mtime = length
            break
        else:
            failure = f"unexpected sync packet {ident!r}"
            break
    if handle is not None:
        handle.close()
        if failure is not None:
            fs.release(written)
            os.unlink(host)
        else:
            os.utime(host, (time.time(), mtime))
    if failure is not None:
        _sync_fail(stream, failure)
        return False
    stream.write(b"OKAY" + struct.pack("<I", 0))
    return True


def _recv(fs, stream, path):
    host, info = _lookup(fs, path)
    if info is None or not stat_module.S_ISREG(info.st_mode):
        _sync_fail(stream, "open failed: No such file or directory")
        return
    with open(host, "rb") as handle:
        batch = bytearray()
        for chunk in iter(lambda: handle.read(SYNC_DATA_MAX), b""):
            batch += b"DATA" + struct.pack("<I", len(chunk)) + chunk
            if len(batch) >= 4 * SYNC_DATA_MAX:
                stream.write(bytes(batch))
                batch.clear()
        batch += b"DONE" + struct.pack("<I", 0)
        stream.write(bytes(batch))
