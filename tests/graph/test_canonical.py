"""The same network exported in different ways gives the same ArchGraph, with exact totals."""

from __future__ import annotations

import functools
import logging

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from torch.fx.experimental.optimization import fuse  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archscore.graph import from_onnx  # noqa: E402
from archscore.testing.zoo import EXPORTS, ZOO, RecurrentNet, ViTSmall, build, export  # noqa: E402

logging.getLogger("torch.onnx").setLevel(logging.ERROR)
FAST_EXPORTS = [how for how in EXPORTS if how != "dynamo"]


@functools.cache
def exported(name: str, how: str) -> bytes:
    module, x = build(name)
    return export(module, x, how)


@functools.cache
def graph(name: str, how: str):
    return from_onnx(exported(name, how))


def expected_params(name: str) -> int:
    """The PyTorch module's parameter count, after conv–BatchNorm fusion where it has any."""
    module, _ = build(name)
    if any(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules()):
        module = fuse(module)
    return sum(p.numel() for p in module.parameters())


def expected_macs(name: str) -> int:
    """MACs from torch.utils.flop_counter, plus by hand what it does not see on CPU: recurrent cells
    and the scaled-dot-product-attention kernel (QKᵀ and AV: 2·N²·dim per block)."""
    module, x = build(name)
    if isinstance(module, RecurrentNet):
        seq, feat = x.shape[1], x.shape[2]
        h = module.lstm.hidden_size
        return seq * 4 * h * (feat + h) + seq * 3 * h * (h + h) + h * module.fc.out_features
    counter = FlopCounterMode(display=False)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused MHA kernel is invisible to the counter
    try:
        with counter, torch.no_grad():
            module(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    macs = counter.get_total_flops() // 2
    if isinstance(module, ViTSmall):
        tokens = module.pos.shape[1]
        dim = module.pos.shape[2]
        macs += len(module.blocks) * 2 * tokens * tokens * dim
    return macs


@pytest.mark.parametrize("how", FAST_EXPORTS[1:])
@pytest.mark.parametrize("name", list(ZOO))
def test_export_variants_give_the_same_graph(name: str, how: str) -> None:
    reference = graph(name, "legacy")
    other = graph(name, how)
    assert other.to_text() == reference.to_text()
    assert other == reference


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ZOO))
def test_dynamo_and_legacy_exporters_give_the_same_graph(name: str) -> None:
    assert graph(name, "dynamo").to_text() == graph(name, "legacy").to_text()


@pytest.mark.parametrize("name", list(ZOO))
def test_parameters_equal_the_fused_pytorch_module(name: str) -> None:
    assert graph(name, "legacy").total_params == expected_params(name)


@pytest.mark.parametrize("name", list(ZOO))
def test_macs_match_the_flop_counter(name: str) -> None:
    ours = graph(name, "legacy").total_macs
    assert ours == pytest.approx(expected_macs(name), rel=0.01)


def test_unfused_batchnorm_counts_its_own_parameters() -> None:
    """DenseNet's pre-activation BatchNorms cannot fold into a convolution and keep 2C parameters."""
    g = graph("densenet", "legacy")
    norms = [n for n in g.nodes if n.op == "batch_norm"]
    assert len(norms) == 8
    assert all(n.params == 2 * n.shape[1] for n in norms)


def test_ops_the_networks_are_built_from_are_recognised() -> None:
    ops = {name: {n.op for n in graph(name, "legacy").nodes} for name in ZOO}
    assert {"conv", "relu", "add", "global_avg_pool", "linear"} <= ops["resnet"]
    assert {"dwconv", "relu6", "hardswish", "silu"} <= ops["mobilenetv2"]
    assert {"attention", "layer_norm", "gelu", "concat", "layout"} <= ops["vit"]
    assert {"concat", "batch_norm", "avg_pool"} <= ops["densenet"]
    assert {"linear", "relu", "tanh"} <= ops["mlp"]
    assert {"lstm", "gru"} <= ops["rnn"]
    assert not any("other" in o for o in ops.values())


def test_path_bytes_and_modelproto_parse_alike(tmp_path) -> None:
    import onnx

    data = exported("resnet", "legacy")
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    proto = onnx.load_from_string(data)
    assert from_onnx(path) == from_onnx(data) == from_onnx(proto) == from_onnx(str(path))


def test_commutative_inputs_are_ordered_canonically() -> None:
    import onnx
    from onnx import helper

    from archscore.testing.onnx_build import model, weight

    def residual(swap: bool) -> onnx.ModelProto:
        add = ["x", "r"] if swap else ["r", "x"]
        return model(
            [
                helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1] * 4),
                helper.make_node("Relu", ["c"], ["r"]),
                helper.make_node("Add", add, ["y"]),
            ],
            {"x": (1, 4, 8, 8)},
            ["y"],
            [weight("w", 4, 4, 3, 3)],
        )

    assert from_onnx(residual(False)) == from_onnx(residual(True))


