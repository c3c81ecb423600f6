"""Optimize, then convert with the optimization's claims read back from the .tflite into the model
card: the path `mobilekit convert --prune/--cluster/--qat ...` and the sweep take."""
from __future__ import annotations

import dataclasses

from ..errors import UsageError


@dataclasses.dataclass
class OptimizedConversion:
    convert: object  # mobilekit.conversion.ConvertResult
    optimization: object  # OptimizeRecord, with its tflite_verification
    verification: object  # optimization.record.TfliteVerification


def optimize_and_convert(model, output, *, train, val=None, optimize: dict | None = None,
                         quantize: str = "none", **convert_kwargs) -> OptimizedConversion:
    """Run ``mobilekit.optimize`` on ``model`` and convert the result with ``mobilekit.convert``,
    which takes the OptimizeRecord, checks sparsity/2:4/clusters in the converted flatbuffer and
    writes the .tflite and its card (the record under ``optimization``) as a set. A failed
    read-back keeps both (the card lists the failures) and raises OptimizationError."""
    from . import convert
    from .converter import refuse_overwriting_inputs
    from ..optimization.pipeline import optimize as run_optimize

    options = dict(optimize or {})
    # Before any training: minutes of fine-tuning must not end in overwriting an input.
    also_reads = [("train data", train), ("validation data", val),
                  ("teacher model", options.get("distill_from")), *convert_kwargs.get("also_reads", ())]
    refuse_overwriting_inputs(output, model=model, calibration=convert_kwargs.get("calibration"),
                              also_reads=also_reads)
    convert_kwargs["also_reads"] = also_reads
    options.setdefault("quantize", quantize)
    optimized, record = run_optimize(model, train, val=val, **options)
    result = convert(optimized, output, quantize=quantize, optimization=record, **convert_kwargs)
    return OptimizedConversion(convert=result, optimization=result.optimization,
                               verification=result.optimization.tflite_verification)


def convert_variant(model, variant, output, *, train=None, epochs: int | None = None, verbose: int = 0,
                    progress: bool | None = None):
    """One recipe variant (``mobilekit.optimization.recipe.Variant``) from ``model`` to ``output``:
    optimized and verified in the .tflite first when it asks for steps, else only converted.
    ``train`` and ``epochs`` override the recipe's. Returns the ConvertResult."""
    from . import convert

    convert_kwargs = variant.convert_kwargs()
    quantize = convert_kwargs.pop("quantize", "none")
    if quantize not in ("int8", "int16x8"):
        # Calibration set in a recipe's [defaults] means nothing to the float modes.
        convert_kwargs.pop("calibration", None)
        convert_kwargs.pop("calibration_samples", None)
    if progress is not None:
        convert_kwargs["progress"] = progress
    if "keep_float" in convert_kwargs or "max_accuracy_drop" in convert_kwargs:
        # The budget is measured on the validation split (eval stays held out for the claims),
        # against the model the variant starts from.
        convert_kwargs.setdefault("data", variant.options.get("val") or variant.options.get("eval"))
        convert_kwargs.setdefault("accuracy_reference", model)
    if not variant.optimizes:
        return convert(model, output, quantize=quantize, **convert_kwargs)
    train = train or variant.options.get("train")
    if not train:
        raise UsageError(f"variant {variant.name!r} asks for optimization steps but the recipe gives no "
                         "train data", hint="add train = \"train.npz\" to [defaults] or the variant")
    optimize = variant.optimize_kwargs()
    optimize.pop("quantize", None)  # passed on its own
    optimize["verbose"] = verbose
    if epochs:
        optimize["epochs"] = epochs
    return optimize_and_convert(model, output, train=train, val=variant.options.get("val"),
                                optimize=optimize, quantize=quantize, **convert_kwargs).convert
