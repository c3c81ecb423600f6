"""A recipe's max_accuracy_drop: sweep marks the variants that miss it, keeps their files and
results, and keeps them off the Pareto front; keep_float auto in a recipe meets it."""
from __future__ import annotations

from pathlib import Path

from mobilekit.reporting.pareto import ParetoPoint, pareto_front
from mobilekit.sweeping import format_sweep, sweep

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"


def test_sweep_marks_variants_over_their_accuracy_budget(tmp_path):
    recipe = tmp_path / "outliers.toml"
    recipe.write_text(f"""
[defaults]
model = "{SAMPLES / 'outliers_mlp.keras'}"
eval = "{SAMPLES / 'digits_eval.npz'}"
calibration = "{SAMPLES / 'digits_calibration.npz'}"
calibration_samples = 100
max_accuracy_drop = 1
quantize = "int8"

[variants.fp32]
quantize = "none"

[variants.int8]

[variants.int8_mixed]
keep_float = "auto"
""")
    record = sweep(recipe, output_dir=tmp_path / "out", runs=5, warmup=0)
    by_name = {variant.name: variant for variant in record.variants}
    assert all(variant.status == "ok" for variant in record.variants)
    assert by_name["int8"].missed_accuracy_budget is True
    assert by_name["fp32"].missed_accuracy_budget is False
    assert by_name["int8_mixed"].missed_accuracy_budget is False
    assert (tmp_path / "out" / by_name["int8"].model_path).is_file()     # kept, and measured
    assert by_name["int8"].latency_ms_p50 is not None
    assert "int8" not in record.pareto_front and record.pareto_front
    assert "ok, over accuracy budget" in format_sweep(record)
    # A rerun resumes the converted models and still knows which missed the budget.
    again = sweep(recipe, output_dir=tmp_path / "out", runs=5, warmup=0)
    assert {v.name: v.missed_accuracy_budget for v in again.variants} == \
        {"fp32": False, "int8": True, "int8_mixed": False}
    assert again.variants[1].stages["convert"] == "resumed"


def test_a_point_over_budget_is_never_on_the_front_and_dominates_nothing():
    points = [ParetoPoint("small_bad", 10, 1.0, 0.90, over_budget=True),
              ParetoPoint("big_good", 20, 2.0, 0.99)]
    assert [p.name for p in pareto_front(points)] == ["big_good"]


def test_a_quantized_variant_slower_than_its_float_twin_is_pointed_out():
    from mobilekit.sweeping import VariantRecord, slower_than_float

    def variant(name, latency, **options):
        return VariantRecord(name=name, status="ok", options=options, options_hash="h",
                             latency_ms_p50_by_config={"host xnnpack x1": latency})

    variants = [variant("fp32", 1.0, quantize="none"), variant("int8", 4.1, quantize="int8"),
                variant("dynamic", 1.02, quantize="dynamic"),
                variant("pruned_fp32", 0.5, quantize="none", prune=0.5)]
    lines = slower_than_float(variants)
    assert len(lines) == 1 and lines[0].startswith("int8 (int8) is 4.1x slower than the float32 fp32")
    assert slower_than_float(variants[1:]) == []      # no float32 twin: nothing to say
