"""Run every variant of a sample recipe (digits.toml by default), evaluate each .tflite on the
held-out eval split, and write the model cards plus a summary (sizes and top-1 against the float32
.tflite) to reports/optimize/<recipe>_*.

Run: .venv/bin/python sample_models/recipes/run_digits.py [--variant NAME ...]
     .venv/bin/python sample_models/recipes/run_digits.py --recipe sample_models/recipes/mobilenetv2.toml \
         --train-samples 400 --epochs 1      # MobileNetV2 on 2 CPU cores: a short fine-tune
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


def run_variant(model, variant, out_dir: Path, prefix: str, train=None, epochs=None):
    """Convert (optimizing first when the variant asks) and return the ConvertResult."""
    from mobilekit.conversion.optimized import convert_variant

    return convert_variant(model, variant, out_dir / f"{prefix}_{variant.name}.tflite", train=train,
                           epochs=epochs, verbose=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=HERE / "digits.toml")
    parser.add_argument("--variant", action="append", help="only these variants (fp32 always runs)")
    parser.add_argument("--train-samples", type=int, help="fine-tune on the first N training samples")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs per step")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "recipes",
                        help="where the .tflite files go (kept out of git)")
    parser.add_argument("--reports", type=Path, default=REPO / "reports" / "optimize")
    args = parser.parse_args(argv)

    from mobilekit.analysis.evaluation import evaluate
    from mobilekit.optimization.recipe import load_recipe

    import numpy as np

    recipe = load_recipe(args.recipe)
    prefix = args.recipe.stem
    model, eval_data = recipe.defaults["model"], recipe.defaults["eval"]
    eval_name = Path(eval_data).relative_to(REPO).as_posix()
    chosen = [v for v in recipe.variants
              if v.name == "fp32" or not args.variant or v.name in args.variant]
    args.work.mkdir(parents=True, exist_ok=True)
    args.reports.mkdir(parents=True, exist_ok=True)
    train = None
    if args.train_samples:
        with np.load(recipe.defaults["train"], allow_pickle=False) as data:
            train = args.work / f"{prefix}_train_{args.train_samples}.npz"
            np.savez(train, x=data["x"][:args.train_samples], y=data["y"][:args.train_samples])
        train = str(train)
    rows = []
    for variant in chosen:
        print(f"== {variant.name}: {variant.options.get('description', '')}", file=sys.stderr)
        result = run_variant(model, variant, args.work, prefix, train, args.epochs)
        top1 = evaluate(result.output_path, eval_data).top1
        card = json.loads(Path(result.model_card_path).read_text())
        card["eval"] = {"data": eval_name, "top1": top1}
        if variant.optimizes and (args.train_samples or args.epochs):
            card["eval"]["fine_tuning_override"] = {"train_samples": args.train_samples,
                                                    "epochs": args.epochs}
        write_json_atomic(args.reports / f"{prefix}_{variant.name}.json", card)
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
    summary_path = args.reports / f"{prefix}_summary.json"
    previous = json.loads(summary_path.read_text()) if summary_path.exists() else {"variants": []}
    merged = {row["variant"]: row for row in previous.get("variants", [])}
    merged.update({row["variant"]: row for row in rows})
    ordered = [merged[v.name] for v in recipe.variants if v.name in merged]
    write_json_atomic(summary_path, {"baseline": "fp32", "eval_data": eval_name,
                                     "train_samples": args.train_samples,
                                     "epochs_override": args.epochs, "variants": ordered})
    lines = ["| variant | size (B) | gzip (B) | gzip ratio vs fp32 | eval top-1 | delta (points) |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in ordered:
        lines.append(f"| {row['variant']} | {row['size_bytes']:,} | {row['gzip_bytes']:,} | "
                     f"{row['gzip_ratio']:.2f}x | {row['eval_top1']:.4f} | "
                     f"{row['top1_delta_points']:+.2f} |")
    table = "\n".join(lines)
    note = (f" Fine-tuned on the first {args.train_samples} training samples"
            if args.train_samples else "") + (f", {args.epochs} epoch(s) per step" if args.epochs else "")
    write_text_atomic(args.reports / f"{prefix}_summary.md",
                      f"# {prefix}: optimization variants, measured on {eval_name}\n\n"
                      f"Produced by `sample_models/recipes/run_digits.py` from "
                      f"`sample_models/recipes/{args.recipe.name}`; each variant's model card is "
                      f"`{prefix}_<variant>.json` here (sparsity and clusters read back from the "
                      f"`.tflite` under `optimization.tflite_verification`).{note}\n\n" + table + "\n")
    print(table)
    shutil.rmtree(args.work / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
