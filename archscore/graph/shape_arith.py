"""Evaluate shape arithmetic on small integer tensors, for when ONNX shape inference gives up.

Exporters compute reshape targets from ``Shape`` through ``Gather``/``Where``/``Div``/``Concat``
chains. ONNX's own data propagation covers only part of that; this evaluator covers the ops
exporters actually use, on tensors of at most :data:`MAX_ELEMENTS` elements. Nothing here touches
weights: a node is evaluated only when every input value is already known and small.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import onnx

MAX_ELEMENTS = 4096


def _axes(node_attrs: Mapping[str, object], args: Sequence[np.ndarray | None], slot: int) -> tuple[int, ...] | None:
    if "axes" in node_attrs:
        return tuple(node_attrs["axes"])  # type: ignore[arg-type]
    if len(args) > slot and args[slot] is not None:
        return tuple(int(x) for x in np.asarray(args[slot]).reshape(-1))
    return None


def _unsqueeze(a: Mapping, x: list) -> np.ndarray:
    axes = _axes(a, x, 1) or ()
    out = x[0]
    rank = out.ndim + len(axes)
    for ax in sorted(ax % rank for ax in axes):
        out = np.expand_dims(out, ax)
    return out


def _squeeze(a: Mapping, x: list) -> np.ndarray:
    axes = _axes(a, x, 1)
    return np.squeeze(x[0]) if axes is None else np.squeeze(x[0], axis=tuple(ax % x[0].ndim for ax in axes))


def _slice(a: Mapping, x: list) -> np.ndarray:
    data = x[0]
    if "starts" in a:
        starts, ends = a["starts"], a["ends"]
        axes = a.get("axes", tuple(range(len(starts))))
        steps = (1,) * len(starts)
    else:
        starts, ends = x[1].reshape(-1), x[2].reshape(-1)
        axes = x[3].reshape(-1) if len(x) > 3 and x[3] is not None else range(len(starts))
        steps = x[4].reshape(-1) if len(x) > 4 and x[4] is not None else (1,) * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[int(ax) % data.ndim] = slice(int(s), int(e), int(st))
    return data[tuple(index)]


def _div(a: Mapping, x: list) -> np.ndarray:
    if np.issubdtype(x[0].dtype, np.integer) and np.issubdtype(x[1].dtype, np.integer):
        return np.trunc(x[0] / x[1]).astype(np.result_type(x[0], x[1]))
    return x[0] / x[1]


def _size_of(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= max(int(d), 0)
    return n


def _constant_of_shape(a: Mapping, x: list) -> np.ndarray:
    shape = tuple(int(d) for d in x[0].reshape(-1))
    if _size_of(shape) > MAX_ELEMENTS:
        raise OverflowError
    value = a.get("value")
    fill = np.asarray(value).reshape(-1)[0] if value is not None else np.float32(0)
    return np.full(shape, fill, dtype=np.asarray(fill).dtype)


def _expand(a: Mapping, x: list) -> np.ndarray:
    shape = np.broadcast_shapes(x[0].shape, tuple(int(d) for d in x[1].reshape(-1)))
    if _size_of(shape) > MAX_ELEMENTS:
        raise OverflowError
    return np.broadcast_to(x[0], shape).copy()


def _range(a: Mapping, x: list) -> np.ndarray:
    start, limit, delta = (np.asarray(v).reshape(()) for v in x[:3])
    if delta == 0 or abs((limit - start) / delta) > MAX_ELEMENTS:
        raise OverflowError
    return np.arange(start, limit, delta)


def _reshape(a: Mapping, x: list) -> np.ndarray:
    shape = [int(d) for d in x[1].reshape(-1)]
    if not a.get("allowzero", 0):
        shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x[0].reshape(shape)


def _cast(a: Mapping, x: list) -> np.ndarray:
    return x[0].astype(onnx.helper.tensor_dtype_to_np_dtype(int(a["to"])))  # type: ignore[arg-type]


OPS: dict[str, Callable[[Mapping, list], np.ndarray]] = {
    "Identity": lambda a, x: x[0],
    "Cast": _cast,
    "Gather": lambda a, x: np.take(x[0], x[1].astype(np.int64), axis=int(a.get("axis", 0))),
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda a, x: np.concatenate([np.atleast_1d(v) for v in x], axis=int(a.get("axis", 0))),
    "Slice": _slice,
    "Reshape": _reshape,
    "Transpose": lambda a, x: np.transpose(x[0], a.get("perm")),
    "Add": lambda a, x: x[0] + x[1],
    "Sub": lambda a, x: x[0] - x[1],
    "Mul": lambda a, x: x[0] * x[1],
    "Div": _div,
    "Mod": lambda a, x: np.fmod(x[0], x[1]) if a.get("fmod", 0) else np.mod(x[0], x[1]),
    "Neg": lambda a, x: -x[0],
    "Abs": lambda a, x: np.abs(x[0]),
    "Sqrt": lambda a, x: np.sqrt(x[0]),
    "Floor": lambda a, x: np.floor(x[0]),
    "Ceil": lambda a, x: np.ceil(x[0]),
    "Max": lambda a, x: np.maximum.reduce(x),
    "Min": lambda a, x: np.minimum.reduce(x),
    "Equal": lambda a, x: np.equal(x[0], x[1]),
    "Less": lambda a, x: np.less(x[0], x[1]),
    "Greater": lambda a, x: np.greater(x[0], x[1]),
    "Not": lambda a, x: np.logical_not(x[0]),
    "And": lambda a, x: np.logical_and(x[0], x[1]),
    "Or": lambda a, x: np.logical_or(x[0], x[1]),
    "Where": lambda a, x: np.where(x[0], x[1], x[2]),
    "ReduceProd": lambda a, x: np.prod(x[0], keepdims=bool(a.get("keepdims", 1))),
    "ConstantOfShape": _constant_of_shape,
    "Expand": _expand,
    "Range": _range,
}


def fold_node(n, shapes: Mapping[str, tuple[int, ...] | None], known: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Value of the first output of node ``n`` if it is small and computable, else ``None``.

    ``n`` is a :class:`~archscore.graph.parse.RawNode`; ``known`` holds the values computed so far.
    """
    if not n.outputs or n.outputs[0] in known:
        return None
    result: np.ndarray | None = None
    if n.op_type in ("Shape", "Size") and n.domain in ("", "ai.onnx") and n.inputs:
        shape = shapes.get(n.inputs[0])
        if shape is None or any(d < 0 for d in shape):
            return None
        if n.op_type == "Size":
            result = np.array(_size_of(shape), dtype=np.int64)
        else:
            start, end = n.attrs.get("start", 0), n.attrs.get("end", None)
            result = np.array(shape[start:end], dtype=np.int64)
    elif n.op_type in OPS and n.domain in ("", "ai.onnx"):
        args = [known.get(i) if i else None for i in n.inputs]
        if any(v is None for i, v in zip(n.inputs, args) if i) or not args or args[0] is None:
            return None
        if _result_too_large(n.op_type, n.attrs, args):
            return None
        try:
            with np.errstate(all="ignore"):
                result = np.asarray(OPS[n.op_type](n.attrs, args))
        except Exception:  # an op this evaluator cannot do: leave it to shape inference
            return None
    if result is None or result.size > MAX_ELEMENTS or result.dtype.kind not in "biuf":
        return None
    return result


