"""Recipe files: named optimization variants in TOML, read by `convert --recipe` and `sweep`.

Format (TOML, read with ``tomllib``)::

    # Options every variant starts from; a variant's own keys override them.
    [defaults]
    model = "digits_cnn.keras"        # what `sweep` optimizes unless given --model
    eval = "digits_eval.npz"          # held-out labelled data `sweep` measures top-1 on
    train = "digits_train.npz"        # paths are relative to the recipe file
    val = "digits_val.npz"
    calibration = "digits_calibration.npz"
    epochs = 8
    learning_rate = 1e-3
    quantize = "int8"

    # One table per variant, run in file order. An empty table is the defaults alone.
    [variants.fp32]
    quantize = "none"

    [variants.prune80_qat]
    prune = 0.8
    qat = true

The keys are the `mobilekit convert` options with dashes as underscores (``OPTION_KEYS`` below):
fine-tuning (``train``, ``val``, ``epochs``, ``batch_size``, ``learning_rate``), the steps
(``distill_from``, ``temperature``, ``alpha``, ``prune``, ``prune_schedule``, ``prune_structure``,
``prune_for_latency``, ``cluster``, ``qat``, ``qat_skip_unsupported``) and the conversion
(``quantize``, ``calibration``, ``calibration_samples``, ``io_type``, ``keep_float``,
``max_accuracy_drop``: top-1 points the variant may lose against the source model on ``val``,
else ``eval``; `sweep` marks a variant that misses it and keeps it off the Pareto front), plus
``description``, and
``model``/``eval`` (the model and held-out data a sweep uses; `convert` takes its MODEL argument).
Unknown keys and wrong types are refused with the variant and key named.
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from ..errors import UsageError

# key -> accepted Python types (after TOML parsing)
OPTION_KEYS = {
    "description": (str,),
    "model": (str,), "eval": (str,),
    "train": (str,), "val": (str,),
    "epochs": (int,), "batch_size": (int,), "learning_rate": (float, int),
    "distill_from": (str,), "temperature": (float, int), "alpha": (float, int),
    "prune": (float, int), "prune_schedule": (str,), "prune_structure": (str,),
    "prune_for_latency": (bool,),
    "cluster": (int,),
    "qat": (bool,), "qat_skip_unsupported": (bool,),
    "quantize": (str,), "calibration": (str,), "calibration_samples": (int,), "io_type": (str,),
    "keep_float": (str,), "max_accuracy_drop": (float, int),
}
PATH_KEYS = ("model", "eval", "train", "val", "distill_from", "calibration")
# Keys that ask for an optimization step (a variant with none of them only converts).
STEP_KEYS = ("distill_from", "prune", "prune_structure", "cluster", "qat")
# Options handed to mobilekit.optimize (the rest go to conversion).
OPTIMIZE_KEYS = ("epochs", "batch_size", "learning_rate", "distill_from", "temperature", "alpha",
                 "prune", "prune_schedule", "prune_structure", "prune_for_latency", "cluster",
                 "qat", "qat_skip_unsupported")
CONVERT_KEYS = ("quantize", "calibration", "calibration_samples", "io_type", "keep_float",
                "max_accuracy_drop")


@dataclasses.dataclass
class Variant:
    name: str
    options: dict  # defaults merged with the variant's own keys; paths made absolute

    @property
    def optimizes(self) -> bool:
        return any(self.options.get(key) not in (None, False) for key in STEP_KEYS)

    def optimize_kwargs(self) -> dict:
        """Keyword arguments for ``mobilekit.optimize`` (without model/train/val)."""
        kwargs = {key: self.options[key] for key in OPTIMIZE_KEYS if key in self.options}
        if "quantize" in self.options:
            kwargs["quantize"] = self.options["quantize"]
        return kwargs

    def convert_kwargs(self) -> dict:
        """Keyword arguments for ``mobilekit.convert`` from the variant's options."""
        return {key: self.options[key] for key in CONVERT_KEYS if key in self.options}


@dataclasses.dataclass
class Recipe:
    path: str
    defaults: dict
    variants: list  # Variant, in file order

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise UsageError(f"recipe {self.path} has no variant {name!r}; it has "
                         f"{', '.join(variant.name for variant in self.variants)}")

    @property
    def names(self) -> list[str]:
        return [variant.name for variant in self.variants]


def load_recipe(path) -> Recipe:
    """Read and validate a recipe file; see the module docstring for the format."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"recipe not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"recipe {path} is not valid TOML: {exc}") from exc
    unknown_tables = sorted(set(data) - {"defaults", "variants"})
    if unknown_tables:
        raise UsageError(f"recipe {path}: unknown top-level key(s) {', '.join(unknown_tables)}; "
                         "use [defaults] and [variants.NAME] tables")
    base = path.resolve().parent
    defaults = _options(data.get("defaults", {}), "defaults", path, base)
    variants_table = data.get("variants", {})
    if not isinstance(variants_table, dict) or not variants_table:
        raise UsageError(f"recipe {path} has no variants: add at least one [variants.NAME] table")
    variants = []
    for name, table in variants_table.items():
        if not isinstance(table, dict):
            raise UsageError(f"recipe {path}: variants.{name} must be a table ([variants.{name}])")
        options = dict(defaults)
        options.update(_options(table, f"variants.{name}", path, base))
        variants.append(Variant(name=name, options=options))
    return Recipe(path=str(path), defaults=defaults, variants=variants)


def _options(table, where, path, base) -> dict:
    if not isinstance(table, dict):
        raise UsageError(f"recipe {path}: [{where}] must be a table")
    options = {}
    for key, value in table.items():
        if key not in OPTION_KEYS:
            raise UsageError(f"recipe {path}: unknown option {key!r} in [{where}]; known options: "
                             f"{', '.join(OPTION_KEYS)}")
        accepted = OPTION_KEYS[key]
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            raise UsageError(f"recipe {path}: [{where}] {key} must be "
                             f"{' or '.join(kind.__name__ for kind in accepted)}, got {value!r}")
        if key in PATH_KEYS and not _is_callable_spec(value):
            value = str((base / Path(value).expanduser()).resolve()) \
                if not Path(value).expanduser().is_absolute() else str(Path(value).expanduser())
        if key in ("learning_rate", "temperature", "alpha", "prune"):
            value = float(value)
        options[key] = value
    return options


def _is_callable_spec(value: str) -> bool:
    # `module:function` or `file.py:function` data sources stay as written.
    head, sep, tail = value.rpartition(":")
    return bool(sep) and bool(tail) and "/" not in tail and not Path(value).exists() and len(head) > 1
