"""mobilekit.convert: every mode, every model format, calibration sources, the model card, errors."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit._io import sha256_file
from mobilekit.analysis.evaluation import evaluate
from mobilekit.models.tflite import describe_tflite
from mobilekit.cli import cli
from mobilekit.conversion import convert, converter as core
from mobilekit.errors import CalibrationError, ConversionError, ModelError, UsageError


def _dtypes(path):
    described = describe_tflite(path.read_bytes())
    return {t["dtype"] for t in described["tensors"]}, described


EXPECTED = {
    # mode: (a dtype that must be in the model, input dtype)
    "none": ("float32", "float32"),
    "fp16": ("float16", "float32"),
    "dynamic": ("int8", "float32"),
    "int8": ("int8", "int8"),
    "int16x8": ("int16", "float32"),
}


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_every_mode_converts_and_stays_faithful(mode, tmp_path, tiny_keras_path, calibration_npz,
                                                digits_npz):
    output = tmp_path / f"tiny_{mode}.tflite"
    result = convert(tiny_keras_path, output, quantize=mode,
                     calibration=calibration_npz if mode in ("int8", "int16x8") else None,
                     io_type="int8" if mode == "int8" else "float32")
    dtypes, described = _dtypes(output)
    must_have, input_dtype = EXPECTED[mode]
    assert must_have in dtypes
    assert described["inputs"][0]["dtype"] == input_dtype == result.inputs[0]["dtype"]
    if mode == "none":
        assert dtypes <= {"float32", "int32"}
    # The converted model still computes the Keras model's function.
    scores = evaluate(output, digits_npz, reference=tiny_keras_path)
    assert scores.argmax_agreement >= 0.95
    assert scores.snr_db is None or scores.snr_db > 15
    assert abs(scores.top1 - scores.reference_top1) <= 0.03


def test_model_card(tmp_path, tiny_keras_path, calibration_npz):
    output = tmp_path / "card_int8.tflite"
    result = convert(tiny_keras_path, output, quantize="int8", calibration=calibration_npz,
                     calibration_samples=40, optimization={"prune": {"sparsity": 0.5}})
    card = json.loads(output.with_suffix(".json").read_text())
    assert card["schema"] == "mobilekit.model_card/1"
    assert card["source_model"] == str(tiny_keras_path)
    assert card["source_sha256"] == sha256_file(tiny_keras_path)
    assert card["quantize"] == "int8" and card["io_type"] == "float32"
    assert card["model_size_bytes"] == output.stat().st_size
    assert 0 < card["model_size_gzip_bytes"] <= card["model_size_bytes"]
    assert card["calibration_samples"] == 40
    assert card["optimization"] == {"prune": {"sparsity": 0.5}}
    assert card["op_histogram"]["CONV_2D"] == 1 and card["op_histogram"]["FULLY_CONNECTED"] == 2
    assert card["weight_sparsity"]["weight_tensors"] == 3
    assert card["inputs"][0]["shape_signature"] == [-1, 8, 8, 1]
    assert card["outputs"][0]["shape_signature"] == [-1, 10]
    assert card["conversion_time_s"] > 0 and card["tool_versions"]["tensorflow"].startswith("2.")
    assert result.model_card_path == str(output.with_suffix(".json"))
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_uint8_io_is_quantized_with_the_models_scale(tmp_path, tiny_keras_path, calibration_npz,
                                                     digits_npz):
    output = tmp_path / "tiny_uint8.tflite"
    result = convert(tiny_keras_path, output, quantize="int8", calibration=calibration_npz,
                     io_type="uint8")
    assert result.inputs[0]["dtype"] == "uint8" and result.outputs[0]["dtype"] == "uint8"
    assert result.inputs[0]["quantization"]["scale"] > 0
    scores = evaluate(output, digits_npz, reference=tiny_keras_path)
    assert scores.argmax_agreement >= 0.95


def test_h5_savedmodel_and_in_memory_models(tmp_path, tiny_keras_path, tiny_tflite_path):
    from mobilekit._compat import keras, make_interpreter, tf

    model = keras().models.load_model(tiny_keras_path)
    model.save(tmp_path / "tiny.h5")
    tf().saved_model.save(model, str(tmp_path / "saved"))
    x = np.random.default_rng(1).random((1, 8, 8, 1), dtype=np.float32)

    def run(path):
        interpreter = make_interpreter(model_path=path)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    expected = run(tiny_tflite_path)
    import mobilekit

    for source, name in ((tmp_path / "tiny.h5", "h5"), (tmp_path / "saved", "saved"), (model, "mem")):
        result = mobilekit.convert(source, tmp_path / f"{name}.tflite")  # the public API spelling
        assert isinstance(result, mobilekit.ConvertResult)
        np.testing.assert_allclose(run(tmp_path / f"{name}.tflite"), expected, atol=1e-5)
        if name == "mem":
            assert result.source_sha256 is None and "in-memory" in result.source_model
        else:
            assert len(result.source_sha256) == 64
    assert convert(tmp_path / "saved", tmp_path / "saved_dyn.tflite",
                   quantize="dynamic").source_model_kind == "saved_model"


def test_keras3_file_converts(tmp_path, digits):
    from mobilekit._compat import keras3, make_interpreter

    k3 = keras3()
    k3.utils.set_random_seed(0)
    model = k3.Sequential([k3.layers.Input((8, 8, 1)), k3.layers.Conv2D(4, 3, activation="relu"),
                           k3.layers.Flatten(), k3.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "k3.keras")
    x = digits[2][:8]
    expected = np.asarray(model.predict(x, verbose=0))
    calibration = _npz(tmp_path, digits[0][:32])
    for mode in ("none", "int8"):
        output = tmp_path / f"k3_{mode}.tflite"
        result = convert(tmp_path / "k3.keras", output, quantize=mode,
                         calibration=calibration if mode == "int8" else None)
        assert result.source_model_kind == "keras3" and result.tool_versions["keras"].startswith("3")
        interpreter = make_interpreter(model_path=output)
        detail = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(detail["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        np.testing.assert_allclose(got, expected, atol=1e-5 if mode == "none" else 0.05)


def _npz(folder, x):
    path = folder / "calib_k3.npz"
    np.savez(path, x=x)
    return path


def test_calibration_from_image_folder_and_python_function(tmp_path, tiny_keras_path, digits):
    from PIL import Image

    for index, image in enumerate(digits[0][:12]):
        Image.fromarray((image[..., 0] * 255).astype(np.uint8)).resize((16, 16)).save(
            tmp_path / f"digit_{index}.png")
    result = convert(tiny_keras_path, tmp_path / "from_images.tflite", quantize="int8",
                     calibration=tmp_path, normalize="0-1")
    assert result.calibration_samples == 12 and result.normalize == "0-1"
    (tmp_path / "calib_fn.py").write_text(textwrap.dedent("""
        import numpy as np
        def representative():
            rng = np.random.default_rng(0)
            for _ in range(300):
                yield rng.random((8, 8, 1), dtype=np.float32)
    """))
    result = convert(tiny_keras_path, tmp_path / "from_fn.tflite", quantize="int16x8",
                     calibration=f"{tmp_path / 'calib_fn.py'}:representative", calibration_samples=25)
    assert result.calibration_samples == 25
    result = convert(tiny_keras_path, tmp_path / "from_array.tflite", quantize="int8",
                     calibration=digits[0][:30])
    assert result.calibration_samples == 30
    assert result.calibration_source == "<in-memory array (30, 8, 8, 1)>"


def test_calibration_is_validated_before_conversion(tmp_path, tiny_keras_path):
    np.savez(tmp_path / "wrong.npz", x=np.zeros((10, 28, 28, 1), np.float32))
    nan = np.zeros((10, 8, 8, 1), np.float32)
    nan[2] = np.nan
    np.savez(tmp_path / "nan.npz", x=nan)
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 8, 8, 1), np.float32))
    cases = {"wrong.npz": "(28, 28, 1)", "nan.npz": "NaN", "empty.npz": "empty"}
    for name, fragment in cases.items():
        output = tmp_path / f"{name}.tflite"
        with pytest.raises(CalibrationError) as info:
            convert(tiny_keras_path, output, quantize="int8", calibration=tmp_path / name)
        assert fragment in str(info.value) and "\n" not in str(info.value)
        assert not output.exists() and not output.with_suffix(".json").exists()


def test_argument_and_model_errors(tmp_path, tiny_keras_path, tiny_tflite_path):
    (tmp_path / "notes.keras").write_text("just text")
    (tmp_path / "random.h5").write_bytes(np.random.default_rng(0).bytes(256))
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    (tmp_path / "empty_dir").mkdir()
    out = tmp_path / "o.tflite"
    for bad, fragment in ((tmp_path / "missing.keras", "not found"),
                          (tmp_path / "notes.keras", "not a Keras model"),
                          (tmp_path / "random.h5", "not a Keras model"),
                          (tmp_path / "model.onnx", "not a model convert can read"),
                          (tmp_path / "empty_dir", "saved_model.pb"),
                          (tiny_tflite_path, "already a .tflite")):
        with pytest.raises(ModelError, match=fragment):
            convert(bad, out)
    with pytest.raises(UsageError, match="needs --calibration"):
        convert(tiny_keras_path, out, quantize="int8")
    with pytest.raises(UsageError, match="needs --quantize int8"):
        convert(tiny_keras_path, out, quantize="fp16", io_type="uint8")
    with pytest.raises(UsageError, match="unknown --quantize"):
        convert(tiny_keras_path, out, quantize="int4")
    with pytest.raises(UsageError, match="model card"):
        convert(tiny_keras_path, tmp_path / "x.json")


def test_converter_failure_is_one_useful_line(tmp_path):
    from mobilekit._compat import keras, tf

    k, t = keras(), tf()
    model = k.Sequential([k.layers.Input((4,)), k.layers.Lambda(
        lambda v: t.cast(t.math.bincount(t.cast(v, t.int32), minlength=4, maxlength=4, axis=-1),
                         t.float32))])
    with pytest.raises(ConversionError) as info:
        convert(model, tmp_path / "bincount.tflite")
    message = str(info.value)
    assert "DenseBincount" in message and "\n" not in message and len(message) < 600


def test_trap_warnings_are_said_once(tmp_path, tiny_keras_path, capsys):
    core._warned.clear()
    first = convert(tiny_keras_path, tmp_path / "a.tflite", quantize="fp16")
    convert(tiny_keras_path, tmp_path / "b.tflite", quantize="fp16")
    err = capsys.readouterr().err
    assert err.count("float16 halves the file but not CPU time") == 1
    assert any("float16" in message for message in first.warnings)


# ------------------------------------------------------------------------------------ CLI

def test_cli_convert_human_and_json(tmp_path, tiny_keras_path, calibration_npz):
    runner = CliRunner()
    result = runner.invoke(cli, ["convert", str(tiny_keras_path), "-o", str(tmp_path / "c.tflite"),
                                 "--quantize", "int8", "--calibration", str(calibration_npz),
                                 "--calibration-samples", "16"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stdout and "16 samples" in result.stdout and "CONV_2D x1" in result.stdout
    result = runner.invoke(cli, ["convert", str(tiny_keras_path), "-o", str(tmp_path / "d.tflite"),
                                 "--json"], catch_exceptions=False)
    card = json.loads(result.stdout)
    assert card["quantize"] == "none" and card["model_size_bytes"] > 0


@pytest.mark.parametrize("case", ["missing", "not_a_model", "shape", "nan", "empty", "no_calibration",
                                  "raises", "non_image"])
def test_cli_bad_input_is_one_line_and_nonzero(case, tmp_path, tiny_keras_path):
    calibration = None
    model = str(tiny_keras_path)
    if case == "missing":
        model = str(tmp_path / "nope.keras")
    elif case == "not_a_model":
        (tmp_path / "bad.keras").write_bytes(b"hello")
        model = str(tmp_path / "bad.keras")
    elif case == "shape":
        np.save(tmp_path / "c.npy", np.zeros((4, 9, 9, 1), np.float32))
        calibration = tmp_path / "c.npy"
    elif case == "nan":
        np.save(tmp_path / "c.npy", np.full((4, 8, 8, 1), np.nan, np.float32))
        calibration = tmp_path / "c.npy"
    elif case == "empty":
        np.save(tmp_path / "c.npy", np.zeros((0, 8, 8, 1), np.float32))
        calibration = tmp_path / "c.npy"
    elif case == "raises":
        (tmp_path / "loader.py").write_text("def calib():\n    raise OSError('disk gone')\n")
        calibration = f"{tmp_path / 'loader.py'}:calib"
    elif case == "non_image":
        (tmp_path / "imgs").mkdir()
        (tmp_path / "imgs" / "readme.md").write_text("# hi")
        calibration = tmp_path / "imgs"
    args = ["convert", model, "-o", str(tmp_path / "out.tflite")]
    if calibration is not None or case == "no_calibration":
        args += ["--quantize", "int8"]
    if calibration is not None:
        args += ["--calibration", str(calibration)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    # A missing option is a usage error (2); files that cannot be used are runtime failures (1).
    assert result.exit_code == (2 if case == "no_calibration" else 1), result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    expected = {"missing": "not found", "not_a_model": "not a Keras model", "shape": "(9, 9, 1)",
                "nan": "NaN", "empty": "empty", "no_calibration": "--calibration",
                "raises": "OSError: disk gone", "non_image": "readme.md"}[case]
    assert expected in lines[0]
    assert not (tmp_path / "out.tflite").exists()


def test_console_script_missing_model_exits_nonzero_without_tensorflow(tmp_path):
    code = ("import sys; sys.argv = ['mobilekit', 'convert', sys.argv[1], '-o', sys.argv[2]]\n"
            "from mobilekit.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n"
            "    assert 'tensorflow' not in sys.modules, 'imported tensorflow for a missing file'\n"
            "    raise\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "nope.keras"),
                           str(tmp_path / "o.tflite")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"Error: model not found: {tmp_path / 'nope.keras'}"]


# ------------------------------------------------------------------------------------ size claim

def _check_int8_claim(keras_path, calibration, eval_data, tmp_path):
    fp32 = convert(keras_path, tmp_path / "fp32.tflite")
    int8 = convert(keras_path, tmp_path / "int8.tflite", quantize="int8", calibration=calibration)
    assert int8.model_size_bytes <= 0.27 * fp32.model_size_bytes, (int8.model_size_bytes,
                                                                    fp32.model_size_bytes)
    scores = evaluate(tmp_path / "int8.tflite", eval_data, reference=keras_path)
    assert scores.reference_top1 > 0.9
    assert abs(scores.top1 - scores.reference_top1) * 100 <= 1.0, scores


@pytest.mark.slow
def test_int8_digits_cnn_is_at_most_027_of_float32_and_keeps_accuracy(tmp_path, digits):
    """The issue's claim on a digits CNN trained here; the dense layer holds most weights, as in
    real models, so the fixed per-tensor quantization overhead (about 10 kB) does not dominate."""
    from mobilekit._compat import keras

    k = keras()
    k.utils.set_random_seed(0)
    x_train, y_train, x_test, y_test = digits
    model = k.Sequential([
        k.layers.Input((8, 8, 1)),
        k.layers.Conv2D(16, 3, activation="relu", padding="same"),
        k.layers.Conv2D(32, 3, activation="relu", padding="same"),
        k.layers.MaxPooling2D(),
        k.layers.Flatten(),
        k.layers.Dense(512, activation="relu"),
        k.layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
    model.save(tmp_path / "digits.keras")
    np.savez(tmp_path / "calib.npz", x=x_train[:200])
    np.savez(tmp_path / "eval.npz", x=x_test, y=y_test)
    _check_int8_claim(tmp_path / "digits.keras", tmp_path / "calib.npz", tmp_path / "eval.npz",
                      tmp_path)


def test_int8_claim_on_the_digits_sample_model(tmp_path):
    from conftest import REPO

    samples = REPO / "sample_models"
    keras_path = samples / "digits_cnn.keras"
    if not keras_path.exists():
        pytest.skip("sample_models/digits_cnn.keras not built")
    _check_int8_claim(keras_path, samples / "digits_calibration.npz", samples / "digits_eval.npz",
                      tmp_path)
