"""Readers for every data source mobilekit accepts, with validation that names what is wrong.

Sources: an ``.npz`` (``x`` and ``y``; a single-array ``.npz`` for unlabelled samples), an ``.npy``,
a folder of images (one subfolder per class when labels are needed), or ``module:function`` /
``file.py:function`` returning an iterable of arrays or a ``tf.data.Dataset``.

Arrays from files and callables are used exactly as stored. Image pixels are resized to the
model's input and scaled by ``normalize`` (default ``"0-1"``):

* ``none``      raw pixel values 0..255 as float32
* ``0-1``       pixel / 255
* ``-1-1``      pixel / 127.5 - 1 (MobileNet-style preprocessing)
* ``imagenet``  (pixel / 255 - mean) / std with the ImageNet RGB mean and std
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .._text import format_shape as _fmt_shape
from ..errors import DataError, UsageError
from .labels import class_labels

NORMALIZE_CHOICES = ("none", "0-1", "-1-1", "imagenet")
DEFAULT_IMAGE_NORMALIZE = "0-1"
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                              ".ppm", ".pgm", ".pbm"})
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_SOURCES_HINT = ("give an .npz (x, y), an .npy, a folder of images, or module:function / "
                 "file.py:function")


# ---------------------------------------------------------------------------------------------
# public entry points

def load_samples(spec, *, input_shape, limit=None, normalize=None, what="data",
                 timeout_s=None) -> np.ndarray:
    """Model inputs (float32, shape ``[N, *input_shape[1:]]``) from any supported source.

    ``input_shape`` is the model input's shape including the batch dimension (``None``/-1 for a
    free dimension). ``limit`` keeps the first N samples (callables are read only that far).
    Python callers may also pass an array. A ``module:function`` runs in a child process that is
    stopped after ``timeout_s`` (default ``user_code.DEFAULT_LOAD_TIMEOUT_S``).
    """
    if isinstance(spec, np.ndarray):
        samples = spec if limit is None else spec[:int(limit)]
        return check_samples(samples, input_shape, what=f"{what} (array)")
    kind, path = _source_kind(spec)
    if normalize is not None and kind != "images" and normalize != "none":
        raise UsageError(f"--normalize {normalize} applies to image folders; {spec} is used as stored",
                        hint="preprocess arrays before saving them, or drop --normalize")
    if kind == "npz":
        samples = _npz_arrays(path, need_labels=False)[0]
    elif kind == "npy":
        samples = _load_npy(path)
    elif kind == "images":
        samples, _ = _read_image_folder(path, input_shape, normalize, labelled=False, limit=limit)
    else:
        from .user_code import run_loader

        samples = run_loader(spec, input_shape, limit, timeout_s=timeout_s)
    if limit is not None:
        samples = samples[:int(limit)]
    return check_samples(samples, input_shape, what=f"{what} {spec}")


def load_labelled(path, *, input_shape=None, normalize=None, limit=None, classes=None):
    """(x, y) for evaluation: ``x`` float32 samples, ``y`` int64 class indices.

    From an ``.npz`` with ``x`` and ``y`` (``y`` as class indices or one-hot rows), or an image
    folder with one subfolder per class (classes numbered in sorted subfolder-name order).
    Python callers may also pass an ``(x, y)`` tuple of arrays. ``classes`` (the model's output
    count) also checks ids and one-hot widths against it, before any work on the samples.
    """
    if isinstance(path, tuple) and len(path) == 2:
        x, y = (np.asarray(part) for part in path)
        kind, resolved, path = "arrays", None, "(x, y) arrays"
    else:
        kind, resolved = _source_kind(path)
    if kind == "arrays":
        pass
    elif kind == "npz":
        if normalize is not None and normalize != "none":
            raise UsageError(f"--normalize {normalize} applies to image folders; {path} is used as "
                            "stored", hint="preprocess arrays before saving them, or drop --normalize")
        x, y = _npz_arrays(resolved, need_labels=True)
    elif kind == "images":
        x, y = _read_image_folder(resolved, input_shape, normalize, labelled=True, limit=limit)
    elif kind == "npy":
        raise DataError(f"labels missing: {path} is an .npy file, which holds no labels",
                        hint="save an .npz with arrays x and y, or use an image folder with one "
                             "subfolder per class")
    else:
        raise DataError(f"labels missing: {path} is a Python loader; evaluation needs labels",
                        hint="save an .npz with arrays x and y")
    if limit is not None:
        x, y = x[:int(limit)], y[:int(limit)]
    y = class_labels(y, count=len(x), classes=classes, where=f"labels in {path}")
    if input_shape is not None:
        x = check_samples(x, input_shape, what=f"data {path}")
    else:
        x = check_samples(x, (None,) + tuple(x.shape[1:]), what=f"data {path}")
    return x, y


def load_named_inputs(spec, inputs: dict, *, limit=None, labelled=False, what="data"):
    """Samples for a model with several inputs: ({input name: float32 array}, y or None).

    ``inputs`` maps each input's name to its shape (batch dimension included). ``spec`` is an
    ``.npz`` with one array per input, named after it (plus ``y`` when ``labelled``), or, from
    Python, a dict of arrays.
    """
    if isinstance(spec, dict):
        arrays, where = dict(spec), "the arrays given"
    else:
        kind, path = _source_kind(spec)
        if kind != "npz":
            raise DataError(f"{what} {spec}: a model with {len(inputs)} inputs "
                            f"({', '.join(inputs)}) reads an .npz with one array per input",
                            hint=f"np.savez(path, {', '.join(f'{name}=...' for name in inputs)}"
                                 f"{', y=...' if labelled else ''})")
        with _open_npz(path) as archive:
            arrays = {key: _read_array(archive, key, path) for key in archive.files}
        where = str(spec)
    missing = [name for name in inputs if name not in arrays]
    if missing:
        raise DataError(f"{what} {where} has no array for input(s) {', '.join(missing)} "
                        f"(arrays: {', '.join(arrays) or 'none'})",
                        hint=f"name one array after each model input: {', '.join(inputs)}")
    samples = {}
    for name, shape in inputs.items():
        values = arrays[name] if limit is None else arrays[name][:int(limit)]
        samples[name] = check_samples(values, shape, what=f"{what} {where} [{name}]")
    counts = {len(values) for values in samples.values()}
    if len(counts) != 1:
        raise DataError(f"{what} {where}: the inputs have different sample counts "
                        f"({', '.join(f'{name} {len(v)}' for name, v in samples.items())})")
    y = None
    if labelled:
        if "y" not in arrays:
            raise DataError(f"labels missing: {where} has no 'y' array", hint="save the labels as y")
        y = arrays["y"] if limit is None else arrays["y"][:int(limit)]
    return samples, y


def load_labelled_inputs(data, inputs: dict, *, normalize=None, limit=None, classes=None):
    """(x, y) to score a model on, for any number of inputs: ``inputs`` maps each input's name to
    its shape. One input: ``x`` an array, as ``load_labelled`` reads it. Several: ``x`` a
    {input name: array} dict from an .npz with one array per input, named after it, and y."""
    if len(inputs) == 1:
        return load_labelled(data, input_shape=next(iter(inputs.values())), normalize=normalize,
                             limit=limit, classes=classes)
    x, y = load_named_inputs(data, inputs, limit=limit, labelled=True)
    return x, class_labels(y, count=sample_count(x), classes=classes, where=f"labels in {data}")


def sample_count(samples) -> int:
    """Rows in an array of samples, or in the arrays of a {input name: array} dict."""
    if isinstance(samples, dict):
        return len(next(iter(samples.values())))
    return len(samples)


def check_samples(samples, input_shape, *, what="data") -> np.ndarray:
    """Validate samples against a model input shape; return them as float32.

    Refuses: no samples, a dtype that is not numeric, a per-sample shape that differs from the
    model's, NaN or infinite values.
    """
    samples = np.asarray(samples)
    if samples.dtype.kind not in "biuf":
        raise DataError(f"{what} has dtype {samples.dtype}, which cannot be converted to float32",
                        hint="store numeric arrays (float32, uint8, ...)")
    if samples.ndim == 0 or samples.shape[0] == 0 or samples.size == 0:
        raise DataError(f"{what} is empty (0 samples)", hint="give at least one sample")
    expected = tuple(None if d is None or int(d) < 0 else int(d) for d in tuple(input_shape)[1:])
    got = tuple(int(d) for d in samples.shape[1:])
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
        raise DataError(
            f"{what} has samples of shape {_fmt_shape(got)} but the model input expects "
            f"{_fmt_shape(expected)}", hint="reshape or resize the data to the model's input")
    samples = samples.astype(np.float32, copy=False)
    finite = np.isfinite(samples)
    if not finite.all():
        n_nan = int(np.isnan(samples).sum())
        n_inf = int(np.isinf(samples).sum())
        first = int(np.argmin(finite.reshape(len(samples), -1).all(axis=1)))
        raise DataError(f"{what} contains {n_nan} NaN and {n_inf} infinite value(s) (first in "
                        f"sample {first})", hint="drop or repair those samples")
    return samples


# ---------------------------------------------------------------------------------------------
# sources

def _source_kind(spec):
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        return "images", path
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return "npz", path
        if suffix == ".npy":
            return "npy", path
        raise DataError(f"unsupported data file {text} (suffix {suffix or 'none'})", hint=_SOURCES_HINT)
    if ":" in text and not text.endswith(":") and not text.startswith(":"):
        return "callable", None
    raise DataError(f"data not found: {text}", hint=_SOURCES_HINT)


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def check_numpy_file(path, suffix: str | None = None) -> None:
    # numpy reads anything that is neither zip nor .npy as a pickle, and its refusal suggests
    # allow_pickle=True: never an invitation to give untrusted bytes. Say what the file is not.
    try:
        with open(path, "rb") as handle:
            head = handle.read(6)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    accepted = {".npz": head.startswith(_ZIP_MAGIC), ".npy": head == _NPY_MAGIC}
    if not (accepted[suffix] if suffix else any(accepted.values())):
        kind = suffix or ".npz/.npy"
        raise DataError(f"{path} is not an {kind} file (numpy.savez/numpy.save write those)",
                        hint="write it with numpy.savez(path, x=..., y=...) or numpy.save")


def _open_npz(path):
    check_numpy_file(path, ".npz")
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"cannot read {path} as .npz: {exc}",
                        hint="write it with numpy.savez(path, x=..., y=...)") from None


def _read_array(archive, key, path):
    try:
        return archive[key]
    except ValueError as exc:  # object arrays need pickle, which is refused for safety
        raise DataError(f"array {key!r} in {path} cannot be loaded without pickle ({exc})",
                        hint="store numeric arrays, not Python objects") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"array {key!r} in {path} is unreadable: {exc}") from None


def _npz_arrays(path, *, need_labels):
    with _open_npz(path) as archive:
        keys = list(archive.files)
        if not keys:
            raise DataError(f"{path} is empty (no arrays)", hint="save arrays x (and y) into it")
        if "x" in keys:
            x = _read_array(archive, "x", path)
        elif len(keys) == 1 and not need_labels:
            x = _read_array(archive, keys[0], path)
        else:
            raise DataError(f"{path} has arrays {', '.join(keys)} but no 'x'",
                            hint="name the samples x (and the labels y)")
        y = None
        if need_labels:
            if "y" not in keys:
                raise DataError(f"labels missing: {path} has no 'y' array (arrays: {', '.join(keys)})",
                                hint="save the class labels as y beside x")
            y = _read_array(archive, "y", path)
    return x, y


def _load_npy(path):
    check_numpy_file(path, ".npy")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"cannot read {path} as .npy: {exc}",
                        hint="store a numeric array with numpy.save") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# images

def _image_geometry(input_shape, folder):
    shape = tuple(input_shape) if input_shape is not None else ()
    if len(shape) != 4 or any(d is None or int(d) <= 0 for d in shape[1:]):
        raise DataError(f"an image folder ({folder}) needs a model input of shape (N, H, W, C) with "
                        f"fixed H, W, C; this model's input is {_fmt_shape(shape)}")
    height, width, channels = (int(d) for d in shape[1:])
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise DataError(f"images can fill 1, 3 or 4 channels; the model input has {channels}")
    return height, width, channels, modes[channels]


def _list_images(folder):
    files = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue  # .DS_Store and friends
        if entry.is_dir():
            continue
        if entry.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DataError(f"not an image: {entry} (in image folder {folder})",
                            hint="remove it, or keep only image files in the folder")
        files.append(entry)
    return files


def _read_image_folder(folder, input_shape, normalize, *, labelled, limit):
    height, width, channels, mode = _image_geometry(input_shape, folder)
    normalize = DEFAULT_IMAGE_NORMALIZE if normalize is None else normalize
    if normalize not in NORMALIZE_CHOICES:
        raise UsageError(f"unknown normalize {normalize!r}; choose one of {', '.join(NORMALIZE_CHOICES)}")
    if normalize == "imagenet" and channels != 3:
        raise UsageError(f"--normalize imagenet needs 3-channel (RGB) input; the model has {channels}")
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if labelled:
        if not class_dirs:
            raise DataError(f"labels missing: image folder {folder} has no class subfolders",
                            hint="put each class's images in its own subfolder (class names sort "
                                 "into class indices)")
        loose = _list_images(folder)
        if loose:
            raise DataError(f"image {loose[0]} sits outside the class subfolders of {folder}",
                            hint="move every image into its class subfolder")
        items = [(image, index) for index, d in enumerate(class_dirs) for image in _list_images(d)]
    else:
        items = [(image, -1) for image in _list_images(folder)]
        for d in class_dirs:
            items += [(image, -1) for image in _list_images(d)]
    if not items:
        raise DataError(f"image folder {folder} is empty (0 images)", hint="add at least one image")
    if limit is not None and not labelled:
        items = items[:int(limit)]
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow comes with matplotlib
        raise DataError("reading image folders needs Pillow: pip install pillow") from None

    from .._progress import progress

    pixels = np.empty((len(items), height, width, channels), dtype=np.float32)
    with progress(items, label="reading images") as bar:
        for row, (image_path, _) in enumerate(bar):
            try:
                with Image.open(image_path) as image:
                    image = image.convert(mode).resize((width, height), Image.BILINEAR)
                    array = np.asarray(image, dtype=np.float32)
            except Exception as exc:  # PIL raises several types for unreadable files
                raise DataError(f"cannot read image {image_path}: {exc}",
                                hint="remove or replace the file") from None
            pixels[row] = array.reshape(height, width, channels)
    labels = np.array([label for _, label in items], dtype=np.int64)
    return _normalize_pixels(pixels, normalize), labels


def _normalize_pixels(pixels, normalize):
    if normalize == "0-1":
        return pixels / 255.0
    if normalize == "-1-1":
        return pixels / 127.5 - 1.0
    if normalize == "imagenet":
        return (pixels / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD
    return pixels
