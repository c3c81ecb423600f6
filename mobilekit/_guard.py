"""Guards every command that writes files runs before it writes anything.

``refuse_aliases``: no output may be, or contain, an input of the same command. Paths are compared
resolved (symlinks, ``..``, ``~``) and by device and inode (hard links, a case-insensitive file
system, bind mounts), so ``convert m.keras -o m.keras`` and ``-o link-to-m.keras`` are refused
alike, before any work.

``output_lock``: one command at a time per output folder. The kernel's ``flock`` decides who owns
it, so a lock left by a process that died (even by SIGKILL) is free at once; the lock file holds
the owner's pid, host and command only to say who holds it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

from .errors import UsageError

LOCK_NAME = ".mobilekit.lock"
_POLL_S = 0.2


# ---------------------------------------------------------------------------------------------
# inputs and outputs

def _resolved(path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve(strict=False)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _inside(child: Path, folder: Path) -> bool:
    return child == folder or folder in child.parents


def refuse_aliases(inputs: Iterable[tuple[str, object]], outputs: Iterable[tuple[str, object]],
                   *, folders: Iterable[tuple[str, object]] = ()) -> None:
    """Raise one UsageError naming both sides if an output would overwrite an input.

    ``inputs``/``outputs``: (what, path) pairs; entries with a path of None are skipped, so callers
    can pass optional options as they are. ``outputs`` are files the command writes; ``folders`` are
    folders whose contents it replaces (a report's ``r_files/``): no input may sit inside those.
    Non-path inputs (``module:function``, in-memory arrays) are skipped.
    """
    named_inputs = []
    for what, path in inputs:
        if isinstance(path, (str, os.PathLike)) and str(path):
            resolved = _resolved(path)
            named_inputs.append((what, path, resolved, _identity(resolved)))
    for kind, entries in (("file", outputs), ("folder", folders)):
        for out_what, out_path in entries:
            if out_path is None:
                continue
            out_resolved = _resolved(out_path)
            out_identity = _identity(out_resolved)
            for what, path, resolved, identity in named_inputs:
                same = resolved == out_resolved or (identity is not None and identity == out_identity)
                contains = kind == "folder" and _inside(resolved, out_resolved)
                if same or contains:
                    relation = "is" if same else "would replace the folder holding"
                    raise UsageError(
                        f"{out_what} {out_path} {relation} the {what} {path}: writing it would "
                        f"destroy the {what}", hint=f"choose another {out_what} path")


# ---------------------------------------------------------------------------------------------
# one command per output folder

def _owner_text(info: dict) -> str:
    pid = info.get("pid", "?")
    host = info.get("host") or "?"
    command = info.get("command") or "mobilekit"
    since = info.get("since")
    when = f" since {since}" if since else ""
    return f"pid {pid} on {host} ({command}){when}"


def _read_owner(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def output_lock(folder, *, command: str | None = None, wait: bool = False,
                wait_timeout_s: float | None = None) -> Iterator[Path]:
    """Hold ``folder``/.mobilekit.lock for the block; raise UsageError naming the owner if another
    live process holds it, or wait for it with ``wait=True`` (up to ``wait_timeout_s``)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from .errors import MobilekitError

        raise MobilekitError(f"cannot create {folder}: {exc.strerror or exc}",
                             hint="choose a folder you can write to") from None
    path = folder / LOCK_NAME
    command = command or " ".join(["mobilekit", *sys.argv[1:]])[:300]
    deadline = None if wait_timeout_s is None else time.monotonic() + wait_timeout_s
    said_waiting = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = _read_owner(path)
            if not wait:
                raise UsageError(f"{folder} is in use by {_owner_text(owner)}",
                                 hint="wait for it to finish, pass --wait to queue behind it, or "
                                      "choose another output folder") from None
            if deadline is not None and time.monotonic() > deadline:
                raise UsageError(f"{folder} was still in use by {_owner_text(owner)} after "
                                 f"{wait_timeout_s:g} s of waiting") from None
            if not said_waiting:
                print(f"Waiting: {folder} is in use by {_owner_text(owner)}", file=sys.stderr)
                said_waiting = True
            time.sleep(_POLL_S)
            continue
        # The previous owner may have unlinked the file between our open and our flock: then we
        # hold a lock on a name nobody else will find; start again on the file that is there.
        if _identity(path) != _fd_identity(fd):
            os.close(fd)
            continue
        break
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):
            if _identity(path) == _fd_identity(fd):
                os.unlink(path)
        os.close(fd)


def _fd_identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino
