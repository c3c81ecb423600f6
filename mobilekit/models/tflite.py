"""The one reader and runner of .tflite files: read and check the bytes, open a LiteRT interpreter,
describe tensors/ops/sparsity, and run samples through it with one batching rule everywhere.

LiteRT only (no TensorFlow); evaluate, bench, convert, inspect and the optimization read-back all
use these functions.
"""
from __future__ import annotations

import collections
import gzip
from pathlib import Path

import numpy as np

from ..errors import DataError, ModelError

# Per-channel scale vectors can hold thousands of entries; records keep a summary instead.
_MAX_LISTED_SCALES = 16


def read_tflite(path) -> bytes:
    """The bytes of a .tflite file, or a ModelError that says what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model not found: {path}")
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a .tflite file",
                         hint="convert a SavedModel first: mobilekit convert DIR -o model.tflite")
    content = path.read_bytes()
    if len(content) < 8 or content[4:8] != b"TFL3":
        kind = _guess_kind(content)
        raise ModelError(f"{path} is not a .tflite model ({kind})",
                         hint="give a file written by `mobilekit convert` or the TFLite converter")
    return content


def _guess_kind(content: bytes) -> str:
    if not content:
        return "empty file"
    if content[:4] == b"PK\x03\x04":
        return "a zip archive, perhaps a .keras model: convert it first"
    if content[:8] == b"\x89HDF\r\n\x1a\n":
        return "an HDF5 file, perhaps an .h5 Keras model: convert it first"
    return "no TFL3 identifier"


def open_interpreter(content: bytes, *, where: str = "model", num_threads: int | None = None,
                     use_xnnpack: bool = True, preserve_all_tensors: bool = False):
    """A LiteRT interpreter on ``content``, or a ModelError for a corrupt or truncated file.

    ``use_xnnpack=False`` keeps the plain builtin kernels: XNNPACK folds ops into DELEGATE nodes
    and would hide the op list from ``describe_tflite``. ``preserve_all_tensors`` keeps every
    intermediate readable after ``invoke`` (weights expanded by DENSIFY/DEQUANTIZE).
    """
    from .._compat import make_interpreter

    try:
        interpreter = make_interpreter(model_content=content, num_threads=num_threads,
                                       use_xnnpack=use_xnnpack,
                                       preserve_all_tensors=preserve_all_tensors)
        # Read every tensor's record once here: a flatbuffer with garbled names or indices that
        # LiteRT still opened fails now, in these words, not later in whoever asks first.
        interpreter.get_input_details()
        interpreter.get_output_details()
        interpreter.get_tensor_details()
    except (ValueError, RuntimeError, IndexError) as exc:
        raise cannot_load(where, exc) from None
    return interpreter


def cannot_load(where: str, exc: BaseException) -> ModelError:
    """The one wording for a flatbuffer LiteRT refuses, whichever call found out (opening, reading
    tensors, allocating, the first invoke): the bench runner's own words."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ModelError(f"LiteRT cannot load or allocate tensors for {where}: {first}",
                      hint="the file is corrupt or truncated; re-create it with `mobilekit convert`")


def describe_tflite(content: bytes, *, where: str = "model") -> dict:
    """Inputs, outputs, all tensors, ops, op histogram and weight sparsity of a flatbuffer."""
    interpreter = open_interpreter(content, where=where, use_xnnpack=False)
    try:
        ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
        details = interpreter.get_tensor_details()
        inputs = interpreter.get_input_details()
        outputs = interpreter.get_output_details()
    except (ValueError, RuntimeError, IndexError) as exc:  # UnicodeDecodeError: garbled names
        raise cannot_load(where, exc) from None
    produced = {int(t) for op in ops for t in op["outputs"]}
    consumed = {int(t) for op in ops for t in op["inputs"] if int(t) >= 0}
    graph_inputs = {int(d["index"]) for d in inputs}
    constants = sorted(consumed - produced - graph_inputs)
    histogram = collections.Counter(op["op_name"] for op in ops)
    return {
        "inputs": [tensor_record(d) for d in inputs],
        "outputs": [tensor_record(d) for d in outputs],
        "tensors": [dict(tensor_record(d), constant=int(d["index"]) in set(constants))
                    for d in details],
        "ops": [{"index": int(op["index"]), "op": op["op_name"],
                 "inputs": [int(t) for t in op["inputs"]], "outputs": [int(t) for t in op["outputs"]],
                 "input_types": [np.dtype(t).name for t in op.get("operand_types", [])],
                 "output_types": [np.dtype(t).name for t in op.get("result_types", [])]}
                for op in ops],
        "op_histogram": dict(sorted(histogram.items(), key=lambda item: (-item[1], item[0]))),
        "weight_sparsity": weight_sparsity(interpreter, details, constants),
    }


def tensor_record(detail: dict) -> dict:
    signature = detail.get("shape_signature")
    return {
        "index": int(detail["index"]),
        "name": detail["name"],
        "shape": [int(d) for d in detail["shape"]],
        "shape_signature": [int(d) for d in (signature if signature is not None else detail["shape"])],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": quantization_record(detail),
    }


def quantization_record(detail: dict) -> dict | None:
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), dtype=np.float64)
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if scales.size == 0:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        if not scale:
            return None
        return {"scale": float(scale), "zero_point": int(zero_point)}
    if scales.size == 1:
        return {"scale": float(scales[0]), "zero_point": int(zero_points[0]) if zero_points.size else 0}
    record = {"per_channel": True, "channels": int(scales.size),
              "quantized_dimension": int(params.get("quantized_dimension", 0)),
              "scale_min": float(scales.min()), "scale_max": float(scales.max()),
              "zero_points_all_zero": bool(not zero_points.any())}
    if scales.size <= _MAX_LISTED_SCALES:
        record["scales"] = [float(s) for s in scales]
        record["zero_points"] = [int(z) for z in zero_points]
    return record


def weight_sparsity(interpreter, details, constants) -> dict:
    """Fraction of exactly-zero weights, overall and per constant weight tensor.

    Weights are constant tensors of a float or 8-bit type with at least two dimensions (kernels);
    biases, shapes and other small int32 constants would only dilute the figure. A quantized
    weight counts as zero when it equals its zero point, i.e. dequantizes to 0.0.
    """
    by_index = {int(d["index"]): d for d in details}
    per_tensor, total, zeros = [], 0, 0
    for index in constants:
        detail = by_index.get(index)
        if detail is None:
            continue
        dtype = np.dtype(detail["dtype"])
        if dtype.kind not in "fiu" or dtype.itemsize > 4 or len(detail["shape"]) < 2:
            continue
        if dtype.kind in "iu" and dtype.itemsize != 1:
            continue
        try:
            values = interpreter.get_tensor(index)
        except ValueError:  # no readable buffer (e.g. a variable); not a stored weight
            continue
        record = {"index": index, "name": detail["name"], "dtype": dtype.name}
        if detail.get("sparsity_parameters"):
            # Stored sparse (read through DENSIFY): the buffer holds only the kept values (and
            # the zeros inside kept blocks); every value it leaves out of the dense shape is zero.
            shape = [int(d) for d in detail["shape"]]
            size = int(np.prod(shape))
            shared = _one_zero_point(detail)  # int8 kernels are symmetric: one zero point, 0
            zero_point = shared[0] if shared else 0
            zero_count = size - int(values.size) + int(np.count_nonzero(values == zero_point))
            record.update(shape=shape, size=size, stored_sparse=True, stored_values=int(values.size))
        else:
            zero_point = _zero_point_for(detail, values)
            zero_count = int(np.count_nonzero(values == zero_point))
            size = int(values.size)
            record.update(shape=[int(d) for d in values.shape], size=size)
        record["zero_fraction"] = zero_count / max(1, size)
        per_tensor.append(record)
        total += size
        zeros += zero_count
    return {"weight_tensors": len(per_tensor), "weights_total": total, "weights_zero": zeros,
            "zero_fraction": zeros / total if total else 0.0, "per_tensor": per_tensor}


def _one_zero_point(detail) -> tuple | None:
    """(zero point,) when every channel of a quantized tensor shares it (int8 weights: 0)."""
    params = detail.get("quantization_parameters") or {}
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if zero_points.size == 0:
        return (0,)
    return (int(zero_points[0]),) if (zero_points == zero_points[0]).all() else None


def _zero_point_for(detail, values):
    params = detail.get("quantization_parameters") or {}
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if np.dtype(detail["dtype"]).kind not in "iu" or zero_points.size == 0:
        return 0
    if zero_points.size == 1 or not zero_points.any():
        return int(zero_points[0])
    shape = [1] * values.ndim
    axis = int(params.get("quantized_dimension", 0))
    shape[axis] = zero_points.size
    return zero_points.reshape(shape)


def gzip_size(content: bytes) -> int:
    """Bytes after gzip -9: what a download or an APK asset costs; pruning shows up here."""
    return len(gzip.compress(content, compresslevel=9, mtime=0))


def run_over_samples(interpreter, samples, *, batch_size: int = 64, progress=None,
                     where: str = "model"):
    """Run every sample through the model's first output; return (dequantized outputs, batch used).

    Models converted with a free batch dimension are resized to ``batch_size`` rows per invoke
    (far fewer Python round trips); fixed-batch models run their own batch size. ``samples`` is
    an array for a single-input model, or a list of arrays in the model's input order.
    """
    outputs, batch = run_all_outputs(interpreter, samples, batch_size=batch_size,
                                     progress=progress, where=where)
    return next(iter(outputs.values())), batch