BROADCASTING = frozenset(
    {"Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Equal", "Less", "Greater", "And", "Or", "Where"}
)


def _result_too_large(op: str, a: Mapping, args: list) -> bool:
    """Whether evaluating ``op`` could build an array far above :data:`MAX_ELEMENTS` elements.

    Inputs are small, but broadcasting, gathering or concatenating small arrays multiplies sizes
    (three 4096-element vectors broadcast to 2**36 elements); refuse before allocating.
    """
    present = [np.asarray(v) for v in args if v is not None]
    if op in BROADCASTING:
        if _size_of([v.size for v in present]) <= MAX_ELEMENTS:  # bounds the broadcast result: the common case
            return False
        try:
            return _size_of(np.broadcast_shapes(*(v.shape for v in present))) > MAX_ELEMENTS
        except Exception:  # not broadcastable, or beyond numpy's limits (ValueError, RuntimeError)
            return True
    if op == "Gather" and len(present) > 1:
        data, indices = present[0], present[1]
        if data.ndim == 0:
            return True
        axis_size = data.shape[int(a.get("axis", 0)) % data.ndim]
        return indices.size * (data.size // max(axis_size, 1)) > MAX_ELEMENTS
    if op == "Concat":
        return sum(v.size for v in present) > MAX_ELEMENTS
    return False


def fold(
    nodes: Sequence, shapes: Mapping[str, tuple[int, ...] | None], values: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Values of every small tensor computable from constants and known shapes.

    ``nodes`` are :class:`~archscore.graph.parse.RawNode` in topological order. Returns the newly
    computed values by tensor name (the given ``values`` are not modified).
    """
    known = dict(values)
    found: dict[str, np.ndarray] = {}
    for n in nodes:
        result = fold_node(n, shapes, known)
        if result is not None:
            known[n.outputs[0]] = result
            found[n.outputs[0]] = result
    return found
