"""The optimization steps on a tiny real CNN (one epoch each): every step, the combinations, the
claims read back from real .tflite files, and each bad input as a clear error."""
from __future__ import annotations

import numpy as np
import pytest

from mobilekit.errors import DataError, ModelError, OptimizationError
from mobilekit.optimization import (FitSettings, cluster, distill, optimize, prune, qat, strip,
                                    strip_clustering, strip_pruning)
from mobilekit.optimization.verification import read_kernels, verify_against_record, verify_tflite

from conftest import latency_model

QUIET = FitSettings(epochs=1, batch_size=32, learning_rate=1e-3, verbose=0)


@pytest.fixture(scope="module")
def data(digits):
    x_train, y_train, x_test, y_test = digits
    return (x_train[:320], y_train[:320]), (x_test[:96], y_test[:96])


def _kernel_names(model):
    return [layer.name for layer in model.layers if hasattr(layer, "kernel")]


def test_prune_reaches_target_in_every_kernel_and_leaves_the_input_alone(tiny_keras_path, data):
    from mobilekit._compat import keras

    original = keras().models.load_model(tiny_keras_path)
    before = [w.copy() for w in original.get_weights()]
    train, val = data
    wrapped, record = prune(original, train, val=val, sparsity=0.6, settings=QUIET)
    assert record.step == "prune" and record.params["schedule"] == "polynomial"
    assert record.val_accuracy is not None and record.wall_time_s > 0
    assert {k.layer for k in record.kernels} == set(_kernel_names(original))
    assert all(kernel.sparsity >= 0.59 for kernel in record.kernels)
    assert any("pruned kernels have >= 59% zeros" in check for check in record.checks)
    stripped = strip_pruning(wrapped)
    assert [type(layer).__name__ for layer in stripped.layers] == \
        [type(layer).__name__ for layer in original.layers]
    for got, want in zip(original.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_prune_constant_schedule(tiny_keras_path, data):
    _, record = prune(tiny_keras_path, data[0], sparsity=0.3, schedule="constant", settings=QUIET)
    assert record.params["schedule"] == "constant"
    assert min(kernel.sparsity for kernel in record.kernels) >= 0.29


def test_prune_2_4_pattern_in_model_and_in_tflite(tiny_keras_path, data, tmp_path):
    from mobilekit.conversion import convert

    model, record = optimize(tiny_keras_path, data[0], prune_structure="2:4", epochs=1,
                             batch_size=32, verbose=0)
    prune_record = record.step("prune")
    # The first conv reads 1 channel: no group of 4 to prune, so it is left out on purpose.
    layers = prune_record.params["layers"]
    assert len(layers) == 2 and not any(name.startswith("conv") for name in layers)
    assert all(k.pattern_2_4 and k.sparsity >= 0.49 for k in prune_record.kernels)
    result = convert(model, tmp_path / "p24.tflite", optimization=record.as_dict())
    verification = verify_against_record(result.output_path, record.as_dict())
    assert verification.passed, verification.failures
    assert any("2:4 pattern" in check for check in verification.checks)


def test_cluster_keeps_n_values_per_kernel(tiny_keras_path, data):
    wrapped, record = cluster(tiny_keras_path, data[0], clusters=4, settings=QUIET)
    assert all(kernel.unique_values <= 4 for kernel in record.kernels)
    stripped = strip_clustering(wrapped)
    for layer in stripped.layers:
        if layer.name in record.params["layers"]:
            assert len(np.unique(layer.kernel.numpy())) <= 4


def test_distill_from_a_teacher(tiny_keras_path, data):
    from mobilekit._compat import keras

    k = keras()
    student = k.Sequential([k.Input((8, 8, 1)), k.layers.Flatten(),
                            k.layers.Dense(10, activation="softmax")])
    train, val = data
    from mobilekit.optimization.training import accuracy

    before = accuracy(student, val)
    trained, record = distill(student, tiny_keras_path, train, val=val, temperature=3.0,
                              alpha=0.3, settings=FitSettings(epochs=2, learning_rate=0.01,
                                                              verbose=0))
    assert trained is student and record.step == "distill"
    assert record.params["temperature"] == 3.0 and record.params["alpha"] == 0.3
    assert record.val_accuracy > before + 0.2
    assert any("teacher val accuracy" in note for note in record.notes)


def test_prune_cluster_qat_int8_tflite_holds_the_claims(tiny_keras_path, data, calibration_npz,
                                                        tmp_path):
    from mobilekit.conversion import convert

    train, val = data
    model, record = optimize(tiny_keras_path, train, val=val, prune=0.5, cluster=6, qat=True,
                             quantize="int8", epochs=1, learning_rate=1e-3, verbose=0)
    assert [step.step for step in record.steps] == ["prune", "cluster", "qat", "strip"]
    assert record.step("qat").params["preserve"] == "prune+cluster"
    assert record.step("qat").params["scheme"] == "Default8BitClusterPreserveQuantizeScheme"
    assert record.final_val_accuracy is not None and record.baseline_val_accuracy is not None
    result = convert(model, tmp_path / "pcqat.tflite", quantize="int8",
                     calibration=str(calibration_npz), optimization=record.as_dict())
    verification = verify_against_record(result.output_path, record.as_dict())
    assert verification.passed, verification.failures
    kernels = [k for k in verification.kernels if k.layer in record.step("prune").params["layers"]]
    assert kernels and all(k.dtype == "int8" and k.sparsity >= 0.49 for k in kernels)
    assert all(k.max_unique_per_channel <= 7 for k in kernels)


@pytest.mark.parametrize("steps, scheme", [
    ({"prune": 0.5}, "Default8BitPrunePreserveQuantizeScheme"),
    ({"cluster": 4}, "Default8BitClusterPreserveQuantizeScheme"),
    ({}, "Default8BitQuantizeScheme"),
])
def test_qat_scheme_follows_earlier_steps(tiny_keras_path, data, steps, scheme):
    _, record = optimize(tiny_keras_path, data[0], qat=True, quantize="int8", epochs=1,
                         verbose=0, **steps)
    assert record.step("qat").params["scheme"] == scheme
    assert record.step("strip").checks


def test_strip_is_a_step_with_a_record(tiny_keras_path, data):
    wrapped, _ = prune(tiny_keras_path, data[0], sparsity=0.5, settings=QUIET)
    stripped, record = strip(wrapped)
    assert record.step == "strip" and record.params["removed"] == ["prune"]
    assert not any("prune" in layer.name for layer in stripped.layers)


def test_prune_for_latency_prunes_only_1x1_convs():
    from mobilekit._compat import keras

    k = keras()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 16, 16, 3)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    _, record = prune(latency_model(k), (x, y), sparsity=0.7, for_latency=True, settings=QUIET)
    assert len(record.params["layers"]) == 2
    assert all(kernel.shape[:2] == [1, 1] and kernel.sparsity >= 0.69 for kernel in record.kernels)