def output_names(interpreter) -> list[str]:
    """Each output's name in output order: the signature's key (the Keras output name) when the
    model has one signature, else the tensor name."""
    details = interpreter.get_output_details()
    return _signature_names(interpreter, "outputs", details,
                            {detail["index"]: detail["name"] for detail in details})


def input_names(interpreter) -> list[str]:
    """Each input's name in input order: the signature's key when there is one, else the tensor
    name without the ``serving_default_`` prefix and ``:0`` suffix the converter adds."""
    details = interpreter.get_input_details()
    names = {}
    for detail in details:
        name = detail["name"]
        name = name[len("serving_default_"):] if name.startswith("serving_default_") else name
        names[detail["index"]] = name.split(":")[0]
    return _signature_names(interpreter, "inputs", details, names)


def _signature_names(interpreter, side: str, details, names: dict) -> list[str]:
    """``names`` (by tensor index) with the single signature's keys put over them."""
    try:
        signatures = interpreter.get_signature_list()
        if len(signatures) == 1:
            runner = interpreter.get_signature_runner(next(iter(signatures)))
            keyed = runner.get_output_details() if side == "outputs" else runner.get_input_details()
            for key, detail in keyed.items():
                if detail["index"] in names:
                    names[detail["index"]] = key
    except (ValueError, RuntimeError, KeyError):  # no usable signature: tensor names stay
        pass
    return [names[detail["index"]] for detail in details]


def run_all_outputs(interpreter, samples, *, batch_size: int = 64, progress=None,
                    where: str = "model"):
    """As ``run_over_samples`` but every output: ({output name: dequantized outputs}, batch used)."""
    details = interpreter.get_input_details()
    arrays = list(samples) if isinstance(samples, (list, tuple)) else [samples]
    if len(arrays) != len(details):
        raise DataError(f"{where} has {len(details)} inputs but {len(arrays)} arrays were given")
    signatures = [detail.get("shape_signature") for detail in details]
    free = [[] if signature is None else [int(d) == -1 for d in signature] for signature in signatures]
    dynamic_batch = all(bool(f) and f[0] for f in free)
    batch = max(1, int(batch_size)) if dynamic_batch else max(1, int(details[0]["shape"][0]))
    try:
        outputs = _run_batches(interpreter, arrays, details, free, batch, dynamic_batch, progress)
    except (ValueError, RuntimeError) as exc:  # a flatbuffer that loads but cannot allocate or run
        raise cannot_load(where, exc) from None
    return dict(zip(output_names(interpreter), outputs)), batch


def _run_batches(interpreter, arrays, details, free, batch, dynamic_batch, progress):
    from .._compat import _quiet_native_stderr
    from .._progress import progress as progress_bar
    from ..models.tensors import from_output, to_input_dtype

    total = len(arrays[0])
    allocated = None
    output_details = interpreter.get_output_details()
    chunks = [[] for _ in output_details]
    with progress_bar(length=total, label="evaluating", enabled=progress) as bar:
        for start in range(0, total, batch):
            batch_rows = []
            for array in arrays:
                rows = array[start:start + batch]
                if not dynamic_batch and len(rows) < batch:
                    # pad the last fixed-size batch; padded rows are dropped below
                    rows = np.concatenate([rows, np.repeat(rows[-1:], batch - len(rows), axis=0)])
                batch_rows.append(rows)
            count = min(batch, total - start)
            shapes = [list(rows.shape) for rows in batch_rows]
            if allocated != shapes:
                for detail, rows, free_dims in zip(details, batch_rows, free):
                    if any(free_dims):
                        # Free dimensions (batch, or height and width) take the data's shape
                        # before tensors are allocated: the default shape of a free dimension is 1.
                        interpreter.resize_tensor_input(detail["index"], list(rows.shape))
                with _quiet_native_stderr():  # LiteRT's "Created XNNPACK delegate" INFO line
                    interpreter.allocate_tensors()
                allocated = shapes
                output_details = interpreter.get_output_details()
            for detail, rows in zip(details, batch_rows):
                interpreter.set_tensor(detail["index"], to_input_dtype(rows, detail))
            interpreter.invoke()
            for chunk, output_detail in zip(chunks, output_details):
                values = from_output(interpreter.get_tensor(output_detail["index"]), output_detail)
                chunk.append(values[:count].copy())
            bar.update(count)
    return [np.concatenate(chunk, axis=0) for chunk in chunks]
