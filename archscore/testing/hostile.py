"""A corpus of hostile inputs, each at most 1 MB, built with ``onnx.helper``: what an attacker (or an
unlucky exporter) can send archscore's CLI, HTTP service and MLflow model.

Each case is small on the wire and expensive if taken at face value: model-local functions called
thousands of times (shape inference expands each call), nested functions whose expansion is
exponential, subgraphs, tensors of absurd rank, floods of initializers, outputs or names, long
chains, names carrying terminal markup, external data pointing at server files. A case passes when
it gets a clear error naming the problem (exit 2 / a 4xx / a one-line error) or a correct score, in
bounded time and memory. ``benchmarks/hostile.py`` runs every case against the three front ends;
a test runs a reduced set in CI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]
MAX_CASE_BYTES = 2**20


def _vi(name: str, shape: list[int] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _model(nodes, inputs, outputs, inits=(), functions=(), opsets=OPSET) -> bytes:
    graph = helper.make_graph(list(nodes), "hostile", list(inputs), list(outputs), list(inits))
    return helper.make_model(graph, opset_imports=list(opsets), functions=list(functions)).SerializeToString()


def _chain(n: int, op: str = "Relu", first: str = "x", last: str = "y", prefix: str = "t") -> list[onnx.NodeProto]:
    names = [first, *(f"{prefix}{i}" for i in range(n - 1)), last]
    return [helper.make_node(op, [names[i]], [names[i + 1]]) for i in range(n)]


def function_calls() -> bytes:
    """1,000 top-level calls of one 10,000-node model-local function: 10 M nodes for shape inference."""
    body = _chain(10_000)
    f = helper.make_function("local", "F", ["x"], ["y"], body, OPSET)
    calls = [helper.make_node("F", ["x" if i == 0 else f"o{i - 1}"], [f"o{i}"], domain="local") for i in range(1_000)]
    opsets = [*OPSET, helper.make_opsetid("local", 1)]
    return _model(calls, [_vi("x", [1, 4])], [_vi("o999", None)], functions=[f], opsets=opsets)


def nested_functions() -> bytes:
    """Nine levels of functions, each calling the one below ten times: 10^9 nodes once expanded."""
    functions = [helper.make_function("local", "F0", ["x"], ["y"], _chain(10), OPSET)]
    for level in range(1, 9):
        calls = [
            helper.make_node(
                f"F{level - 1}", ["x" if i == 0 else f"t{i - 1}"], ["y" if i == 9 else f"t{i}"], domain="local"
            )
            for i in range(10)
        ]
        functions.append(helper.make_function("local", f"F{level}", ["x"], ["y"], calls, OPSET))
    top = [helper.make_node("F8", ["x"], ["y"], domain="local")]
    opsets = [*OPSET, helper.make_opsetid("local", 1)]
    return _model(top, [_vi("x", [1, 4])], [_vi("y", None)], functions=functions, opsets=opsets)


def recursive_function() -> bytes:
    """A model-local function that calls itself."""
    body = [helper.make_node("F", ["x"], ["y"], domain="local")]
    f = helper.make_function("local", "F", ["x"], ["y"], body, OPSET)
    opsets = [*OPSET, helper.make_opsetid("local", 1)]
    call = helper.make_node("F", ["x"], ["y"], domain="local")
    return _model([call], [_vi("x", [1])], [_vi("y", None)], functions=[f], opsets=opsets)


def subgraphs() -> bytes:
    """8 If nodes whose branches each hold a 2,600-node chain: 42 k nodes hidden in subgraphs."""
    branch = helper.make_graph(_chain(2_600, first="x"), "b", [], [_vi("y", [1, 4])])
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("ReduceSum", ["r"], ["s"], keepdims=0)]
    nodes.append(helper.make_node("Cast", ["s"], ["c"], to=TensorProto.BOOL))
    nodes += [helper.make_node("If", ["c"], [f"o{i}"], then_branch=branch, else_branch=branch) for i in range(8)]
    return _model(nodes, [_vi("x", [1, 4])], [_vi(f"o{i}", None) for i in range(8)])


def huge_rank() -> bytes:
    """An input of rank 100,000 and 300 Relu nodes on it."""
    return _model(_chain(300), [_vi("x", [1] * 100_000)], [_vi("y", None)])


def rank_by_constant() -> bytes:
    """A rank-50,000 tensor asked for through a Constant shape fed to Expand (no declared rank to check)."""
    shape = helper.make_node("Constant", [], ["shape"], value_ints=[1] * 50_000)
    nodes = [shape, helper.make_node("Expand", ["x", "shape"], ["e"]), *_chain(100, first="e")]
    return _model(nodes, [_vi("x", [1])], [_vi("y", None)])


def initializer_flood() -> bytes:
    """36,000 one-element initializers read by a 9,000-node chain of Adds."""
    inits = [numpy_helper.from_array(np.zeros(1, np.float32), f"c{i}") for i in range(36_000)]
    nodes = [
        helper.make_node("Add", ["x" if i == 0 else f"a{i - 1}", f"c{i}"], ["y" if i == 8_999 else f"a{i}"])
        for i in range(9_000)
    ]
    return _model(nodes, [_vi("x", [1])], [_vi("y", None)], inits)


def long_chain() -> bytes:
    """A chain of 44,000 Relu nodes (about the most a 1 MB file holds)."""
    return _model(_chain(44_000), [_vi("x", [1, 8])], [_vi("y", None)])


def many_outputs() -> bytes:
    """30,000 graph outputs, each a Relu of the input."""
    nodes = [helper.make_node("Relu", ["x"], [f"y{i}"]) for i in range(30_000)]
    return _model(nodes, [_vi("x", [1, 8])], [_vi(f"y{i}", None) for i in range(30_000)])


def markup_names() -> bytes:
    """A valid small network whose node, input and output names carry terminal markup."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "[bold]w[/x]")
    nodes = [
        helper.make_node("Conv", ["[/x]in", "[bold]w[/x]"], ["[red]c"], name="[/x][link=file:///etc]", pads=[1] * 4),
        helper.make_node("Relu", ["[red]c"], ["out[/]"], name="[/red]"),
    ]
    return _model(nodes, [_vi("[/x]in", [1, 3, 8, 8])], [_vi("out[/]", None)], [w])


