"""Atomic writes: all or nothing, with ordinary permissions."""
from __future__ import annotations

import os
import stat

import pytest

from mobilekit._io import atomic_path, write_json_atomic, write_text_atomic


def test_written_file_gets_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "report.html", "<p>hi</p>")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_json_atomic(tmp_path / "result.json", {"status": "ok"})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a res")
            raise RuntimeError("crash mid-write")
    assert target.read_text().strip().endswith("}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
