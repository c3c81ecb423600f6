"""Rebuild a Keras 3 model in tf_keras, because TF-MOT only understands tf_keras.

Works for Sequential and Functional models made of standard layers: each layer is re-created from
its config in tf_keras and its weights copied over, then both models are run on the same random
batch and must agree. Anything else is refused with the reason and what to do instead.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..errors import OptimizationError

# Keys Keras 3 writes that tf_keras layers do not take, or that only matter for training from
# scratch (weights are copied, so initializers and regularizers do not change the result).
_DROPPED_KEYS = {"quantization_config", "lora_rank", "lora_alpha", "build_config",
                 "compile_config", "registered_name", "module"}
_INIT_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_BASE_LAYER_KWARGS = {"name", "trainable", "dtype", "input_shape", "batch_input_shape",
                      "batch_size", "input_dim"}

_WHAT_TO_DO = ("save the model from tf_keras (import tf_keras as keras) or rebuild it there, "
               "then retry")


def rebuild_in_tf_keras(model3, *, what: str = "model"):
    """A tf_keras copy of Keras 3 ``model3``: ``(model, notes)`` or OptimizationError saying why not."""
    from .._compat import keras

    k = keras()
    kind = type(model3).__name__
    if kind not in ("Sequential", "Functional"):
        raise OptimizationError(
            f"{what} is a Keras 3 {kind} (a subclassed model): TF-MOT needs tf_keras, and only "
            f"Sequential or Functional models of standard layers can be rebuilt there; "
            f"{_WHAT_TO_DO}")
    for layer in model3.layers:
        _check_layer(layer, what)
    try:
        if kind == "Sequential":
            rebuilt = _rebuild_sequential(k, model3)
        else:
            rebuilt = _rebuild_functional(k, model3)
    except OptimizationError:
        raise
    except Exception as exc:
        raise OptimizationError(f"could not rebuild Keras 3 {what} in tf_keras: "
                                f"{str(exc).splitlines()[0][:200]}; {_WHAT_TO_DO}") from exc
    copied = _copy_weights(model3, rebuilt, what)
    _check_same_outputs(model3, rebuilt, what)
    notes = [f"Keras 3 {kind} rebuilt in tf_keras for TF-MOT: {len(rebuilt.layers)} layers, "
             f"weights of {copied} copied, outputs checked equal on a random batch"]
    return rebuilt, notes


def _check_layer(layer, what):
    from .._compat import keras

    k = keras()
    name = type(layer).__name__
    if name in ("Sequential", "Functional", "Model"):
        raise OptimizationError(
            f"{what} nests a model ({layer.name}) inside it; only flat Sequential/Functional Keras 3 "
            f"models can be rebuilt in tf_keras; flatten it or {_WHAT_TO_DO}")
    if name == "Lambda":
        raise OptimizationError(
            f"{what} has a Lambda layer ({layer.name}) whose Python code cannot be moved to "
            f"tf_keras; replace it with standard layers or {_WHAT_TO_DO}")
    module = type(layer).__module__ or ""
    if not module.startswith("keras.") or not hasattr(k.layers, name):
        raise OptimizationError(
            f"{what} uses layer {layer.name} of type {name} ({module}), which tf_keras has no "
            f"standard equivalent for; {_WHAT_TO_DO}")


def _layer_kwargs(k, layer):
    """The Keras 3 layer config translated to what the tf_keras class accepts."""
    cls = getattr(k.layers, type(layer).__name__)
    config = dict(layer.get_config())
    dtype = config.get("dtype")
    if isinstance(dtype, dict):  # Keras 3 DTypePolicy
        config["dtype"] = (dtype.get("config") or {}).get("name", "float32")
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    kwargs = {}
    for key, value in config.items():
        if key in _DROPPED_KEYS or key.endswith(_INIT_SUFFIXES):
            continue
        if key in accepted or key in _BASE_LAYER_KWARGS:
            kwargs[key] = _plain(value)
    return cls, kwargs


def _plain(value):
    """Keras 3 serialized objects (activations etc.) as names tf_keras understands."""
    if isinstance(value, dict) and "class_name" in value:
        config = value.get("config")
        if value.get("module", "").startswith("keras.activations") or isinstance(config, str):
            return config if isinstance(config, str) else value["class_name"].lower()
        return {"class_name": value["class_name"], "config": config}
    if isinstance(value, list):
        return tuple(value) if all(isinstance(item, int) for item in value) else value
    return value


def _make_layer(k, layer):
    cls, kwargs = _layer_kwargs(k, layer)
    kwargs.pop("batch_input_shape", None)
    kwargs.pop("input_shape", None)
    return cls(**kwargs)


def _rebuild_sequential(k, model3):
    shape = tuple(model3.inputs[0].shape[1:])
    rebuilt = k.Sequential(name=model3.name)
    rebuilt.add(k.Input(shape))
    for layer in model3.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        rebuilt.add(_make_layer(k, layer))
    return rebuilt


def _rebuild_functional(k, model3):
    config = model3.get_config()
    tensors = {}  # (layer name, node index, tensor index) -> tf_keras tensor
    built = {}
    for entry in config["layers"]:
        name = entry["name"]
        layer3 = model3.get_layer(name)
        if entry["class_name"] == "InputLayer":
            shape = tuple(layer3.output.shape[1:])
            tensors[(name, 0, 0)] = k.Input(shape, name=name)
            continue
        layer = built.setdefault(name, _make_layer(k, layer3))
        for node_index, node in enumerate(entry.get("inbound_nodes", [])):
            args = _resolve(node.get("args", []), tensors)
            kwargs = _resolve(node.get("kwargs", {}), tensors)
            out = layer(*args, **kwargs)
            for tensor_index, tensor in enumerate(out if isinstance(out, (list, tuple)) else [out]):
                tensors[(name, node_index, tensor_index)] = tensor
    inputs = [tensors[tuple(ref)] for ref in _refs(config["input_layers"])]
    outputs = [tensors[tuple(ref)] for ref in _refs(config["output_layers"])]
    return k.Model(inputs[0] if len(inputs) == 1 else inputs,
                   outputs[0] if len(outputs) == 1 else outputs, name=model3.name)


def _refs(value):
    # A single [name, node, tensor] triple or a list of them.
    if value and isinstance(value[0], str):
        return [value]
    return value


def _resolve(value, tensors):
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = value["config"]["keras_history"]
            return tensors[(history[0], history[1], history[2])]
        return {key: _resolve(item, tensors) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(item, tensors) for item in value]
    return value


def _copy_weights(model3, rebuilt, what) -> int:
    copied = 0
    for layer3 in model3.layers:
        weights = layer3.get_weights()
        if not weights:
            continue
        try:
            rebuilt.get_layer(layer3.name).set_weights(weights)
        except (ValueError, KeyError) as exc:
            raise OptimizationError(
                f"cannot copy the weights of layer {layer3.name} of Keras 3 {what} into tf_keras: "
                f"{str(exc).splitlines()[0][:200]}; {_WHAT_TO_DO}") from exc
        copied += 1
    return copied


def _check_same_outputs(model3, rebuilt, what):
    shape = (2,) + tuple(model3.inputs[0].shape[1:])
    batch = np.random.default_rng(0).uniform(-1, 1, size=shape).astype(np.float32)
    expected = np.asarray(model3(batch, training=False))
    got = np.asarray(rebuilt(batch, training=False))
    if expected.shape != got.shape or not np.allclose(expected, got, atol=1e-4, rtol=1e-3):
        worst = float(np.max(np.abs(expected - got))) if expected.shape == got.shape else None
        raise OptimizationError(
            f"the tf_keras rebuild of Keras 3 {what} does not compute the same outputs "
            f"(max difference {worst}); {_WHAT_TO_DO}")
