"""Exporter spellings of one layer map to one op of the vocabulary."""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from archscore.graph import VOCABULARY, from_onnx
from archscore.testing.onnx_build import conv_relu, ints, model, scalar, weight


def ops(g) -> list[str]:
    return [n.op for n in g.nodes if n.op != "input"]


def test_conv_attributes_and_totals() -> None:
    g = from_onnx(conv_relu(cin=3, cout=8, k=3, hw=8))
    conv = g.nodes[1]
    assert conv.op == "conv"
    assert dict(conv.attrs) == {
        "bias": True, "dilation": (1, 1), "groups": 1, "in_channels": 3, "kernel": (3, 3),
        "out_channels": 8, "pads": (1, 1, 1, 1), "stride": (1, 1),
    }  # fmt: skip
    assert conv.macs == 8 * 8 * 8 * 3 * 9
    assert conv.params == 8 * 3 * 9 + 8


def test_depthwise_convolution_is_recognisable() -> None:
    m = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4, group=6)],
        {"x": (1, 6, 8, 8)},
        ["y"],
        [weight("w", 6, 1, 3, 3)],
    )
    node = from_onnx(m).nodes[1]
    assert node.op == "dwconv" and node.attr("groups") == 6 and node.macs == 6 * 64 * 9


def test_same_auto_pad_becomes_explicit_pads() -> None:
    m = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")],
        {"x": (1, 2, 8, 8)},
        ["y"],
        [weight("w", 4, 2, 3, 3)],
    )
    node = from_onnx(m).nodes[1]
    assert node.attr("pads") == (0, 0, 1, 1) and node.shape == (1, 4, 4, 4)


def test_gemm_and_matmul_plus_bias_are_the_same_linear() -> None:
    w = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    b = np.zeros(5, dtype=np.float32) + 0.5
    gemm = model(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
        {"x": (2, 3)},
        ["y"],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    matmul = model(
        [helper.make_node("MatMul", ["x", "wt"], ["h"]), helper.make_node("Add", ["bb", "h"], ["y"])],
        {"x": (2, 3)},
        ["y"],
        [numpy_helper.from_array(w.T.copy(), "wt"), numpy_helper.from_array(b, "bb")],
    )
    a, c = from_onnx(gemm), from_onnx(matmul)
    assert a == c
    assert ops(a) == ["linear"] and a.nodes[1].params == 20 and a.nodes[1].macs == 30


def test_gated_activations_fuse() -> None:
    def gated(gate: str) -> list[str]:
        m = model(
            [helper.make_node(gate, ["x"], ["g"]), helper.make_node("Mul", ["x", "g"], ["y"])],
            {"x": (1, 4)},
            ["y"],
        )
        return ops(from_onnx(m))

    assert gated("Sigmoid") == ["silu"]
    assert gated("HardSigmoid") == ["hardswish"]
    assert gated("Tanh") == ["mul", "tanh"] or gated("Tanh") == ["tanh", "mul"]


def test_erf_gelu_decomposition_is_gelu() -> None:
    nodes = [
        helper.make_node("Div", ["x", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["x", "a"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["y"]),
    ]
    m = model(nodes, {"x": (1, 8)}, ["y"], [scalar("sqrt2", 2**0.5), scalar("one", 1.0), scalar("half", 0.5)])
    assert ops(from_onnx(m)) == ["gelu"]


def test_mish_decomposition_is_mish() -> None:
    nodes = [
        helper.make_node("Softplus", ["x"], ["s"]),
        helper.make_node("Tanh", ["s"], ["t"]),
        helper.make_node("Mul", ["x", "t"], ["y"]),
    ]
    assert ops(from_onnx(model(nodes, {"x": (1, 8)}, ["y"]))) == ["mish"]


def test_clip_0_6_is_relu6_and_other_bounds_are_kept() -> None:
    def clip(lo: float, hi: float):
        m = model(
            [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])],
            {"x": (1, 4)},
            ["y"],
            [scalar("lo", lo), scalar("hi", hi)],
        )
        return from_onnx(m).nodes[1]

    assert clip(0, 6).op == "relu6"
    node = clip(-1, 1)
    assert node.op == "clip" and node.attr("min") == -1.0 and node.attr("max") == 1.0


def test_spatial_reduce_mean_is_global_average_pooling() -> None:
    keep = model(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)],
        {"x": (1, 4, 5, 5)},
        ["y"],
        [ints("axes", [2, 3])],
        opset=18,
    )
    drop = model(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Flatten", ["p"], ["y"])],
        {"x": (1, 4, 5, 5)},
        ["y"],
    )
    squeeze = model(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)],
        {"x": (1, 4, 5, 5)},
        ["y"],
        [ints("axes", [-1, -2])],
        opset=18,
    )
    assert ops(from_onnx(keep)) == ["global_avg_pool"]
    assert from_onnx(drop) == from_onnx(squeeze)
    assert ops(from_onnx(drop)) == ["global_avg_pool", "layout"]


def test_layout_chains_collapse_and_shape_preserving_ones_vanish() -> None:
    nodes = [
        helper.make_node("Reshape", ["x", "s1"], ["a"]),
        helper.make_node("Transpose", ["a"], ["b"], perm=[0, 2, 1]),
        helper.make_node("Transpose", ["b"], ["c"], perm=[0, 2, 1]),
        helper.make_node("Reshape", ["c", "s2"], ["d"]),
        helper.make_node("Relu", ["d"], ["e"]),
        helper.make_node("Flatten", ["e"], ["y"]),
    ]
    m = model(nodes, {"x": (1, 4, 2, 2)}, ["y"], [ints("s1", [1, 4, 4]), ints("s2", [1, 4, 2, 2])])
    g = from_onnx(m)
    assert ops(g) == ["relu", "layout"]
    assert g.nodes[-1].shape == (1, 16)


def test_attention_from_matmul_softmax_matmul() -> None:
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["ss"]),
        helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    m = model(nodes, {"q": (2, 10, 8), "k": (2, 12, 8), "v": (2, 12, 6)}, ["y"], [scalar("scale", 0.35)])
    g = from_onnx(m)
    att = g.nodes[-1]
    assert att.op == "attention" and att.shape == (2, 10, 6)
    assert att.macs == 2 * 10 * 12 * 8 + 2 * 10 * 12 * 6


def test_unknown_and_custom_ops_become_other() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("FancyOp", ["a"], ["b"], domain="com.example", alpha=3),
        helper.make_node("Relu", ["b"], ["y"]),
    ]
    m = model(nodes, {"x": (1, 4)}, ["y"])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    g = from_onnx(m)
    other = g.nodes[2]
    assert other.op == "other" and other.attr("onnx_op") == "FancyOp" and other.attr("domain") == "com.example"
    assert other.attr("onnx_alpha") == 3
    assert ops(g) == ["relu", "other", "relu"]


def test_shape_arithmetic_is_not_architecture() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["r", "shape"], ["y"]),
    ]
    inits = [ints("zero", 0), ints("zero1", [0]), ints("minus1", [-1])]
    inits[0] = numpy_helper.from_array(np.array(0, dtype=np.int64), "zero")
    g = from_onnx(model(nodes, {"x": (1, 3, 4, 4)}, ["y"], inits))
    assert ops(g) == ["relu", "layout"] and g.nodes[-1].shape == (1, 48)


def test_every_op_in_the_vocabulary_is_unique() -> None:
    assert len(set(VOCABULARY)) == len(VOCABULARY) and "other" in VOCABULARY
