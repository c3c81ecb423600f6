"""Nothing lost: for every command that writes files (convert, bench, report, sweep), no output may
be or alias one of its inputs, and outputs written as a set leave nothing half-written. evaluate,
inspect and compare write only to stdout. Each test checks the input is still byte for byte what
it was."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli

from conftest import REPO

SAMPLES = REPO / "sample_models"


def _run(args, cwd=None):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _refused(outcome, *names):
    assert outcome.exit_code == 2, outcome.output
    assert "Traceback" not in outcome.output
    for name in names:
        assert name in outcome.output, outcome.output


@pytest.fixture()
def keras_copy(tmp_path, tiny_keras_path):
    path = tmp_path / "mymodel.keras"
    shutil.copy(tiny_keras_path, path)
    return path


# ---------------------------------------------------------------------------------------------
# convert: every input, and every way to name it

@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink", "dotdot"])
def test_convert_never_overwrites_the_model(tmp_path, keras_copy, alias):
    before = keras_copy.read_bytes()
    target = {"same": keras_copy, "dotdot": tmp_path / "sub" / ".." / "mymodel.keras"}.get(alias)
    if alias == "symlink":
        target = tmp_path / "out.tflite"
        target.symlink_to(keras_copy)
    elif alias == "hardlink":
        target = tmp_path / "out.tflite"
        os.link(keras_copy, target)
    outcome = _run(["convert", keras_copy, "-o", target])
    assert outcome.exit_code == 2, outcome.output
    assert keras_copy.read_bytes() == before


def test_convert_says_it_writes_a_tflite(tmp_path, keras_copy):
    _refused(_run(["convert", keras_copy, "-o", tmp_path / "new.keras"]), ".tflite", "new.tflite")


def test_convert_never_overwrites_the_calibration_data(tmp_path, keras_copy, digits):
    calibration = tmp_path / "cal.tflite"  # a user's odd name: the output may still not be it
    np.save(tmp_path / "cal.npy", digits[0][:20])
    os.link(tmp_path / "cal.npy", calibration)
    before = calibration.read_bytes()
    _refused(_run(["convert", keras_copy, "-o", calibration, "--quantize", "int8", "--calibration",
                   tmp_path / "cal.npy"]), "calibration data")
    assert calibration.read_bytes() == before


def test_convert_never_writes_its_card_over_an_input(tmp_path, keras_copy):
    card_alias = tmp_path / "out.json"
    os.link(keras_copy, card_alias)
    _refused(_run(["convert", card_alias, "-o", tmp_path / "out.tflite"]), "model card")


@pytest.mark.parametrize("option", ["--train", "--val", "--distill-from"])
def test_convert_never_overwrites_optimization_inputs(tmp_path, keras_copy, option):
    train = tmp_path / "train.npz"
    shutil.copy(SAMPLES / "digits_train.npz", train)
    victim = {"--train": train, "--val": tmp_path / "val.npz", "--distill-from": tmp_path / "t.keras"}[option]
    if option == "--val":
        shutil.copy(SAMPLES / "digits_val.npz", victim)
    if option == "--distill-from":
        shutil.copy(keras_copy, victim)
    out = tmp_path / "out.tflite"
    os.symlink(victim, out)
    before = victim.read_bytes()
    args = ["convert", keras_copy, "-o", out, "--train", train, "--prune", "0.5"]
    if option != "--train":
        args += [option, victim]
    what = {"--train": "train data", "--val": "validation data", "--distill-from": "teacher model"}
    _refused(_run(args), f"is the {what[option]}")
    assert victim.read_bytes() == before


def test_convert_never_overwrites_the_recipe(tmp_path, keras_copy):
    recipe = tmp_path / "r.toml"
    shutil.copy(SAMPLES / "digits_train.npz", tmp_path / "train.npz")
    recipe.write_text(textwrap.dedent("""
        [defaults]
        train = "train.npz"
        [variants.p50]
        prune = 0.5
    """))
    out = tmp_path / "out.tflite"
    os.link(recipe, out)
    before = recipe.read_bytes()
    outcome = _run(["convert", keras_copy, "-o", out, "--recipe", recipe])
    _refused(outcome, "is the recipe")
    assert recipe.read_bytes() == before


_CONVERT_FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
    from mobilekit.cli import main
    sys.argv = ["mobilekit", "convert", *sys.argv[2:]]
    main()
""")


