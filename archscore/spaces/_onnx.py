"""A small builder of ONNX networks with ``onnx.helper``: every search space emits its networks with it.

Networks come out weight-free by default: each learned tensor is a typed graph input after the
data input ``x`` (as ``torch.onnx.export(..., export_params=False)`` writes them), so a network of
any size is built in milliseconds and parses exactly like one with its weights. With a
``numpy.random.Generator`` the weights are embedded as initializers instead, and the file runs
in any ONNX runtime. Networks are written in inference form, as ``torch.onnx.export`` writes a
module in eval mode: a BatchNorm that follows a convolution is folded into it.

A finished :class:`Network` gives the ONNX model, or its ArchGraph directly: the builder keeps its
own record of the nodes, so the parser need not read back and re-check what it wrote.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from archscore.graph import ArchGraph
from archscore.graph.canonical import canonicalize
from archscore.graph.parse import RawGraph, RawNode, decode_attribute, read_built

OPSET = 17
IR_VERSION = 8
PRODUCER = "archscore.spaces"
FLOAT = TensorProto.FLOAT


class NetBuilder:
    """Append layers to an ONNX graph; every method returns the name of its output tensor.

    The builder records the network as plain Python (the parser's :class:`RawNode` for each node,
    the numpy value of each initializer, the type of each graph input); protobuf messages are made
    only when :meth:`Network.model` asks for the ONNX model. Going straight to the ArchGraph
    (:meth:`Network.graph`) never builds them.
    """

    def __init__(
        self, input_shape: Sequence[int], *, rng: np.random.Generator | None = None, input_type: int = FLOAT
    ) -> None:
        self.raw_nodes: list[RawNode] = []
        """The nodes as the parser reads them (see :meth:`Network.graph`)."""
        self.settings: list[tuple[tuple[str, object], ...]] = []
        """Each node's attributes as given (name, value), for its ``NodeProto``."""
        self.inputs: dict[str, tuple[list[int], int]] = {"x": (list(input_shape), input_type)}
        """Graph inputs in order, name → (dims, element type): data inputs first, then weights."""
        self.initializers: dict[str, np.ndarray] = {}
        self.rng = rng
        self._count = 0

    def _name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}_{self._count}"

    def data_input(self, name: str, shape: Sequence[int], elem: int = FLOAT) -> str:
        """Declare a further data input (edge lists, recurrent states …); call before the first weight."""
        self.inputs[name] = (list(shape), elem)
        return name

    def weight(self, kind: str, shape: Sequence[int], fill: float | None = None) -> str:
        """A learned tensor: a graph input (weight-free) or a random/filled initializer."""
        name = self._name(kind)
        if self.rng is None:
            self.inputs[name] = (list(shape), FLOAT)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            self.initializers[name] = (
                np.full(shape, fill, dtype=np.float32)
                if fill is not None
                else self.rng.normal(0.0, (2.0 / max(fan_in, 1)) ** 0.5, size=shape).astype(np.float32)
            )
        return name

    def constant(self, value: np.ndarray | float, kind: str = "const") -> str:
        name = self._name(kind)
        self.initializers[name] = _array(value, np.float32)
        return name

    def ints(self, values: Sequence[int] | int) -> str:
        """A small int64 constant (slice bounds, axes …; a scalar for an ``int``)."""
        name = self._name("ints")
        self.initializers[name] = _array(values, np.int64)
        return name

    def node(self, op: str, inputs: Sequence[str], kind: str | None = None, **attrs: object) -> str:
        out = self._name(kind or op.lower())
        settings = tuple([(k, tuple(v) if type(v) is list else v) for k, v in sorted(attrs.items())]) if attrs else ()
        self.raw_nodes.append(RawNode(op, "", out, list(inputs), [out], _decoded(settings)))
        self.settings.append(settings)
        return out

    # -- layers ------------------------------------------------------------------------------
    def conv(
        self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None, *,
        groups: int = 1, bias: bool = False,
    ) -> str:  # fmt: skip
        pad = k // 2 if pad is None else pad
        ins = [x, self.weight("w", (cout, cin // groups, k, k))]
        if bias:
            ins.append(self.weight("b", (cout,), fill=0.0))
        return self.node("Conv", ins, "conv", kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4, group=groups)

    def conv_bn(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None) -> str:
        """Convolution then BatchNorm, in inference form: the BatchNorm folded into the convolution's bias.

        This is what ``torch.onnx.export`` writes for a conv–BN pair of a module in eval mode, and
        the ArchGraph is the same either way; it is two graph inputs and a node fewer per layer.
        """
        return self.conv(x, cin, cout, k, stride, pad, bias=True)

    def batch_norm(self, x: str, c: int) -> str:
        ins = [x, self.weight("gamma", (c,), 1.0), self.weight("beta", (c,), 0.0)]
        ins += [self.weight("mean", (c,), 0.0), self.weight("var", (c,), 1.0)]
        return self.node("BatchNormalization", ins, "bn", epsilon=1e-5)

    def relu(self, x: str) -> str:
        return self.node("Relu", [x])

    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b])

    def mul_zero(self, x: str) -> str:
        """``x · 0``: the ``none`` edge of NAS cells, as the benchmarks' code computes it."""
        return self.node("Mul", [x, self.constant(0.0, "zero")], "zero")

    def avg_pool(self, x: str, k: int, stride: int, pad: int, count_include_pad: bool = False) -> str:
        return self.node(
            "AveragePool", [x], kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4,
            count_include_pad=int(count_include_pad),
        )  # fmt: skip

    def max_pool(self, x: str, k: int, stride: int, pad: int) -> str:
        return self.node("MaxPool", [x], kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4)

    def concat(self, xs: Sequence[str], axis: int = 1) -> str:
        return self.node("Concat", list(xs), axis=axis)

    def global_avg_pool(self, x: str) -> str:
        return self.node("GlobalAveragePool", [x], "gap")

    def flatten(self, x: str) -> str:
        return self.node("Flatten", [x], axis=1)

    def linear(self, x: str, cin: int, cout: int) -> str:
        w, b = self.weight("fc_w", (cout, cin)), self.weight("fc_b", (cout,), 0.0)
        return self.node("Gemm", [x, w, b], "fc", transB=1)

    def network(self, outputs: str | Sequence[str], name: str, doc: str = "") -> Network:
        """The finished network returning ``outputs`` (one tensor name or several)."""
        return Network(self, [outputs] if isinstance(outputs, str) else list(outputs), name, doc)


@dataclass(frozen=True)
class Network:
    """A network a search space built: as an ONNX model, or straight to its ArchGraph."""

    builder: NetBuilder
    outputs: list[str]
    name: str
    doc: str = ""

    def model(self) -> onnx.ModelProto:
        b = self.builder
        nodes = [node_proto(n, settings) for n, settings in zip(b.raw_nodes, b.settings)]
        inputs = [helper.make_tensor_value_info(name, elem, dims) for name, (dims, elem) in b.inputs.items()]
        outputs = [helper.make_tensor_value_info(o, FLOAT, None) for o in self.outputs]
        initializers = [numpy_helper.from_array(value, name) for name, value in b.initializers.items()]
        graph = helper.make_graph(nodes, self.name, inputs, outputs, initializers)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=PRODUCER, doc_string=self.doc
        )
        model.ir_version = IR_VERSION
        return model

    def graph(self, data_inputs: Sequence[str] = ("x",)) -> ArchGraph:
        """The canonical ArchGraph, equal to ``from_onnx(self.model(), data_inputs=...)`` and faster.

        The builder's own record of the network goes to the parser's trusted path
        (:func:`~archscore.graph.parse.read_built`): no ONNX model is made, the checks and decoding
        meant for foreign files are skipped; ONNX shape inference and the canonical form are the same.
        """
        return canonicalize(self.raw_graph(data_inputs))

    def raw_graph(self, data_inputs: Sequence[str] = ("x",)) -> RawGraph:
        """The network read on the parser's trusted path, ready for the canonical form (see :meth:`graph`)."""
        b = self.builder
        return read_built(
            list(b.raw_nodes), data_inputs, b.inputs, b.initializers, self.outputs, producer=PRODUCER, opset=OPSET,
            ir_version=IR_VERSION, protos=lambda k: node_proto(b.raw_nodes[k], b.settings[k]),
        )  # fmt: skip


