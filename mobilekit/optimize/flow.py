"""Optimize, convert, then read the claims back from the .tflite into the model card: the path
`mobilekit convert --prune/--cluster/--qat ...` and the sweep take."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .._io import write_json_atomic
from ..errors import OptimizationError


@dataclasses.dataclass
class OptimizedConversion:
    convert: object  # mobilekit.convert.ConvertResult
    optimization: object  # OptimizeRecord
    verification: object  # verify.TfliteVerification


def optimize_and_convert(model, output, *, train, val=None, optimize: dict | None = None,
                         quantize: str = "none", **convert_kwargs) -> OptimizedConversion:
    """Run ``mobilekit.optimize.optimize`` on ``model``, convert the result with
    ``mobilekit.convert.convert`` (the record goes into the card under ``optimization``), then
    verify sparsity/2:4/clusters in the .tflite and add that to the card. A failed read-back
    keeps the card (with the failures) and raises OptimizationError."""
    from ..convert import convert
    from ..records import to_dict
    from .pipeline import optimize as run_optimize
    from .verify import verify_against_record

    options = dict(optimize or {})
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


def _update_card(card_path: Path, record_dict: dict):
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["optimization"] = record_dict
    write_json_atomic(card_path, card)
