"""One ADB connection as the device sees it: CNXN/AUTH handshake, streams with one WRTE in
flight each, and the services (shell v1/v2, exec, sync) run in a thread per stream."""
from __future__ import annotations

import os
import queue
import socket
import struct
import threading

from . import wire


class ConnectionDropped(Exception):
    """The link to the host is gone (closed by either side, or dropped by a fault)."""


class StreamClosed(Exception):
    pass


class Stream:
    def __init__(self, connection: "Connection", local_id: int, remote_id: int, service: str):
        self.connection = connection
        self.local_id = local_id
        self.remote_id = remote_id
        self.service = service
        self.inbox: queue.Queue = queue.Queue()
        self._buffer = bytearray()
        self._can_send = threading.Event()
        self._can_send.set()
        self.closed = threading.Event()     # set when the host closed the stream or the link died
        self._close_sent = False
        self._lock = threading.Lock()

    # -- host -> device ---------------------------------------------------------------------------
    def read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self.inbox.get()
            if chunk is None:
                self.inbox.put(None)
                raise StreamClosed()
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_some(self) -> bytes:
        """Whatever has arrived; b'' at end of stream."""
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        chunk = self.inbox.get()
        if chunk is None:
            self.inbox.put(None)
            return b""
        return chunk

    # -- device -> host ---------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        limit = self.connection.max_payload
        view = memoryview(data)
        for start in range(0, len(view), limit):
            while not self._can_send.wait(0.5):
                if self.closed.is_set():
                    raise StreamClosed()
            if self.closed.is_set():
                raise StreamClosed()
            self._can_send.clear()
            self.connection.send(wire.A_WRTE, self.local_id, self.remote_id, bytes(view[start:start + limit]))

    def on_okay(self):
        self._can_send.set()

    def close(self):
        """Device-side close (service finished)."""
        with self._lock:
            if self._close_sent:
                return
            self._close_sent = True
        if not self.closed.is_set():
            try:
                self.connection.send(wire.A_CLSE, self.local_id, self.remote_id)
            except ConnectionDropped:
                pass

    def on_host_close(self):
        self.closed.set()
        self.inbox.put(None)
        with self._lock:
            already = self._close_sent
            self._close_sent = True
        if not already:
            # A CLSE from the host is echoed.
            try:
                self.connection.send(wire.A_CLSE, self.local_id, self.remote_id)
            except ConnectionDropped:
                pass