def node_proto(n: RawNode, settings: Sequence[tuple[str, object]]) -> onnx.NodeProto:
    """The ``NodeProto`` of a node the builder recorded, with its attributes as given."""
    node = onnx.NodeProto(op_type=n.op_type, input=n.inputs, output=n.outputs, name=n.name)
    node.attribute.extend([_attribute(k, v) for k, v in settings])
    return node


@functools.lru_cache(maxsize=1024, typed=True)
def _attribute(name: str, value: object) -> onnx.AttributeProto:
    """One attribute proto per distinct setting (networks repeat the same layers); copied into each node."""
    return helper.make_attribute(name, list(value) if isinstance(value, tuple) else value)


@functools.lru_cache(maxsize=4096)
def _decoded(settings: tuple[tuple[str, object], ...]) -> dict[str, object]:
    """Attributes as the parser decodes them (floats rounded to float32, as ONNX stores them); shared, never changed."""
    return {k: value for k, v in settings if (value := decode_attribute(_attribute(k, v))) is not None}


def _array(value: object, dtype: type) -> np.ndarray:
    """A small constant as an array; one read-only array per value (networks repeat their axes, bounds, scalars)."""
    if isinstance(value, list):
        value = tuple(value)
    try:
        return _shared_array(value, dtype)
    except TypeError:  # an array (or a list of them): not shared
        return np.asarray(value, dtype=dtype)


@functools.lru_cache(maxsize=4096, typed=True)
def _shared_array(value: object, dtype: type) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    array.flags.writeable = False
    return array
