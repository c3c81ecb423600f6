"""The emulated device's filesystem: a real folder on the host standing in for `/`.

Device paths are normalised as POSIX paths from `/` before they are joined to the root, so `..`
can never climb out of it; a symlink that points outside is refused too.
"""
from __future__ import annotations

import errno
import os
import posixpath
import threading
from pathlib import Path

STANDARD_DIRS = ("data/local/tmp", "sdcard/Download", "data/app", "system/bin", "proc",
                 "storage/emulated/0")


class DiskFull(OSError):
    def __init__(self):
        super().__init__(errno.ENOSPC, "No space left on device")


class DeviceFS:
    def __init__(self, root: Path, *, capacity_bytes: int = 64 << 30, free_bytes: int | None = None):
        self.root = Path(root).resolve()
        for folder in STANDARD_DIRS:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.capacity_bytes = capacity_bytes
        # None means "plenty": the host's real free space is not the device's business.
        self.free_bytes = free_bytes
        self._lock = threading.Lock()

    def normalize(self, device_path: str, cwd: str = "/") -> str:
        joined = posixpath.join(cwd, device_path)
        normal = posixpath.normpath(joined)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        return normal

    def host(self, device_path: str, cwd: str = "/") -> Path:
        normal = self.normalize(device_path, cwd)
        host_path = self.root / normal.lstrip("/")
        resolved = Path(os.path.realpath(host_path))
        if resolved != self.root and self.root not in resolved.parents:
            raise PermissionError(errno.EACCES, "Permission denied", device_path)
        return host_path

    def device_path(self, host_path: Path) -> str:
        return "/" + str(Path(host_path).resolve().relative_to(self.root)).replace(os.sep, "/").lstrip(".")

    def reserve(self, n_bytes: int) -> None:
        """Account for bytes about to be written; raises DiskFull like a real full partition."""
        with self._lock:
            if self.free_bytes is None:
                return
            if n_bytes > self.free_bytes:
                self.free_bytes = 0
                raise DiskFull()
            self.free_bytes -= n_bytes

    def release(self, n_bytes: int) -> None:
        with self._lock:
            if self.free_bytes is not None:
                self.free_bytes += n_bytes

    def available_bytes(self) -> int:
        return self.free_bytes if self.free_bytes is not None else self.capacity_bytes // 2
