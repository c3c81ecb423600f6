"""The host runner end to end: a real LiteRT interpreter in a real subprocess, on the tiny CNN."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobilekit._io import sha256_file
from mobilekit.results import protocol

RUNNER = [sys.executable, "-m", "mobilekit.benchmark.host_child"]


def make_request(folder: Path, model: Path, **changes) -> Path:
    request = {
        "schema_version": 1, "run_id": "test-run",
        "model": {"path": str(model), "sha256": sha256_file(model)},
        "delegate": {"name": "xnnpack", "threads": 1},
        "runs": {"warmup_runs": 2, "timed_runs": 20},
        "inputs": {"kind": "random", "seed": 1},
        "save_outputs": False,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict) and key != "inputs":
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "request.json"
    path.write_text(json.dumps(request))
    return path


def run(request_path: Path):
    completed = subprocess.run(RUNNER + [str(request_path)], capture_output=True, text=True, timeout=120)
    result_path = request_path.parent / "result.json"
    result = protocol.load_result(result_path) if result_path.exists() else None
    return completed, result


def _seconds(result) -> float:
    parse = lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(result.finished_at) - parse(result.started_at)).total_seconds()


def test_random_inputs_measure_every_stage(tmp_path, tiny_tflite_path):
    completed, result = run(make_request(tmp_path, tiny_tflite_path))
    assert completed.returncode == 0, completed.stderr
    assert result.ok and result.error is None
    assert result.runner.kind == "host" and result.runner.runtime == "litert"
    assert result.delegate.applied == "xnnpack" and result.delegate.fallback_reason is None
    assert "XNNPACK delegate" in completed.stderr  # LiteRT's own word that XNNPACK was applied
    assert result.timing.init_ns > 0 and result.timing.first_inference_ns > 0
    assert len(result.timing.warmup_ns) == 2 and len(result.timing.samples_ns) == 20
    assert all(sample > 0 for sample in result.timing.samples_ns)
    assert result.memory.peak_rss_bytes > 10_000_000
    assert result.model.sha256 == sha256_file(tiny_tflite_path)
    assert result.device.cores >= 1 and result.device.os and result.device.serial is None
    assert result.thermal.start.status is None and result.thermal.end.battery_temp_c is None
    assert result.outputs == []


def test_npy_inputs_and_saved_outputs_match_litert(tmp_path, tiny_tflite_path, digits):
    from mobilekit._compat import make_interpreter

    x = digits[2][:12]
    np.save(tmp_path / "in.npy", x)
    request = make_request(tmp_path, tiny_tflite_path, inputs={"kind": "npy", "files": ["in.npy"]},
                           save_outputs=True, output_dir="out", delegate={"name": "cpu", "threads": 2})
    completed, _ = run(request)
    assert completed.returncode == 0, completed.stderr
    result = protocol.load_result(tmp_path / "out" / "result.json")
    assert result.delegate.applied == "cpu" and result.delegate.threads == 2
    assert "XNNPACK" not in completed.stderr  # builtin kernels only
    assert [o.file for o in result.outputs] == ["outputs.npy"]
    assert result.outputs[0].shape == [12, 10] and result.outputs[0].dtype == "float32"
    outputs = np.load(tmp_path / "out" / "outputs.npy", allow_pickle=False)
    interpreter = make_interpreter(model_path=tiny_tflite_path)
    interpreter.allocate_tensors()
    expected = []
    for sample in x:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[None])
        interpreter.invoke()
        expected.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    np.testing.assert_allclose(outputs, np.array(expected), rtol=1e-5, atol=1e-6)


def test_gpu_and_nnapi_fall_back_to_xnnpack_and_say_so(tmp_path, tiny_tflite_path):
    completed, result = run(make_request(tmp_path, tiny_tflite_path, delegate={"name": "gpu"},
                                         runs={"timed_runs": 3}))
    assert completed.returncode == 0, completed.stderr
    assert result.delegate.requested == "gpu" and result.delegate.applied == "xnnpack"
    assert "GPU" in result.delegate.fallback_reason


def test_max_secs_stops_before_timed_runs(tmp_path, tiny_tflite_path):
    completed, result = run(make_request(tmp_path, tiny_tflite_path,
                                         runs={"timed_runs": 10**9, "max_secs": 0.3, "warmup_runs": 0}))
    assert completed.returncode == 0, completed.stderr
    assert 1 <= len(result.timing.samples_ns) < 10**9
    assert _seconds(result) < 10


def test_min_secs_continues_past_timed_runs(tmp_path, tiny_tflite_path):
    completed, result = run(make_request(tmp_path, tiny_tflite_path,
                                         runs={"timed_runs": 1, "min_secs": 0.25, "warmup_runs": 0}))
    assert completed.returncode == 0, completed.stderr
    assert len(result.timing.samples_ns) > 1
    assert _seconds(result) >= 0.25


def test_never_imports_tensorflow(tmp_path, tiny_tflite_path):
    request = make_request(tmp_path, tiny_tflite_path, runs={"timed_runs": 2})
    code = ("import sys\nfrom mobilekit.benchmark import host_child as host_runner\n"
            f"rc = host_runner.main([{str(request)!r}])\n"
            "heavy = sorted(m for m in ('tensorflow', 'tf_keras', 'keras', 'tensorflow_model_optimization')"
            " if m in sys.modules)\nprint('HEAVY=' + ','.join(heavy))\nsys.exit(rc)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "HEAVY=\n" in completed.stdout


def _failed(tmp_path, model, stage, message_part, **changes):
    completed, result = run(make_request(tmp_path, model, **changes))
    assert completed.returncode == 1, completed.stderr
    assert result is not None and result.status == "failed"
    assert result.error.stage == stage, result.error
    assert message_part in result.error.message, result.error.message
    assert message_part in completed.stderr
    assert "Traceback" not in completed.stderr
    return result


def test_truncated_npy_is_a_failed_result(tmp_path, tiny_tflite_path, digits):
    np.save(tmp_path / "in.npy", digits[2][:4])
    data = (tmp_path / "in.npy").read_bytes()
    (tmp_path / "in.npy").write_bytes(data[: len(data) - 100])
    _failed(tmp_path, tiny_tflite_path, "inputs", "in.npy", inputs={"kind": "npy", "files": ["in.npy"]})


def test_npy_of_wrong_dtype_or_shape_is_a_failed_result(tmp_path, tiny_tflite_path):
    np.save(tmp_path / "in.npy", np.zeros((3, 8, 8, 1), dtype=np.float64))
    _failed(tmp_path / "a", tiny_tflite_path, "inputs", "takes float32",
            inputs={"kind": "npy", "files": [str(tmp_path / "in.npy")]})
    np.save(tmp_path / "in.npy", np.zeros((3, 9, 8, 1), dtype=np.float32))
    _failed(tmp_path / "b", tiny_tflite_path, "inputs", "does not fit model input",
            inputs={"kind": "npy", "files": [str(tmp_path / "in.npy")]})


def test_model_that_fails_to_allocate_is_a_clean_failed_result(tmp_path, custom_op_tflite_path):
    result = _failed(tmp_path, custom_op_tflite_path, "init", "cannot load or allocate tensors")
    assert "Igamma" in result.error.message
    assert result.delegate.applied is None and result.timing.samples_ns == []


def test_changed_model_file_is_refused(tmp_path, tiny_tflite_path):
    request = make_request(tmp_path, tiny_tflite_path)
    data = json.loads(request.read_text())
    data["model"]["sha256"] = "0" * 64
    request.write_text(json.dumps(data))
    completed, result = run(request)
    assert completed.returncode == 1 and result.error.stage == "load" and "sha256" in result.error.message


def test_invalid_request_still_writes_a_failed_result(tmp_path, tiny_tflite_path):
    _failed(tmp_path, tiny_tflite_path, "request", "delegate.threads", delegate={"threads": 0})
    request = tmp_path / "request.json"
    request.write_text(request.read_text()[:40])
    completed, result = run(request)
    assert completed.returncode == 1 and result.error.stage == "request"
    assert "truncated" in result.error.message and result.run_id == "request"


def _request_dict(model: Path, **runs) -> dict:
    return {"schema_version": 1, "run_id": "runner-test",
            "model": {"path": str(model), "sha256": sha256_file(model)},
            "delegate": {"name": "xnnpack", "threads": 1},
            "runs": {"warmup_runs": 0, "timed_runs": 3, **runs},
            "inputs": {"kind": "random", "seed": 0}, "save_outputs": False}


def test_host_runner_class_runs_in_a_subprocess(tmp_path, tiny_tflite_path):
    from mobilekit.benchmark.host_parent import HostRunner

    runner = HostRunner()
    assert runner.kind == "host" and runner.target == "host" and runner.facts()["cores"] >= 1
    statuses = []
    path = runner.run(_request_dict(tiny_tflite_path), tmp_path / "run", timeout_s=60,
                      on_status=statuses.append)
    assert path == tmp_path / "run" / "result.json" and protocol.load_result(path).ok
    assert protocol.load_request(tmp_path / "run" / "request.json").output_dir == str((tmp_path / "run").resolve())
    assert statuses and "runner-test" in statuses[0]


def test_host_runner_class_times_out(tmp_path, tiny_tflite_path):
    from mobilekit.benchmark.host_parent import HostRunner
    from mobilekit.errors import BenchError

    with pytest.raises(BenchError, match="did not finish within 1.5 s"):
        HostRunner().run(_request_dict(tiny_tflite_path, min_secs=60, max_secs=120), tmp_path, timeout_s=1.5)
    assert not (tmp_path / "result.json").exists()


def test_a_runner_killed_mid_write_leaves_no_temp_files(tmp_path, tiny_tflite_path):
    """SIGKILL runs no cleanup: the partial files atomic_path was writing must be removed by the parent."""
    from mobilekit.benchmark.host_parent import HostRunner
    from mobilekit.errors import BenchError

    # Stands in for the interpreter so the kill lands while a temp file exists, every time.
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\nrun_dir=$(dirname "$3")\nprintf partial > "$run_dir/.outputs.npy.k2j4x.tmp"\n'
                      'printf "{" > "$run_dir/.result.json.q8w1z.tmp"\nexec sleep 60\n')
    python.chmod(0o755)
    run_dir = tmp_path / "run"
    with pytest.raises(BenchError, match="did not finish within 1 s"):
        HostRunner(python=str(python)).run(_request_dict(tiny_tflite_path), run_dir, timeout_s=1.0)
    assert sorted(path.name for path in run_dir.iterdir()) == ["request.json"]


def test_host_runner_class_reports_the_stderr_tail_when_no_result(tmp_path, tiny_tflite_path):
    from mobilekit.benchmark.host_parent import HostRunner
    from mobilekit.errors import BenchError

    (tmp_path / "result.json").mkdir()  # the runner cannot put its result there
    (tmp_path / "result.json" / "keep").write_text("x")
    with pytest.raises(BenchError, match="exited with code 2 and wrote no result; its stderr ended: "
                                         "host_runner: no result written"):
        HostRunner().run(_request_dict(tiny_tflite_path), tmp_path, timeout_s=60)


def test_peak_memory_is_the_runners_own_not_its_parents(tiny_tflite_path, tmp_path):
    # The parent balloons to ~400 MiB before starting the runner; the runner's own peak for a
    # tiny model is far below that. ru_maxrss would carry the parent's figure across exec.
    import json
    import subprocess
    import sys

    from mobilekit._io import sha256_file

    request = {"schema_version": 1, "run_id": "rss", "model": {"path": str(tiny_tflite_path),
               "sha256": sha256_file(tiny_tflite_path)}, "delegate": {"name": "xnnpack", "threads": 1},
               "runs": {"warmup_runs": 1, "timed_runs": 3}, "inputs": {"kind": "random", "seed": 0},
               "save_outputs": False}
    (tmp_path / "request.json").write_text(json.dumps(request))
    code = ("import subprocess, sys\n"
            "ballast = bytearray(400 * 1024 * 1024)\n"
            "for i in range(0, len(ballast), 4096): ballast[i] = 1\n"
            f"sys.exit(subprocess.call([sys.executable, '-m', 'mobilekit.benchmark.host_child', "
            f"{str(tmp_path / 'request.json')!r}]))\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "ok"
    assert result["memory"]["peak_rss_bytes"] < 300 * 1024 * 1024