class Connection:
    def __init__(self, device, sock: socket.socket):
        self.device = device
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.version = wire.VERSION_SKIP_CHECKSUM
        self.max_payload = wire.MAX_PAYLOAD
        self.checksums = False
        self.streams: dict[int, Stream] = {}
        self._send_lock = threading.Lock()
        self._next_id = 1
        self.alive = True
        self.host_banner = ""

    # -- framing ----------------------------------------------------------------------------------
    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        packet = wire.pack(command, arg0, arg1, data, with_checksum=self.checksums)
        with self._send_lock:
            if not self.alive:
                raise ConnectionDropped()
            try:
                self.sock.sendall(packet)
            except OSError as exc:
                self.alive = False
                raise ConnectionDropped() from exc

    def _recv_exact(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            try:
                chunk = self.sock.recv(size - len(chunks))
            except OSError as exc:
                raise ConnectionDropped() from exc
            if not chunk:
                raise ConnectionDropped()
            chunks += chunk
        return bytes(chunks)

    def read_packet(self):
        header = self._recv_exact(wire.HEADER.size)
        command, arg0, arg1, length, check, magic = wire.HEADER.unpack(header)
        if magic != command ^ 0xFFFFFFFF:
            raise ConnectionDropped()
        data = self._recv_exact(length) if length else b""
        if self.checksums and wire.checksum(data) != check:
            raise ConnectionDropped()
        return command, arg0, arg1, data

    def drop(self):
        """Cut the link the way a yanked cable does: no CLSE, just gone."""
        self.alive = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    # -- the connection's life --------------------------------------------------------------------
    def serve(self):
        try:
            self._handshake()
            self.device.connections_authorized += 1
            while True:
                command, arg0, arg1, data = self.read_packet()
                self._dispatch(command, arg0, arg1, data)
        except ConnectionDropped:
            pass
        finally:
            self.alive = False
            for stream in list(self.streams.values()):
                stream.closed.set()
                stream.inbox.put(None)
            try:
                self.sock.close()
            except OSError:
                pass

    def _handshake(self):
        device = self.device
        token = None
        while True:
            command, arg0, arg1, data = self.read_packet()
            if command == wire.A_CNXN:
                self.version = min(arg0, wire.VERSION_SKIP_CHECKSUM)
                self.checksums = self.version < wire.VERSION_SKIP_CHECKSUM
                self.max_payload = min(arg1 or wire.MAX_PAYLOAD_V1, wire.MAX_PAYLOAD)
                self.host_banner = data.rstrip(b"\0").decode("utf-8", "replace")
                if not device.auth_required:
                    self._send_cnxn()
                    return
                token = os.urandom(20)
                self.send(wire.A_AUTH, wire.AUTH_TOKEN, 0, token)
            elif command == wire.A_AUTH and token is not None:
                if arg0 == wire.AUTH_SIGNATURE:
                    if device.signature_accepted(token, data):
                        self._send_cnxn()
                        return
                    # Ask again with a fresh token so the host can try its next key.
                    token = os.urandom(20)
                    self.send(wire.A_AUTH, wire.AUTH_TOKEN, 0, token)
                elif arg0 == wire.AUTH_RSAPUBLICKEY:
                    device.offered_keys.append(data)
                    if device.accept_new_keys:
                        device.authorize_key(data)
                        self._send_cnxn()
                        return
                    # Unauthorized: a real phone shows its "Allow USB debugging?" dialog and waits.
            # anything else before CNXN is ignored, as adbd does

    def _send_cnxn(self):
        self.send(wire.A_CNXN, self.version, self.max_payload, self.device.banner().encode())

    def _dispatch(self, command, arg0, arg1, data):
        if command == wire.A_OPEN:
            service = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            handler = self.device.service_handler(service)
            if handler is None:
                self.send(wire.A_CLSE, 0, arg0)
                return
            local_id = self._next_id
            self._next_id += 1
            stream = Stream(self, local_id, arg0, service)
            self.streams[local_id] = stream
            self.send(wire.A_OKAY, local_id, arg0)
            threading.Thread(target=self._run_service, args=(handler, stream), daemon=True,
                             name=f"adb-emu-{service[:20]}").start()
        elif command == wire.A_WRTE:
            stream = self.streams.get(arg1)
            if stream is None:
                self.send(wire.A_CLSE, 0, arg0)
                return
            stream.inbox.put(data)
            self.send(wire.A_OKAY, stream.local_id, stream.remote_id)
        elif command == wire.A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.on_okay()
        elif command == wire.A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream is not None:
                stream.on_host_close()
        elif command == wire.A_CNXN:
            raise ConnectionDropped()  # a host reconnecting on the same link: start over

    def _run_service(self, handler, stream: Stream):
        try:
            handler(stream)
        except (StreamClosed, ConnectionDropped):
            pass
        finally:
            stream.close()
            self.streams.pop(stream.local_id, None)


# ---- shell v2 framing ---------------------------------------------------------------------------
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN, SHELL_WINDOW = 0, 1, 2, 3, 4, 5
_FRAME = struct.Struct("<BI")


def shell_frame(kind: int, data: bytes) -> bytes:
    return _FRAME.pack(kind, len(data)) + data


def read_shell_frame(stream: Stream):
    kind, length = _FRAME.unpack(stream.read_exact(_FRAME.size))
    return kind, stream.read_exact(length) if length else b""
