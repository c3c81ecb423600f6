"""Each class of bad input found by the hostile run: one line that names what is wrong and what to
do, a non-zero exit, no traceback and never "please report it" (that is for mobilekit's own bugs).
Every class is tried through more than one command or form where it can reach more than one."""
from __future__ import annotations

import socket
import textwrap
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli

from conftest import REPO

SAMPLES = REPO / "sample_models"


def run(*args, env=None):
    return CliRunner(env=env).invoke(cli, [str(a) for a in args], catch_exceptions=False)


def one_clean_line(outcome, *wanted, unwanted=()):
    assert outcome.exit_code != 0, outcome.output
    text = outcome.stderr
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, text
    assert "Traceback" not in outcome.output and "please report it" not in text, text
    for part in wanted:
        assert part in errors[0], errors[0]
    for part in unwanted:
        assert part not in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def junk(tmp_path_factory):
    folder = tmp_path_factory.mktemp("junk")
    rng = np.random.default_rng(13)
    for name in ("random.npz", "random.npy", "random.keras"):
        (folder / name).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return folder


@pytest.fixture(scope="module")
def garbled_tflite(tmp_path_factory, tiny_tflite_path):
    """A flatbuffer that passes the file checks and opens in LiteRT, with a tensor name that is not
    UTF-8: what byte corruption inside the name table looks like."""
    content = tiny_tflite_path.read_bytes()
    name = b"StatefulPartitionedCall"
    assert name in content
    path = tmp_path_factory.mktemp("garbled") / "garbled.tflite"
    path.write_bytes(content.replace(name, b"\xff\xfe" + name[2:], 1))
    return path


# ---------------------------------------------------------------------------------------------
# 9: random bytes as .npz/.npy, wherever arrays are read

@pytest.mark.parametrize("how", ["evaluate", "bench --data", "bench --labels", "convert --calibration",
                                 "bench --data .npy"])
def test_random_bytes_are_not_an_npz_and_never_an_invitation_to_unpickle(how, junk, tiny_tflite_path,
                                                                         tiny_keras_path, tmp_path):
    npz, npy = junk / "random.npz", junk / "random.npy"
    args = {"evaluate": ["evaluate", tiny_tflite_path, "--data", npz],
            "bench --data": ["bench", tiny_tflite_path, "--target", "host", "--data", npz, "-o", tmp_path],
            "bench --labels": ["bench", tiny_tflite_path, "--target", "host", "--data",
                               SAMPLES / "digits_eval.npz", "--labels", npz, "-o", tmp_path],
            "convert --calibration": ["convert", tiny_keras_path, "-o", tmp_path / "m.tflite",
                                      "--quantize", "int8", "--calibration", npz],
            "bench --data .npy": ["bench", tiny_tflite_path, "--target", "host", "--data", npy,
                                  "-o", tmp_path]}[how]
    one_clean_line(run(*args), "is not an .np", unwanted=("pickle",))
    assert not list(tmp_path.rglob("result.json"))


# ---------------------------------------------------------------------------------------------
# 10: a corrupted .tflite: the same words in every command

@pytest.mark.parametrize("command", ["inspect", "evaluate", "bench"])
def test_a_garbled_tflite_reads_in_bench_words_everywhere(command, garbled_tflite, tmp_path):
    args = {"inspect": ["inspect", garbled_tflite],
            "evaluate": ["evaluate", garbled_tflite, "--data", SAMPLES / "digits_eval.npz"],
            "bench": ["bench", garbled_tflite, "--target", "host", "-o", tmp_path]}[command]
    one_clean_line(run(*args), "LiteRT cannot load or allocate tensors", "garbled.tflite")


# ---------------------------------------------------------------------------------------------
# 8, 11: references and teachers that are not what they should be

def test_evaluate_reference_that_is_a_tflite_says_what_a_reference_is(tiny_tflite_path):
    line = one_clean_line(run("evaluate", tiny_tflite_path, "--data", SAMPLES / "digits_eval.npz",
                              "--reference", tiny_tflite_path), "--reference", "Keras model")
    assert "convert takes" not in line


def test_evaluate_reference_of_another_shape_names_both_shapes(tiny_tflite_path, tmp_path):
    from mobilekit._compat import keras

    k = keras()
    other = k.Sequential([k.layers.Input((4, 4, 1)), k.layers.Flatten(), k.layers.Dense(10)])
    other.save(tmp_path / "other.keras")
    one_clean_line(run("evaluate", tiny_tflite_path, "--data", SAMPLES / "digits_eval.npz",
                       "--reference", tmp_path / "other.keras"), "(?, 4, 4, 1)", "(?, 8, 8, 1)")


@pytest.mark.parametrize("teacher", ["random.keras", "missing.keras"])
def test_a_teacher_that_is_not_a_model_is_named(teacher, junk, tiny_keras_path, tmp_path):
    one_clean_line(run("convert", tiny_keras_path, "-o", tmp_path / "m.tflite", "--train",
                       SAMPLES / "digits_train.npz", "--prune", "0.5", "--distill-from", junk / teacher),
                   "teacher model", unwanted=("signature",))


@pytest.mark.parametrize("value", ["0", "0.0", "1"])
def test_prune_zero_or_one_is_a_bad_value_not_a_missing_step(value, tiny_keras_path, tmp_path):
    one_clean_line(run("convert", tiny_keras_path, "-o", tmp_path / "m.tflite", "--train",
                       SAMPLES / "digits_train.npz", "--prune", value),
                   "between 0 and 1", unwanted=("add --prune",))


# ---------------------------------------------------------------------------------------------
# 6: labels checked once, before any work, the same way in evaluate as in bench

