"""evaluate on models with several outputs: every head scored against its Keras twin, paired by
name (or by shape and order, said so), and --head picks the output accuracy is computed on."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.analysis.evaluation import evaluate, pair_outputs
from mobilekit.cli import cli
from mobilekit.errors import DataError, UsageError


@pytest.fixture(scope="module")
def three_heads(tmp_path_factory, digits):
    """A digits model with three outputs of distinct shapes, as an int8 .tflite and its Keras twin."""
    from mobilekit._compat import keras
    from mobilekit.conversion import convert

    k = keras()
    k.utils.set_random_seed(1)
    inputs = k.Input((8, 8, 1))
    trunk = k.layers.Dense(32, activation="relu")(k.layers.Flatten()(inputs))
    classes = k.layers.Dense(10, activation="softmax", name="classes")(trunk)
    box = k.layers.Dense(4, name="box")(trunk)
    landmarks = k.layers.Dense(6, name="landmarks")(trunk)
    model = k.Model(inputs, [box, classes, landmarks])  # the class head is not the first
    model.compile("adam", ["mse", "sparse_categorical_crossentropy", "mse"])
    x, y = digits[0][:1000], digits[1][:1000]
    model.fit(x, [np.zeros((1000, 4)), y, np.zeros((1000, 6))], epochs=15, verbose=0)
    folder = tmp_path_factory.mktemp("heads")
    model.save(folder / "heads.keras")
    calibration = folder / "calib.npz"
    np.savez(calibration, x=x[:64])
    convert(folder / "heads.keras", folder / "heads_int8.tflite", quantize="int8",
            calibration=calibration)
    np.savez(folder / "eval.npz", x=digits[2][:100], y=digits[3][:100])
    return folder


def test_every_head_scored_against_its_keras_twin_by_name(three_heads):
    result = evaluate(three_heads / "heads_int8.tflite", three_heads / "eval.npz",
                      reference=three_heads / "heads.keras", head="classes")
    assert result.pairing == "name"
    by_name = {entry["name"]: entry for entry in result.heads}
    assert set(by_name) == {"box", "classes", "landmarks"}
    assert all(entry["reference"] == entry["name"] for entry in result.heads)
    assert by_name["box"]["shape"] == [None, 4] and by_name["landmarks"]["shape"] == [None, 6]
    assert by_name["classes"]["argmax_agreement"] > 0.8
    for entry in result.heads:  # int8 is close to float on every head, not just the first
        assert entry["snr_db"] is not None and entry["snr_db"] > 10
        assert 0 < entry["mean_abs_error"] <= entry["max_abs_error"]
    assert result.head == "classes" and result.classes == 10 and result.top1 > 0.5
    assert result.argmax_agreement == by_name["classes"]["argmax_agreement"]
    assert abs(result.top1 - result.reference_top1) < 0.1


def test_head_picks_the_accuracy_output_and_names_it_in_the_cli(three_heads):
    out = CliRunner().invoke(cli, ["evaluate", str(three_heads / "heads_int8.tflite"),
                                   "--data", str(three_heads / "eval.npz"), "--head", "classes",
                                   "--reference", str(three_heads / "heads.keras")])
    assert out.exit_code == 0, out.output
    assert "output classes" in out.output
    for name in ("box", "classes", "landmarks"):
        assert f"head {name}" in out.output and f"vs {name}:" in out.output
    wrong = CliRunner().invoke(cli, ["evaluate", str(three_heads / "heads_int8.tflite"),
                                     "--data", str(three_heads / "eval.npz"), "--head", "nope"])
    assert wrong.exit_code == 2 and "no output of that name" in wrong.output
    assert "box" in wrong.output and "Traceback" not in wrong.output


def test_box_head_cannot_score_class_labels(three_heads):
    with pytest.raises(DataError):  # 4 box values per sample are not 10 classes
        evaluate(three_heads / "heads_int8.tflite", three_heads / "eval.npz", head="box")


def test_pairing_falls_back_to_shape_and_order():
    ours = {"StatefulPartitionedCall:0": np.zeros((3, 4)), "StatefulPartitionedCall:1": np.zeros((3, 10))}
    theirs = {"classes": np.zeros((3, 10)), "box": np.zeros((3, 4))}
    pairs, how = pair_outputs(ours, theirs)
    assert how == "shape and order"
    assert pairs == [("StatefulPartitionedCall:0", "box"), ("StatefulPartitionedCall:1", "classes")]
    assert pair_outputs({"box": ours["StatefulPartitionedCall:0"]}, theirs) == ([("box", "box")], "name")
    with pytest.raises(DataError, match="no reference output of the same shape"):
        pair_outputs({"odd": np.zeros((3, 7))}, theirs)
