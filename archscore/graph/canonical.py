"""Turn a raw ONNX graph into the canonical :class:`ArchGraph`.

Exporters spell one network many ways. The canonical form removes every difference that does
not change the architecture:

* shape arithmetic (Shape/Gather/Unsqueeze/Concat/Constant … feeding Reshape and friends) and
  any computation on constants only (weight transposes, gate reordering) is not architecture:
  it is dropped, and the learned tensors it reads are credited to the node that uses them;
* Identity, Dropout, Cast and elementwise arithmetic with a scalar constant (attention scaling)
  are pass-throughs, except multiplication by zero, which is a ``zero`` node (the ``none`` edge of
  NAS cells: it keeps the edge and its shape but passes nothing on);
* a chain of layout ops (Reshape/Transpose/Flatten/Squeeze/Unsqueeze/Slice/Gather/Split/Expand)
  becomes one ``layout`` node per tensor leaving the chain, and disappears if it keeps the shape
  and moves no element (a channel shuffle keeps the shape but is not an identity);
* BatchNorm after a convolution is folded into it (as every exporter does by default);
  ``Gemm`` and ``MatMul`` + bias ``Add`` are both ``linear``; ``x * sigmoid(x)`` is ``silu``,
  ``x * erf(x)``-style GELU is ``gelu``, ``relu6(x + 3) / 6`` is ``hardsigmoid`` and
  ``x * hardsigmoid(x)`` is ``hardswish``; ``MatMul → [Add(mask) →] Softmax → MatMul`` is
  ``attention`` (a mask its 4th input); a spatial ReduceMean, or one per spatial axis in turn, is
  global pooling;
* equal parameter-free ops on the same tensors are one node (exporters' CSE differs);
* nodes are ordered by a structural hash (ancestors and descendants), not by export order, and
  the inputs of commutative ops are sorted.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from archscore.errors import InvalidModelError
from archscore.graph.archgraph import CONST, ArchGraph, Node, Shape, numel
from archscore.graph.ops import COMMUTATIVE, DIRECT, LAYOUT, META_SOURCES, PARAMETRIC, REDUCE, UNARY
from archscore.graph.parse import RawGraph, RawNode, buffer_slot

STANDARD_DOMAINS = ("", "ai.onnx")
PASS_THROUGH = frozenset({"Identity", "Dropout", "Cast", "CastLike"})
SCALAR_FREE = frozenset({"Add", "Sub", "Mul", "Div"})
_PLAIN_DIRECT = frozenset(
    {"Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "HardSwish", "Mish", "Add", "Sub", "Mul", "Div",
     "GlobalAveragePool", "GlobalMaxPool"}
)  # fmt: skip
"""ONNX ops that become their canonical op unchanged when every input is data."""


@dataclass(eq=False, slots=True)
class _W:
    """A working node: canonical op over ONNX tensor names."""

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, object] = field(default_factory=dict)
    params: int = 0
    weight_params: int = 0
    steps: tuple = ()
    """For a collapsed layout chain: what each step did (op, permutation, constant operands, shape),
    so that two chains from one tensor are merged only when they move the same elements."""


def _pos_axis(axis: int, rank: int | None) -> int:
    return axis + rank if (axis < 0 and rank) else axis


_CONV_MEMO: dict[tuple, tuple[str, dict[str, object]]] = {}
"""Convolution settings (op, attributes, input and weight shapes, bias) → canonical op and attributes."""
_MEMO_LIMIT = 50_000
_LABELS: dict[tuple, bytes] = {}
"""(op, attributes, output shapes) → the bytes a node's hash starts with; networks repeat their layers."""
_CONST_PIECES: dict[Shape | None, bytes] = {}
"""Shape of a constant operand → how a reader hashes it."""
_ATTR_TUPLES: dict[tuple, tuple] = {}
"""A node's attribute items → its sorted plain attribute tuple (see :func:`_attr_tuple`)."""

_MAX_TRACKED = 1 << 22
"""Largest tensor (elements) whose element order is followed through a layout chain with a Transpose."""


