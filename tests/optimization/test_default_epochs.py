"""Default fine-tuning epochs scale with the data: about 300 optimizer steps, 2 to 12 epochs."""
from __future__ import annotations

from mobilekit.optimization.pipeline import default_epochs, optimize


def test_default_epochs_follow_the_step_count():
    assert default_epochs(1100, 32) == 9        # digits' training split: 35 steps an epoch
    assert default_epochs(220, 32) == 12        # few samples: capped, not hundreds of epochs
    assert default_epochs(100_000, 32) == 2     # plenty of steps in two epochs
    assert (default_epochs(1100, 16), default_epochs(1100, 64)) == (5, 12)  # steps, not epochs


def test_optimize_without_epochs_records_the_chosen_count(tiny_keras_path, digits):
    x, y = digits[0][:96], digits[1][:96]
    _model, record = optimize(tiny_keras_path, (x, y), prune=0.5, batch_size=32, verbose=0)
    assert record.settings["epochs"] == default_epochs(96, 32) == 12
    assert record.steps[0].epochs_run <= 12
