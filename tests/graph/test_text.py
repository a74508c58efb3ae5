"""Text descriptions are deterministic and injective; JSON round-trips losslessly."""

from __future__ import annotations

import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

from archscore.graph import ArchGraph, from_onnx
from archscore.graph.archgraph import Node
from archscore.testing.onnx_build import model, weight

C, HW = 4, 6
UNARY = ["Relu", "Sigmoid", "Tanh", "MaxPool", "AveragePool", "Conv1", "Conv3", "Conv5", "ConvDW"]
BINARY = ["Add", "Mul", "Concat"]


@st.composite
def random_net(draw, max_nodes: int = 8) -> list[tuple[str, list[int]]]:
    """A random small DAG: (op, input indices) per node, over tensors of shape 1×C×HW×HW."""
    n = draw(st.integers(1, max_nodes))
    spec: list[tuple[str, list[int]]] = []
    for i in range(n):
        available = i + 1  # tensor 0 is the input
        if available >= 2 and draw(st.booleans()):
            op = draw(st.sampled_from(BINARY))
            a = draw(st.integers(0, available - 1))
            b = draw(st.integers(0, available - 1).filter(lambda v, a=a: v != a))
            spec.append((op, [a, b]))
        else:
            spec.append((draw(st.sampled_from(UNARY)), [draw(st.integers(0, available - 1))]))
    return spec


def to_onnx(spec: list[tuple[str, list[int]]], order: list[int] | None = None) -> onnx.ModelProto:
    nodes, inits = [], []
    name = ["x"] + [f"t{i}" for i in range(len(spec))]
    for i, (op, ins) in enumerate(spec):
        src = [name[k] for k in ins]
        out = name[i + 1]
        if op.startswith("Conv"):
            k = 3 if op == "ConvDW" else int(op[4:])
            group = C if op == "ConvDW" else 1
            inits.append(weight(f"w{i}", C, C // group, k, k, seed=i))
            nodes.append(
                helper.make_node("Conv", [src[0], f"w{i}"], [out], kernel_shape=[k, k], pads=[k // 2] * 4, group=group)
            )
        elif op in ("MaxPool", "AveragePool"):
            nodes.append(helper.make_node(op, src, [out], kernel_shape=[3, 3], pads=[1] * 4))
        elif op == "Concat":
            inits.append(weight(f"w{i}", C, 2 * C, 1, 1, seed=i))
            nodes.append(helper.make_node("Concat", src, [f"c{i}"], axis=1))
            nodes.append(helper.make_node("Conv", [f"c{i}", f"w{i}"], [out], kernel_shape=[1, 1]))
        else:
            nodes.append(helper.make_node(op, src, [out]))
    used = {k for _, ins in spec for k in ins}
    outputs = [name[i + 1] for i in range(len(spec)) if i + 1 not in used]
    if order is not None:
        nodes = [nodes[i] for i in order if i < len(nodes)] + [nodes[i] for i in range(len(nodes)) if i not in order]
    return model(nodes, {"x": (1, C, HW, HW)}, outputs, inits)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(random_net(), random_net())
def test_different_graphs_never_share_a_text(a, b) -> None:
    ga, gb = from_onnx(to_onnx(a)), from_onnx(to_onnx(b))
    assert (ga.to_text() == gb.to_text()) == (ga == gb)


@SETTINGS
@given(random_net(), st.randoms(use_true_random=False))
def test_text_does_not_depend_on_node_order_in_the_file(spec, rnd) -> None:
    onnx_nodes = len(to_onnx(spec).graph.node)
    order = list(range(onnx_nodes))
    rnd.shuffle(order)
    assert from_onnx(to_onnx(spec, order)).to_text() == from_onnx(to_onnx(spec)).to_text()


@SETTINGS
@given(random_net())
def test_json_round_trip_is_lossless(spec) -> None:
    g = from_onnx(to_onnx(spec))
    back = ArchGraph.from_json(g.to_json())
    assert back == g and back.to_text() == g.to_text() and back.meta == g.meta


def test_single_attribute_changes_change_the_text() -> None:
    base = from_onnx(to_onnx([("Conv3", [0]), ("Relu", [1])]))
    variants = ([("Conv5", [0]), ("Relu", [1])], [("Conv3", [0]), ("Sigmoid", [1])], [("ConvDW", [0]), ("Relu", [1])])
    for other in variants:
        assert from_onnx(to_onnx(other)).to_text() != base.to_text()


def test_text_names_every_read_tensor_and_output_shape() -> None:
    g = from_onnx(to_onnx([("Relu", [0]), ("Sigmoid", [0]), ("Add", [1, 2])]))
    lines = g.to_text().splitlines()
    assert lines[0] == "archscore-graph v1"
    assert lines[-2].startswith("%3 = add(%1, %2) -> [1,4,6,6]")
    assert lines[-1] == "return %3"


def test_graph_structure_is_validated_on_construction() -> None:
    import pytest

    from archscore.errors import InvalidModelError

    with pytest.raises(InvalidModelError, match="not an earlier node"):
        ArchGraph((Node("input", outputs=((1,),)), Node("relu", inputs=((5, 0),), outputs=((1,),))), ((1, 0),))
    with pytest.raises(InvalidModelError, match="unknown op"):
        ArchGraph((Node("banana"),), ())
    with pytest.raises(InvalidModelError, match="malformed"):
        ArchGraph.from_dict({"format": 1, "nodes": [{"op": "input"}], "outputs": []})


def test_arrays_hold_ops_edges_and_costs() -> None:
    g = from_onnx(to_onnx([("Conv3", [0]), ("Relu", [1]), ("Add", [0, 2])]))
    arr = g.to_arrays()
    assert arr["op"].shape == (len(g),)
    assert arr["edge_index"].shape == (2, len(g.edges))
    assert int(arr["macs"].sum()) == g.total_macs and int(arr["params"].sum()) == g.total_params
    assert np.all(arr["edge_index"][0] < arr["edge_index"][1])