def external_data() -> bytes:
    """A weight whose data is "stored" in /etc/passwd and in a relative path out of every folder."""
    w = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[8, 3, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "/etc/passwd"), ("offset", "0"), ("length", "864")):
        w.external_data.add(key=key, value=value)
    v = onnx.TensorProto(name="v", data_type=TensorProto.FLOAT, dims=[8])
    v.data_location = TensorProto.EXTERNAL
    v.external_data.add(key="location", value="../../../../../../proc/self/environ")
    nodes = [helper.make_node("Conv", ["x", "w", "v"], ["c"], pads=[1] * 4), helper.make_node("Relu", ["c"], ["y"])]
    return _model(nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], [w, v])


def huge_dims() -> bytes:
    """An input of 2^31 - 1 × 2^31 - 1 elements per channel."""
    return _model(_chain(3), [_vi("x", [1, 3, 2**31 - 1, 2**31 - 1])], [_vi("y", None)])


def nested_protobuf() -> bytes:
    """Subgraphs nested 30 deep (near protobuf's own recursion limit)."""
    leaf = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "leaf", [], [_vi("y", [1])])
    graph = leaf
    for _ in range(30):
        node = helper.make_node("If", ["c"], ["y"], then_branch=graph, else_branch=leaf)
        graph = helper.make_graph([node], "level", [], [_vi("y", [1])])
    top = helper.make_node("If", ["c"], ["y"], then_branch=graph, else_branch=leaf)
    return _model([top], [helper.make_tensor_value_info("c", TensorProto.BOOL, [])], [_vi("y", None)])


def not_onnx() -> bytes:
    """Random bytes."""
    return np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()


def truncated() -> bytes:
    """A real network cut in the middle."""
    data = long_chain()
    return data[: len(data) // 3]


def empty() -> bytes:
    return b""


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    valid: bool = False
    """A valid network: it must be scored, not refused."""

    @property
    def doc(self) -> str:
        return (self.build.__doc__ or self.name).strip().splitlines()[0]


CASES = (
    Case("function_calls", function_calls),
    Case("nested_functions", nested_functions),
    Case("recursive_function", recursive_function),
    Case("subgraphs", subgraphs),
    Case("huge_rank", huge_rank),
    Case("rank_by_constant", rank_by_constant),
    Case("initializer_flood", initializer_flood),
    Case("long_chain", long_chain),
    Case("many_outputs", many_outputs),
    Case("markup_names", markup_names, valid=True),
    Case("external_data", external_data, valid=True),
    Case("huge_dims", huge_dims),
    Case("nested_protobuf", nested_protobuf),
    Case("not_onnx", not_onnx),
    Case("truncated", truncated),
    Case("empty", empty),
)
"""Every hostile case, by name."""

QUICK = ("function_calls", "nested_functions", "huge_rank", "rank_by_constant", "markup_names", "external_data")
"""The reduced set CI runs."""


def cases(names: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """The serialized cases (all, or those named), each checked to be at most 1 MB."""
    out = {}
    for case in CASES:
        if names is None or case.name in names:
            data = case.build()
            if len(data) > MAX_CASE_BYTES:
                raise AssertionError(f"hostile case {case.name} is {len(data):,} bytes, above 1 MB")
            out[case.name] = data
    return out