def test_evaluate_refuses_one_hot_rows_narrower_than_the_outputs(tiny_tflite_path, digits, tmp_path):
    _, _, x, y = digits
    path = tmp_path / "narrow.npz"
    np.savez(path, x=x[:50], y=np.eye(5)[y[:50] % 5])
    one_clean_line(run("evaluate", tiny_tflite_path, "--data", path), "5 columns", "10 classes")


@pytest.mark.parametrize("labels", ["out_of_range", "fractional"])
def test_labels_are_checked_before_any_timing(labels, tiny_tflite_path, digits, tmp_path):
    _, _, x, y = digits
    bad = {"out_of_range": y[:20] + 10, "fractional": y[:20] + 0.5}[labels]
    data = tmp_path / "d.npz"
    np.savez(data, x=x[:20], y=bad)
    for args in (["evaluate", tiny_tflite_path, "--data", data],
                 ["bench", tiny_tflite_path, "--target", "host", "--data", data, "-o", tmp_path / "b"]):
        one_clean_line(run(*args), "labels")
    assert not list(tmp_path.rglob("result.json"))


# ---------------------------------------------------------------------------------------------
# 12, 13: the wrong kind of JSON, and pointers only at files that exist

@pytest.fixture(scope="module")
def bench_folder(tmp_path_factory, tiny_tflite_path):
    out = tmp_path_factory.mktemp("bench")
    outcome = run("bench", tiny_tflite_path, "--target", "host", "--runs", "3", "--warmup", "0",
                  "-o", out)
    assert outcome.exit_code == 0, outcome.output
    return out


@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_request_is_named_as_a_request(command, bench_folder, tmp_path):
    request = next(bench_folder.rglob("request.json"))
    result = request.with_name("result.json")
    args = ["report", request, "-o", tmp_path / "r.html"] if command == "report" else \
        ["compare", result, request]
    one_clean_line(run(*args), "is a bench request", "result.json", unwanted=("required property",))


def test_a_run_that_wrote_no_result_points_at_no_missing_file(tiny_tflite_path, tmp_path):
    # Stopped by its time limit before it wrote result.json: nothing to point at.
    outcome = run("bench", tiny_tflite_path, "--target", "host", "--min-secs", "30", "--max-secs",
                  "30", "--timeout", "2", "-o", tmp_path / "b")
    line = one_clean_line(outcome, "did not finish within 2 s")
    assert not list((tmp_path / "b").rglob("result.json"))
    assert "details in" not in line


# ---------------------------------------------------------------------------------------------
# 2, 11: user code that hangs or exits

@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "calibmod.py").write_text(textwrap.dedent("""
        import time
        def hangs():
            while True:
                time.sleep(1)
    """))
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\ndef load():\n    return []\n")
    return tmp_path


def test_bench_timeout_covers_loading_data(user_module, tiny_tflite_path):
    started = time.monotonic()
    one_clean_line(run("bench", tiny_tflite_path, "--target", "host", "--data", "calibmod.py:hangs",
                       "--timeout", "3", "-o", user_module / "b"), "calibmod.py:hangs", "3 s")
    assert time.monotonic() - started < 60


def test_convert_calibration_that_hangs_is_stopped(user_module, tiny_keras_path):
    outcome = run("convert", tiny_keras_path, "-o", user_module / "m.tflite", "--quantize", "int8",
                  "--calibration", "calibmod:hangs", env={"MOBILEKIT_LOAD_TIMEOUT": "3"})
    one_clean_line(outcome, "calibmod:hangs", "3 s")
    assert not (user_module / "m.tflite").exists()


@pytest.mark.parametrize("spec", ["exits.py:load", "exits:load"])
def test_a_loader_that_exits_at_import_is_a_message_not_exit_3(spec, user_module, tiny_keras_path):
    outcome = run("convert", tiny_keras_path, "-o", user_module / "m.tflite", "--quantize", "int8",
                  "--calibration", spec)
    assert outcome.exit_code != 3
    one_clean_line(outcome, "sys.exit(3)")


# ---------------------------------------------------------------------------------------------
# 14: phones

@pytest.mark.parametrize("command", ["devices", "bench"])
@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:port"])
def test_an_invalid_port_is_said_to_be_invalid(command, address, tiny_tflite_path, tmp_path):
    args = ["devices", "--adb", "direct", "--connect", address] if command == "devices" else \
        ["bench", tiny_tflite_path, "--target", "device", "--adb", "direct", "--connect", address,
         "-o", tmp_path]
    line = one_clean_line(run(*args))
    assert "nothing listens" not in line and ("invalid port" in line or "HOST:PORT" in line)


@pytest.fixture()
def not_adb():
    """Something that answers on a port and is not adbd (an HTTP server, say)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                peer, _ = server.accept()
            except OSError:
                continue
            with peer:
                peer.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + bytes(range(256)) * 4)
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("command", ["devices", "bench"])
def test_a_peer_that_is_not_adb_is_named_so(command, not_adb, tiny_tflite_path, tmp_path, adb_home):
    args = ["devices", "--adb", "direct", "--connect", not_adb] if command == "devices" else \
        ["bench", tiny_tflite_path, "--target", "device", "--adb", "direct", "--connect", not_adb,
         "-o", tmp_path]
    one_clean_line(run(*args), "answered but does not speak ADB", unwanted=("Unknown command", "b'"))


def test_devices_connect_to_an_unauthorized_phone_gives_the_key_hint(emulator, no_adb_server,
                                                                     monkeypatch):
    monkeypatch.setenv("MOBILEKIT_ADB_AUTH_TIMEOUT_S", "1")
    emulator.authorized.clear()
    line = one_clean_line(run("devices", "--adb", "direct", "--connect", emulator.address),
                          "unauthorized", "Allow USB debugging", ".pub")
    assert "adbkey" in line  # the key file to accept, named as bench names it
