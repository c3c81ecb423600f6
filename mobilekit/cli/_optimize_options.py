"""The optimization options `mobilekit convert` gains (fine-tuning data, the steps, recipes), as
one decorator; the command receives them resolved as ``optimize`` (a dict, or None)."""
from __future__ import annotations

import functools

import click

from ._common import run_command

# click parameter name -> key of mobilekit.optimization.recipe.OPTION_KEYS
OPTIMIZE_PARAMS = ("train", "val", "epochs", "batch_size", "learning_rate", "distill_from",
                   "temperature", "alpha", "prune", "prune_schedule", "prune_structure",
                   "prune_for_latency", "cluster", "qat", "qat_skip_unsupported")
_STEP_PARAMS = ("distill_from", "prune", "prune_structure", "prune_for_latency", "cluster", "qat")
# The convert command's own options a recipe variant may set.
_CONVERT_PARAMS = ("quantize", "calibration", "calibration_samples", "io_type", "keep_float",
                   "max_accuracy_drop")


def optimize_options(fn):
    """Add the optimization options to a click command.

    The wrapped function gets ``optimize``: None when no step was asked for, else a dict with
    ``train``, ``val`` and the keyword arguments of ``mobilekit.optimize``. A recipe
    variant (``--recipe FILE --variant NAME``) fills in options not given on the command line,
    including the convert options ``quantize``/``calibration``/... of the command itself.
    """
    options = [
        click.option("--train", metavar="DATA",
                     help="Optimize first: labelled data to fine-tune on (.npz with x and y, or an "
                          "image folder with one subfolder per class)."),
        click.option("--val", metavar="DATA",
                     help="Labelled validation data: accuracy after each step, early stopping."),
        click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Fine-tuning epochs per step [default: from the data: about 300 "
                          "optimizer steps, 2 to 12 epochs; 9 for 1,100 samples at batch 32]."),
        click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True),
        click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-4,
                     show_default=True),
        click.option("--distill-from", metavar="TEACHER",
                     help="Distill: the model learns this teacher's soft targets (same outputs)."),
        click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=4.0,
                     show_default=True, help="Distillation temperature."),
        click.option("--alpha", type=click.FloatRange(0, 1), default=0.1, show_default=True,
                     help="Weight of the hard labels in distillation (1 - alpha: the teacher's)."),
        click.option("--prune", type=float, metavar="SPARSITY",
                     help="Prune to this fraction of zeros per kernel, in (0, 1), e.g. 0.8."),
        click.option("--prune-schedule", type=click.Choice(["polynomial", "constant"]),
                     default="polynomial", show_default=True),
        click.option("--prune-structure", type=click.Choice(["2:4"]),
                     help="Structured 2:4 sparsity (2 zeros in every 4 input-channel weights)."),
        click.option("--prune-for-latency", is_flag=True,
                     help="Prune only what XNNPACK's sparse inference speeds up (1x1 convs)."),
        click.option("--cluster", type=int, metavar="N",
                     help="Cluster each kernel to N distinct values (N >= 2)."),
        click.option("--qat", is_flag=True,
                     help="Quantization-aware training (prune/cluster-preserving after those "
                          "steps); convert with --quantize int8."),
        click.option("--qat-skip-unsupported", is_flag=True,
                     help="With --qat: quantize only the layers TF-MOT supports."),
        click.option("--recipe", type=click.Path(dir_okay=False), metavar="recipe.toml",
                     help="Take the options from a recipe file (see sample_models/recipes/)."),
        click.option("--variant", metavar="NAME",
                     help="The recipe variant to use (needed when the recipe has several)."),
    ]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in OPTIMIZE_PARAMS}
        recipe_path, variant_name = kwargs.pop("recipe"), kwargs.pop("variant")
        ctx = click.get_current_context()
        kwargs["optimize"] = resolve_optimize(ctx, given, kwargs, recipe_path, variant_name)
        ctx.meta["mobilekit.recipe"] = recipe_path  # an input no output may overwrite
        return fn(*args, **kwargs)

    command = run_command(wrapper)
    for option in reversed(options):
        command = option(command)
    return command


def resolve_optimize(ctx, given: dict, command_kwargs: dict, recipe_path, variant_name):
    """Merge recipe variant and command line (command line wins); None when nothing to optimize."""
    from ..errors import UsageError

    def explicit(name):
        source = ctx.get_parameter_source(name) if ctx is not None else None
        return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

    values = dict(given)
    if variant_name and not recipe_path:
        raise UsageError("--variant needs --recipe FILE")
    if recipe_path:
        from ..optimization.recipe import load_recipe

        recipe = load_recipe(recipe_path)
        if variant_name is None and len(recipe.variants) > 1:
            raise UsageError(f"recipe {recipe_path} has {len(recipe.variants)} variants "
                             f"({', '.join(recipe.names)}): choose one with --variant NAME "
                             "(mobilekit sweep runs them all)")
        variant = recipe.variant(variant_name) if variant_name else recipe.variants[0]
        for key, value in variant.options.items():
            if key in values and not explicit(key):
                values[key] = value
            elif key in _CONVERT_PARAMS and key in command_kwargs and not explicit(key):
                command_kwargs[key] = value
    # `is not`: --prune 0 is a step given (with a value its own check refuses), not no step.
    steps = [name for name in _STEP_PARAMS if values.get(name) is not None and values.get(name) is not False]
    if not steps:
        if values.get("train") or values.get("val"):
            raise UsageError("--train/--val given but no optimization step: add --prune, --cluster, "
                             "--qat or --distill-from")
        if values.get("qat_skip_unsupported"):
            raise UsageError("--qat-skip-unsupported only applies with --qat")
        return None
    if not values.get("train"):
        flags = ", ".join("--" + name.replace("_", "-") for name in steps)
        raise UsageError(f"{flags} fine-tunes the model: give --train DATA (labelled .npz with x "
                         "and y, or an image folder)")
    return values


def format_optimization(record) -> str:
    """A few lines on what each step did and what the .tflite read-back confirmed, from the
    OptimizeRecord convert returns."""
    lines = ["Optimization (details in the model card under \"optimization\"):"]
    if record.baseline_val_accuracy is not None:
        lines.append(f"  val accuracy before: {record.baseline_val_accuracy:.4f}")
    for step in record.steps:
        shown = f"val accuracy {step.val_accuracy:.4f}, " if step.val_accuracy is not None else ""
        if step.val_accuracy is not None and record.baseline_val_accuracy is not None:
            drop = 100 * (record.baseline_val_accuracy - step.val_accuracy)
            shown += f"{drop:.1f} points below the float model, " if drop > 0.05 else ""
        lines.append(f"  {step.step:<8} {shown}{step.epochs_run} epoch(s), {step.wall_time_s:.1f} s")
    verification = record.tflite_verification
    if verification is not None:
        lines += [f"  verified {check}" for check in verification.checks]
        lines += [f"  FAILED {failure}" for failure in verification.failures]
    return "\n".join(lines)