def test_node_order_in_the_file_does_not_matter() -> None:
    from onnx import helper

    from archscore.testing.onnx_build import model, weight

    def branches(order: list[int]):
        nodes = [
            helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]),
            helper.make_node("Conv", ["x", "w3"], ["b"], kernel_shape=[3, 3], pads=[1] * 4),
            helper.make_node("Relu", ["a"], ["ra"]),
            helper.make_node("Sigmoid", ["b"], ["sb"]),
            helper.make_node("Concat", ["ra", "sb"], ["y"], axis=1),
        ]
        return model(
            [nodes[i] for i in order], {"x": (1, 4, 8, 8)}, ["y"], [weight("w1", 4, 4, 1, 1), weight("w3", 4, 4, 3, 3)]
        )

    assert from_onnx(branches([0, 1, 2, 3, 4])).to_text() == from_onnx(branches([1, 3, 0, 2, 4])).to_text()


@pytest.mark.parametrize("factor", [0.0, 0.5])
def test_multiplying_by_zero_is_not_a_skip_connection(factor: float) -> None:
    """NAS-Bench-201's ``none`` edge is exported as ``x.mul(0.)``: it must not read as ``skip_connect``."""
    from onnx import helper

    from archscore.testing.onnx_build import model

    def cell(scale: float | None):
        nodes = [helper.make_node("Relu", ["x"], ["r"])]
        if scale is None:
            nodes.append(helper.make_node("Add", ["r", "x"], ["y"]))
        else:
            nodes += [
                helper.make_node("Constant", [], ["k"], value=helper.make_tensor("k", 1, [], [scale])),
                helper.make_node("Mul", ["x", "k"], ["z"]),
                helper.make_node("Add", ["r", "z"], ["y"]),
            ]
        return from_onnx(model(nodes, {"x": (1, 4, 8, 8)}, ["y"], []))

    skip, scaled = cell(None), cell(factor)
    if factor == 0.0:
        assert scaled != skip
        assert [n.op for n in scaled.nodes].count("zero") == 1
    else:  # scaling by a non-zero constant is a pass-through (as attention scaling is)
        assert scaled == skip


@pytest.mark.parametrize("as_proto", [False, True])
def test_stale_shape_annotations_do_not_contradict_a_new_input_shape(as_proto: bool) -> None:
    """Exporters write value_info and output shapes for the shape they traced; a new input shape wins."""
    from onnx import TensorProto, helper

    from archscore.testing.onnx_build import model, weight

    m = model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1] * 4),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        {"x": ("batch", 4, 8, 8)},
        ["y"],
        [weight("w", 4, 4, 3, 3)],
    )
    m.graph.value_info.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 4, 8, 8]))
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8]))
    src = m if as_proto else m.SerializeToString()
    g = from_onnx(src, input_shapes={"x": (2, 4, 16, 16)})
    assert g.nodes[-1].outputs == ((2, 4, 16, 16),)
    if as_proto:
        assert len(m.graph.value_info) == 1  # the caller's ModelProto is left as it was


def test_duplicate_parameter_free_ops_are_one_node() -> None:
    """Two ReLUs of one tensor feeding two convolutions equal one shared ReLU (TorchScript's CSE)."""
    from onnx import helper

    from archscore.testing.onnx_build import model, weight

    def branches(shared: bool):
        relu_b = "ra" if shared else "rb"
        nodes = [helper.make_node("Relu", ["x"], ["ra"])]
        if not shared:
            nodes.append(helper.make_node("Relu", ["x"], ["rb"]))
        nodes += [
            helper.make_node("Conv", ["ra", "w1"], ["a"], kernel_shape=[1, 1]),
            helper.make_node("Conv", [relu_b, "w2"], ["b"], kernel_shape=[1, 1]),
            helper.make_node("Add", ["a", "b"], ["y"]),
        ]
        return from_onnx(model(nodes, {"x": (1, 4, 8, 8)}, ["y"], [weight("w1", 4, 4, 1, 1), weight("w2", 4, 4, 1, 1)]))

    merged = branches(shared=False)
    assert merged == branches(shared=True)
    assert [n.op for n in merged.nodes].count("relu") == 1 and [n.op for n in merged.nodes].count("conv") == 2


def test_count_include_pad_only_matters_with_padding() -> None:
    from onnx import helper

    from archscore.testing.onnx_build import model

    def pool(include: int, pad: int):
        node = helper.make_node(
            "AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[pad] * 4, count_include_pad=include
        )
        return from_onnx(model([node], {"x": (1, 4, 8, 8)}, ["y"]))

    assert pool(0, 0) == pool(1, 0)
    assert pool(0, 1) != pool(1, 1)