def test_prune_for_latency_explains_an_unsuitable_model(tiny_keras_path, data):
    with pytest.raises(OptimizationError, match="XNNPACK sparse inference"):
        prune(tiny_keras_path, data[0], sparsity=0.5, for_latency=True, settings=QUIET)


def test_keras3_model_is_rebuilt_in_tf_keras(tmp_path, data):
    from mobilekit._compat import keras3

    k3 = keras3()
    inputs = k3.Input((8, 8, 1))
    x = k3.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = k3.layers.BatchNormalization()(x)
    x = k3.layers.Flatten()(x)
    model3 = k3.Model(inputs, k3.layers.Dense(10, activation="softmax")(x))
    path = tmp_path / "keras3.keras"
    model3.save(path)
    model, record = optimize(str(path), data[0], prune=0.5, epochs=1, verbose=0)
    assert type(model).__module__.startswith("tf_keras")
    assert any("Keras 3 Functional rebuilt in tf_keras" in note for note in record.notes)
    assert min(k.sparsity for k in record.step("prune").kernels) >= 0.49


def test_keras3_model_that_cannot_be_rebuilt_says_why(data):
    from mobilekit._compat import keras3

    k3 = keras3()
    model3 = k3.Sequential([k3.Input((8, 8, 1)), k3.layers.Lambda(lambda t: t * 2.0),
                            k3.layers.Flatten(), k3.layers.Dense(10)])
    with pytest.raises(OptimizationError, match="Lambda layer .* cannot be moved to tf_keras"):
        optimize(model3, data[0], prune=0.5, epochs=1, verbose=0)


