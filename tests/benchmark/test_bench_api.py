"""`bench()` and `mobilekit bench` on the host: real subprocess runs, resume, accuracy, clear errors."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.results import protocol, stats
from mobilekit.benchmark.core import BenchSummary, bench, format_table
from mobilekit.cli import cli
from mobilekit.errors import BenchError, DataError, ModelError, UsageError

FAST = dict(target="host", runs=5, warmup=1)


def test_bench_host_writes_results_summary_and_resumes(tmp_path, tiny_tflite_path):
    out = tmp_path / "out"
    summary = bench(tiny_tflite_path, delegates=("cpu", "xnnpack"), threads=(1, 2), output_dir=out, **FAST)
    assert isinstance(summary, BenchSummary) and summary.ok
    assert summary.targets == ["host"] and len(summary.runs) == 4
    assert {(r.delegate, r.threads) for r in summary.runs} == {("cpu", 1), ("cpu", 2), ("xnnpack", 1),
                                                              ("xnnpack", 2)}
    for run in summary.runs:
        result_path = Path(run.result_path)
        assert result_path.parent.parent == out / "runs" / "host"
        result = protocol.load_result(result_path)
        assert result.ok and len(result.timing.samples_ns) == run.samples == 5
        expected = stats.latency_stats_ns(result.timing.samples_ns)
        assert run.latency_ms_p50 == pytest.approx(expected["p50_ns"] / 1e6)
        assert run.latency_ms_p99 == pytest.approx(expected["p99_ns"] / 1e6)
        assert run.latency_ms_p50_ci_low <= run.latency_ms_p50 <= run.latency_ms_p50_ci_high
        assert run.delegate_applied == run.delegate and not run.resumed
    written = json.loads((out / "summary.json").read_text())
    assert written["runs"][0]["latency_ms_p50"] == summary.runs[0].latency_ms_p50
    assert "p50 ms" in format_table(summary)

    mtimes = {run.run_key: os.stat(run.result_path).st_mtime_ns for run in summary.runs}
    again = bench(tiny_tflite_path, delegates=("cpu", "xnnpack"), threads=(1, 2), output_dir=out, **FAST)
    assert all(run.resumed for run in again.runs)
    assert {run.run_key: os.stat(run.result_path).st_mtime_ns for run in again.runs} == mtimes
    assert [r.latency_ms_p50 for r in again.runs] == [r.latency_ms_p50 for r in summary.runs]

    # A different configuration is a different run; an interrupted (truncated) result is redone.
    broken = Path(summary.runs[0].result_path)
    broken.write_text(broken.read_text()[:100])
    third = bench(tiny_tflite_path, delegates=("cpu", "xnnpack"), threads=(1, 2, 3), output_dir=out, **FAST)
    assert sum(not run.resumed for run in third.runs) == 3  # the truncated one + two with 3 threads
    assert protocol.load_result(broken).ok

    forced = bench(tiny_tflite_path, delegates=("cpu",), threads=(1,), output_dir=out, force=True, **FAST)
    assert not forced.runs[0].resumed


def test_data_labels_and_reference_give_accuracy_and_fidelity(tmp_path, tiny_tflite_path, tiny_keras_path,
                                                               digits_npz):
    from mobilekit._compat import make_interpreter

    summary = bench(tiny_tflite_path, data=digits_npz, reference=tiny_keras_path, output_dir=tmp_path, **FAST)
    run = summary.runs[0]
    assert summary.input_samples == 397 and run.status == "ok"
    outputs = np.load(Path(run.result_path).parent / "outputs.npy", allow_pickle=False)
    assert outputs.shape == (397, 10)
    with np.load(digits_npz, allow_pickle=False) as archive:
        x, y = archive["x"], archive["y"]
    interpreter = make_interpreter(model_path=tiny_tflite_path)
    interpreter.allocate_tensors()
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    predictions = []
    for sample in x:
        interpreter.set_tensor(inp["index"], sample[None])
        interpreter.invoke()
        predictions.append(int(np.argmax(interpreter.get_tensor(outp["index"]))))
    assert run.accuracy["top1"] == pytest.approx(float(np.mean(np.array(predictions) == y)))
    assert run.accuracy["top1"] > 0.5
    assert run.fidelity["argmax_agreement"] > 0.97
    assert run.fidelity["max_abs_error"] < 1e-3

    # Labels from their own file; the .tflite itself as reference agrees exactly.
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "x.npy", x)
    other = bench(tiny_tflite_path, data=tmp_path / "x.npy", labels=tmp_path / "y.npy",
                  reference=tiny_tflite_path, output_dir=tmp_path / "b", **FAST)
    assert other.runs[0].accuracy["top1"] == run.accuracy["top1"]
    assert other.runs[0].fidelity["argmax_agreement"] == 1.0


def test_bad_arguments_are_clear_errors(tmp_path, tiny_tflite_path):
    with pytest.raises(UsageError, match="threads must be 1 or more, got 0"):
        bench(tiny_tflite_path, threads=(0,), output_dir=tmp_path, target="host")
    with pytest.raises(UsageError, match="threads must be 1 or more, got -2"):
        bench(tiny_tflite_path, threads=(1, -2), output_dir=tmp_path, target="host")
    with pytest.raises(UsageError, match="runs must be 1 or more, got 0"):
        bench(tiny_tflite_path, runs=0, output_dir=tmp_path, target="host")
    with pytest.raises(UsageError, match="unknown delegate 'tpu'"):
        bench(tiny_tflite_path, delegates=("tpu",), output_dir=tmp_path, target="host")
    with pytest.raises(UsageError, match="min-secs"):
        bench(tiny_tflite_path, min_secs=5, max_secs=1, output_dir=tmp_path, target="host")
    np.save(tmp_path / "wrong.npy", np.zeros((4, 9, 9, 1), dtype=np.float32))
    with pytest.raises(DataError, match=r"shape \(9, 9, 1\).*\(8, 8, 1\)"):
        bench(tiny_tflite_path, data=tmp_path / "wrong.npy", output_dir=tmp_path, target="host")
    assert not (tmp_path / "runs").exists()


def test_model_with_unresolvable_custom_ops_is_refused_before_any_run(tmp_path, custom_op_tflite_path):
    # Stock LiteRT cannot allocate it (test_host_runner checks the runner's clean failure), so
    # bench says why up front instead of recording a failed run per configuration.
    with pytest.raises(ModelError, match="Igamma.*needs the custom op resolver that produced it"):
        bench(custom_op_tflite_path, output_dir=tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()


def test_auto_without_a_phone_uses_the_host_and_says_so(tmp_path, tiny_tflite_path, monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")  # no adb server can be reached there
    messages = []
    summary = bench(tiny_tflite_path, target="auto", runs=3, warmup=0, output_dir=tmp_path,
                    on_status=messages.append)
    assert summary.targets == ["host"]
    assert "no phone attached" in summary.target_reason
    assert any("no phone attached" in message for message in messages)


def invoke(args):
    return CliRunner().invoke(cli, ["bench", *map(str, args)], catch_exceptions=False)


def test_cli_json_and_table(tmp_path, tiny_tflite_path):
    result = invoke([tiny_tflite_path, "--target", "host", "--runs", "4", "--warmup", "0",
                     "--delegate", "cpu,gpu", "-o", tmp_path, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [run["delegate_applied"] for run in data["runs"]] == ["cpu", "xnnpack"]
    assert "no GPU delegate" in data["runs"][1]["fallback_reason"]
    table = invoke([tiny_tflite_path, "--target", "host", "--runs", "4", "--warmup", "0",
                    "--delegate", "cpu,gpu", "-o", tmp_path])
    assert table.exit_code == 0 and "gpu->xnnpack" in table.stdout
    assert "done before, kept" in table.stderr


@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "--threads: 0 is not a thread count"),
    (["--threads", "1,-1"], "--threads: -1 is not a thread count"),
    (["--runs", "0"], "runs must be 1 or more, got 0"),
    (["--delegate", "hexagon"], "unknown delegate 'hexagon'"),
    (["--seed", "-1"], "seed must be a whole number 0 or more, got -1"),
])
def test_cli_bad_values_are_one_line_errors(tmp_path, tiny_tflite_path, args, message):
    result = invoke([tiny_tflite_path, "--target", "host", "-o", tmp_path, *args])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_data_shape_and_allocation_failures(tmp_path, tiny_tflite_path, custom_op_tflite_path):
    np.savez(tmp_path / "wrong.npz", x=np.zeros((4, 8, 9, 1), dtype=np.float32), y=np.zeros(4))
    result = invoke([tiny_tflite_path, "--target", "host", "--data", tmp_path / "wrong.npz", "-o", tmp_path])
    assert result.exit_code == 1 and "expects (8, 8, 1)" in result.stderr
    result = invoke([tiny_tflite_path, "--target", "host", "-o", tmp_path / "wrong.npz"])
    assert result.exit_code == 2 and result.stderr.startswith("Error: -o ") and "is a file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = invoke([custom_op_tflite_path, "--target", "host", "--runs", "2", "-o", tmp_path / "c"])
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "custom op resolver" in last and "Traceback" not in result.stderr


def test_cli_help_has_defaults_and_an_example():
    result = invoke(["--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "[default: 50]" in result.output


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")  # TF's converter, not ours
def test_int8_model_gets_quantized_inputs_and_dequantized_outputs(tmp_path, tiny_keras_path, digits,
                                                                   digits_npz):
    from mobilekit._compat import keras, tf

    model = keras().models.load_model(tiny_keras_path)
    converter = tf().lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf().lite.Optimize.DEFAULT]
    calibration = digits[0][:100]
    converter.representative_dataset = lambda: ([sample[None]] for sample in calibration)
    converter.target_spec.supported_ops = [tf().lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf().int8
    int8_path = tmp_path / "tiny_int8.tflite"
    int8_path.write_bytes(converter.convert())

    summary = bench(int8_path, data=digits_npz, reference=tiny_keras_path, output_dir=tmp_path / "o",
                    delegates=("cpu", "xnnpack"), **FAST)
    fed = np.load(next((tmp_path / "o" / "inputs").glob("*/input_0.npy")), allow_pickle=False)
    assert fed.dtype == np.int8 and fed.shape == (397, 8, 8, 1)
    for run in summary.runs:
        outputs = np.load(Path(run.result_path).parent / "outputs.npy", allow_pickle=False)
        assert outputs.dtype == np.int8
        assert run.accuracy["top1"] > 0.5
        assert run.fidelity["argmax_agreement"] > 0.9
    # Random inputs for an int8 model are int8 too, and the run succeeds.
    assert bench(int8_path, output_dir=tmp_path / "r", **FAST).ok


@pytest.mark.parametrize("hostile", ["RELATIVE", "ABSOLUTE"])
def test_outputs_named_outside_the_run_folder_are_never_read(tmp_path, tiny_tflite_path, digits_npz, hostile):
    """A result (from a phone, or copied in) naming ../ or an absolute path must not make bench load
    that file: it could be any .npy on this computer, scored as if the model had produced it."""
    import json

    from mobilekit.benchmark.host_parent import HostRunner

    planted = tmp_path / "planted.npy"
    named = []

    class Rewriting(HostRunner):
        def run(self, request, run_dir, **kwargs):
            path = super().run(request, run_dir, **kwargs)
            result = json.loads(path.read_text())
            # the model's real outputs, planted where the result points: only the path is wrong
            np.save(planted, np.load(path.parent / "outputs.npy", allow_pickle=False), allow_pickle=False)
            named.append(str(planted) if hostile == "ABSOLUTE" else os.path.relpath(planted, run_dir))
            result["outputs"][0]["file"] = named[0]
            path.write_text(json.dumps(result))
            return path

    with pytest.raises(BenchError, match="outside its run folder"):
        bench(tiny_tflite_path, data=digits_npz, output_dir=tmp_path / "o", runners=[Rewriting()], **FAST)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    run = summary["runs"][0]
    assert (Path(run["result_path"]).parent / named[0]).resolve() == planted.resolve()
    assert run["status"] == "failed" and run["accuracy"] is None


def test_targets_run_in_parallel_each_in_its_own_folder(tmp_path, tiny_tflite_path):
    from mobilekit.benchmark.host_parent import HostRunner

    class SecondHost(HostRunner):
        target = "second-host"

    summary = bench(tiny_tflite_path, runners=[HostRunner(), SecondHost()], delegates=("cpu", "xnnpack"),
                    runs=3, warmup=0, output_dir=tmp_path)
    assert summary.targets == ["host", "second-host"] and summary.ok
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["host", "second-host"]
    assert [(r.target, r.delegate) for r in summary.runs] == [
        ("host", "cpu"), ("host", "xnnpack"), ("second-host", "cpu"), ("second-host", "xnnpack")]


def test_device_target_without_a_phone_is_a_clear_error(tmp_path, tiny_tflite_path, monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")
    result = invoke([tiny_tflite_path, "--target", "device", "-o", tmp_path])
    assert result.exit_code == 1 and "no Android device attached" in result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
    result = invoke([tiny_tflite_path, "--target", "host", "--device", "ABC", "-o", tmp_path])
    assert result.exit_code == 2 and "do not go with --target host" in result.stderr


def test_public_bench_is_callable_whatever_was_imported_first(tmp_path):
    import subprocess
    import sys

    code = ("import mobilekit.results.stats, mobilekit\nfrom mobilekit import bench\n"
            "try:\n    bench('missing.tflite')\nexcept mobilekit.MobilekitError as exc:\n    print(exc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "model file not found: missing.tflite" in out.stdout, out.stderr


def test_labels_are_checked_against_the_model_before_any_run(tmp_path, tiny_tflite_path, digits_npz):
    """bench --labels takes what evaluate takes: whole class ids inside the model's classes, or
    one-hot rows as wide as its output; anything else is refused before a single run is timed."""
    with np.load(digits_npz, allow_pickle=False) as archive:
        x, y = archive["x"], archive["y"]
    np.save(tmp_path / "x.npy", x)
    cases = {"fractional": y + 0.5, "out_of_range": np.full(len(y), 10),
             "one_hot_too_wide": np.eye(12)[y]}
    for name, labels in cases.items():
        np.save(tmp_path / f"{name}.npy", labels)
        with pytest.raises(DataError, match=r"whole class indices|model scores 10 classes|model has 10 outputs"):
            bench(tiny_tflite_path, data=tmp_path / "x.npy", labels=tmp_path / f"{name}.npy",
                  output_dir=tmp_path / name, **FAST)
        assert not (tmp_path / name / "runs").exists()
    np.save(tmp_path / "one_hot.npy", np.eye(10)[y])
    summary = bench(tiny_tflite_path, data=tmp_path / "x.npy", labels=tmp_path / "one_hot.npy",
                    output_dir=tmp_path / "ok", **FAST)
    assert summary.runs[0].accuracy["top1"] > 0.5
