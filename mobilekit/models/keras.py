"""The one Keras model loader: Keras 2 and Keras 3 ``.keras``, ``.h5``, SavedModel, or a model object.

A ``.keras`` file records the Keras version that wrote it; Keras 3 files cannot be read by tf_keras,
so they load with Keras 3 (``_compat.keras3``) and convert through the same TFLite converter. An
in-memory model's kind is read from its class hierarchy (no Keras import). Fine-tuning (TF-MOT)
needs tf_keras: ``LoadedModel.for_training`` gives that model, rebuilding a Keras 3 one in tf_keras
(``_keras3``); ``load_training_model`` is both steps in one call.
"""
from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

from ..errors import ModelError


@dataclasses.dataclass
class LoadedModel:
    kind: str              # "tf_keras", "keras3", "saved_model"
    source: str            # path or a description of an in-memory model
    path: Path | None
    model: object = None   # the Keras model (None for a SavedModel directory)
    signature: str | None = None  # SavedModel: the signature converted (None: serving_default)

    def for_training(self, *, what: str = "model"):
        """``(tf_keras model, notes)`` for TF-MOT: a Keras 3 model is rebuilt in tf_keras (the notes
        say so), a SavedModel folder is loaded with tf_keras."""
        if self.kind == "tf_keras":
            return self.model, []
        if self.kind == "keras3":
            from ._keras3 import rebuild_in_tf_keras

            return rebuild_in_tf_keras(self.model, what=what if self.path is None
                                       else f"{what} {self.path.name}")
        from .._compat import keras

        try:
            return keras().models.load_model(self.path, compile=False), []
        except Exception as exc:  # Keras raises many types for bad files and custom layers
            raise ModelError(f"cannot load {what} {self.path} with tf_keras: {_last_line(exc)}",
                             hint="fine-tuning needs a SavedModel written by tf_keras, or a "
                                  ".keras/.h5 file") from None

    def input_names(self) -> list[str]:
        """Input names in input order: the Keras input layers, or the signature's keys (sorted)."""
        if self.kind == "saved_model":
            return list(_saved_model_inputs(self.path, self.signature))
        return [str(tensor.name).split(":")[0] for tensor in self.model.inputs]

    def input_shapes(self) -> list[tuple]:
        """Input shapes including the batch dimension (None where free)."""
        if self.kind == "saved_model":
            return list(_saved_model_inputs(self.path, self.signature).values())
        return [tuple(None if d is None else int(d) for d in tuple(tensor.shape))
                for tensor in self.model.inputs]


