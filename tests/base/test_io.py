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


def test_an_unwritable_place_is_a_one_line_error(tmp_path):
    from mobilekit.errors import MobilekitError

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(MobilekitError, match="cannot write .*a_file/out.json"):
        write_json_atomic(blocker / "out.json", {"x": 1})


def test_convert_to_an_unwritable_place_exits_1_with_one_line(tmp_path, tiny_keras_path):
    from click.testing import CliRunner

    from mobilekit.cli import cli

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(cli, ["convert", str(tiny_keras_path), "-o", str(blocker / "m.tflite")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot write") and result.output.count("\n") == 1
