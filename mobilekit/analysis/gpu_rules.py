"""Which ops LiteRT's GPU delegate refuses, by the per-parameter rules of its own checker.

The rules are mobilekit's transcription of ``CheckGpuDelegateCompatibility`` in TensorFlow's
``tensorflow/lite/tools/versioning/gpu_compatibility.cc`` (the same file lives on in LiteRT as
``tflite/tools/versioning/gpu_compatibility.cc``; the GPU delegate's model builder calls it for every
node). Each check below names the ``case`` of that switch it comes from. Tensors are described as
``GetOpSignature`` (``op_signature.cc``) describes them: ``shape`` is the flatbuffer's static shape
(dynamic dimensions read as 1), a tensor is constant when its buffer holds data, and an omitted
optional input (index -1) has no type and counts neither as runtime nor as constant.

The checker works on a plain op description (:class:`OpSpec`), so it needs neither TensorFlow nor an
interpreter; :func:`read_op_specs` builds those descriptions from a .tflite flatbuffer with the
schema bindings that ship with ``ai-edge-litert``. The same descriptions say which custom ops a
model needs (:func:`custom_ops`) and whether the stock LiteRT CPU resolver can run it at all
(:func:`runnable_on_stock_litert`).

Where LiteRT's later copy of the file differs (it adds BITCAST, TOPK_V2, REVERSE_V2, ROUND,
LOGICAL_NOT/OR, REDUCE_ALL/ANY and a few StableHLO ops, and drops the MUL "smaller in every
dimension" rule, FULLY_CONNECTED's constant-input rule and DYNAMIC_UPDATE_SLICE's batch-1 rule),
this module follows TensorFlow's copy, the one TensorFlow 2.21's model analyzer was built from.
"""
from __future__ import annotations

import dataclasses
import re

# Custom ops with a GPU implementation (CheckCustomOpsGpuDelegateCompatibility).
GPU_CUSTOM_OPS = frozenset({"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D",
                            "MaxUnpooling2D", "Resampler"})
# Custom ops the stock CPU resolver registers itself (BuiltinOpResolver in
# tensorflow/lite/core/kernels/register.cc: AddCustom(...)); any other custom op needs the resolver
# of the application that produced the model.
STOCK_CPU_CUSTOM_OPS = frozenset({"NumericVerify", "Mfcc", "AudioSpectrogram",
                                  "TFLite_Detection_PostProcess"})