def test_verify_reports_a_dense_tflite_as_not_pruned(tiny_tflite_path):
    kernels = read_kernels(tiny_tflite_path)
    assert {k.op for k in kernels} == {"CONV_2D", "FULLY_CONNECTED"}
    names = [k.layer for k in kernels]
    result = verify_tflite(tiny_tflite_path, sparsity=0.5, pruned_layers=names)
    assert not result.passed and "below 50%" in result.failures[0]
    with pytest.raises(OptimizationError, match="does not hold"):
        verify_tflite(tiny_tflite_path, sparsity=0.5, pruned_layers=names, raise_on_failure=True)


# ------------------------------------------------------------------------------------ bad inputs

def test_training_data_without_labels(tiny_keras_path, data, tmp_path):
    with pytest.raises(DataError, match="no labels"):
        optimize(tiny_keras_path, data[0][0], prune=0.5, verbose=0)
    unlabelled = tmp_path / "x_only.npz"
    np.savez(unlabelled, x=data[0][0])
    with pytest.raises(DataError):
        optimize(tiny_keras_path, str(unlabelled), prune=0.5, verbose=0)


def test_validation_set_with_other_classes(tiny_keras_path, data):
    (x, y), (x_val, y_val) = data
    keep = y < 5
    with pytest.raises(DataError, match="classes .* that the training data does not have"):
        optimize(tiny_keras_path, (x[keep], y[keep]), val=(x_val, y_val), prune=0.5, verbose=0)
    with pytest.raises(DataError, match="model has 10 outputs"):
        optimize(tiny_keras_path, (x, y), val=(x_val, y_val + 10), prune=0.5, verbose=0)


@pytest.mark.parametrize("sparsity", [0.0, 1.0, 1.5, -0.2])
def test_sparsity_outside_zero_one(tiny_keras_path, data, sparsity):
    with pytest.raises(OptimizationError, match="strictly between 0 and 1"):
        optimize(tiny_keras_path, data[0], prune=sparsity, verbose=0)


@pytest.mark.parametrize("clusters", [1, 0, -3])
def test_clusters_below_two(tiny_keras_path, data, clusters):
    with pytest.raises(OptimizationError, match="clusters must be a whole number >= 2"):
        optimize(tiny_keras_path, data[0], cluster=clusters, verbose=0)


def test_2_4_on_a_model_without_prunable_layer(data):
    from mobilekit._compat import keras

    k = keras()
    model = k.Sequential([k.Input((8, 8, 1)), k.layers.DepthwiseConv2D(3),
                          k.layers.GlobalAveragePooling2D(), k.layers.Dense(10)])
    with pytest.raises(OptimizationError, match="no Conv2D or Dense layer whose input channels"):
        optimize(model, data[0], prune_structure="2:4", verbose=0)


def test_teacher_with_other_output_shape(tiny_keras_path, data):
    from mobilekit._compat import keras

    k = keras()
    teacher = k.Sequential([k.Input((8, 8, 1)), k.layers.Flatten(), k.layers.Dense(7)])
    with pytest.raises(OptimizationError, match=r"teacher output shape \(7,\) differs"):
        optimize(tiny_keras_path, data[0], distill_from=teacher, verbose=0)


def test_unsupported_layer_for_qat_is_named_and_can_be_skipped(data, calibration_npz, tmp_path):
    from mobilekit._compat import keras
    from mobilekit.conversion import convert

    k = keras()
    model = k.Sequential([k.Input((8, 8, 1)), k.layers.Rescaling(2.0, offset=-1.0, name="scale"),
                          k.layers.Conv2D(8, 3, activation="relu"), k.layers.Flatten(),
                          k.layers.Dense(10, activation="softmax")])
    with pytest.raises(OptimizationError, match=r"scale \(Rescaling\).*--qat-skip-unsupported"):
        optimize(model, data[0], qat=True, quantize="int8", verbose=0)
    quantized, record = optimize(model, data[0], qat=True, qat_skip_unsupported=True,
                                 quantize="int8", epochs=1, verbose=0)
    assert record.step("qat").params["skipped_layers"] == ["scale (Rescaling)"]
    result = convert(quantized, tmp_path / "skip.tflite", quantize="int8",
                     calibration=str(calibration_npz))
    assert result.op_histogram.get("CONV_2D") == 1


@pytest.mark.parametrize("quantize, match", [
    ("int16x8", "not yet supported for op: 'DEQUANTIZE'"),
    ("fp16", "silently give int8 weights"),
    ("dynamic", "silently give int8 weights"),
])
def test_qat_refuses_conversions_that_cannot_follow(tiny_keras_path, data, quantize, match):
    with pytest.raises(OptimizationError, match=match):
        optimize(tiny_keras_path, data[0], qat=True, quantize=quantize, verbose=0)


