"""Optimize, convert, then read the claims back from the .tflite into the model card: the path
`mobilekit convert --prune/--cluster/--qat ...` and the sweep take."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .._io import write_json_atomic
from ..errors import OptimizationError, UsageError


@dataclasses.dataclass
class OptimizedConversion:
    convert: object  # mobilekit.conversion.ConvertResult
    optimization: object  # OptimizeRecord
    verification: object  # verify.TfliteVerification


def optimize_and_convert(model, output, *, train, val=None, optimize: dict | None = None,
                         quantize: str = "none", **convert_kwargs) -> OptimizedConversion:
    """Run ``mobilekit.optimize`` on ``model``, convert the result with
    ``mobilekit.convert`` (the record goes into the card under ``optimization``), then
    verify sparsity/2:4/clusters in the .tflite and add that to the card. A failed read-back
    keeps the card (with the failures) and raises OptimizationError."""
    from . import convert
    from .converter import refuse_overwriting_inputs
    from ..records import to_dict
    from ..optimization.pipeline import optimize as run_optimize
    from ..optimization.verification import verify_against_record

    options = dict(optimize or {})
    # Before any training: minutes of fine-tuning must not end in overwriting an input.
    also_reads = [("train data", train), ("validation data", val),
                  ("teacher model", options.get("distill_from")), *convert_kwargs.get("also_reads", ())]
    refuse_overwriting_inputs(output, model=model, calibration=convert_kwargs.get("calibration"),
                              also_reads=also_reads)
    convert_kwargs["also_reads"] = also_reads
    options.setdefault("quantize", quantize)
    optimized, record = run_optimize(model, train, val=val, **options)
    record_dict = record.as_dict()
    result = convert(optimized, output, quantize=quantize, optimization=record_dict,
                     **convert_kwargs)
    verification = verify_against_record(result.output_path, record_dict)
    record_dict["tflite_verification"] = to_dict(verification)
    _update_card(Path(result.model_card_path), record_dict)
    result.optimization = record_dict
    if not verification.passed:
        raise OptimizationError(f"the .tflite does not hold the optimization's claims: "
                                f"{verification.failures[0]} (details in {result.model_card_path})")
    return OptimizedConversion(convert=result, optimization=record, verification=verification)


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


def _update_card(card_path: Path, record_dict: dict):
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["optimization"] = record_dict
    write_json_atomic(card_path, card)
