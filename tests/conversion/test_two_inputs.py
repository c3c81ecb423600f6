"""A model with two inputs: int8 calibration on both (an .npz array per input, named after it),
evaluate (arrays per input and y) and bench with the real inputs; --signature for SavedModels."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory, digits):
    """Digits split in two: the image and a second input with its row sums, trained together."""
    from mobilekit._compat import keras

    k = keras()
    k.utils.set_random_seed(2)
    image = k.Input((8, 8, 1), name="image")
    extra = k.Input((8,), name="row_sums")
    # separate branches (a Concatenate would force one scale on both inputs)
    hidden = k.layers.Activation("relu")(k.layers.Add()([
        k.layers.Dense(32)(k.layers.Flatten()(image)), k.layers.Dense(32)(extra)]))
    model = k.Model([image, extra], k.layers.Dense(10, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")

    def split(x):
        return {"image": x, "row_sums": x.sum(axis=(2, 3)) / 2.0}

    model.fit(split(digits[0][:1000]), digits[1][:1000], epochs=10, verbose=0)
    folder = tmp_path_factory.mktemp("two")
    model.save(folder / "two.keras")
    np.savez(folder / "calib.npz", **split(digits[0][:64]))
    np.savez(folder / "eval.npz", **split(digits[2][:120]), y=digits[3][:120])
    return folder


def test_two_input_model_converts_to_int8_evaluates_and_benches(two_inputs, tmp_path):
    from mobilekit.analysis.evaluation import evaluate
    from mobilekit.benchmark.core import bench
    from mobilekit.conversion import convert
    from mobilekit.models.tflite import input_names, open_interpreter, read_tflite

    out = tmp_path / "two_int8.tflite"
    card = convert(two_inputs / "two.keras", out, quantize="int8", io_type="int8",
                   calibration=two_inputs / "calib.npz")
    assert card.calibration_samples == 64
    interpreter = open_interpreter(read_tflite(out), where=str(out))
    assert sorted(input_names(interpreter)) == ["image", "row_sums"]
    for detail in interpreter.get_input_details():  # both inputs quantized from their own ranges
        assert detail["quantization"][0] > 0
    scales = {name: detail["quantization"][0]
              for name, detail in zip(input_names(interpreter), interpreter.get_input_details())}
    assert scales["row_sums"] > 2 * scales["image"]  # its range (0..4) is calibrated, not copied

    result = evaluate(out, two_inputs / "eval.npz", reference=two_inputs / "two.keras")
    assert result.samples == 120 and result.top1 > 0.6
    assert result.argmax_agreement > 0.9 and abs(result.top1 - result.reference_top1) < 0.05

    summary = bench(out, data=two_inputs / "eval.npz", target="host", runs=3, warmup=1,
                    output_dir=tmp_path / "bench")
    run = summary.runs[0]
    assert run.status == "ok" and summary.input_samples == 120
    inputs = sorted(p.name for p in (tmp_path / "bench" / "inputs").rglob("*.npy"))
    assert inputs == ["input_0.npy", "input_1.npy"]
    assert run.accuracy["top1"] == pytest.approx(result.top1)


def test_calibration_without_an_array_per_input_is_one_clear_line(two_inputs, tmp_path, digits):
    np.savez(tmp_path / "x_only.npz", x=digits[0][:16])
    out = CliRunner().invoke(cli, ["convert", str(two_inputs / "two.keras"), "-o",
                                   str(tmp_path / "m.tflite"), "--quantize", "int8",
                                   "--calibration", str(tmp_path / "x_only.npz")])
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert "no array for input(s) image, row_sums" in out.output


def test_signature_picks_one_of_several_without_serving_default(tmp_path, calibration_npz):
    from mobilekit._compat import tf
    from mobilekit.conversion import convert

    t = tf()

    class TwoHeads(t.Module):
        def __init__(self):
            super().__init__()
            self.w = t.Variable(t.random.stateless_normal((64, 10), seed=(1, 2)))

        @t.function(input_signature=[t.TensorSpec([None, 8, 8, 1], t.float32, name="x")])
        def scores(self, x):
            return {"scores": t.nn.softmax(t.matmul(t.reshape(x, (-1, 64)), self.w))}

        @t.function(input_signature=[t.TensorSpec([None, 8, 8, 1], t.float32, name="x")])
        def features(self, x):
            return {"features": t.matmul(t.reshape(x, (-1, 64)), self.w) * 2.0}

    module = TwoHeads()
    folder = tmp_path / "saved"
    t.saved_model.save(module, str(folder), signatures={"scores": module.scores,
                                                        "features": module.features})
    out = CliRunner().invoke(cli, ["convert", str(folder), "-o", str(tmp_path / "a.tflite"),
                                   "--quantize", "int8", "--calibration", str(calibration_npz)])
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert "no signature 'serving_default'" in out.output and "features, scores" in out.output
    card = convert(folder, tmp_path / "s.tflite", quantize="int8", calibration=calibration_npz,
                   signature="scores")
    assert card.signature == "scores" and card.calibration_samples == 64
    assert [o["dtype"] for o in card.outputs] == ["float32"]
    assert "FULLY_CONNECTED" in card.op_histogram
