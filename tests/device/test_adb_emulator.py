"""The emulated phone itself: its shell parses like /system/bin/sh, its files cannot escape its
root, and it refuses what a phone refuses. (Everything else about it is exercised by the real adb
server and adb-shell in the other device tests.)"""
from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adb_emulator import EmulatedDevice
from adb_emulator.shell import ShellSyntaxError, parse


def run(device, line):
    chunks = []
    status = device.shell.run(line, chunks.append, chunks.append)
    return status, b"".join(chunks).decode()


@pytest.fixture
def phone(tmp_path):
    return EmulatedDevice(tmp_path)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12), min_size=1, max_size=4))
def test_quoted_words_come_back_as_posix_sh_gives_them(tmp_path_factory, words):
    """shlex.quote'd words echo back exactly; the same line through the host's /bin/sh agrees."""
    device = EmulatedDevice(tmp_path_factory.mktemp("phone"))
    line = "echo " + " ".join(shlex.quote(word) for word in words)
    status, output = run(device, line)
    assert status == 0 and output == " ".join(words) + "\n"
    # the host's POSIX sh splits the same quoting into the same words
    real = subprocess.run(["sh", "-c", "printf '%s\\n' " + " ".join(shlex.quote(word) for word in words)],
                          capture_output=True, text=True)
    assert real.stdout == "".join(word + "\n" for word in words)
    assert device.injections == []


def test_operators_redirects_and_exit_status(phone):
    assert run(phone, "false && echo no || echo yes") == (0, "yes\n")
    assert run(phone, "ls /nope; echo rc=$?") == (0, "ls: /nope: No such file or directory\nrc=1\n")
    assert run(phone, "echo 'a;b' \"c|d\" e\\;f") == (0, "a;b c|d e;f\n")
    assert run(phone, "echo hi > /data/local/tmp/x.txt && cat /data/local/tmp/x.txt") == (0, "hi\n")
    assert run(phone, "cat /nope 2>/dev/null; echo $?") == (0, "1\n")
    status, _ = run(phone, "echo unterminated 'quote")
    assert status == 2
    with pytest.raises(ShellSyntaxError, match="pipes are not supported"):
        parse("echo a | wc")


def test_substitutions_are_recorded_never_run(phone):
    status, output = run(phone, 'echo "$(touch /pwned)" `id` "${HOME}"')
    assert output == "  /\n"
    assert phone.injections == ["$(touch /pwned)", "`id`"]
    assert not (phone.fs.root / "pwned").exists()
    run(phone, "rm -rf /")
    assert phone.fs.root.exists()


def test_paths_cannot_escape_the_root(phone, tmp_path):
    outside = tmp_path.parent / "outside-the-phone.txt"
    run(phone, f"echo x > /../../{outside.name}")
    assert not outside.exists()
    assert (phone.fs.root / outside.name).exists()  # `/..` is `/`, as on any POSIX system
    (phone.fs.root / "data/local/tmp/link").symlink_to(tmp_path.parent)
    status, output = run(phone, "cat /data/local/tmp/link/anything")
    assert status != 0 and "Permission denied" in output


def test_unknown_commands_are_recorded(phone):
    assert run(phone, "reboot")[0] == 127
    assert phone.unknown_commands == ["reboot"]