class _Shuffle(torch.nn.Module):
    """ShuffleNet's channel shuffle: same shape in and out, but every channel moves."""

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class _RoundTrip(torch.nn.Module):
    """NCHW → NHWC → NCHW: a layout chain that moves nothing."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)


class _HardSwishByHand(torch.nn.Module):
    """Once-for-All's h-swish, ``x * relu6(x + 3) / 6``."""

    def forward(self, x):
        return x * torch.nn.functional.relu6(x + 3.0) / 6.0


class _HardSigmoidByHand(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.relu6(x + 3.0) / 6.0


class _MeanMean(torch.nn.Module):
    """Once-for-All's global pooling, one spatial axis at a time."""

    def forward(self, x):
        return x.mean(3, keepdim=True).mean(2, keepdim=True)


def _after_conv(tail: torch.nn.Module, how: str = "legacy"):
    module = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 1, groups=2), tail).eval()
    return from_onnx(export(module, torch.randn(1, 8, 4, 4), how))


@pytest.mark.parametrize(
    ("tail", "same_as", "different_from"),
    [
        (_Shuffle(), None, torch.nn.Identity()),
        (_RoundTrip(), torch.nn.Identity(), None),
        (_HardSwishByHand(), torch.nn.Hardswish(), torch.nn.ReLU6()),
        (_HardSigmoidByHand(), torch.nn.Hardsigmoid(), torch.nn.ReLU6()),
        (_MeanMean(), torch.nn.AdaptiveAvgPool2d(1), None),
    ],
    ids=["channel-shuffle", "layout-round-trip", "hardswish", "hardsigmoid", "mean-of-means"],
)
def test_hand_written_forms_read_as_what_they_compute(tail, same_as, different_from) -> None:
    """Layout chains are identities only when no element moves; relu6(x + 3) is a hard sigmoid;
    a mean over each spatial axis in turn is global pooling."""
    graph = _after_conv(tail)
    if same_as is not None:
        assert graph == _after_conv(same_as)
    if different_from is not None:
        assert graph != _after_conv(different_from)
    if isinstance(tail, _Shuffle):
        assert [n.op for n in graph.nodes][-1] == "layout"


@pytest.mark.parametrize("masked", [False, True])
def test_attention_with_a_mask_on_its_scores_is_one_attention_node(masked: bool) -> None:
    """A causal mask added between ``QKᵀ`` and the softmax keeps the block one node, the mask its 4th input."""
    import numpy as np
    from onnx import helper, numpy_helper

    from archscore.testing.onnx_build import model

    scores = "s"
    nodes = [helper.make_node("MatMul", ["q", "k"], ["s"])]
    inits = []
    if masked:
        nodes.append(helper.make_node("Add", ["s", "mask"], ["sm"]))
        inits.append(numpy_helper.from_array(np.triu(np.full((4, 4), -1e9, np.float32), 1), "mask"))
        scores = "sm"
    nodes += [helper.make_node("Softmax", [scores], ["p"], axis=-1), helper.make_node("MatMul", ["p", "v"], ["y"])]
    g = from_onnx(model(nodes, {"q": (2, 4, 8), "k": (2, 8, 4), "v": (2, 4, 8)}, ["y"], inits))
    ops = [n.op for n in g.nodes if n.op != "input"]
    assert ops == ["attention"]
    assert len(g.nodes[-1].inputs) == (4 if masked else 3)
    assert g.total_macs == 2 * (2 * 4 * 4 * 8)  # QKᵀ and AV


def test_two_different_slices_of_one_tensor_stay_two_nodes() -> None:
    """Equal parameter-free ops on one tensor are merged, but two layout chains only when they move the
    same elements: rows 0–1 and rows 0–2 (or a fused projection's q and v) are different tensors."""
    import numpy as np
    from onnx import helper, numpy_helper

    from archscore.testing.onnx_build import model

    def graph(rows_b: list[int]):
        nodes = [
            helper.make_node("Gather", ["x", "ia"], ["ga"], axis=0),
            helper.make_node("Relu", ["ga"], ["ra"]),
            helper.make_node("Gather", ["x", "ib"], ["gb"], axis=0),
            helper.make_node("Relu", ["gb"], ["rb"]),
        ]
        inits = [numpy_helper.from_array(np.array(r, np.int64), n) for r, n in (([0, 1], "ia"), (rows_b, "ib"))]
        return from_onnx(model(nodes, {"x": (4, 3)}, ["ra", "rb"], inits))

    for rows_b, layouts in (([0, 1], 1), ([2, 3], 2), ([0, 1, 2], 2)):
        g = graph(rows_b)
        assert sum(n.op == "layout" for n in g.nodes) == layouts, rows_b
        for n in g.nodes:  # every node's input shape is the shape its producer makes
            if n.op == "relu":
                ((src, slot),) = n.inputs
                assert g.nodes[src].outputs[slot] == n.outputs[0]
