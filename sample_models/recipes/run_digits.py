"""Run every variant of digits.toml, evaluate each .tflite on the held-out eval split, and write
the model cards plus a summary (sizes and top-1 against the float32 .tflite) to reports/optimize/.

Run: .venv/bin/python sample_models/recipes/run_digits.py [--variant NAME ...] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from mobilekit._io import write_json_atomic, write_text_atomic  # noqa: E402


def run_variant(model, variant, out_dir: Path):
    """Convert (optimizing first when the variant asks) and return the ConvertResult."""
    from mobilekit.convert import convert
    from mobilekit.optimize.flow import optimize_and_convert

    output = out_dir / f"digits_{variant.name}.tflite"
    convert_kwargs = variant.convert_kwargs()
    quantize = convert_kwargs.pop("quantize", "none")
    if quantize not in ("int8", "int16x8"):
        convert_kwargs.pop("calibration", None)
    if not variant.optimizes:
        return convert(model, output, quantize=quantize, **convert_kwargs)
    optimize = variant.optimize_kwargs()
    optimize.pop("quantize", None)
    return optimize_and_convert(model, output, train=variant.options["train"],
                                val=variant.options.get("val"), optimize=optimize,
                                quantize=quantize, **convert_kwargs).convert


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=HERE / "digits.toml")
    parser.add_argument("--model", type=Path, default=REPO / "sample_models" / "digits_cnn.keras")
    parser.add_argument("--eval", type=Path, default=REPO / "sample_models" / "digits_eval.npz")
    parser.add_argument("--variant", action="append", help="only these variants (fp32 always runs)")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "digits_recipes",
                        help="where the .tflite files go (kept out of git)")
    parser.add_argument("--reports", type=Path, default=REPO / "reports" / "optimize")
    args = parser.parse_args(argv)

    from mobilekit.analyze.evaluate import evaluate
    from mobilekit.optimize.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    chosen = [v for v in recipe.variants
              if v.name == "fp32" or not args.variant or v.name in args.variant]
    args.work.mkdir(parents=True, exist_ok=True)
    args.reports.mkdir(parents=True, exist_ok=True)
    rows = []
    for variant in chosen:
        print(f"== {variant.name}: {variant.options.get('description', '')}", file=sys.stderr)
        result = run_variant(args.model, variant, args.work)
        top1 = evaluate(result.output_path, str(args.eval)).top1
        card = json.loads(Path(result.model_card_path).read_text())
        card["eval"] = {"data": "sample_models/digits_eval.npz", "top1": top1}
        write_json_atomic(args.reports / f"digits_{variant.name}.json", card)
        verification = (card.get("optimization") or {}).get("tflite_verification") or {}
        rows.append({"variant": variant.name, "description": variant.options.get("description"),
                     "size_bytes": result.model_size_bytes,
                     "gzip_bytes": result.model_size_gzip_bytes, "eval_top1": top1,
                     "tflite_checks": verification.get("checks", []),
                     "tflite_failures": verification.get("failures", [])})
    base = next(row for row in rows if row["variant"] == "fp32")
    for row in rows:
        row["gzip_ratio"] = round(base["gzip_bytes"] / row["gzip_bytes"], 2)
        row["top1_delta_points"] = round(100 * (row["eval_top1"] - base["eval_top1"]), 2)
    summary_path = args.reports / "digits_summary.json"
    previous = json.loads(summary_path.read_text()) if summary_path.exists() else {"variants": []}
    merged = {row["variant"]: row for row in previous.get("variants", [])}
    merged.update({row["variant"]: row for row in rows})
    ordered = [merged[v.name] for v in recipe.variants if v.name in merged]
    write_json_atomic(summary_path, {"baseline": "fp32", "eval_data": "sample_models/digits_eval.npz",
                                     "variants": ordered})
    lines = ["| variant | size (B) | gzip (B) | gzip ratio vs fp32 | eval top-1 | delta (points) |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in ordered:
        lines.append(f"| {row['variant']} | {row['size_bytes']:,} | {row['gzip_bytes']:,} | "
                     f"{row['gzip_ratio']:.2f}x | {row['eval_top1']:.4f} | "
                     f"{row['top1_delta_points']:+.2f} |")
    table = "\n".join(lines)
    write_text_atomic(args.reports / "digits_summary.md",
                      "# Digits: optimization variants, measured on the eval split\n\n"
                      "Produced by `sample_models/recipes/run_digits.py` from "
                      "`sample_models/recipes/digits.toml`; each variant's model card is "
                      "`digits_<variant>.json` here (sparsity and clusters read back from the "
                      "`.tflite` under `optimization.tflite_verification`).\n\n" + table + "\n")
    print(table)
    shutil.rmtree(args.work / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
