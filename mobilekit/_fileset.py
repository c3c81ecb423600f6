"""Outputs written as a set: a converted model and its card, a report and its plots folder.

Every member is written under a temporary name beside its final one; only when all are written are
they renamed into place. A failure while writing (a full disk, an error, Ctrl-C) leaves nothing new
behind and every old file as it was. The renames themselves need no space; should one still fail,
the members already moved are taken back and the old files restored.

    with output_set() as out:
        out.file("m.tflite").write_bytes(flatbuffer)
        out.file("m.card.json").write_text(card)
        plots = out.folder("r_files")  # an empty folder that replaces r_files/ as a whole
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from ._io import _WRITE_ERRNOS, _cannot_write, _current_umask
from .errors import UsageError


class OutputSet:
    def __init__(self):
        self._members: list[tuple[Path, Path]] = []  # (temporary, final)

    def file(self, final) -> Path:
        """A temporary path to write ``final``'s content to."""
        final = Path(final)
        if final.is_dir() and not final.is_symlink():
            raise UsageError(f"{final} is a folder; it would be replaced by a file",
                             hint="move the folder away or choose another output name")
        return self._add(final, folder=False)

    def folder(self, final) -> Path:
        """An empty temporary folder that replaces ``final`` (and all it held) on commit."""
        return self._add(Path(final), folder=True)

    def _add(self, final: Path, *, folder: bool) -> Path:
        if any(existing == final for _, existing in self._members):
            raise ValueError(f"{final} is already in this output set")  # a bug in the caller
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if folder:
                temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp",
                                                  dir=final.parent))
            else:
                fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
                os.fchmod(fd, 0o666 & ~_current_umask())
                os.close(fd)
                temporary = Path(name)
        except OSError as exc:
            raise _cannot_write(final, exc) from None
        self._members.append((temporary, final))
        return temporary

    def _commit(self) -> None:
        moved_aside: list[tuple[Path, Path]] = []  # (backup, final)
        placed: list[Path] = []
        try:
            for _, final in self._members:
                if final.exists() or final.is_symlink():
                    backup = final.with_name(f".{final.name}.{os.getpid()}.old")
                    _remove(backup)
                    os.replace(final, backup)
                    moved_aside.append((backup, final))
            for temporary, final in self._members:
                os.replace(temporary, final)
                placed.append(final)
        except BaseException as exc:
            for final in placed:
                _remove(final)
            for backup, final in moved_aside:
                with contextlib.suppress(OSError):
                    os.replace(backup, final)
            if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
                raise _cannot_write(self._members[0][1], exc) from None
            raise
        for backup, _ in moved_aside:
            _remove(backup)

    def _discard(self) -> None:
        for temporary, _ in self._members:
            _remove(temporary)


@contextlib.contextmanager
def output_set() -> Iterator[OutputSet]:
    """Collect temporary members in the block; rename them all into place if it succeeds."""
    members = OutputSet()
    try:
        yield members
    except BaseException as exc:
        members._discard()
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS and members._members:
            raise _cannot_write(members._members[0][1], exc) from None
        raise
    try:
        members._commit()
    finally:
        members._discard()  # whatever is still under a temporary name


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