def test_no_step_and_missing_model(tiny_keras_path, data, tmp_path):
    with pytest.raises(OptimizationError, match="no optimization step"):
        optimize(tiny_keras_path, data[0], verbose=0)
    with pytest.raises(ModelError, match="not found"):
        optimize(tmp_path / "missing.keras", data[0], prune=0.5, verbose=0)


def test_loss_inferred_from_labels_and_output_activation(tiny_keras_path, data):
    from mobilekit._compat import keras
    from mobilekit.optimization.training import infer_loss

    k = keras()
    probabilities = k.models.load_model(tiny_keras_path)
    logits = k.Sequential([k.Input((8, 8, 1)), k.layers.Flatten(), k.layers.Dense(10)])
    sparse_labels, one_hot = data[0][1], np.eye(10, dtype=np.float32)[data[0][1]]
    settings = FitSettings()
    loss, metrics = infer_loss(probabilities, sparse_labels, settings)
    assert type(loss).__name__ == "SparseCategoricalCrossentropy" and not loss.get_config()["from_logits"]
    loss, metrics = infer_loss(logits, one_hot, settings)
    assert type(loss).__name__ == "CategoricalCrossentropy" and loss.get_config()["from_logits"]
    assert metrics[0].name == "accuracy"
    # One-hot labels and a logits model train end to end, and a given loss is used as given.
    _, record = cluster(logits, (data[0][0], one_hot), val=(data[1][0], np.eye(10)[data[1][1]]),
                        clusters=4, settings=QUIET)
    assert record.val_accuracy is not None
    _, record = optimize(logits, data[0], cluster=4, loss=k.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"], epochs=1, verbose=0)
    assert record.settings["loss"] is not None


def test_early_stopping_on_val(tiny_keras_path, data):
    train, val = data
    # A learning rate too small to change anything: val accuracy never improves after epoch 1.
    _, record = cluster(tiny_keras_path, train, val=val, clusters=8,
                        settings=FitSettings(epochs=6, learning_rate=1e-12, verbose=0,
                                             early_stopping_patience=1))
    assert record.epochs_run == 2


def test_conv_batchnorm_model_prunes_then_qat():
    """BatchNormalization after a conv is folded by QAT, also after pruning re-wired the layers."""
    from mobilekit._compat import keras

    k = keras()
    inputs = k.Input((8, 8, 3))
    x = k.layers.Conv2D(8, 3, use_bias=False)(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU(6.0)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(inputs, k.layers.Dense(4, activation="softmax")(x))
    rng = np.random.default_rng(0)
    x_train = rng.uniform(-1, 1, (64, 8, 8, 3)).astype(np.float32)
    _, record = optimize(model, (x_train, rng.integers(0, 4, 64)), prune=0.5, qat=True,
                         quantize="int8", epochs=1, verbose=0)
    assert record.step("qat").params["skipped_layers"] == []


def test_verify_reads_weights_stored_sparse(tiny_keras_path, data, tmp_path):
    """Kernels the converter stores sparse (DENSIFY, as XNNPACK's sparse path wants) are found by
    layer and measured after expansion."""
    from mobilekit._compat import tf

    wrapped, record = prune(tiny_keras_path, data[0], sparsity=0.8, settings=QUIET)
    converter = tf().lite.TFLiteConverter.from_keras_model(strip_pruning(wrapped))
    converter.optimizations = [tf().lite.Optimize.EXPERIMENTAL_SPARSITY]
    path = tmp_path / "sparse.tflite"
    path.write_bytes(converter.convert())
    result = verify_tflite(path, sparsity=0.8, pruned_layers=record.params["layers"])
    assert result.passed, result.failures
    assert len([k for k in result.kernels if k.layer in record.params["layers"]]) == \
        len(record.params["layers"])


def test_verify_needs_no_tensorflow(tiny_tflite_path):
    import subprocess
    import sys

    code = ("import sys; from mobilekit.optimization.verification import read_kernels; "
            f"kernels = read_kernels({str(tiny_tflite_path)!r}); "
            "assert kernels and 'tensorflow' not in sys.modules, sorted(sys.modules)[:5]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-1500:]
