"""Fine-tuning a mini-Xception (the shape of fer's emotion model: SeparableConv2D, batch norm,
residual adds, global average pooling, softmax on a 48x48x1 face) with prune + QAT through
``mobilekit.optimize`` trains to the end instead of crashing."""
from __future__ import annotations

import numpy as np


def _mini_xception(k, classes=7):
    inputs = k.Input((48, 48, 1))
    x = k.layers.Conv2D(4, 3, strides=2, use_bias=False)(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.Activation("relu")(x)
    for width in (8, 16):
        residual = k.layers.Conv2D(width, 1, strides=2, padding="same", use_bias=False)(x)
        residual = k.layers.BatchNormalization()(residual)
        x = k.layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.Activation("relu")(x)
        x = k.layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = k.layers.add([x, residual])
    x = k.layers.Conv2D(classes, 3, padding="same")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Activation("softmax", name="predictions")(x)
    return k.Model(inputs, outputs, name="mini_xception")


def test_a_mini_xception_fine_tunes_with_prune_and_qat(tmp_path):
    import mobilekit
    from mobilekit._compat import keras

    k = keras()
    k.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 128)
    # Faces stand-in: a bright square whose corner says the class, on noise.
    x = rng.normal(0.3, 0.1, (128, 48, 48, 1)).astype(np.float32)
    for i, label in enumerate(y):
        row, col = divmod(int(label), 3)
        x[i, row * 14:row * 14 + 12, col * 14:col * 14 + 12] += 0.6
    model = _mini_xception(k)
    model.save(tmp_path / "fer_like.keras")
    np.savez(tmp_path / "train.npz", x=x[:96], y=y[:96])
    np.savez(tmp_path / "val.npz", x=x[96:], y=y[96:])

    optimized, record = mobilekit.optimize(tmp_path / "fer_like.keras", tmp_path / "train.npz",
                                           val=tmp_path / "val.npz", prune=0.5, qat=True,
                                           epochs=6, batch_size=16, learning_rate=1e-3, verbose=0)
    assert [step.step for step in record.steps][:2] == ["prune", "qat"]
    prune_step = record.steps[0]
    assert prune_step.epochs_run >= 1 and np.isfinite(prune_step.train_loss)
    assert all(kernel.sparsity >= 0.49 for kernel in prune_step.kernels)
    assert any(kernel.layer.startswith("separable_conv2d") for kernel in prune_step.kernels)
    qat_step = record.steps[1]
    assert qat_step.val_accuracy is not None and np.isfinite(qat_step.train_loss)
    # QAT quantizes every layer, as TF-MOT does: each SeparableConv2D is split into a depthwise
    # and a 1x1 convolution, both traced back to it, and its pruned zeros survive the fine-tuning.
    assert qat_step.params["skipped_layers"] == []
    separable_names = sorted(layer.name for layer in model.layers
                             if isinstance(layer, k.layers.SeparableConv2D))
    assert sorted(set(qat_step.params["split_layers"].values())) == separable_names
    separable = [kernel for kernel in qat_step.kernels if kernel.layer in separable_names]
    assert len(separable) == 4 and all(kernel.sparsity >= 0.49 for kernel in separable)
