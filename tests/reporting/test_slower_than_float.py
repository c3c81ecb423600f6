"""A quantized model slower than its float32 twin is named after bench, in report and in sweep:
twins are models whose cards name the same source model, benchmarked on the same configuration."""
from __future__ import annotations

import shutil

from click.testing import CliRunner

from mobilekit.cli import cli

FAST = ["--target", "host", "--delegate", "xnnpack", "--runs", "15", "--warmup", "2"]


def test_int16x8_slower_than_float_is_said_by_bench_and_report(tmp_path, tiny_keras_path,
                                                                calibration_npz):
    from mobilekit.conversion import convert

    models = tmp_path / "models"
    models.mkdir()
    # int16x8 runs on reference kernels outside XNNPACK: reliably slower than float32 here
    convert(tiny_keras_path, models / "tiny_fp32.tflite")
    convert(tiny_keras_path, models / "tiny_i16.tflite", quantize="int16x8",
            calibration=calibration_npz)
    out = tmp_path / "bench"
    first = CliRunner().invoke(cli, ["bench", str(models / "tiny_i16.tflite"), "-o", str(out), *FAST])
    assert first.exit_code == 0, first.output
    assert "slower than the float32" not in first.output  # no float results there yet
    CliRunner().invoke(cli, ["bench", str(models / "tiny_fp32.tflite"), "-o", str(out), *FAST])
    again = CliRunner().invoke(cli, ["bench", str(models / "tiny_i16.tflite"), "-o", str(out), *FAST])
    assert again.exit_code == 0, again.output
    assert "note: tiny_i16 (int16x8) is" in again.output
    assert "slower than the float32 tiny_fp32 on host xnnpack x1" in again.output

    report = CliRunner().invoke(cli, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert "note: tiny_i16 (int16x8) is" in report.output
    html = (tmp_path / "r.html").read_text()
    assert 'id="notes"' in html and "slower than the float32 tiny_fp32" in html


def test_no_card_no_twin_no_note(tmp_path, tiny_tflite_path):
    from mobilekit.reporting.runs import collect_runs, slower_than_float_runs

    bare = tmp_path / "bare.tflite"  # TensorFlow's own conversion: no card beside it
    shutil.copy(tiny_tflite_path, bare)
    out = CliRunner().invoke(cli, ["bench", str(bare), "-o", str(tmp_path / "b"), *FAST])
    assert out.exit_code == 0 and "note:" not in out.output
    runs = collect_runs([tmp_path / "b"])
    assert runs[0].quantize == "none"  # read from the .tflite's weight dtypes
    assert runs[0].source is None and slower_than_float_runs(runs) == []
