"""GPU rules of gpu_compatibility.cc, one by one, on tiny models built to hit each; custom ops.

Each rule is tested on a real converted model that breaks it and on a twin that keeps it, so a rule
that flags everything fails as surely as one that flags nothing. Rules a converter never lets a
model break (non-positive strides, SIGN_BIT activations, two constant operands, ...) are tested on
plain op descriptions instead, which is what the checker reads anyway.
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from mobilekit.analysis import gpu_rules
from mobilekit.analysis.gpu_rules import OpSpec, TensorSpec

F32 = "float32"


def _models():
    """name -> (function of tf, input specs as (shape, dtype name)); converted once per module."""
    return {
        # STRIDED_SLICE: no ellipsis/new_axis/shrink_axis masks; rank 3 or 4 only.
        "strided_shrink": (lambda t, x: x[:, 0] * 2.0, [((1, 4, 4, 3), F32)]),
        "strided_keep": (lambda t, x: x[:, ::2] * 2.0, [((1, 4, 4, 3), F32)]),
        "strided_rank2": (lambda t, x: x[:, ::2] * 2.0, [((2, 8), F32)]),
        "strided_rank3": (lambda t, x: x[:, :, ::2] * 2.0, [((1, 2, 8), F32)]),
        # SLICE: rank 3 or 4 only.
        "slice_rank2": (lambda t, x: t.slice(x, [0, 1], [2, 3]) * 2.0, [((2, 8), F32)]),
        "slice_rank4": (lambda t, x: t.slice(x, [0, 0, 1, 0], [1, 2, 3, 3]) * 2.0,
                        [((1, 4, 4, 3), F32)]),
        # PAD / MIRROR_PAD: paddings 4x2 or 3x2; MIRROR_PAD in REFLECT mode only.
        "pad_rank2": (lambda t, x: t.pad(x, [[1, 1], [2, 2]]), [((2, 8), F32)]),
        "pad_rank4": (lambda t, x: t.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]]), [((1, 4, 4, 3), F32)]),
        "mirror_symmetric": (lambda t, x: t.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "SYMMETRIC"),
                             [((1, 4, 4, 3), F32)]),
        "mirror_reflect": (lambda t, x: t.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT"),
                           [((1, 4, 4, 3), F32)]),
        # MUL: with equal ranks, one operand must be >= the other in every dimension.
        "mul_outer": (lambda t, a, b: a * b, [((1, 4, 1), F32), ((1, 1, 4), F32)]),
        "mul_broadcast": (lambda t, a, b: a * b, [((1, 4, 4), F32), ((1, 1, 4), F32)]),
        # ADD: [1,h,w,c] + [h,c] broadcasts only with enhanced broadcast; [1,h,w,c] + [1,c] always.
        "add_hc": (lambda t, a, b: a + b, [((1, 4, 4, 3), F32), ((4, 3), F32)]),
        "add_bc": (lambda t, a, b: a + b, [((1, 4, 4, 3), F32), ((1, 3), F32)]),
        # ADD_N: two inputs only.
        "add_n3": (lambda t, a, b, c: t.add_n([a, b, c]), [((1, 8), F32)] * 3),
        "add_n2": (lambda t, a, b: t.add_n([a, b]), [((1, 8), F32)] * 2),
        # MEAN / SUM / REDUCE_MAX: constant int32 axes.
        "mean_runtime_axis": (lambda t, x, axis: t.reduce_mean(x, axis=axis),
                              [((1, 4, 4, 3), F32), ((1,), "int32")]),
        "mean_const_axis": (lambda t, x: t.reduce_mean(x, axis=[1, 2]), [((1, 4, 4, 3), F32)]),
        "sum_runtime_axis": (lambda t, x, axis: t.reduce_sum(x, axis=axis),
                             [((1, 4, 4, 3), F32), ((1,), "int32")]),
        "sum_const_axis": (lambda t, x: t.reduce_sum(x, axis=[3]), [((1, 4, 4, 3), F32)]),
        "max_runtime_axis": (lambda t, x, axis: t.reduce_max(x, axis=axis),
                             [((1, 4, 4, 3), F32), ((1,), "int32")]),
        "max_const_axis": (lambda t, x: t.reduce_max(x, axis=[3]), [((1, 4, 4, 3), F32)]),
        # RESHAPE / TRANSPOSE / TILE: one runtime input (the shape, perm, multiples constant).
        "reshape_runtime_shape": (lambda t, x, shape: t.reshape(x, shape),
                                  [((1, 8), F32), ((2,), "int32")]),
        "reshape_const_shape": (lambda t, x: t.reshape(x, [2, 4]), [((1, 8), F32)]),
        "transpose_runtime_perm": (lambda t, x, perm: t.transpose(x, perm),
                                   [((1, 2, 3, 4), F32), ((4,), "int32")]),
        "transpose_const_perm": (lambda t, x: t.transpose(x, [0, 2, 1, 3]), [((1, 2, 3, 4), F32)]),
        "tile_runtime": (lambda t, x, m: t.tile(x, m), [((1, 2, 3, 4), F32), ((4,), "int32")]),
        "tile_const": (lambda t, x: t.tile(x, [1, 2, 1, 1]), [((1, 2, 3, 4), F32)]),
        # DEPTHWISE_CONV_2D: a depth multiplier other than 1 only on one input channel.
        "depthwise_mult2_c3": (lambda t, x: t.nn.depthwise_conv2d(
            x, t.ones([3, 3, 3, 2]), [1, 1, 1, 1], "SAME"), [((1, 6, 6, 3), F32)]),
        "depthwise_mult2_c1": (lambda t, x: t.nn.depthwise_conv2d(
            x, t.ones([3, 3, 1, 2]), [1, 1, 1, 1], "SAME"), [((1, 6, 6, 1), F32)]),
        # CAST: bool<->float, float32/int32 among themselves.
        "cast_bool_int": (lambda t, x: t.cast(x > 0.0, t.int32), [((1, 8), F32)]),
        "cast_bool_float": (lambda t, x: t.cast(x > 0.0, t.float32), [((1, 8), F32)]),
        # GATHER: no int32 params, 1-D int32 indices.
        "gather_int_params": (lambda t, p, i: t.gather(p, i), [((8, 4), "int32"), ((3,), "int32")]),
        "gather_2d_indices": (lambda t, p, i: t.gather(p, i), [((8, 4), F32), ((2, 3), "int32")]),
        "gather_ok": (lambda t, p, i: t.gather(p, i), [((8, 4), F32), ((3,), "int32")]),
        # SELECT / SELECT_V2: float values (and bool/float condition).
        "select_int": (lambda t, c, a, b: t.where(c, a, b),
                       [((1, 8), "bool"), ((1, 8), "int32"), ((1, 8), "int32")]),
        "select_float": (lambda t, c, a, b: t.where(c, a, b),
                         [((1, 8), "bool"), ((1, 8), F32), ((1, 8), F32)]),
        # CUMSUM: float input, constant int32 axis.
        "cumsum_int": (lambda t, x: t.cumsum(x, axis=1), [((1, 8), "int32")]),
        "cumsum_float": (lambda t, x: t.cumsum(x, axis=1), [((1, 8), F32)]),
        # RESIZE_BILINEAR: not align_corners and half_pixel_centers together.
        "resize_both": (lambda t, x: t.raw_ops.ResizeBilinear(
            images=x, size=[8, 8], align_corners=True, half_pixel_centers=True),
            [((1, 4, 4, 3), F32)]),
        "resize_half_pixel": (lambda t, x: t.raw_ops.ResizeBilinear(
            images=x, size=[8, 8], align_corners=False, half_pixel_centers=True),
            [((1, 4, 4, 3), F32)]),
        # No GPU kernel at all (the switch's default case).
        "no_kernel": (lambda t, x: t.argmax(x, axis=1), [((1, 8), F32)]),
    }


# (violating model, compliant twin, op that must be flagged, words its reason must contain)
CASES = [
    ("strided_shrink", "strided_keep", "STRIDED_SLICE", "shrink_axis_mask"),
    ("strided_rank2", "strided_rank3", "STRIDED_SLICE", "rank 3 or 4"),
    ("slice_rank2", "slice_rank4", "SLICE", "rank 3 or 4"),
    ("pad_rank2", "pad_rank4", "PAD", "4x2 or 3x2"),
    ("mirror_symmetric", "mirror_reflect", "MIRROR_PAD", "REFLECT"),
    ("mul_outer", "mul_broadcast", "MUL", "not smaller"),
    ("add_n3", "add_n2", "ADD_N", "2 inputs"),
    ("mean_runtime_axis", "mean_const_axis", "MEAN", "constant"),
    # SUM and REDUCE_MAX check the runtime input count before the axes.
    ("sum_runtime_axis", "sum_const_axis", "SUM", "1 runtime input"),
    ("max_runtime_axis", "max_const_axis", "REDUCE_MAX", "1 runtime input"),
    ("reshape_runtime_shape", "reshape_const_shape", "RESHAPE", "1 runtime input"),
    ("transpose_runtime_perm", "transpose_const_perm", "TRANSPOSE", "1 runtime input"),
    ("tile_runtime", "tile_const", "TILE", "1 runtime input"),
    ("depthwise_mult2_c3", "depthwise_mult2_c1", "DEPTHWISE_CONV_2D", "depth_multiplier 2"),
    ("cast_bool_int", "cast_bool_float", "CAST", "bool -> int32"),
    ("gather_int_params", "gather_ok", "GATHER", "int32 input"),
    ("gather_2d_indices", "gather_ok", "GATHER", "1-D indices"),
    ("select_int", "select_float", "SELECT", "float values"),
    ("cumsum_int", "cumsum_float", "CUMSUM", "float input"),
    ("resize_both", "resize_half_pixel", "RESIZE_BILINEAR", "align_corners"),
    ("no_kernel", "cumsum_float", "ARG_MAX", "no GPU implementation"),
]


def _convert(fn, inputs, *, allow_custom_ops=False) -> bytes:
    from mobilekit._compat import tf

    t = tf()
    signature = [t.TensorSpec(shape, getattr(t, dtype)) for shape, dtype in inputs]
    function = t.function(lambda *args: fn(t, *args), input_signature=signature)
    concrete = function.get_concrete_function()
    converter = t.lite.TFLiteConverter.from_concrete_functions([concrete], function)
    converter.allow_custom_ops = allow_custom_ops
    return converter.convert()


@pytest.fixture(scope="module")
def specs():
    """name -> the op descriptions of the converted model (every model converted once)."""
    return {name: gpu_rules.read_op_specs(_convert(fn, inputs))
            for name, (fn, inputs) in _models().items()}


@pytest.fixture(scope="module")
def custom_op_tflite(tmp_path_factory):
    """Digamma has no TFLite builtin: allow_custom_ops keeps it as a custom op named Digamma,
    which no stock LiteRT resolver registers."""
    path = tmp_path_factory.mktemp("custom") / "digamma.tflite"
    path.write_bytes(_convert(lambda t, x: t.math.digamma(x) + 1.0, [((1, 4), F32)],
                              allow_custom_ops=True))
    return path


def _flagged(op_specs, **kwargs):
    return {f["op"]: f["reason"] for f in gpu_rules.check_model(op_specs, **kwargs)}


@pytest.mark.parametrize("bad,good,op,words", CASES, ids=[case[0] for case in CASES])
def test_rule_flags_the_breaking_model_and_not_its_twin(specs, bad, good, op, words):
    assert op in {s.op for s in specs[bad]}, f"{bad} was meant to contain {op}"
    flagged = _flagged(specs[bad])
    assert op in flagged, f"{op} in {bad} not flagged: {flagged}"
    assert words in flagged[op]
    assert _flagged(specs[good]) == {}, f"{good} should pass every rule"


def test_add_broadcast_depends_on_enhanced_broadcast(specs):
    # [1,4,4,3] + [4,3]: numpy-broadcastable (the file-level check assumes enhanced broadcast),
    # but not one of the three shapes a delegate without enhanced broadcast accepts.
    assert "ADD" in {s.op for s in specs["add_hc"]}
    assert _flagged(specs["add_hc"]) == {}
    assert "broadcast" in _flagged(specs["add_hc"], enhanced_broadcast=False)["ADD"]
    assert _flagged(specs["add_bc"], enhanced_broadcast=False) == {}


def test_options_and_operands_are_read_from_the_flatbuffer(specs):
    (strided,) = [s for s in specs["strided_shrink"] if s.op == "STRIDED_SLICE"]
    assert strided.opt("shrink_axis_mask") == 2 and strided.inputs[0].shape == (1, 4, 4, 3)
    assert not strided.inputs[0].is_const and all(t.is_const for t in strided.inputs[1:])
    (depthwise,) = [s for s in specs["depthwise_mult2_c3"] if s.op == "DEPTHWISE_CONV_2D"]
    assert depthwise.opt("depth_multiplier") == 2 and depthwise.opt("dilation_w_factor") == 1
    (cast,) = [s for s in specs["cast_bool_int"] if s.op == "CAST"]
    assert (cast.inputs[0].dtype, cast.outputs[0].dtype) == ("bool", "int32")


def _op(name, inputs, outputs=((F32, (1, 4, 4, 3)),), **options):
    return OpSpec(index=0, op=name, options=options,
                  inputs=[TensorSpec(dtype, shape, const) for dtype, shape, const in inputs],
                  outputs=[TensorSpec(dtype, shape) for dtype, shape in outputs])


X = (F32, (1, 4, 4, 3), False)
W = (F32, (8, 3, 3, 3), True)


@pytest.mark.parametrize("op,words", [
    (_op("CONV_2D", [X, W], stride_h=0, stride_w=1, dilation_h_factor=1, dilation_w_factor=1),
     "strides must be positive"),
    (_op("CONV_2D", [X, W], stride_h=1, stride_w=1, dilation_h_factor=0, dilation_w_factor=1),
     "dilations must be positive"),
    (_op("CONV_2D", [X, W], stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1,
         fused_activation_function=5), "SIGN_BIT"),
    (_op("CONV_2D", [X, X, X]), "1 or 2 runtime inputs"),
    (_op("TRANSPOSE_CONV", [(None, (), False), W, X], stride_h=0, stride_w=2), "strides"),
    (_op("MAX_POOL_2D", [X], filter_height=0, filter_width=2, stride_h=1, stride_w=1), "filter"),
    (_op("AVERAGE_POOL_2D", [X], filter_height=2, filter_width=2, stride_h=1, stride_w=1,
         fused_activation_function=5), "SIGN_BIT"),
    (_op("SOFTMAX", [X], beta=2.0), "beta 2"),
    (_op("FULLY_CONNECTED", [(F32, (1, 8), True), (F32, (4, 8), True)]), "constant input"),
    (_op("FULLY_CONNECTED", [(F32, (1, 8), False), (F32, (4, 8), True)], weights_format=1),
     "shuffled"),
    (_op("FULLY_CONNECTED", [(F32, (2, 3, 8), False), (F32, (4, 8), True)],
         outputs=[(F32, (6, 4))], keep_num_dims=True), "keep_num_dims"),
    (_op("DEPTH_TO_SPACE", [X], block_size=1), "no-op"),
    (_op("SPACE_TO_DEPTH", [X], block_size=0), "must be > 1"),
    (_op("SUB", [(F32, (1, 8), True), (F32, (1, 8), True)]), "1 or 2 operand"),
    (_op("DIV", [X, X], fused_activation_function=5), "SIGN_BIT"),
    (_op("EXP", [(F32, (1, 8), True)]), "constant input"),
    (_op("ADD", [X, X, X]), "two input tensors"),
    (_op("ADD", [(F32, (1, 4, 4, 3), False), (F32, (4, 2), False)]), "broadcast"),
    (_op("SUM", [X, ("int64", (1,), True)]), "int32 axes"),  # the converter writes int32 axes
    (_op("MEAN", [X, ("int64", (1,), True)]), "int32 axes"),
    (_op("DEQUANTIZE", [("int16", (1, 8), True)]), "int16"),
    (_op("ONE_HOT", [("int64", (1, 4), False), ("int32", (), True), (F32, (), True),
                     (F32, (), True)], axis=-1), "int32 indices"),
    (_op("EMBEDDING_LOOKUP", [("int32", (2, 2), False), (F32, (8, 4), True)],
         outputs=[(F32, (2, 4))]), "1-D ids"),
    (_op("DYNAMIC_UPDATE_SLICE", [(F32, (2, 4, 4, 3), False), (F32, (1, 2, 2, 3), False),
                                  ("int32", (4,), True)]), "batch 1"),
    (_op("STABLEHLO_CLAMP", [(F32, (1, 8), False), ("int32", (1, 8), False),
                             (F32, (1, 8), False)]), "same type"),
    (_op("LSTM", [X] * 20, kernel_type=0, fused_activation_function=1), "sigmoid or tanh"),
    (_op("CUSTOM_THING", [X]), "no GPU implementation"),
], ids=lambda value: value.op if isinstance(value, OpSpec) else "")
def test_rules_no_converter_lets_a_model_break(op, words):
    reason = gpu_rules.check_op(op)
    assert reason and words in reason, reason


@pytest.mark.parametrize("op", [
    _op("CONV_2D", [X, W, (F32, (8,), True)], stride_h=2, stride_w=2, dilation_h_factor=1,
        dilation_w_factor=1, fused_activation_function=3),
    _op("FULLY_CONNECTED", [(F32, (1, 8), False), (F32, (4, 8), True), (None, (), False)]),
    _op("SOFTMAX", [X], beta=1.0),
    _op("DEPTH_TO_SPACE", [X], block_size=2),
    _op("SUB", [X, (F32, (1, 4, 4, 3), True)]),
    _op("CONCATENATION", [X, X, X], axis=3),
], ids=lambda op: op.op)
def test_rules_accept_ordinary_ops(op):
    assert gpu_rules.check_op(op) is None


def test_custom_op_model_is_flagged_as_not_runnable(custom_op_tflite):
    from mobilekit._compat import make_interpreter

    specs = gpu_rules.read_op_specs(custom_op_tflite.read_bytes())
    assert gpu_rules.custom_ops(specs) == ["Digamma"]
    assert not gpu_rules.runnable_on_stock_litert(specs)
    problem = gpu_rules.stock_litert_problem(specs)
    assert "Digamma" in problem and "needs the custom op resolver that produced it" in problem
    assert "bench will fail" in problem
    assert "custom op Digamma" in _flagged(specs)["Digamma"]
    # The verdict agrees with the real stock runtime: it cannot prepare the node.
    interpreter = make_interpreter(model_path=custom_op_tflite, use_xnnpack=False)
    with pytest.raises(RuntimeError, match="unresolved custom op: Digamma"):
        interpreter.allocate_tensors()


def test_models_without_custom_ops_are_runnable(specs):
    assert gpu_rules.custom_ops(specs["no_kernel"]) == []
    assert gpu_rules.runnable_on_stock_litert(specs["no_kernel"])
    assert gpu_rules.stock_litert_problem(specs["no_kernel"]) is None
    # Custom ops the stock resolver registers itself do not make a model unrunnable.
    detection = OpSpec(index=0, op="TFLite_Detection_PostProcess", inputs=[], outputs=[],
                       custom=True)
    assert gpu_rules.runnable_on_stock_litert([detection])


def test_inspect_says_a_custom_op_model_needs_its_resolver(custom_op_tflite):
    from mobilekit.cli import cli

    result = CliRunner().invoke(cli, ["inspect", str(custom_op_tflite), "--no-analyzer"])
    assert result.exit_code == 0, result.output
    assert "NOT RUNNABLE on stock LiteRT" in result.output
    assert "needs the custom op resolver that produced it; bench will fail" in result.output
    assert "Digamma" in result.output
    assert "mobilekit's GPU rules" in result.output and "analyzer" not in result.output.lower()


def test_bench_refuses_a_custom_op_model_before_any_run(custom_op_tflite, tmp_path):
    from mobilekit.benchmark.core import bench
    from mobilekit.errors import ModelError

    with pytest.raises(ModelError, match="needs the custom op resolver") as info:
        bench(custom_op_tflite, target="host", output_dir=tmp_path / "out")
    assert "Digamma" in str(info.value)
    assert not (tmp_path / "out").exists()  # refused before the output folder was made
