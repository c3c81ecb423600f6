"""The mechanisms behind "nothing lost, nothing hangs": the alias guard, the output-folder lock, the
output set, user code with a time limit, children that die with their parent. Real files, real
processes, real signals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mobilekit._fileset import output_set
from mobilekit._guard import LOCK_NAME, output_lock, refuse_aliases
from mobilekit.data import load_samples
from mobilekit.errors import DataError, UsageError

from conftest import REPO


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent is gone or has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------
# aliases

def test_alias_guard_refuses_the_same_path_a_symlink_and_a_hard_link(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"model")
    (tmp_path / "link.keras").symlink_to(model)
    os.link(model, tmp_path / "hard.keras")
    for output in (model, tmp_path / "link.keras", tmp_path / "hard.keras",
                   tmp_path / "sub" / ".." / "m.keras"):
        with pytest.raises(UsageError) as caught:
            refuse_aliases([("model", model)], [("output", output)])
        assert "model" in str(caught.value) and str(output) in str(caught.value)
    assert model.read_bytes() == b"model"


def test_alias_guard_refuses_a_folder_output_that_holds_an_input(tmp_path):
    plots = tmp_path / "r_files"
    plots.mkdir()
    (plots / "run.json").write_text("{}")
    with pytest.raises(UsageError, match="r_files"):
        refuse_aliases([("results", plots / "run.json")], [("report", tmp_path / "r.md")],
                       folders=[("plots folder", plots)])


def test_alias_guard_lets_distinct_paths_and_non_paths_through(tmp_path):
    refuse_aliases([("model", tmp_path / "m.keras"), ("calibration", "calib.py:load"),
                    ("teacher", None)], [("output", tmp_path / "m.tflite"), ("card", None)])


# ---------------------------------------------------------------------------------------------
# output-folder lock

_HOLD = textwrap.dedent("""
    import sys, time
    from mobilekit._guard import output_lock
    with output_lock(sys.argv[1], command="mobilekit bench m.tflite -o out"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def _holder(folder, seconds):
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder), str(seconds)],
                               stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_owner_is_told_who_holds_the_folder(tmp_path):
    holder = _holder(tmp_path, 30)
    try:
        with pytest.raises(UsageError) as caught:
            with output_lock(tmp_path):
                pass
        message = str(caught.value)
        assert f"pid {holder.pid}" in message and "mobilekit bench" in message and "--wait" in message
    finally:
        holder.kill()
        holder.wait()


def test_wait_queues_behind_the_owner(tmp_path):
    holder = _holder(tmp_path, 1.0)
    started = time.monotonic()
    with output_lock(tmp_path, wait=True, wait_timeout_s=30):
        waited = time.monotonic() - started
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    holder.wait()
    assert waited > 0.8, "got the lock while the owner still held it (it held it for 1 s)"
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    holder = _holder(tmp_path, 30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    left = json.loads((tmp_path / LOCK_NAME).read_text())
    assert left["pid"] == holder.pid  # the file is still there, naming a dead pid
    with output_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()


# ---------------------------------------------------------------------------------------------
# outputs as a set

def test_a_set_is_written_whole(tmp_path):
    (tmp_path / "r_files").mkdir()
    (tmp_path / "r_files" / "old.png").write_bytes(b"old")
    with output_set() as out:
        out.file(tmp_path / "r.md").write_text("report")
        plots = out.folder(tmp_path / "r_files")
        (plots / "new.png").write_bytes(b"new")
    assert (tmp_path / "r.md").read_text() == "report"
    assert sorted(p.name for p in (tmp_path / "r_files").iterdir()) == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md", "r_files"]


def test_a_failed_set_leaves_nothing_new_and_the_old_files_intact(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"old model")
    with pytest.raises(RuntimeError):
        with output_set() as out:
            out.file(tmp_path / "m.tflite").write_bytes(b"new model")
            out.file(tmp_path / "m.card.json")
            raise RuntimeError("the card could not be made")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
    assert (tmp_path / "m.tflite").read_bytes() == b"old model"


_FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from mobilekit._fileset import output_set
    from mobilekit.errors import MobilekitError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    folder = Path(sys.argv[1])
    try:
        with output_set() as out:
            out.file(folder / "m.tflite").write_bytes(b"m" * 100)
            out.file(folder / "m.card.json").write_bytes(b"c" * 10000)
    except MobilekitError as exc:
        print(exc)
        sys.exit(1)
""")


def test_a_write_that_runs_out_of_room_leaves_nothing_new(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"old model")
    proc = subprocess.run([sys.executable, "-c", _FULL_DISK, str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "cannot write" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
    assert (tmp_path / "m.tflite").read_bytes() == b"old model"


# ---------------------------------------------------------------------------------------------
# user code with a time limit

def _loader(tmp_path, body: str) -> str:
    (tmp_path / "userload.py").write_text(textwrap.dedent(body))
    return f"{tmp_path / 'userload.py'}:load"


def test_a_hanging_loader_is_stopped_at_its_limit_and_leaves_no_process(tmp_path):
    spec = _loader(tmp_path, f"""
        import os, time
        def load():
            open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))
            while True:
                time.sleep(1)
    """)
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        load_samples(spec, input_shape=(None, 4), timeout_s=3)
    assert time.monotonic() - started < 30
    assert "userload.py:load" in str(caught.value) and "3 s" in str(caught.value)
    assert _wait_gone(int((tmp_path / "pid").read_text()))


def test_a_loader_that_exits_at_import_is_named(tmp_path):
    spec = _loader(tmp_path, "import sys\nsys.exit(3)\ndef load():\n    return []\n")
    with pytest.raises(DataError, match=r"sys.exit\(3\)"):
        load_samples(spec, input_shape=(None, 4), timeout_s=60)


def test_a_loader_that_dies_is_reported_not_a_traceback(tmp_path):
    spec = _loader(tmp_path, "import os\ndef load():\n    os._exit(7)\n")
    with pytest.raises(DataError, match="exit code 7"):
        load_samples(spec, input_shape=(None, 4), timeout_s=60)


def test_a_loader_in_time_gives_its_samples(tmp_path):
    spec = _loader(tmp_path, "import numpy as np\ndef load():\n    yield np.ones((3, 4))\n")
    samples = load_samples(spec, input_shape=(None, 4), timeout_s=60)
    assert samples.shape == (3, 4) and samples.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# children die with their parent

_PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from mobilekit._lifetime import child_env
    child = subprocess.Popen([sys.executable, "-c",
        "from mobilekit._lifetime import die_with_parent; die_with_parent(); import time; "
        "print('ready', flush=True); time.sleep(300)"],
        env=child_env(), start_new_session=True, stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    print(child.pid, flush=True)
    time.sleep(300)
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_child_dies_with_its_parent_in_its_own_session(sig):
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    os.kill(parent.pid, sig)
    parent.wait()
    assert _wait_gone(child_pid), f"child {child_pid} outlived its parent"