def check_model_path(path, *, what: str = "model") -> tuple[Path, str]:
    """Cheap checks before TensorFlow is imported: exists, and a kind of file convert can read."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"{what} not found: {path}")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ModelError(f"{path} is a folder without saved_model.pb, so not a SavedModel",
                             hint="give a .keras or .h5 file, or a SavedModel folder")
        return path, "saved_model"
    suffix = path.suffix.lower()
    head = path.read_bytes()[:8]
    named = str(path) if what == "model" else f"{what} {path}"  # "teacher model t.keras is not ..."
    if suffix == ".tflite" or head[4:8] == b"TFL3":
        raise ModelError(f"{named} is already a .tflite model",
                         hint="convert takes a Keras model (.keras, .h5) or a SavedModel folder")
    if suffix == ".keras":
        if head[:4] != b"PK\x03\x04":
            raise ModelError(f"{named} is not a Keras model (a .keras file is a zip archive)",
                             hint="save the model with model.save('model.keras')")
        return path, _keras_file_kind(path)
    if suffix in (".h5", ".hdf5"):
        if head != b"\x89HDF\r\n\x1a\n":
            raise ModelError(f"{named} is not a Keras model (not an HDF5 file)",
                             hint="save the model with model.save('model.h5')")
        return path, _h5_file_kind(path)
    raise ModelError(f"{named} is not a model convert can read (suffix {suffix or 'none'})",
                     hint="give a .keras or .h5 file, or a SavedModel folder")


def _keras_file_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ModelError(f"{path} is a zip archive without config.json, so not a Keras model")
            metadata = json.loads(archive.read("metadata.json")) if "metadata.json" in names else {}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelError(f"{path} is not a readable Keras model: {exc}") from None
    version = str(metadata.get("keras_version", ""))
    return "keras3" if version.startswith("3") else "tf_keras"


_MODEL_CLASSES = {"Functional", "Sequential", "Model"}


def custom_layer_names(path: Path, module=None) -> list[str]:
    """Class names of the layers in a .keras/.h5 model config that are not Keras built-ins
    (sorted; [] when there are none or the config cannot be read)."""
    config = _saved_config(path)
    found: set[str] = set()

    def walk(entry):
        if not isinstance(entry, dict):
            return
        name = entry.get("class_name")
        inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        if isinstance(name, str) and _is_custom(entry, name, module):
            found.add(name)
        for layer in inner.get("layers", []) if isinstance(inner.get("layers"), list) else []:
            walk(layer)
        if isinstance(inner.get("layer"), dict):  # wrappers: TimeDistributed, Bidirectional
            walk(inner["layer"])

    walk(config)
    return sorted(found)


def _is_custom(entry: dict, name: str, module) -> bool:
    registered = entry.get("registered_name")
    if isinstance(registered, str) and ">" in registered:  # "Custom>MyLayer": registered by a user
        return True
    origin = entry.get("module")
    if isinstance(origin, str):
        return not origin.split(".")[0] in ("keras", "tf_keras")
    if name in _MODEL_CLASSES:
        return False
    if module is None:  # the Keras of the file is not known: a built-in of either is built-in
        from .._compat import keras, keras3

        modules = [m for m in (keras(), keras3()) if m is not None]
    else:
        modules = [module]
    return not any(hasattr(getattr(m, "layers", None), name) for m in modules)


def _saved_config(path: Path):
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        import h5py

        with h5py.File(path, "r") as archive:
            raw = archive.attrs.get("model_config")
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        return json.loads(raw) if isinstance(raw, str) else None
    except (ImportError, OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def _h5_file_kind(path: Path) -> str:
    """An .h5 records the Keras version that saved it (root attribute ``keras_version``);
    Keras 3 writes configs tf_keras cannot read (``batch_shape``), so those load with Keras 3."""
    try:
        import h5py

        with h5py.File(path, "r") as archive:
            version = archive.attrs.get("keras_version", b"")
    except (ImportError, OSError):
        return "tf_keras"  # let the loader report what is wrong with the file
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    return "keras3" if str(version).startswith("3") else "tf_keras"


def load_model(model, *, what: str = "model") -> LoadedModel:
    """A path or an in-memory Keras model -> LoadedModel; ModelError when it cannot be loaded.

    ``what`` names the model in errors ("teacher model", ...)."""
    if not isinstance(model, (str, Path)):
        if not hasattr(model, "inputs") or not hasattr(model, "predict"):
            raise ModelError(f"expected a model path or a Keras model for the {what}, "
                             f"got {type(model).__name__}")
        return LoadedModel(kind=_in_memory_kind(model),
                           source=f"<in-memory {type(model).__name__} "
                                  f"{getattr(model, 'name', '')}>".replace(" >", ">"),
                           path=None, model=model)
    path, kind = check_model_path(model, what=what)
    if kind == "saved_model":
        return LoadedModel(kind=kind, source=str(path), path=path)
    if kind == "keras3":
        from .._compat import keras3, tf

        tf()
        module = keras3()
        if module is None:
            raise ModelError(f"{what} {path} was saved by Keras 3, which is not installed",
                             hint="pip install 'keras>=3'")
    else:
        from .._compat import keras

        module = keras()
    try:
        loaded = module.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for bad files and custom layers
        fallback = _try_keras3(path) if kind == "tf_keras" and path.suffix.lower() == ".keras" else None
        if fallback is not None:
            return LoadedModel(kind="keras3", source=str(path), path=path, model=fallback)
        custom = custom_layer_names(path, module)
        hint = (f"custom layers ({', '.join(custom)}) must be importable: register them with "
                "keras.saving.register_keras_serializable, or re-save with model.save()"
                if custom else "re-save the model with model.save() in the Keras that trained it")
        raise ModelError(f"cannot load {what} {path} as a Keras model: {_last_line(exc)}",
                         hint=hint) from None
    return LoadedModel(kind=kind, source=str(path), path=path, model=loaded)


def load_training_model(model, *, what: str = "model"):
    """``(tf_keras model, notes)`` from a path or a model object: ``load_model`` then
    ``LoadedModel.for_training``. The optimization steps, the distillation teacher and stripping
    load through here."""
    return load_model(model, what=what).for_training(what=what)


def _in_memory_kind(model) -> str:
    # The first Keras base class in the hierarchy says which Keras built it, also for a user's
    # subclass defined outside both packages.
    for cls in type(model).__mro__:
        module = cls.__module__ or ""
        if module.startswith("tf_keras."):
            return "tf_keras"
        if module.startswith("keras."):
            return "keras3"
    return "tf_keras"


def _try_keras3(path):
    """A .keras file without Keras 3 metadata that tf_keras cannot read may still be Keras 3's."""
    from .._compat import keras3

    module = keras3()
    if module is None:
        return None
    try:
        return module.models.load_model(path, compile=False)
    except Exception:
        return None


def _saved_model_inputs(path, signature=None) -> dict:
    """{input name: shape} of a SavedModel signature (``signature`` or serving_default), sorted."""
    from .._compat import tf

    try:
        loaded = tf().saved_model.load(str(path))
        available = sorted(loaded.signatures.keys())
    except Exception as exc:
        raise ModelError(f"cannot read the signatures of SavedModel {path}: {_last_line(exc)}") from None
    name = signature or "serving_default"
    if name not in available:
        raise ModelError(f"SavedModel {path} has no signature {name!r} (signatures: "
                         f"{', '.join(available) or 'none'})",
                         hint="pick one with --signature NAME")
    specs = loaded.signatures[name].structured_input_signature[1]
    return {key: tuple(None if d is None else int(d) for d in specs[key].shape.as_list())
            for key in sorted(specs)}


def _last_line(exc) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
