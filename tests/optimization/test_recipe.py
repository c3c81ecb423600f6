"""Recipe files: the committed sample recipes load, and bad recipes are refused naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from mobilekit.errors import UsageError
from mobilekit.optimization.recipe import load_recipe
from conftest import REPO  # noqa: E402

RECIPES = REPO / "sample_models" / "recipes"


@pytest.mark.parametrize("name", ["digits.toml", "mobilenetv2.toml"])
def test_sample_recipes_load_with_paths_that_exist(name):
    recipe = load_recipe(RECIPES / name)
    assert recipe.names[0] == "fp32" and len(recipe.variants) >= 4
    for variant in recipe.variants:
        for key in ("model", "eval", "train", "val", "calibration"):
            assert Path(variant.options[key]).is_absolute()
        for key in ("model", "eval", "val", "calibration"):
            assert Path(variant.options[key]).exists()
    assert not recipe.variant("fp32").optimizes
    assert recipe.variant("fp32").convert_kwargs()["quantize"] == "none"
    assert any(variant.optimize_kwargs().get("qat") for variant in recipe.variants)


def test_defaults_merge_and_variant_overrides(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[defaults]\ntrain = "data/train.npz"\nepochs = 3\nquantize = "int8"\n'
                    '[variants.a]\n[variants.b]\nepochs = 5\nprune = 0.5\nqat = true\n')
    recipe = load_recipe(path)
    assert recipe.names == ["a", "b"]
    a, b = recipe.variants
    assert a.options["epochs"] == 3 and not a.optimizes
    assert b.options["epochs"] == 5 and b.optimizes
    assert b.optimize_kwargs() == {"epochs": 5, "prune": 0.5, "qat": True, "quantize": "int8"}
    assert a.options["train"] == str((tmp_path / "data" / "train.npz").resolve())
    with pytest.raises(UsageError, match="has no variant 'c'; it has a, b"):
        recipe.variant("c")


@pytest.mark.parametrize("text, match", [
    ("[variants.a]\nprun = 0.5\n", "unknown option 'prun' in \\[variants.a\\]"),
    ("[variants.a]\nprune = \"half\"\n", "prune must be float or int"),
    ("[variants.a]\nqat = 1\n", "qat must be bool"),
    ("[variants.a]\nepochs = true\n", "epochs must be int"),
    ("[defaults]\nepochs = 2\n", "has no variants"),
    ("[variantz.a]\n", "unknown top-level key"),
    ("[variants.a\n", "not valid TOML"),
])
def test_bad_recipes_are_refused(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=match):
        load_recipe(path)


def test_missing_recipe(tmp_path):
    with pytest.raises(UsageError, match="recipe not found"):
        load_recipe(tmp_path / "nope.toml")
