"""Optimization that fits the data it has: the pruning ramp ends halfway so the model recovers,
and fine-tuning keeps the best validation epoch, not the last."""
from __future__ import annotations

import numpy as np
import pytest


def test_the_pruning_ramp_ends_at_half_the_steps_it_has():
    from mobilekit._compat import tfmot
    from mobilekit.optimization.pruning import _schedule

    api = tfmot().sparsity.keras
    # 220 samples in batches of 32 for 3 epochs: 21 steps; the target is reached by step 10,
    # leaving more than an epoch (7 steps) at full sparsity.
    _, end_step, used = _schedule(api, 0.8, "polynomial", None, 21)
    assert used == "polynomial" and end_step <= 10 and 21 - end_step > 7
    _, end_step, _ = _schedule(api, 0.8, "polynomial", None, 700)
    assert 300 <= end_step <= 350


def test_fine_tuning_restores_the_best_validation_epoch(digits):
    from mobilekit._compat import keras
    from mobilekit.optimization.training import FitSettings, accuracy, fit

    k = keras()
    x, y, x_val, y_val = digits[0][:400], digits[1][:400], digits[2][:200], digits[3][:200]
    k.utils.set_random_seed(0)
    model = k.Sequential([k.layers.Input((8, 8, 1)), k.layers.Flatten(),
                          k.layers.Dense(32, activation="relu"), k.layers.Dense(10, activation="softmax")])

    class WreckLastEpoch(k.callbacks.Callback):
        """Scramble the weights as the last epoch starts: that epoch ends far worse."""

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                rng = np.random.default_rng(1)
                self.model.set_weights([rng.normal(0, 3, w.shape).astype(w.dtype)
                                        for w in self.model.get_weights()])

    settings = FitSettings(epochs=4, learning_rate=3e-3, early_stopping_patience=0, verbose=0)
    epochs_run, logs = fit(model, (x, y), (x_val, y_val), settings, step="test",
                           callbacks=[WreckLastEpoch()])
    assert epochs_run == 4
    assert logs["best_epoch"] in (1, 2, 3)   # 1-based, never the wrecked 4th
    kept = accuracy(model, (x_val, y_val))
    assert kept == pytest.approx(logs["val_accuracy"], abs=1e-6)   # the best epoch's, kept
    assert kept > 0.7


def test_each_step_line_shows_the_drop_against_the_float_model():
    from mobilekit.cli._optimize_options import format_optimization
    from mobilekit.optimization.record import OptimizeRecord, StepRecord

    record = OptimizeRecord.__new__(OptimizeRecord)
    record.baseline_val_accuracy, record.tflite_verification = 0.988, None
    record.steps = [StepRecord(step="prune", params={}, wall_time_s=1.0, epochs_run=3,
                               val_accuracy=0.808)]
    text = format_optimization(record)
    assert "val accuracy 0.8080, 18.0 points below the float model" in text


def _tiny_classifier(k):
    k.utils.set_random_seed(0)
    return k.Sequential([k.layers.Input((8, 8, 1)), k.layers.Conv2D(8, 3, activation="relu"),
                         k.layers.Flatten(), k.layers.Dense(10, activation="softmax")])


def test_a_pruning_run_too_short_for_its_ramp_is_widened_and_says_so(digits, capsys):
    from mobilekit._compat import keras
    from mobilekit.optimization.pruning import prune
    from mobilekit.optimization.training import FitSettings

    k = keras()
    x, y = digits[0][:64], digits[1][:64]   # 2 batches of 32: 2 steps an epoch
    settings = FitSettings(epochs=3, early_stopping_patience=0, verbose=0)
    _, record = prune(_tiny_classifier(k), (x, y), val=(digits[2][:64], digits[3][:64]),
                      sparsity=0.8, settings=settings)
    # 6 steps could not ramp to 80% and recover; 11 epochs give 22 steps, a ramp of 10.
    assert record.epochs_run == 11
    assert record.params["end_step"] >= 10 and 22 - record.params["end_step"] >= 10
    assert any("widened to 11 epochs" in note for note in record.notes)
    assert "widened to 11 epochs" in capsys.readouterr().err
    assert all(kernel.sparsity >= 0.79 for kernel in record.kernels)


def test_a_run_far_too_short_is_refused_naming_what_to_change(digits):
    from mobilekit._compat import keras
    from mobilekit.errors import OptimizationArgumentError
    from mobilekit.optimization.clustering import cluster
    from mobilekit.optimization.pruning import prune
    from mobilekit.optimization.training import FitSettings

    k = keras()
    x, y = digits[0][:32], digits[1][:32]   # one batch: 1 step an epoch, 21 epochs needed
    settings = FitSettings(epochs=1, early_stopping_patience=0, verbose=0)
    with pytest.raises(OptimizationArgumentError, match=r"prune: .*pass --epochs 21 or a smaller --batch-size"):
        prune(_tiny_classifier(k), (x, y), sparsity=0.8, settings=settings)
    with pytest.raises(OptimizationArgumentError, match=r"cluster: .*pass --epochs 21"):
        cluster(_tiny_classifier(k), (x, y), clusters=4, settings=settings)


def test_clustering_widens_a_short_run_by_steps_like_pruning(digits, capsys):
    from mobilekit._compat import keras
    from mobilekit.optimization.clustering import cluster
    from mobilekit.optimization.training import FitSettings

    k = keras()
    x, y = digits[0][:96], digits[1][:96]   # 3 steps an epoch: 6 steps in 2 epochs, 7 epochs needed
    _, record = cluster(_tiny_classifier(k), (x, y), clusters=4,
                        settings=FitSettings(epochs=2, early_stopping_patience=0, verbose=0))
    assert record.epochs_run == 7
    assert any("widened to 7 epochs" in note for note in record.notes)
    assert "[cluster]" in capsys.readouterr().err