class _Builder:
    def __init__(self, raw: RawGraph) -> None:
        self.raw = raw
        self.shapes = raw.shapes
        self.values = raw.values
        self.meta: set[str] = set(raw.constants) | {""}
        self.srcs: dict[str, frozenset[str]] = {name: frozenset({name}) for name in raw.param_numel}
        self.alias: dict[str, str] = {}
        self.shifts: dict[str, float | None] = {}  # output of x + c (a pass-through) → c
        self.shift_in: float | None = None  # c, when the Clip being converted reads x + c
        self.nodes: list[_W] = []
        self.fresh = 0

    # -- helpers ----------------------------------------------------------------------------
    def r(self, name: str) -> str:
        """Resolve aliases (pass-through nodes removed)."""
        seen = name
        while seen in self.alias:
            seen = self.alias[seen]
        if seen != name:
            self.alias[name] = seen
        return seen

    def resolve(self, w: _W) -> None:
        """Point ``w``'s inputs past removed pass-through nodes."""
        if self.alias and not self.alias.keys().isdisjoint(w.inputs):
            w.inputs = [self.r(i) for i in w.inputs]

    def shape(self, name: str) -> Shape | None:
        return self.shapes.get(self.r(name))

    def rank(self, name: str) -> int | None:
        s = self.shape(name)
        return None if s is None else len(s)

    def claim(self, names: Sequence[str]) -> int:
        """Learned parameters a node reads through the constant tensors ``names``.

        Each tensor counts the smaller of its own size and the size of the learned tensors it is
        computed from: a slice of a packed weight counts the slice, a broadcast (expanded) token
        counts the token. Exporters merge equal-valued initializers (common in an untrained
        network), so a tensor read by several nodes counts once per reader.
        """
        total = 0
        for name in names:
            srcs = self.srcs.get(name)
            if srcs:
                size = numel(self.shapes.get(name))
                learned = sum(self.raw.param_numel[s] for s in srcs)
                total += learned if size < 0 else min(size, learned)
        return total

    def value(self, name: str) -> np.ndarray | None:
        return self.values.get(name) if name else None

    def scalar(self, name: str) -> float | None:
        v = self.value(name)
        if v is None or v.size != 1:
            return None
        return float(v.reshape(()))

    def new_tensor(self, shape: Shape | None) -> str:
        self.fresh += 1
        name = f"\x00archscore:{self.fresh}"
        self.shapes[name] = shape
        return name

    def emit(self, op: str, inputs: list[str], outputs: list[str], attrs: dict | None = None, params: int = 0) -> _W:
        w = _W(op, inputs, outputs, attrs or {}, params)
        self.nodes.append(w)
        return w

    # -- pass 1: drop constant computation, convert the rest ---------------------------------
    def convert_all(self) -> None:
        alias, meta = self.alias, self.meta
        for n in self.raw.nodes:
            ins = n.inputs
            if n.op_type == "Clip" and ins:
                self.shift_in = self.shifts.get(ins[0])  # before x + c resolves to x
            if alias and not alias.keys().isdisjoint(ins):
                ins = [self.r(i) if i else "" for i in ins]
            if n.op_type in META_SOURCES or meta.issuperset(ins):
                self.meta.update(n.outputs)
                if n.op_type not in META_SOURCES:
                    acc: frozenset[str] = frozenset()
                    for i in ins:
                        acc |= self.srcs.get(i, frozenset())
                    if acc:
                        for o in n.outputs:
                            self.srcs[o] = acc
                continue
            if ins is not n.inputs:  # a resolved copy: the raw graph stays as read
                n = RawNode(n.op_type, n.domain, n.name, ins, n.outputs, n.attrs, n.proto)
            if n.domain not in STANDARD_DOMAINS:
                self.other(n)
            else:
                self.convert(n)

    def data(self, n: RawNode) -> list[str]:
        return [i for i in n.inputs if i not in self.meta]

    def consts(self, n: RawNode) -> list[str]:
        return [i for i in n.inputs if i and i in self.meta]

    def other(self, n: RawNode) -> None:
        attrs: dict[str, object] = {"onnx_op": n.op_type}
        if n.domain not in STANDARD_DOMAINS:
            attrs["domain"] = n.domain
        for k, v in n.attrs.items():
            attrs[f"onnx_{k}"] = v
        params = self.claim(self.consts(n))
        self.emit("other", [i for i in n.inputs if i], list(n.outputs), attrs, params)

    def convert(self, n: RawNode) -> None:
        t, a, ins, outs = n.op_type, n.attrs, n.inputs, n.outputs
        data = self.data(n)
        if t in _PLAIN_DIRECT and len(data) == len(ins):  # the common case: no attributes, no constants
            self.emit(DIRECT[t], list(ins), outs)
            return
        if t in PASS_THROUGH:
            self.alias[outs[0]] = data[0]
            return
        if t in LAYOUT:
            if t == "Gather" and ins[0] in self.meta:
                table = self.shapes.get(ins[0]) or ()
                attrs = {"num_embeddings": table[0] if table else -1, "dim": numel(table[1:]) if table else -1}
                self.emit("embedding", [ins[1]], outs, attrs, self.claim([ins[0]]))
            elif t in ("Gather", "GatherElements") and ins[1] not in self.meta:
                self.other(n)
            else:
                rank = self.rank(ins[0])
                perm = a.get("perm", tuple(range((rank or 0) - 1, -1, -1))) if t == "Transpose" else None
                operands = tuple(_digest(v.tobytes()) if (v := self.value(i)) is not None else i for i in ins[1:])
                attrs = {"onnx_op": t, "perm": perm, "operands": operands, "attrs": a}
                self.emit("layout", [ins[0]], list(outs), attrs)
            return
        if t in REDUCE:
            self.reduce(n, data)
            return
        if t in ("Conv", "ConvTranspose"):
            self.conv(n)
        elif t == "Gemm" or (t == "MatMul" and ins[1] in self.meta and self.rank(ins[1]) == 2):
            self.linear(n)
        elif t in ("LSTM", "GRU", "RNN"):
            w = self.shapes.get(ins[1]) or (-1, -1, -1)
            attrs = {
                "hidden_size": int(a.get("hidden_size", w[1] // {"LSTM": 4, "GRU": 3, "RNN": 1}[t])),
                "input_size": int(w[2]),
                "direction": str(a.get("direction", "forward")),
                "layout": int(a.get("layout", 0)),
            }
            if t == "GRU":
                attrs["linear_before_reset"] = int(a.get("linear_before_reset", 0))
            params = self.claim([i for s, i in enumerate(ins) if i and s in (1, 2, 3)])
            inputs = [i for s, i in enumerate(ins) if i and i not in self.meta]
            self.emit(t.lower(), inputs, outs, attrs, params)
        elif t in ("BatchNormalization", "LayerNormalization", "GroupNormalization", "InstanceNormalization"):
            attrs = {}
            if t == "LayerNormalization":
                attrs["axis"] = _pos_axis(int(a.get("axis", -1)), self.rank(ins[0]))
            if t == "GroupNormalization":
                attrs["num_groups"] = int(a.get("num_groups", 1))
            params = self.claim([i for s, i in enumerate(ins) if s > 0 and i and not buffer_slot(t, s)])
            self.emit(DIRECT[t], [ins[0]], outs[:1], attrs, params)
        elif t == "PRelu":
            self.emit("prelu", [ins[0]], outs, {}, self.claim(ins[1:]))
        elif t == "Clip":
            lo = a.get("min", self.scalar(ins[1]) if len(ins) > 1 else None)
            hi = a.get("max", self.scalar(ins[2]) if len(ins) > 2 else None)
            if lo == 0.0 and hi == 6.0 and self.shift_in == 3.0:  # relu6(x + 3) / 6
                self.emit("hardsigmoid", data[:1], outs, dict(_HARD_SIGMOID))
            elif lo == 0.0 and hi == 6.0:
                self.emit("relu6", data[:1], outs)
            elif lo == 0.0 and hi is None:
                self.emit("relu", data[:1], outs)
            else:
                self.emit("clip", data[:1], outs, {"min": lo, "max": hi})
        elif t in ("Softmax", "LogSoftmax", "Hardmax"):
            default = -1 if self.raw.meta.get("opset", 13) >= 13 else 1
            attrs = {"axis": _pos_axis(int(a.get("axis", default)), self.rank(ins[0]))}
            self.emit(DIRECT.get(t, "other"), data[:1], outs, attrs)
        elif t in ("MaxPool", "AveragePool", "LpPool"):
            self.pool(n)
        elif t in SCALAR_FREE and len(data) == 1 and (const := self.scalar_operand(n, data[0])) is not None:
            if t == "Mul" and self.scalar(const) == 0.0:
                self.emit("zero", data[:1], outs)  # x · 0 is not x: a NAS cell's "none" edge
            else:
                self.alias[outs[0]] = data[0]
                if t == "Add":
                    self.shifts[outs[0]] = self.scalar(const)  # read by relu6(x + 3): a hard sigmoid
        elif t == "Pow":
            self.emit("pow", data[:1], outs, {"exponent": self.scalar(ins[1])}, self.claim(self.consts(n)))
        elif t in UNARY:
            self.emit("unary", data[:1], outs, {"fn": t.lower()})
        elif t in DIRECT:
            attrs = _activation_attrs(t, a)
            if t == "Concat":
                attrs["axis"] = _pos_axis(int(a.get("axis", 0)), len(self.shapes.get(outs[0]) or ()) or None)
            elif t == "Pad":
                attrs["mode"] = str(a.get("mode", "constant"))
            elif t in ("Resize", "Upsample"):
                attrs["mode"] = str(a.get("mode", "nearest"))
            elif t in ("DepthToSpace", "SpaceToDepth"):
                attrs["blocksize"] = int(a.get("blocksize", 1))
                if t == "DepthToSpace":
                    attrs["mode"] = str(a.get("mode", "DCR"))
            keep_consts = DIRECT[t] not in ("pad", "resize")
            inputs = [i for i in ins if i and (keep_consts or i not in self.meta)]
            self.emit(DIRECT[t], inputs, outs, attrs, self.claim(self.consts(n)))
        else:
            self.other(n)

    def scalar_operand(self, n: RawNode, data_in: str) -> str | None:
        """The one-element constant ``n`` combines ``data_in`` with, keeping its shape; else ``None``."""
        const = [i for i in n.inputs if i in self.meta]
        if (
            len(const) == 1
            and numel(self.shapes.get(const[0])) == 1
            and self.shapes.get(n.outputs[0]) == self.shapes.get(data_in)
        ):
            return const[0]
        return None

    def conv(self, n: RawNode) -> None:
        ins = n.inputs
        w = self.shapes.get(ins[1])
        x = self.shapes.get(ins[0])
        if w is None or x is None or len(w) < 3:
            self.other(n)
            return
        bias = len(ins) > 2 and bool(ins[2])
        try:  # networks repeat a few layer settings: each is worked out once
            key = (n.op_type, tuple(n.attrs.items()), x, w, bias)
            found = _CONV_MEMO.get(key)
        except TypeError:
            key, found = None, None
        if found is None:
            found = self._conv_attrs(n, x, w, bias)
            if key is not None:
                if len(_CONV_MEMO) > _MEMO_LIMIT:
                    _CONV_MEMO.clear()
                _CONV_MEMO[key] = found
        op, attrs = found
        weight = self.claim([ins[1]])
        node = self.emit(op, [ins[0]], n.outputs[:1], dict(attrs), weight + self.claim(ins[2:3]))
        node.weight_params = weight

    def _conv_attrs(self, n: RawNode, x: Shape, w: Shape, bias: bool) -> tuple[str, dict[str, object]]:
        """The canonical op and attributes of a convolution reading ``x`` with weight ``w``."""
        a = n.attrs
        k = tuple(int(v) for v in a.get("kernel_shape", w[2:]))
        nd = len(k)
        groups = int(a.get("group", 1))
        transpose = n.op_type == "ConvTranspose"
        cin = x[1]
        cout = w[1] * groups if transpose else w[0]
        attrs: dict[str, object] = {
            "kernel": k,
            "stride": tuple(a.get("strides", (1,) * nd)),
            "dilation": tuple(a.get("dilations", (1,) * nd)),
            "pads": self.pads(n, k),
            "groups": groups,
            "in_channels": cin,
            "out_channels": cout,
            "bias": bias,
        }
        if transpose:
            attrs["output_padding"] = tuple(a.get("output_padding", (0,) * nd))
            return "conv_transpose", attrs
        return "dwconv" if groups > 1 and groups == cin else "conv", attrs

    def pads(self, n: RawNode, k: tuple[int, ...]) -> tuple[int, ...]:
        a = n.attrs
        nd = len(k)
        auto = str(a.get("auto_pad", "NOTSET"))
        if auto in ("NOTSET", ""):
            return tuple(int(v) for v in a.get("pads", (0,) * (2 * nd)))
        if auto == "VALID":
            return (0,) * (2 * nd)
        x = self.shapes.get(n.inputs[0]) or ()
        strides = a.get("strides", (1,) * nd)
        dil = a.get("dilations", (1,) * nd)
        begin, end = [], []
        for i in range(nd):
            size = x[2 + i] if len(x) > 2 + i else -1
            if size < 0:
                begin.append(-1)
                end.append(-1)
                continue
            out = -(-size // strides[i])
            total = max((out - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else large)
            end.append(large if auto == "SAME_UPPER" else small)
        return tuple(begin + end)

    def linear(self, n: RawNode) -> None:
        a, ins = n.attrs, n.inputs
        if n.op_type == "Gemm" and (ins[0] in self.meta or ins[1] not in self.meta):
            self.emit("matmul", [i for i in ins[:3] if i], n.outputs, {}, self.claim(self.consts(n)))
            return
        w = self.shapes.get(ins[1]) or (-1, -1)
        trans_b = n.op_type == "Gemm" and int(a.get("transB", 0)) == 1
        in_f, out_f = (w[1], w[0]) if trans_b else (w[0], w[1])
        bias = len(ins) > 2 and bool(ins[2])
        attrs = {"in_features": in_f, "out_features": out_f, "bias": bias}
        self.emit("linear", [ins[0]], n.outputs, attrs, self.claim(ins[1:3]))

    def pool(self, n: RawNode) -> None:
        a, t = n.attrs, n.op_type
        x = self.shapes.get(n.inputs[0])
        k = tuple(int(v) for v in a.get("kernel_shape", ()))
        nd = len(k)
        pads = self.pads(n, k)
        y = self.shapes.get(n.outputs[0])
        if (
            t != "LpPool" and x is not None and y is not None and tuple(x[2:]) == k
            and all(d == 1 for d in y[2:]) and not any(pads)
        ):  # fmt: skip
            self.emit("global_avg_pool" if t == "AveragePool" else "global_max_pool", [n.inputs[0]], n.outputs[:1])
            return
        attrs: dict[str, object] = {
            "kernel": k,
            "stride": tuple(a.get("strides", (1,) * nd)),
            "pads": pads,
            "ceil_mode": int(a.get("ceil_mode", 0)),
        }
        if t == "MaxPool":
            attrs["dilation"] = tuple(a.get("dilations", (1,) * nd))
        elif t == "AveragePool":  # without padding (or a partial last window) the setting changes nothing
            include = int(a.get("count_include_pad", 0))
            attrs["count_include_pad"] = include if any(pads) or attrs["ceil_mode"] else 0
        else:
            attrs["p"] = int(a.get("p", 2))
        self.emit(DIRECT[t], [n.inputs[0]], n.outputs[:1], attrs)

    def reduce(self, n: RawNode, data: list[str]) -> None:
        a, ins, out = n.attrs, n.inputs, n.outputs[0]
        rank = self.rank(ins[0])
        axes_val = a.get("axes")
        if axes_val is None and len(ins) > 1 and ins[1]:
            v = self.value(ins[1])
            axes_val = None if v is None else tuple(int(x) for x in v.reshape(-1))
        keep = int(a.get("keepdims", 1))
        if axes_val is None and not (len(ins) > 1 and ins[1]):
            axes = tuple(range(rank or 0))  # no axes: reduce over all
        elif axes_val is None:
            axes = None
        else:
            axes = tuple(sorted(_pos_axis(int(x), rank) for x in axes_val))
        fn = n.op_type[len("Reduce") :].lower()
        if rank and rank >= 3 and axes == tuple(range(2, rank)) and fn in ("mean", "max"):
            x = self.shape(ins[0]) or ()
            pooled_shape = tuple(x[:2]) + (1,) * (rank - 2)
            op = "global_avg_pool" if fn == "mean" else "global_max_pool"
            if keep:
                self.emit(op, [ins[0]], [out])
            else:
                pooled = self.new_tensor(pooled_shape)
                self.emit(op, [ins[0]], [pooled])
                self.emit("layout", [pooled], [out])
            return
        attrs = {"fn": fn, "axes": axes, "keepdims": keep}
        self.emit("reduce", data[:1], [out], attrs)

    # -- pass 2: collapse layout chains ---------------------------------------------------------
    def index(self) -> tuple[dict[str, _W], dict[str, list[_W]], set[str]]:
        producer: dict[str, _W] = {}
        consumers: dict[str, list[_W]] = {}
        for w in self.nodes:
            self.resolve(w)
            for o in w.outputs:
                if o:
                    producer[o] = w
            for i in w.inputs:
                consumers.setdefault(i, []).append(w)
        outputs = {self.r(o) for o in self.raw.outputs}
        return producer, consumers, outputs

    def collapse_layout(self) -> None:
        layout_outs = {o for w in self.nodes if w.op == "layout" for o in w.outputs if o}
        if not layout_outs:
            return
        read_outside: set[str] = set()  # layout outputs a non-layout node reads
        for w in self.nodes:
            self.resolve(w)
            if w.op != "layout" and not layout_outs.isdisjoint(w.inputs):
                read_outside.update(layout_outs.intersection(w.inputs))
        outputs = {self.r(o) for o in self.raw.outputs}
        root: dict[str, str] = {}
        kept: list[_W] = []
        # With a Transpose in a chain, equal shapes at both ends do not make it an identity (a
        # channel shuffle is Reshape → Transpose → Reshape): follow where each element goes.
        moves = any(w.op == "layout" and w.attrs.get("perm") is not None for w in self.nodes)
        made_by: dict[str, _W] = {}  # layout output → the layout node writing it
        for w in self.nodes:
            if w.op != "layout":
                kept.append(w)
                continue
            src = w.inputs[0]
            base = root.get(src, src)
            for o in w.outputs:
                if not o:
                    continue
                root[o] = base
                made_by[o] = w
                exits = o in outputs or o in read_outside
                if not exits:
                    continue
                same = self.shapes.get(o) == self.shapes.get(base) and self.shapes.get(o) is not None
                if same and (not moves or self._moves_nothing(o, base, made_by)):
                    self.alias[o] = base
                else:
                    steps = tuple(
                        (step.attrs.get("onnx_op"), step.attrs.get("perm"), step.attrs.get("operands"),
                         repr(step.attrs.get("attrs")), self.shapes.get(at))
                        for step, at in self._chain(o, base, made_by)
                    )  # fmt: skip
                    kept.append(_W("layout", [base], [o], steps=steps))
        self.nodes = kept

    @staticmethod
    def _chain(out: str, base: str, made_by: dict[str, _W]) -> list[tuple[_W, str]]:
        """The layout nodes from ``out`` back to ``base``, each with the tensor it writes."""
        chain: list[tuple[_W, str]] = []
        at = out
        while at != base:
            w = made_by[at]
            chain.append((w, at))
            at = w.inputs[0]
        return chain

    def _moves_nothing(self, out: str, base: str, made_by: dict[str, _W]) -> bool:
        """Whether the layout chain from ``base`` to ``out`` (same shape) leaves every element in place."""
        chain = self._chain(out, base, made_by)
        if all(w.attrs.get("perm") is None for w, _ in chain):
            return True  # reshapes only: the element order never changes
        order = self._identity(base)
        for w, o in reversed(chain):
            order = self._element_order(w, o, order)
        return order is not None and bool((order.reshape(-1) == np.arange(order.size)).all())

    def _identity(self, name: str) -> np.ndarray | None:
        shape = self.shapes.get(name)
        if shape is None or min(shape, default=1) < 0 or numel(shape) > _MAX_TRACKED:
            return None
        return np.arange(numel(shape), dtype=np.int32).reshape(shape)

    def _element_order(self, w: _W, out: str, at: np.ndarray | None) -> np.ndarray | None:
        """Which input element each element of ``out`` holds, through layout node ``w`` (``None``: not followed)."""
        shape = self.shapes.get(out)
        if at is None or shape is None or len(w.outputs) != 1:
            return None
        op, perm = w.attrs.get("onnx_op"), w.attrs.get("perm")
        try:
            if op == "Transpose" and perm is not None:
                at = at.transpose(perm)
            elif op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
                at = at.reshape(shape)
            else:  # Slice, Gather, Expand …: not followed (the chain is kept as a layout node)
                return None
        except ValueError:
            return None
        return at if tuple(at.shape) == tuple(shape) else None

    # -- pass 3: fusions ----------------------------------------------------------------------
    def fuse(self) -> None:
        """Fusion passes, in order; each sees the graph as the one before left it."""
        present = self.present_ops()
        index = None
        for needs, rule in (
            ({"batch_norm"}, self.fold_batch_norm),
            ({"add", "linear without bias"}, self.fold_bias),
            ({"mul"}, self.gated_activation),
            ({"reduce"}, self.merge_reductions),
            ({"softmax", "matmul"}, self.attention),
        ):
            if not needs <= present:  # nothing this rule could fuse
                continue
            if index is None:
                index = self.index()
            producer, consumers, outputs = index
            removed: set[int] = set()

            def sole(t: str, w: _W, consumers=consumers, outputs=outputs) -> bool:
                users = consumers.get(t, ())
                return t not in outputs and len(users) == 1 and users[0] is w

            for w in self.nodes:
                if id(w) not in removed and w.inputs:
                    rule(w, producer, consumers, outputs, sole, removed)
            if removed:  # the graph changed: the next rule needs a fresh index
                self.nodes = [w for w in self.nodes if id(w) not in removed]
                present = self.present_ops()
                index = None

    def present_ops(self) -> set[str]:
        """The ops in the working graph, and ``"linear without bias"`` if a linear layer lacks one."""
        present = {w.op for w in self.nodes}
        if "linear" in present and any(w.op == "linear" and not w.attrs["bias"] for w in self.nodes):
            present.add("linear without bias")
        return present

    def fold_batch_norm(self, w: _W, producer, consumers, outputs, sole, removed: set[int]) -> None:
        """BatchNorm after a convolution becomes the convolution's weight and bias."""
        x = w.inputs[0]
        p = producer.get(x)
        if w.op == "batch_norm" and p is not None and p.op in ("conv", "dwconv") and sole(x, w):
            p.attrs["bias"] = True
            p.params = p.weight_params + int(p.attrs["out_channels"])  # type: ignore[arg-type]
            removed.add(id(w))
            self.alias[w.outputs[0]] = x

    def fold_bias(self, w: _W, producer, consumers, outputs, sole, removed: set[int]) -> None:
        """``MatMul`` by a weight followed by a bias ``Add`` is one ``linear``."""
        if w.op != "add" or len(w.inputs) != 2:
            return
        a, b = w.inputs
        if a in self.meta:
            a, b = b, a
        p = producer.get(a)
        if (
            b in self.meta and p is not None and p.op == "linear" and not p.attrs["bias"]
            and sole(a, w) and numel(self.shapes.get(b)) == p.attrs["out_features"]
        ):  # fmt: skip
            p.attrs["bias"] = True
            p.params += w.params
            removed.add(id(w))
            self.alias[w.outputs[0]] = a

    def gated_activation(self, w: _W, producer, consumers, outputs, sole, removed: set[int]) -> None:
        """``x * f(x)`` is one activation: SiLU (sigmoid), HardSwish, GELU (erf), Mish."""
        if w.op != "mul" or len(w.inputs) != 2:
            return
        for x, g in (w.inputs, w.inputs[::-1]):
            gate = producer.get(g)
            if gate is None or not gate.inputs or not sole(g, w):
                continue
            inner = gate.inputs[0]
            soft = producer.get(inner)
            if gate.op == "tanh" and soft is not None and soft.op == "softplus" and soft.inputs[0] == x:
                if sole(inner, gate):
                    removed.update({id(gate), id(soft)})
                    w.op, w.inputs, w.attrs = "mish", [x], {}
                return
            if inner != x:
                continue
            fused = {"sigmoid": "silu", "hardsigmoid": "hardswish"}.get(gate.op)
            if gate.op == "unary" and gate.attrs.get("fn") == "erf":
                fused = "gelu"
            if fused:
                removed.add(id(gate))
                w.op, w.inputs = fused, [x]
                w.attrs = {"approximate": "none"} if fused == "gelu" else {}
                return

    def merge_reductions(self, w: _W, producer, consumers, outputs, sole, removed: set[int]) -> None:
        """A mean (max) over some axes of a mean (max) over others, both keeping dims, is one reduction;
        over every spatial axis it is global pooling (``x.mean(3, keepdim=True).mean(2, keepdim=True)``)."""
        if w.op != "reduce" or not w.attrs["keepdims"] or w.attrs["axes"] is None:
            return
        p = producer.get(w.inputs[0])
        if (
            p is None or p.op != "reduce" or p.attrs["fn"] != w.attrs["fn"] or not p.attrs["keepdims"]
            or p.attrs["axes"] is None or not sole(w.inputs[0], w)
        ):  # fmt: skip
            return
        axes = tuple(sorted(set(p.attrs["axes"]) | set(w.attrs["axes"])))
        rank = self.rank(p.inputs[0])
        removed.add(id(p))
        w.inputs = [p.inputs[0]]
        if rank and rank >= 3 and axes == tuple(range(2, rank)) and w.attrs["fn"] in ("mean", "max"):
            w.op, w.attrs = "global_avg_pool" if w.attrs["fn"] == "mean" else "global_max_pool", {}
        else:
            w.attrs = {**w.attrs, "axes": axes}

    def attention(self, w: _W, producer, consumers, outputs, sole, removed: set[int]) -> None:
        """``MatMul(q, kᵀ) → Softmax → MatMul(·, v)`` is one ``attention``; with a mask (or bias)
        added to the scores, ``MatMul → Add(·, mask) → Softmax → MatMul``, the mask is its 4th input."""
        if w.op != "softmax":
            return
        p = producer.get(w.inputs[0])
        users = consumers.get(w.outputs[0], [])
        m2 = users[0] if len(users) == 1 else None
        if (
            p is None or not sole(w.inputs[0], w) or m2 is None or m2.op != "matmul" or len(m2.inputs) != 2
            or m2.inputs[0] != w.outputs[0] or w.outputs[0] in outputs
        ):  # fmt: skip
            return
        fused, mask = [p], []
        if p.op == "add" and len(p.inputs) == 2:
            for scores, other in (p.inputs, p.inputs[::-1]):
                m1 = producer.get(scores)
                if m1 is not None and m1.op == "matmul" and len(m1.inputs) == 2 and sole(scores, p):
                    fused, mask, p = [m1, p], [other], m1
                    break
        if p.op == "matmul" and len(p.inputs) == 2:
            removed.update([id(w)] + [id(x) for x in fused])
            m2.op = "attention"
            m2.inputs = [p.inputs[0], p.inputs[1], m2.inputs[1], *mask]
            m2.params += sum(x.params for x in fused)  # a learned bias on the scores stays counted

    # -- pass 4: common subexpressions ---------------------------------------------------------
    def merge_duplicates(self) -> None:
        """One node for parameter-free ops that compute the same thing from the same tensors.

        Two ReLUs (or pools, layouts …) of one tensor are one computation; exporters merge them
        (TorchScript's CSE) or not, so the canonical form always does. Nodes with learned
        parameters are never merged: their weights differ.
        """
        groups: dict[tuple, list[_W]] = {}  # (op, inputs, outputs) → distinct nodes met so far
        kept: list[_W] = []
        memo: dict[tuple, tuple] = {}
        alias = self.alias
        for w in self.nodes:
            if w.params or w.op == "other":
                kept.append(w)
                continue
            self.resolve(w)
            ins = tuple(sorted(w.inputs)) if w.op in COMMUTATIVE else tuple(w.inputs)
            group = groups.setdefault((w.op, ins, len(w.outputs), w.steps), [])
            mine = _attr_tuple(w.attrs, memo) if group else None  # attributes compared only on a collision
            first = next((g for g in group if _attr_tuple(g.attrs, memo) == mine and self._same_shapes(g, w)), w)
            if first is w:
                group.append(w)
                kept.append(w)
                continue
            for out, same in zip(w.outputs, first.outputs):
                if out:
                    alias[out] = same
        self.nodes = kept

    def _same_shapes(self, a: _W, b: _W) -> bool:
        shapes = self.shapes
        return all(shapes.get(x) == shapes.get(y) for x, y in zip(a.outputs, b.outputs))

    # -- pass 5: canonical order ----------------------------------------------------------------
    def live(self, nodes: list[_W]) -> tuple[list[_W], list[str], dict[str, tuple[int, int]]]:
        """Resolve aliases, and keep the inputs and the nodes some graph output depends on.

        Returns the kept nodes, the graph outputs (resolved) in declared order, and for each tensor
        the (kept node, output slot) writing it.
        """
        slot: dict[str, tuple[int, int]] = {}  # tensor → (producing node, output slot)
        for k, w in enumerate(nodes):
            self.resolve(w)
            for s, o in enumerate(w.outputs):
                if o:
                    slot[o] = (k, s)
        graph_outputs = [o for o in map(self.r, self.raw.outputs) if o in slot]
        if not graph_outputs:
            raise InvalidModelError("no graph output depends on the model's inputs")
        live = [w.op == "input" for w in nodes]
        stack = [slot[o][0] for o in graph_outputs]
        get = slot.get
        while stack:
            k = stack.pop()
            if live[k]:
                continue
            live[k] = True
            for i in nodes[k].inputs:
                ref = get(i)
                if ref is not None and not live[ref[0]]:
                    stack.append(ref[0])
        if all(live):
            return nodes, graph_outputs, slot
        kept = [w for w, keep in zip(nodes, live) if keep]
        slot = {o: (k, s) for k, w in enumerate(kept) for s, o in enumerate(w.outputs) if o}
        return kept, graph_outputs, slot

    def build(self) -> ArchGraph:
        inputs = [_W("input", [], [name]) for name in self.raw.data_inputs]
        work, graph_outputs, slot = self.live(inputs + self.nodes)
        self.nodes = work
        count = len(work)
        meta, shapes = self.meta, self.shapes
        reads: list[list[tuple[int, int] | None]] = []  # per node: (producer, slot), None for a constant
        readers: list[list[tuple[int, int, int]]] = [[] for _ in range(count)]  # (consumer, position, slot)
        last_used = [0] * count
        for k, w in enumerate(work):
            row: list[tuple[int, int] | None] = []
            commutative = w.op in COMMUTATIVE
            for pos, i in enumerate(w.inputs if "" not in w.inputs else [i for i in w.inputs if i]):
                if i in meta:
                    row.append(None)
                    continue
                ref = slot[i]
                row.append(ref)
                readers[ref[0]].append((k, 0 if commutative else pos, ref[1]))
                if ref[1] > last_used[ref[0]]:
                    last_used[ref[0]] = ref[1]
            reads.append(row)
        output_at: list[list[int]] = [[] for _ in range(count)]
        for n, o in enumerate(graph_outputs):
            ref = slot[o]
            output_at[ref[0]].append(n)
            last_used[ref[0]] = max(last_used[ref[0]], ref[1])

        # Structural hashes: fh over ancestors, bh over ancestors and descendants. Every hashed
        # piece after a node's own label has a fixed width, so no two structures share a byte string.
        fh: list[bytes] = []
        fh0: list[bytes] = []  # fh and output slot 0, as a reader hashes it
        outs_of: list[tuple[Shape | None, ...]] = []
        attrs_of: list[tuple] = []
        consts_of: list[list[Shape]] = []
        const_piece, attr_memo, label_memo = _CONST_PIECES, _ATTR_TUPLES, _LABELS
        for memo in (const_piece, attr_memo, label_memo):
            if len(memo) > _MEMO_LIMIT:
                memo.clear()
        blake = hashlib.blake2b
        for k, w in enumerate(work):
            outputs = w.outputs
            if len(outputs) == 1:
                outs = (shapes.get(outputs[0]),)
            else:
                outs = tuple([shapes.get(o) if o else None for o in outputs[: last_used[k] + 1]])
            # the memos outlive the graph: only for ops whose attributes this module typed itself
            # (an ``other`` node keeps a foreign file's own, where 1 and 1.0 would share an entry)
            foreign = w.op == "other"
            attrs = _attr_tuple(w.attrs, {} if foreign else attr_memo) if w.attrs else ()
            row = reads[k]
            if None in row:
                consts = [shapes.get(i) or () for i in w.inputs if i and i in meta]
                pieces = []
                c = 0
                for r in row:
                    if r is None:
                        shape = consts[c]
                        c += 1
                        piece = const_piece.get(shape)
                        if piece is None:
                            piece = const_piece[shape] = _digest(repr(shape).encode()) + b"\xff" * 4
                        pieces.append(piece)
                    else:
                        pieces.append(fh0[r[0]] if r[1] == 0 else fh[r[0]] + r[1].to_bytes(4, "big"))
            else:
                consts = _NO_CONSTS
                pieces = [fh0[p] if s == 0 else fh[p] + s.to_bytes(4, "big") for p, s in row]
            if len(pieces) > 1 and w.op in COMMUTATIVE:
                pieces.sort()
            key = (w.op, attrs, outs)
            label = None if foreign else label_memo.get(key)
            if label is None:
                label = repr(key).encode() + b"\x00"
                if not foreign:
                    label_memo[key] = label
            h = blake(label + b"".join(pieces), digest_size=12).digest()
            fh.append(h)
            fh0.append(h + b"\x00\x00\x00\x00")
            outs_of.append(outs)
            attrs_of.append(attrs)
            consts_of.append(consts)
        bh: list[bytes] = [b""] * count
        for k in range(count - 1, -1, -1):
            rd = readers[k]
            if len(rd) == 1:
                c, pos, s = rd[0]
                below = _ONE + bh[c] + (_READ_0 if not (pos or s) else _read(pos, s))
            else:
                below = len(rd).to_bytes(4, "big") + b"".join(
                    sorted([bh[c] + (_READ_0 if not (pos or s) else _read(pos, s)) for c, pos, s in rd])
                )
            tail = repr(output_at[k]).encode() if output_at[k] else b""
            bh[k] = blake(fh[k] + below + tail, digest_size=12).digest()

        # Kahn's algorithm, the ready node with the smallest hash first; inputs in declared order.
        first = len(inputs)
        waiting = [len({r[0] for r in row if r is not None}) if len(row) > 1 else len(row) - row.count(None)
                   for row in reads]  # fmt: skip
        successors = [sorted({c for c, _, _ in rd}) if len(rd) > 1 else [c for c, _, _ in rd] for rd in readers]
        heap = [(bh[k], k) for k in range(first, count) if waiting[k] == 0]
        heapq.heapify(heap)
        order = list(range(first))
        push, pop = heapq.heappush, heapq.heappop
        done = 0
        while done < len(order) or heap:
            if done < len(order):
                k = order[done]
                done += 1
            else:
                k = pop(heap)[1]
                order.append(k)
                done += 1
            for c in successors[k]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    push(heap, (bh[c], c))
        position = [0] * count
        for n, k in enumerate(order):
            position[k] = n

        nodes: list[Node] = []
        new_node = tuple.__new__  # Node is a named tuple: its fields in order, without the keyword handling
        for k in order:
            w = work[k]
            row = reads[k]
            consts = consts_of[k]
            if consts:
                refs: list[tuple[int, int]] = []
                const_shapes: list[Shape] = []
                next_const = iter(consts).__next__
                for r in row:
                    if r is None:
                        shape = next_const()
                        if w.op not in PARAMETRIC:
                            refs.append((CONST, len(const_shapes)))
                            const_shapes.append(shape)
                    else:
                        refs.append((position[r[0]], r[1]))
                const_tuple = tuple(const_shapes)
            else:
                refs = [(position[p], s) for p, s in row]
                const_tuple = ()
            if len(refs) > 1 and w.op in COMMUTATIVE:
                refs.sort(key=_const_last)
            outs = outs_of[k]
            count_macs = 0
            if w.op in MAC_OPS:
                in_shapes = [const_tuple[s] if p == CONST else nodes[p].outputs[s] for p, s in refs]
                count_macs = macs(w.op, w.attrs, in_shapes, outs)
            nodes.append(new_node(Node, (w.op, tuple(refs), outs, attrs_of[k], count_macs, w.params, const_tuple)))
        out_refs = tuple((position[slot[o][0]], slot[o][1]) for o in graph_outputs)
        meta = dict(self.raw.meta)
        warnings = _warnings(nodes)
        if warnings:
            meta["warnings"] = warnings
        return ArchGraph.trusted(tuple(nodes), out_refs, meta)


def _warnings(nodes: list[Node]) -> list[str]:
    """What a user should know about a parsed graph's numbers: operators archscore cannot read (a custom
    domain's op computes something unknown) and nodes whose shapes are unknown (their MACs are not counted)."""
    out = []
    custom = sorted(
        {f"{a['domain']}::{a.get('onnx_op', '?')}" for n in nodes if n.op == "other" for a in [dict(n.attrs)]
         if a.get("domain") not in (None, "", "ai.onnx")}
    )  # fmt: skip
    if custom:
        more = " …" if len(custom) > 5 else ""
        out.append(f"custom operators {', '.join(custom[:5])}{more}: what they compute is unknown")
    blind = [n for n in nodes if n.op != "input" and any(shape is None for shape in n.outputs)]
    if blind:
        first = dict(blind[0].attrs).get("onnx_op", blind[0].op)
        out.append(
            f"{len(blind)} of {len(nodes)} nodes have no known shape (from a {first} on): "
            "their MACs are not counted, so size-based predictions are low"
        )
    return out


def _attr_tuple(attrs: dict[str, object], memo: dict[tuple, tuple]) -> tuple:
    """A node's attributes as sorted ``(name, plain value)`` pairs, memoised per distinct attribute set."""
    if not attrs:
        return ()
    items = tuple(attrs.items())
    try:
        found = memo.get(items)
    except TypeError:  # an unhashable value (a numpy array in an ``other`` node's attributes)
        return tuple([(a, _norm(v)) for a, v in sorted(items)])
    if found is None:
        found = memo[items] = tuple([(a, v if type(v) in _PLAIN else _norm(v)) for a, v in sorted(items)])
    return found


def _read(pos: int, slot: int) -> bytes:
    """How a reader hashes the input position and output slot it reads through (fixed width)."""
    return pos.to_bytes(4, "big") + slot.to_bytes(4, "big")


_READ_0 = _read(0, 0)
_NO_CONSTS: list[Shape] = []


def _const_last(ref: tuple[int, int]) -> tuple[bool, int, int]:
    """Sort key of a commutative node's inputs: node outputs by position, then constants."""
    return (ref[0] == CONST, ref[0], ref[1])


_ONE = (1).to_bytes(4, "big")


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=12).digest()


MAC_OPS = frozenset({"conv", "dwconv", "conv_transpose", "linear", "matmul", "attention", "lstm", "gru", "rnn"})
_PLAIN = frozenset({bool, str, int, float, type(None)})


def _norm(v: object) -> object:
    """Attribute value as plain Python (numpy scalars and lists become ints, floats, tuples)."""
    kind = type(v)
    if kind in _PLAIN:
        return v
    if kind is tuple and all(type(x) is int for x in v):  # type: ignore[union-attr]
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, (tuple, list)):
        return tuple(_norm(x) for x in v)
    return str(v)


_HARD_SIGMOID = {"alpha": float(np.float32(1 / 6)), "beta": 0.5}
"""HardSigmoid as PyTorch exports ``nn.Hardsigmoid`` (``relu6(x + 3) / 6``)."""

_ACTIVATION_DEFAULTS: dict[str, dict[str, object]] = {
    "LeakyRelu": {"alpha": 0.01},
    "Elu": {"alpha": 1.0},
    "Celu": {"alpha": 1.0},
    "Selu": {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875},
    "HardSigmoid": {"alpha": 0.2, "beta": 0.5},
    "Gelu": {"approximate": "none"},
}


def _activation_attrs(t: str, a: dict[str, object]) -> dict[str, object]:
    defaults = _ACTIVATION_DEFAULTS.get(t)
    return {k: a.get(k, v) for k, v in defaults.items()} if defaults else {}


def macs(op: str, attrs: dict, in_shapes: Sequence[Shape | None], out_shapes: Sequence[Shape | None]) -> int:
    """Multiply-accumulates of one canonical node (0 for ops without multiply-accumulates)."""
    if op not in MAC_OPS:
        return 0
    out = numel(out_shapes[0]) if out_shapes else -1
    if out < 0:
        return 0
    if op in ("conv", "dwconv"):
        return out * (attrs["in_channels"] // attrs["groups"]) * math.prod(attrs["kernel"])
    if op == "conv_transpose":
        x = numel(in_shapes[0])
        return max(x, 0) * (attrs["out_channels"] // attrs["groups"]) * math.prod(attrs["kernel"])
    if op == "linear":
        return out * max(attrs["in_features"], 0)
    if op == "matmul" and in_shapes and in_shapes[0]:
        return out * max(in_shapes[0][-1], 0)
    if op == "attention" and len(in_shapes) >= 3 and all(s for s in in_shapes[:3]):
        q, v = in_shapes[0], in_shapes[2]
        keys, depth, dv = v[-2], q[-1], v[-1]
        if min(keys, depth, dv) <= 0:
            return 0
        scores = out // dv * keys
        return scores * depth + out * keys
    if op in ("lstm", "gru", "rnn") and in_shapes and in_shapes[0] and len(in_shapes[0]) == 3:
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[op]
        seq, batch, _ = in_shapes[0] if attrs["layout"] == 0 else (in_shapes[0][1], in_shapes[0][0], 0)
        dirs = 2 if attrs["direction"] == "bidirectional" else 1
        h = attrs["hidden_size"]
        return max(seq * batch * dirs * gates * h * (attrs["input_size"] + h), 0)
    return 0


def canonicalize(raw: RawGraph) -> ArchGraph:
    """Canonical ArchGraph of a raw graph from :func:`archscore.graph.parse.read_graph`."""
    b = _Builder(raw)
    b.convert_all()
    b.collapse_layout()
    b.fuse()
    b.merge_duplicates()
    return b.build()
