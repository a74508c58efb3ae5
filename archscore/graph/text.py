"""Deterministic, lossless text description of an :class:`ArchGraph`.

In the spirit of ONNX-Net's textual descriptions, one line per node, but lossless for everything a
predictor can use: every node's op, scalar attributes, the exact tensors it reads, its output
shapes, and its MACs and parameters. Example::

    %0 = input() -> [1,3,32,32]
    %1 = conv(%0) bias=true dilation=(1,1) groups=1 ... -> [1,16,32,32] macs=442368 params=448
    %2 = relu(%1) -> [1,16,32,32]
    return %2

A tensor read from output slot ``k > 0`` is written ``%i.k``; a constant operand of shape ``s``
is written ``const[s]``. Text is a function of the graph: equal graphs give equal text and
different graphs give different text.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING

from archscore.graph.node import CONST, AttrValue, Shape

if TYPE_CHECKING:
    from archscore.graph.archgraph import ArchGraph

HEADER = "archscore-graph v1"


@functools.lru_cache(maxsize=4096)
def _shape(s: Shape | None) -> str:
    return "?" if s is None else "[" + ",".join(map(str, s)) + "]"


def _value(v: AttrValue) -> str:
    kind = type(v)
    if kind is int:
        return str(v)
    if kind is tuple and all(type(x) is int for x in v):  # type: ignore[union-attr]
        return "(" + ",".join(map(str, v)) + ")"  # type: ignore[arg-type]
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    return "(" + ",".join(_value(x) for x in v) + ")"


@functools.lru_cache(maxsize=4096)
def _attrs(attrs: tuple[tuple[str, AttrValue], ...]) -> str:
    """`` key=value`` for every attribute (memoised: networks repeat the same layer settings)."""
    return "".join(f" {k}={_value(v)}" for k, v in attrs)


def _ref(src: int, slot: int, consts: tuple[Shape, ...]) -> str:
    if slot == 0 and src != CONST:
        return f"%{src}"
    if src == CONST:
        return f"const{_shape(consts[slot])}"
    return f"%{src}.{slot}"


def to_text(graph: ArchGraph) -> str:
    """The text description of ``graph`` (one line per node, then the outputs)."""
    lines = [HEADER]
    for i, n in enumerate(graph.nodes):
        args = ", ".join([_ref(s, k, n.const_shapes) for s, k in n.inputs])
        outs = _shape(n.outputs[0]) if len(n.outputs) == 1 else ", ".join([_shape(s) for s in n.outputs])
        line = f"%{i} = {n.op}({args}){_attrs(n.attrs)} -> {outs}"
        if n.macs:
            line += f" macs={n.macs}"
        if n.params:
            line += f" params={n.params}"
        lines.append(line)
    lines.append("return " + ", ".join(_ref(s, k, ()) for s, k in graph.outputs))
    return "\n".join(lines)
