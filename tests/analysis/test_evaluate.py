"""mobilekit evaluate: accuracy and fidelity on real models, the numpy helpers, and bad input."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.analysis.evaluation import accuracy_from_outputs, evaluate, fidelity
from mobilekit.models.tflite import run_over_samples as run_tflite
from mobilekit.cli import cli
from mobilekit.errors import DataError


def test_float_model_matches_its_keras_reference(tiny_tflite_path, tiny_keras_path, digits_npz, digits):
    result = evaluate(tiny_tflite_path, digits_npz, reference=tiny_keras_path)
    assert result.samples == len(digits[3]) and result.classes == 10
    assert result.argmax_agreement == 1.0
    assert result.max_abs_error < 1e-4
    assert result.snr_db is None or result.snr_db > 60
    assert result.top1 == result.reference_top1 > 0.5
    assert result.top1 <= result.top5 <= 1.0
    assert result.batch_size == 64  # the free batch dimension was used


def test_python_arrays_as_data(tiny_tflite_path, digits):
    result = evaluate(tiny_tflite_path, (digits[2][:20], digits[3][:20]))
    assert result.samples == 20 and result.data == "<in-memory arrays x(20, 8, 8, 1), y(20,)>"


def test_batching_does_not_change_outputs(tiny_tflite_path, digits):
    from mobilekit._compat import make_interpreter

    x = digits[2][:70]
    batched, used = run_tflite(make_interpreter(model_path=tiny_tflite_path), x, batch_size=32)
    single, used_single = run_tflite(make_interpreter(model_path=tiny_tflite_path), x, batch_size=1)
    assert (used, used_single) == (32, 1) and batched.shape == (70, 10)
    np.testing.assert_allclose(batched, single, atol=1e-6)


def test_fixed_batch_model_runs_sample_by_sample(tmp_path, digits):
    from mobilekit._compat import keras
    from mobilekit.conversion import convert

    k = keras()
    k.utils.set_random_seed(3)
    model = k.Sequential([k.layers.Input((8, 8, 1), batch_size=1), k.layers.Flatten(),
                          k.layers.Dense(10, activation="softmax")])
    convert(model, tmp_path / "fixed.tflite")
    x, y = digits[2][:9], digits[3][:9]
    np.savez(tmp_path / "nine.npz", x=x, y=y)
    result = evaluate(tmp_path / "fixed.tflite", tmp_path / "nine.npz")
    assert result.batch_size == 1 and result.samples == 9
    expected = accuracy_from_outputs(model.predict(x, batch_size=1, verbose=0), y)["top1"]
    assert result.top1 == expected


def test_image_folder_evaluation(tmp_path, tiny_tflite_path, digits):
    from PIL import Image

    x, y = digits[2][:40], digits[3][:40]
    for index, (image, label) in enumerate(zip(x, y)):
        folder = tmp_path / "digits" / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(image[..., 0] * 255).astype(np.uint8)).save(folder / f"{index}.png")
    # Class folders sort as class_0..class_9, so indices equal the digit whenever all ten exist.
    assert len({int(label) for label in y}) == 10
    from_images = evaluate(tiny_tflite_path, tmp_path / "digits")
    np.savez(tmp_path / "same.npz", x=x, y=y)
    from_arrays = evaluate(tiny_tflite_path, tmp_path / "same.npz")
    assert from_images.samples == 40
    assert abs(from_images.top1 - from_arrays.top1) <= 0.05


def test_accuracy_from_outputs_by_hand():
    outputs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy_from_outputs(outputs, [1, 0, 0]) == {"samples": 3, "classes": 2,
                                                         "top1": 2 / 3, "top5": None}
    six = np.array([[6, 5, 4, 3, 2, 1], [1, 2, 3, 4, 5, 6]], dtype=float)
    scores = accuracy_from_outputs(six, np.eye(6)[[5, 5]])  # one-hot labels
    assert scores["top1"] == 0.5 and scores["top5"] == 0.5  # class 5 is 6th best in row 0
    with pytest.raises(DataError, match="2 labels for 3 outputs"):
        accuracy_from_outputs(outputs, [1, 0])
    with pytest.raises(DataError, match="2 classes"):
        accuracy_from_outputs(outputs, [1, 0, 7])


def test_fidelity_by_hand():
    reference = np.ones((1, 4))
    scores = fidelity(reference + 0.1, reference)
    assert math.isclose(scores["snr_db"], 20.0, rel_tol=1e-9)  # 10·log10(4 / 0.04)
    assert math.isclose(scores["max_abs_error"], 0.1) and scores["argmax_agreement"] == 1.0
    assert fidelity(reference, reference)["snr_db"] is None
    flipped = fidelity(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert flipped["argmax_agreement"] == 0.5
    with pytest.raises(DataError, match="cannot be compared"):
        fidelity(np.zeros((2, 3)), np.zeros((2, 4)))


def test_progress_bar_on_stderr(tiny_tflite_path, digits_npz, capsys):
    evaluate(tiny_tflite_path, digits_npz, progress=True)
    assert "evaluating" in capsys.readouterr().err


def test_cli_evaluate_table_and_json(tiny_tflite_path, tiny_keras_path, digits_npz):
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", str(tiny_tflite_path), "--data", str(digits_npz)],
                           catch_exceptions=False)
    assert result.exit_code == 0 and "top-1" in result.stdout and "top-5" in result.stdout
    result = runner.invoke(cli, ["evaluate", str(tiny_tflite_path), "--data", str(digits_npz),
                                 "--reference", str(tiny_keras_path), "--limit", "50", "--json"],
                           catch_exceptions=False)
    record = json.loads(result.stdout)
    assert record["samples"] == 50 and record["argmax_agreement"] == 1.0


@pytest.mark.parametrize("case", ["missing_model", "corrupt_model", "keras_model", "no_labels",
                                  "wrong_count", "shape", "nan", "empty", "missing_data"])
def test_cli_evaluate_bad_input_one_line(case, tmp_path, tiny_tflite_path, tiny_keras_path, digits):
    x, y = digits[2][:10], digits[3][:10]
    model, data = tiny_tflite_path, tmp_path / "data.npz"
    np.savez(data, x=x, y=y)
    if case == "missing_model":
        model = tmp_path / "gone.tflite"
    elif case == "corrupt_model":
        model = tmp_path / "corrupt.tflite"
        model.write_bytes(tiny_tflite_path.read_bytes()[:500])
    elif case == "keras_model":
        model = tiny_keras_path
    elif case == "no_labels":
        np.savez(data, x=x)
    elif case == "wrong_count":
        np.savez(data, x=x, y=y[:7])
    elif case == "shape":
        np.savez(data, x=np.zeros((10, 28, 28, 1), np.float32), y=y)
    elif case == "nan":
        np.savez(data, x=np.full_like(x, np.nan), y=y)
    elif case == "empty":
        np.savez(data, x=x[:0], y=y[:0])
    elif case == "missing_data":
        data = tmp_path / "nothing.npz"
    result = CliRunner().invoke(cli, ["evaluate", str(model), "--data", str(data)],
                                catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    expected = {"missing_model": "not found", "corrupt_model": "corrupt or truncated",
                "keras_model": "not a .tflite model", "no_labels": "labels missing",
                "wrong_count": "7 labels for 10 samples", "shape": "(28, 28, 1)", "nan": "NaN",
                "empty": "empty", "missing_data": "not found"}[case]
    assert expected in lines[0]