def test_convert_out_of_room_leaves_no_model_without_its_card(tmp_path, keras_copy):
    out = tmp_path / "out.tflite"
    # The card (a few KiB) fits under the limit, the model (tens of KiB) does not.
    proc = subprocess.run([sys.executable, "-c", _CONVERT_FULL_DISK, "12000", str(keras_copy), "-o",
                           str(out)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mymodel.keras"]


# ---------------------------------------------------------------------------------------------
# bench

def test_bench_never_writes_over_its_data(tmp_path, tiny_tflite_path, digits):
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    data = out / "runs" / "x.npy"
    np.save(data, digits[2][:8])
    before = data.read_bytes()
    _refused(_run(["bench", tiny_tflite_path, "-o", out, "--target", "host", "--data", data,
                   "--runs", "2"]), "runs folder")
    assert data.read_bytes() == before


def test_bench_summary_never_replaces_the_model(tmp_path, tiny_tflite_path):
    out = tmp_path / "out"
    out.mkdir()
    model = tmp_path / "m.tflite"
    shutil.copy(tiny_tflite_path, model)
    os.link(model, out / "summary.json")
    _refused(_run(["bench", model, "-o", out, "--target", "host", "--runs", "2"]), "summary")
    assert model.read_bytes() == tiny_tflite_path.read_bytes()


# ---------------------------------------------------------------------------------------------
# report

@pytest.fixture()
def one_result(tmp_path, tiny_tflite_path):
    out = tmp_path / "bench"
    outcome = _run(["bench", tiny_tflite_path, "-o", out, "--target", "host", "--runs", "3",
                    "--warmup", "0"])
    assert outcome.exit_code == 0, outcome.output
    return next(out.rglob("result.json"))


def test_report_never_overwrites_a_result(tmp_path, one_result):
    before = one_result.read_bytes()
    link = tmp_path / "r.html"
    link.symlink_to(one_result)
    _refused(_run(["report", one_result, "-o", link]), "results")
    assert one_result.read_bytes() == before


def test_a_markdown_report_never_replaces_a_folder_holding_its_input(tmp_path, one_result):
    (tmp_path / "r_files").mkdir()
    moved = tmp_path / "r_files" / "result.json"
    shutil.copy(one_result, moved)
    _refused(_run(["report", moved, "-o", tmp_path / "r.md"]), "plots folder")
    assert moved.read_bytes() == one_result.read_bytes()


_REPORT_FULL_DISK = _CONVERT_FULL_DISK.replace('"convert"', '"report"')


def test_report_out_of_room_leaves_no_plots_without_their_page_and_keeps_the_old_set(tmp_path,
                                                                                    one_result):
    report = tmp_path / "r.md"
    report.write_text("old report")
    (tmp_path / "r_files").mkdir()
    (tmp_path / "r_files" / "old.png").write_bytes(b"old plot")
    proc = subprocess.run([sys.executable, "-c", _REPORT_FULL_DISK, "4000", str(one_result), "-o",
                           str(report)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "cannot write" in proc.stderr
    assert report.read_text() == "old report"
    assert [p.name for p in (tmp_path / "r_files").iterdir()] == ["old.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------------------------------
# sweep

def test_sweep_never_writes_its_report_over_the_model(tmp_path, keras_copy):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[variants.fp32]\nquantize = "none"\n')
    out = tmp_path / "out"
    out.mkdir()
    os.link(keras_copy, out / "report.html")
    before = keras_copy.read_bytes()
    _refused(_run(["sweep", recipe, "--model", keras_copy, "-o", out, "--runs", "2"]),
             "is the model")
    assert keras_copy.read_bytes() == before