# fused_activation_function values (schema ActivationFunctionType); SIGN_BIT is the one the GPU
# refuses (IsActivationSupported).
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_ONE_ARG_ELEMENTWISE = frozenset("""
ABS CEIL COS ELU EXP FLOOR GELU LOG LOGISTIC NEG RSQRT SIGN SIN SQRT SQUARE TANH""".split())
_TWO_ARG_ELEMENTWISE = frozenset("""
ATAN2 DIV EQUAL FLOOR_DIV FLOOR_MOD GREATER GREATER_EQUAL LOGICAL_AND LESS LESS_EQUAL MAXIMUM
MINIMUM NOT_EQUAL POW SQUARED_DIFFERENCE SUB""".split())
# Cases of the switch that accept the op without looking at it further.
_ALWAYS_OK = frozenset({"PACK", "RELU_N1_TO_1", "PRELU", "SPLIT", "SPLIT_V", "RELU", "RELU6",
                        "LEAKY_RELU", "CONCATENATION"})


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One operand as the GPU checker sees it. ``dtype`` is None for an omitted optional input."""

    dtype: str | None
    shape: tuple = ()
    is_const: bool = False

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclasses.dataclass
class OpSpec:
    """One operator: its name (builtin name, or the custom code), options and operands.

    ``options`` holds the builtin options with snake_case keys as in the schema
    (``shrink_axis_mask``, ``stride_h``, ``fused_activation_function``, ...); absent keys read as 0,
    as in the zero-initialised params TFLite's ParseOpData hands the checker.
    """

    index: int
    op: str
    inputs: list
    outputs: list
    options: dict = dataclasses.field(default_factory=dict)
    custom: bool = False
    subgraph: int = 0

    def opt(self, name, default=0):
        return self.options.get(name, default)


# reading the flatbuffer

def read_op_specs(content: bytes) -> list[OpSpec]:
    """Every operator of every subgraph of a .tflite flatbuffer, as :class:`OpSpec`.

    Op indices count within their subgraph (as LiteRT's op details do for the main one).
    """
    from .._compat import litert_schema

    schema = litert_schema()

    model = schema.Model.GetRootAs(content, 0)
    type_names = {value: name.lower() for name, value in vars(schema.TensorType).items()
                  if not name.startswith("_")}
    op_names = {value: name for name, value in vars(schema.BuiltinOperator).items()
                if not name.startswith("_")}
    buffers_with_data = set()
    for b in range(model.BuffersLength()):
        buffer = model.Buffers(b)
        if b != 0 and not buffer.DataIsNone() and buffer.DataLength() > 0:
            buffers_with_data.add(b)
    codes = []
    for c in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(c)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # schema_utils GetBuiltinCode
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.CustomCode()
            codes.append(((custom or b"").decode("utf-8", "replace"), True))
        else:
            codes.append((op_names.get(builtin, f"BUILTIN_{builtin}"), False))

    specs = []
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        tensors = [subgraph.Tensors(t) for t in range(subgraph.TensorsLength())]

        def spec(index):
            if index < 0 or index >= len(tensors):
                return TensorSpec(None)
            tensor = tensors[index]
            shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
            return TensorSpec(type_names.get(tensor.Type(), str(tensor.Type())), shape,
                              tensor.Buffer() in buffers_with_data)

        for i in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(i)
            name, custom = codes[op.OpcodeIndex()]
            inputs = [spec(int(t)) for t in op.InputsAsNumpy()] if op.InputsLength() else []
            outputs = [spec(int(t)) for t in op.OutputsAsNumpy()] if op.OutputsLength() else []
            specs.append(OpSpec(index=i, op=name, inputs=inputs, outputs=outputs, custom=custom,
                                options=_options(schema, op), subgraph=s))
    return specs


def _options(schema, op) -> dict:
    kind, table = op.BuiltinOptionsType(), op.BuiltinOptions()
    if not kind or table is None:
        return {}
    try:
        parsed = schema.BuiltinOptionsCreator(kind, table)
    except Exception:  # an options type these bindings do not know: read as absent
        return {}
    if parsed is None:
        return {}
    return {_snake(key): value for key, value in vars(parsed).items()
            if isinstance(value, (int, float, bool))}


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()  # dilationWFactor -> dilation_w_factor


# custom ops and the stock runtime

def custom_ops(specs) -> list[str]:
    """Names of the custom ops a model uses, sorted, each once."""
    return sorted({op.op for op in specs if op.custom})


def unresolved_custom_ops(specs) -> list[str]:
    """Custom ops the stock LiteRT CPU resolver has no kernel for (Flex ops included: the stock
    runtime has no TensorFlow-select delegate)."""
    return [name for name in custom_ops(specs) if name not in STOCK_CPU_CUSTOM_OPS]


def runnable_on_stock_litert(specs) -> bool:
    """Whether LiteRT's standard CPU op resolver can run the model at all."""
    return not unresolved_custom_ops(specs)


def stock_litert_problem(specs) -> str | None:
    """One line saying why the stock runtime cannot run the model, or None when it can."""
    reason = _needs_resolver(specs)
    return None if reason is None else reason + "; bench will fail"


def _needs_resolver(specs) -> str | None:
    missing = unresolved_custom_ops(specs)
    if not missing:
        return None
    flex = [name for name in missing if name.startswith("Flex")]
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    what = ("TensorFlow-select (Flex) ops" if flex and len(flex) == len(missing) else "custom ops")
    return (f"uses {what} the standard LiteRT runtime does not have ({shown}): it needs the custom "
            f"op resolver that produced it")


def require_stock_litert(content: bytes, *, where: str = "model") -> None:
    """Raise a ModelError before any benchmark when the stock LiteRT runtime cannot run the model."""
    try:
        specs = read_op_specs(content)
    except Exception:  # not a readable flatbuffer: the interpreter says what is wrong with it
        return
    reason = _needs_resolver(specs)
    if reason:
        from ..errors import ModelError

        raise ModelError(f"cannot benchmark {where}: it {reason}",
                         hint="benchmark it inside the app that registers those ops, or convert "
                              "the model without custom ops")


# the rules

def check_model(specs, *, enhanced_broadcast: bool = True) -> list[dict]:
    """``{"index", "op", "reason", "source"}`` for each op of the main subgraph the GPU refuses.

    ``enhanced_broadcast=True`` is what the checker assumes for a model file (the model-level
    ``CheckGpuDelegateCompatibility`` passes ``kEnhancedBroadcast``); False applies the stricter
    ADD/MUL broadcast rules a delegate created without that flag uses.
    """
    findings = []
    for op in specs:
        if op.subgraph != 0:  # the delegate partitions the primary subgraph only
            continue
        reason = check_op(op, enhanced_broadcast=enhanced_broadcast)
        if reason:
            findings.append({"index": op.index, "op": op.op, "reason": reason, "source": "rules"})
    return findings


def check_op(op: OpSpec, *, enhanced_broadcast: bool = True) -> str | None:
    """Why the GPU delegate refuses ``op``, or None when the rules accept it."""
    if op.custom:
        return _custom(op)
    name = op.op
    if name in _ALWAYS_OK:
        return None
    if name in _ONE_ARG_ELEMENTWISE:
        return _inputs_consts_outputs(op, 1, 0, 1)
    if name in _TWO_ARG_ELEMENTWISE:
        if (_inputs_consts_outputs(op, 2, 0, 1) is not None
                and _inputs_consts_outputs(op, 1, 1, 1) is not None):
            return f"{name} can only handle 1 or 2 operand(s)"
        if name in ("DIV", "SUB"):
            return _activation(op)
        return None
    rule = _RULES.get(name)
    if rule is None:
        return f"no GPU implementation of {name}"  # the switch's default: "Not supported op"
    return rule(op, enhanced_broadcast) if name in ("ADD", "MUL") else rule(op)


def _runtime_inputs(op) -> int:
    return sum(1 for t in op.inputs if t.dtype is not None and not t.is_const)


def _inputs_outputs(op, runtime, outputs):  # CheckInputsOutputs
    have = _runtime_inputs(op)
    if have != runtime:
        return f"{op.op} expects {runtime} runtime input tensor(s), but the node has {have}"
    if len(op.outputs) != outputs:
        return f"{op.op} expects {outputs} output tensor(s), but the node has {len(op.outputs)}"
    return None


def _inputs_consts_outputs(op, runtime, consts, outputs):  # CheckInputsConstsOutputs
    have = sum(1 for t in op.inputs if t.is_const)
    if have != consts:
        return f"{op.op} expects {consts} constant input tensor(s), but the node has {have}"
    return _inputs_outputs(op, runtime, outputs)


def _activation(op):  # IsActivationSupported
    value = op.opt("fused_activation_function")
    if value == 5:
        return f"{op.op} with fused activation SIGN_BIT"
    return None


def _strides(op, h="stride_h", w="stride_w"):  # CheckStrides
    if op.opt(h) <= 0 or op.opt(w) <= 0:
        return f"{op.op} stride {op.opt(h)}x{op.opt(w)}: strides must be positive"
    return None


def _dilation(op):  # CheckDilation
    h, w = op.opt("dilation_h_factor"), op.opt("dilation_w_factor")
    if h <= 0 or w <= 0:
        return f"{op.op} dilation {h}x{w}: dilations must be positive"
    return None


def _convolution_io(op):  # CheckConvoultionInputOutput (sic)
    runtime = _runtime_inputs(op)
    if runtime > 2:
        return f"{op.op} expects 1 or 2 runtime inputs, but the node has {runtime}"
    if len(op.outputs) != 1:
        return f"{op.op} expects 1 output, but the node has {len(op.outputs)}"
    if runtime == 1 and len(op.inputs) < 2:
        return f"{op.op} has no weights input"
    return None


def _axes_int32_const(op, index=1):  # CheckAxesAreInt32Const
    if len(op.inputs) <= index:
        return f"{op.op} has no axes input"
    axes = op.inputs[index]
    if not axes.is_const:
        return f"{op.op} is only supported with constant axes"
    if axes.dtype != "int32":
        return f"{op.op} supports int32 axes, but the node has {axes.dtype}"
    return None


def _first(*checks):
    for check in checks:
        reason = check()
        if reason:
            return reason
    return None


def _pooling(op):  # CheckPooling2DGpuDelegateCompatibility
    return _first(
        lambda: _inputs_outputs(op, 1, 1),
        lambda: (f"{op.op} filter {op.opt('filter_height')}x{op.opt('filter_width')}: filter sizes "
                 f"must be positive" if op.opt("filter_height") <= 0 or op.opt("filter_width") <= 0
                 else None),
        lambda: _strides(op),
        lambda: _activation(op))


def _custom(op):  # CheckCustomOpsGpuDelegateCompatibility
    # Custom ops keep their parameters in custom_options (a flexbuffer this module does not parse),
    # so only the operand counts are checked here.
    if op.op == "Convolution2DTransposeBias":
        return None if len(op.inputs) > 1 else f"{op.op} has no weights input"
    if op.op == "MaxPoolingWithArgmax2D":
        return _inputs_outputs(op, 1, 2)
    if op.op in ("MaxUnpooling2D", "Resampler"):
        return _inputs_outputs(op, 2, 1)
    return f"no GPU implementation of custom op {op.op}"


def _broadcast(op, enhanced):  # CheckAddMulBroadcastCompatibility
    a, b = op.inputs[0].shape, op.inputs[1].shape
    if not (len(a) > 1 and len(b) > 1 and len(a) != len(b)):
        return None
    longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
    if enhanced:  # CheckIsBroadcastable: numpy rules, aligned from the last dimension
        ok = all(x == y or x == 1 or y == 1 for x, y in zip(reversed(longer), reversed(shorter)))
    else:
        ok = ((len(longer) == 4 and len(shorter) == 3 and longer[0] == 1)
              or (len(longer) == 4 and len(shorter) == 2 and longer[0] == 1 and shorter == (1, 1))
              or (len(longer) == 4 and len(shorter) == 2 and longer[0] == shorter[0]
                  and longer[3] == shorter[1]))
    if ok:
        return None
    return (f"{op.op} does not broadcast {list(a)} with {list(b)} on the GPU"
            + ("" if enhanced else " (without enhanced broadcast)"))


def _add(op, enhanced):  # case kTfLiteBuiltinAdd
    if len(op.inputs) != 2:
        return "ADD requires two input tensors"
    return _broadcast(op, enhanced)


def _mul(op, enhanced):  # case kTfLiteBuiltinMul
    if len(op.inputs) != 2:
        return "MUL requires two input tensors"
    a, b = op.inputs[0].shape, op.inputs[1].shape
    if len(a) == len(b):
        # Each operand smaller than the other somewhere is an outer product (e.g. [1,256,1] x
        # [1,1,256]); the GPU MUL does not do it.
        if any(x < y for x, y in zip(a, b)) and any(y < x for x, y in zip(a, b)):
            return (f"MUL of {list(a)} and {list(b)}: the GPU needs one operand not smaller than "
                    f"the other in every dimension")
    else:
        reason = _broadcast(op, enhanced)
        if reason:
            return reason
    return _activation(op)


def _cast(op):  # case kTfLiteBuiltinCast
    reason = _inputs_outputs(op, 1, 1)
    if reason:
        return reason
    pair = (op.inputs[0].dtype, op.outputs[0].dtype)
    floats = ("float16", "float32")
    if (pair[0] == "bool" and pair[1] in floats) or (pair[0] in floats and pair[1] == "bool"):
        return None
    if pair[0] in ("float32", "int32") and pair[1] in ("float32", "int32"):
        return None
    return f"GPU CAST does not support {pair[0]} -> {pair[1]}"


def _conv_2d(op):  # case kTfLiteBuiltinConv2d
    return _first(lambda: _convolution_io(op), lambda: _strides(op), lambda: _dilation(op),
                  lambda: _activation(op))


def _depthwise_conv_2d(op):  # CheckDepthwiseConvGpuDelegateCompatibility
    reason = _first(lambda: _convolution_io(op), lambda: _strides(op), lambda: _dilation(op),
                    lambda: _activation(op))
    if reason:
        return reason
    multiplier = op.opt("depth_multiplier")
    inp, flt, out = op.inputs[0], op.inputs[1], op.outputs[0]
    bias = op.inputs[2] if len(op.inputs) > 2 and op.inputs[2].dtype is not None else None
    for label, tensor in (("input", inp), ("filter", flt), ("output", out)):
        if tensor.rank != 4:
            return f"DEPTHWISE_CONV_2D {label} has rank {tensor.rank}; the GPU needs rank 4"
    if inp.shape[0] != out.shape[0]:
        return "DEPTHWISE_CONV_2D input and output batch differ"
    if flt.shape[3] != out.shape[3]:
        return "DEPTHWISE_CONV_2D filter channels differ from output channels"
    if out.shape[3] != inp.shape[3] * multiplier:
        return "DEPTHWISE_CONV_2D output channels != input channels x depth_multiplier"
    if bias is not None and _elements(bias.shape) != out.shape[3]:
        return "DEPTHWISE_CONV_2D bias size != output channels"
    if multiplier != 1 and inp.shape[3] != 1:
        return (f"DEPTHWISE_CONV_2D depth_multiplier {multiplier} on {inp.shape[3]} input "
                f"channels: the GPU takes a multiplier other than 1 only for 1 input channel")
    return None


def _elements(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _block_size(op):  # DEPTH_TO_SPACE, SPACE_TO_DEPTH
    reason = _inputs_outputs(op, 1, 1)
    if reason:
        return reason
    size = op.opt("block_size")
    if size == 1:
        return f"{op.op} block_size 1 is a no-op the GPU refuses"
    if size < 1:
        return f"{op.op} block_size must be > 1"
    return None


def _dequantize(op):  # case kTfLiteBuiltinDequantize
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        return "DEQUANTIZE expects 1 input and 1 output"
    if op.inputs[0].dtype == "int16":
        return "GPU DEQUANTIZE does not support int16 input"
    return None


def _fully_connected(op):  # case kTfLiteBuiltinFullyConnected
    if op.opt("weights_format") != 0:
        return "FULLY_CONNECTED with shuffled weights format"
    if _runtime_inputs(op) > 2:
        return "FULLY_CONNECTED with more than 2 runtime inputs"
    if op.inputs and op.inputs[0].is_const:
        return "FULLY_CONNECTED with a constant input"
    if op.opt("keep_num_dims") and op.inputs[0].rank != op.outputs[0].rank:
        return "FULLY_CONNECTED keep_num_dims with input and output of different rank"
    return None


def _gather(op):  # case kTfLiteBuiltinGather
    if (_inputs_consts_outputs(op, 2, 0, 1) is not None
            and _inputs_consts_outputs(op, 1, 1, 1) is not None):
        return "GATHER can only handle 1 or 2 operand(s)"
    if op.inputs[0].dtype == "int32":
        return "GPU GATHER does not accept int32 input"
    if op.inputs[1].rank != 1:
        return f"GPU GATHER supports only 1-D indices, not rank {op.inputs[1].rank}"
    if op.inputs[1].dtype != "int32":
        return f"GPU GATHER accepts only int32 indices, not {op.inputs[1].dtype}"
    return None


def _lstm(op):  # case kTfLiteBuiltinLstm
    activation = _ACTIVATIONS.get(op.opt("fused_activation_function"), "?")
    if op.opt("kernel_type") == 0:  # FULL
        if len(op.inputs) not in (20, 24):
            return f"LSTM expects 20 or 24 inputs, but the node has {len(op.inputs)}"
        if len(op.outputs) != 1:
            return f"LSTM expects 1 output, but the node has {len(op.outputs)}"
        # Sigmoid or tanh; the schema's activations have no sigmoid, so from a file only TANH.
        if activation != "TANH":
            return f"LSTM with activation {activation}: only sigmoid or tanh"
        return None
    reason = _inputs_consts_outputs(op, 3, 2, 4)
    if reason:
        return reason
    if activation != "TANH":
        return f"basic LSTM with activation {activation}: only TANH"
    if op.opt("cell_clip") or op.opt("proj_clip"):
        return "basic LSTM with cell_clip or proj_clip"
    return None


def _mean(op):  # case kTfLiteBuiltinMean
    return _inputs_consts_outputs(op, 1, 1, 1) or _axes_int32_const(op)


def _reduce(op):  # REDUCE_MAX, REDUCE_MIN, REDUCE_PROD, SUM
    return _inputs_outputs(op, 1, 1) or _axes_int32_const(op)


def _one_hot(op):  # CheckOneHotGpuDelegateCompatibility
    error = ("GPU ONE_HOT needs int32 indices, constant scalar float on/off values and the last "
             "axis")
    if len(op.inputs) != 4 and len(op.outputs) != 1:
        return "ONE_HOT expects 4 inputs and 1 output"
    indices = op.inputs[0]
    if indices.dtype != "int32":
        return error
    axis = op.opt("axis")
    if axis != -1 and (not indices.shape or axis != indices.shape[-1]):
        return error
    for i in range(indices.rank - 1):
        if indices.rank > 3 and i == 0:
            continue
        if indices.shape[i] != 1:
            return f"GPU ONE_HOT does not support a non-singleton dimension {i}"
    on, off = op.inputs[2], op.inputs[3]
    if on.dtype != "float32" or off.dtype != "float32":
        return error
    if not on.is_const or not off.is_const or on.rank > 1 or off.rank > 1:
        return error
    if (on.shape and on.shape[0] > 1) or (off.shape and off.shape[0] > 1):
        return error
    return None


def _select(op):  # CheckSelectV2GpuDelegateCompatibility (SELECT and SELECT_V2)
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        return f"{op.op} expects 3 inputs and 1 output"
    error = (f"GPU {op.op} needs a bool or float condition and float values shaped like the "
             f"output or scalar")
    cond, a, b = op.inputs
    floats = ("float16", "float32")
    if cond.dtype not in ("bool", *floats) or a.dtype not in floats or b.dtype not in floats:
        return error
    out = op.outputs[0].shape
    for label, tensor in (("if", a), ("else", b)):
        if tensor.shape and tensor.shape != out and (tensor.rank > 1 or tensor.shape[0] > 1):
            return error
        if tensor.is_const and tensor.rank == 2:
            return f"GPU {op.op}: 2-D {label} tensor only supported if constant"
    return None


def _slice(op):  # case kTfLiteBuiltinSlice
    if len(op.inputs) < 3:
        return f"SLICE requires 3 inputs, but the node has {len(op.inputs)}"
    rank = op.inputs[0].rank
    if rank not in (3, 4):
        return f"GPU SLICE supports rank 3 or 4 tensors only, not rank {rank}"
    return None


def _softmax(op):  # case kTfLiteBuiltinSoftmax
    beta = op.opt("beta")
    return None if beta == 1 else f"SOFTMAX beta {beta:g}: the GPU supports only beta 1"


def _strided_slice(op):  # case kTfLiteBuiltinStridedSlice
    for mask in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
        if op.opt(mask):
            return f"GPU STRIDED_SLICE does not support {mask} (it is {op.opt(mask)})"
    if len(op.inputs) < 4:
        return "STRIDED_SLICE requires 4 inputs"
    rank = op.inputs[0].rank
    if rank not in (3, 4):
        return f"GPU STRIDED_SLICE supports rank 3 or 4 tensors only, not rank {rank}"
    return None


def _one_runtime_input(op):  # RESHAPE, TILE, TRANSPOSE, QUANTIZE, HARD_SWISH, RESIZE_NEAREST_...
    return _inputs_outputs(op, 1, 1)


def _transpose_conv(op):  # case kTfLiteBuiltinTransposeConv
    return _convolution_io(op) or _strides(op)


def _resize_bilinear(op):  # case kTfLiteBuiltinResizeBilinear
    reason = _inputs_outputs(op, 1, 1)
    if reason:
        return reason
    if op.opt("align_corners") and op.opt("half_pixel_centers"):
        return "RESIZE_BILINEAR with both align_corners and half_pixel_centers"
    return None


def _pad(op):  # PAD, PADV2, MIRROR_PAD
    if op.op == "MIRROR_PAD" and op.opt("mode") != 0:
        return "GPU MIRROR_PAD supports only REFLECT mode, not SYMMETRIC"
    reason = _inputs_outputs(op, 1, 1)
    if reason:
        return reason
    if len(op.inputs) < 2:
        return f"{op.op} has no paddings input"
    paddings = op.inputs[1].shape
    if len(paddings) != 2:
        return f"{op.op} paddings tensor has rank {len(paddings)}, expected 2"
    if paddings[0] not in (3, 4) or paddings[1] != 2:
        return (f"GPU {op.op} pads rank 3 or 4 tensors only (paddings {paddings[0]}x{paddings[1]}, "
                f"expected 4x2 or 3x2)")
    return None


def _add_n(op):  # case kTfLiteBuiltinAddN
    return None if len(op.inputs) == 2 else f"GPU ADD_N supports 2 inputs, not {len(op.inputs)}"


def _batch_matmul(op):  # case kTfLiteBuiltinBatchMatmul
    if len(op.inputs) == 2 and len(op.outputs) == 1:
        return None
    return "BATCH_MATMUL expects 2 inputs and 1 output"


def _cumsum(op):  # CheckCumsumGpuDelegateCompatibility
    if len(op.inputs) != 2:
        return "CUMSUM expects 2 inputs and 1 output"
    x, axis = op.inputs
    if (x.dtype not in ("float16", "float32") or op.outputs[0].dtype != x.dtype
            or axis.dtype != "int32" or not axis.is_const):
        return "GPU CUMSUM needs float input/output and a constant int32 axis"
    return None


def _densify(op):  # case kTfLiteBuiltinDensify
    return _inputs_outputs(op, 0, 1)


def _embedding_lookup(op):  # case kTfLiteBuiltinEmbeddingLookup
    if len(op.inputs) != 2:
        return f"EMBEDDING_LOOKUP expects 2 inputs, but the node has {len(op.inputs)}"
    ids, values = op.inputs
    if ids.rank != 1:
        return f"GPU EMBEDDING_LOOKUP needs 1-D ids, not rank {ids.rank}"
    if values.rank < 2:
        return f"GPU EMBEDDING_LOOKUP needs a table of rank 2 or more, not {values.rank}"
    if len(op.outputs) != 1:
        return "EMBEDDING_LOOKUP expects 1 output"
    out = op.outputs[0]
    if values.rank != out.rank or values.shape[1:] != out.shape[1:]:
        return "EMBEDDING_LOOKUP output shape does not follow the table"
    if values.dtype not in ("int8", "int4", "float32"):
        return f"GPU EMBEDDING_LOOKUP needs an int8, int4 or float32 table, not {values.dtype}"
    return None


def _dynamic_update_slice(op):  # case kTfLiteBuiltinDynamicUpdateSlice
    if len(op.inputs) != 3:
        return "DYNAMIC_UPDATE_SLICE requires 3 inputs"
    operand, update, start = op.inputs
    if operand.rank == 4 and operand.shape[0] != 1:
        return "GPU DYNAMIC_UPDATE_SLICE supports a 4-D operand only with batch 1"
    if start.rank != 1:
        return "GPU DYNAMIC_UPDATE_SLICE supports only 1-D start indices"
    if operand.dtype != update.dtype:
        return "DYNAMIC_UPDATE_SLICE operand and update types differ"
    if start.dtype != "int32":
        return "GPU DYNAMIC_UPDATE_SLICE needs int32 start indices"
    if update.rank != operand.rank:
        return "DYNAMIC_UPDATE_SLICE operand and update ranks differ"
    return None


def _clamp(op):  # case kTfLiteBuiltinStablehloClamp
    if len(op.inputs) < 3:
        return "STABLEHLO_CLAMP expects 3 inputs"
    low, x, high = op.inputs[:3]
    if not (low.dtype == x.dtype == high.dtype):
        return "STABLEHLO_CLAMP tensors must all be the same type"
    if low.shape != x.shape and _elements(low.shape) != 1:
        return "STABLEHLO_CLAMP min must be shaped like the input or be a scalar"
    if high.shape != x.shape and _elements(low.shape) != 1:  # sic: the source tests min's size
        return "STABLEHLO_CLAMP max must be shaped like the input or be a scalar"
    return _inputs_consts_outputs(op, 3, 0, 1)


_RULES = {
    "ADD": _add, "MUL": _mul, "ADD_N": _add_n, "AVERAGE_POOL_2D": _pooling,
    "MAX_POOL_2D": _pooling, "BATCH_MATMUL": _batch_matmul, "CAST": _cast, "CONV_2D": _conv_2d,
    "CUMSUM": _cumsum, "DENSIFY": _densify, "DEPTHWISE_CONV_2D": _depthwise_conv_2d,
    "DEPTH_TO_SPACE": _block_size, "SPACE_TO_DEPTH": _block_size, "DEQUANTIZE": _dequantize,
    "EMBEDDING_LOOKUP": _embedding_lookup, "DYNAMIC_UPDATE_SLICE": _dynamic_update_slice,
    "FULLY_CONNECTED": _fully_connected, "GATHER": _gather, "HARD_SWISH": _one_runtime_input,
    "LSTM": _lstm, "MEAN": _mean, "ONE_HOT": _one_hot, "QUANTIZE": _one_runtime_input,
    "RESHAPE": _one_runtime_input, "SELECT": _select, "SELECT_V2": _select, "SLICE": _slice,
    "SOFTMAX": _softmax, "STRIDED_SLICE": _strided_slice, "TILE": _one_runtime_input,
    "TRANSPOSE": _one_runtime_input, "TRANSPOSE_CONV": _transpose_conv,
    "RESIZE_NEAREST_NEIGHBOR": _one_runtime_input,
    "RESIZE_BILINEAR": _resize_bilinear, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce,
    "REDUCE_PROD": _reduce, "SUM": _reduce, "PAD": _pad, "PADV2": _pad, "MIRROR_PAD": _pad,
    "STABLEHLO_CLAMP": _clamp,
}
