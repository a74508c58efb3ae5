"""Read an ONNX model into a validated, shape-annotated raw graph.

Weights are never needed and never read: large initializers (and every initializer whose data
lives in an external file) are replaced by typed graph inputs before ONNX shape inference, so a
model parses the same with its weights embedded, in missing external files, or exported with
``export_params=False``. Only small constant tensors (shape arithmetic, clip bounds, axes) are
read by value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper, shape_inference

from archscore.errors import InvalidModelError, ModelLimitError
from archscore.graph.fold import fold
from archscore.graph.ops import BUFFER_SLOTS, META_SOURCES, PARAM_SLOTS

log = logging.getLogger(__name__)

Shape = tuple[int, ...]

MAX_FILE_BYTES = 2**31 - 1  # protobuf's own hard limit for one message
MAX_NODES = 500_000
MAX_DIM = 2**31 - 1
MAX_NUMEL = 2**50
SMALL_CONST = 64  # constants with at most this many elements are read by value
FLOAT_TYPES = frozenset(
    {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE}
)

ModelSource = str | os.PathLike | bytes | bytearray | memoryview | onnx.ModelProto


@dataclass
class RawNode:
    """An ONNX node with its attributes decoded (tensor-valued attributes dropped)."""

    op_type: str
    domain: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, object]


@dataclass
class RawGraph:
    """A validated ONNX graph in topological order, with shapes and constant information."""

    nodes: list[RawNode]
    data_inputs: list[str]
    outputs: list[str]
    shapes: dict[str, Shape | None]
    values: dict[str, np.ndarray]
    """Values of small constant tensors (initializers and Constant nodes)."""
    param_numel: dict[str, int]
    """Learned-parameter sources (float initializers and weights given as inputs) → size."""
    constants: set[str] = field(default_factory=set)
    """Initializers and weights given as inputs."""
    meta: dict[str, object] = field(default_factory=dict)


def load_model(src: ModelSource, max_bytes: int = MAX_FILE_BYTES) -> onnx.ModelProto:
    """Load an ONNX model from a path, bytes or ``ModelProto`` without reading external data."""
    if isinstance(src, onnx.ModelProto):
        return src
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        where = "the given bytes"
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise InvalidModelError(f"{path}: no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ModelLimitError(
                f"{path}: {size:,} bytes is above the limit of {max_bytes:,}; archscore never needs "
                "weights, so export with external data (or export_params=False) to shrink the file"
            )
        data = path.read_bytes()
        where = str(path)
    else:
        raise TypeError(f"expected a path, bytes or onnx.ModelProto, got {type(src).__name__}")
    if len(data) > max_bytes:
        raise ModelLimitError(f"{where}: {len(data):,} bytes is above the limit of {max_bytes:,}")
    if not data:
        raise InvalidModelError(f"{where}: empty input, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise InvalidModelError(f"{where}: not an ONNX model or truncated ({exc})") from exc
    if not model.HasField("graph"):
        raise InvalidModelError(f"{where}: not an ONNX model (no graph found)")
    return model


def _dims(type_proto: onnx.TypeProto) -> tuple[list[int | str] | None, int]:
    """Dimensions (ints, or names for symbolic/missing dims) and element type of a tensor type."""
    if not type_proto.HasField("tensor_type"):
        return None, 0
    tt = type_proto.tensor_type
    if not tt.HasField("shape"):
        return None, tt.elem_type
    dims: list[int | str] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(d.dim_value)
        else:
            dims.append(d.dim_param or "?")
    return dims, tt.elem_type


def _check_dims(what: str, dims: Sequence[int]) -> None:
    numel = 1
    for d in dims:
        if d < 0 or d > MAX_DIM:
            raise ModelLimitError(f"{what}: dimension {d} in shape {tuple(dims)} is negative or absurd")
        numel *= d
    if numel > MAX_NUMEL:
        raise ModelLimitError(f"{what}: shape {tuple(dims)} has {numel:.3g} elements, more than any real network")


def _decode_attrs(node: onnx.NodeProto) -> dict[str, object]:
    attrs: dict[str, object] = {}
    for a in node.attribute:
        t = a.type
        if t == onnx.AttributeProto.INT:
            attrs[a.name] = int(a.i)
        elif t == onnx.AttributeProto.FLOAT:
            attrs[a.name] = float(a.f)
        elif t == onnx.AttributeProto.STRING:
            attrs[a.name] = a.s.decode("utf-8", "replace")
        elif t == onnx.AttributeProto.INTS:
            attrs[a.name] = tuple(int(v) for v in a.ints)
        elif t == onnx.AttributeProto.FLOATS:
            attrs[a.name] = tuple(float(v) for v in a.floats)
        elif t == onnx.AttributeProto.STRINGS:
            attrs[a.name] = tuple(s.decode("utf-8", "replace") for s in a.strings)
        elif t == onnx.AttributeProto.TENSOR and _numel(a.t.dims) <= SMALL_CONST:
            value = _const_value(a.t)
            if value is not None:
                attrs[a.name] = value
    return attrs


def _numel(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _const_value(tensor: onnx.TensorProto) -> np.ndarray | None:
    """Value of a small tensor stored inline; ``None`` if external, large or unreadable."""
    if tensor.data_location == onnx.TensorProto.EXTERNAL or _numel(tensor.dims) > SMALL_CONST:
        return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # malformed payloads are treated as unknown values, never fatal
        return None


def read_graph(
    src: ModelSource,
    *,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    data_inputs: Sequence[str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_nodes: int = MAX_NODES,
) -> RawGraph:
    """Load, validate and shape-annotate an ONNX model.

    Args:
        src: Path, bytes or ``onnx.ModelProto``. A given ModelProto is not modified.
        input_shapes: Shapes for data inputs whose dimensions are symbolic. A symbolic leading
            (batch) dimension defaults to 1; any other symbolic dimension must be given here.
        data_inputs: Names of the inputs that carry data. By default every graph input that is
            not an initializer is data, except weights given as inputs (``export_params=False``).
        max_bytes: Refuse files larger than this.
        max_nodes: Refuse graphs with more nodes than this.

    Raises:
        InvalidModelError: The input is not a readable, well-formed ONNX model.
        ModelLimitError: The input exceeds one of the limits.
    """
    model = load_model(src, max_bytes)
    g = model.graph
    if len(g.node) == 0:
        raise InvalidModelError("the ONNX graph is empty (no nodes)")
    if len(g.node) > max_nodes:
        raise ModelLimitError(f"the ONNX graph has {len(g.node):,} nodes, above the limit of {max_nodes:,}")

    nodes = [RawNode(n.op_type, n.domain, n.name, list(n.input), list(n.output), _decode_attrs(n)) for n in g.node]
    nodes = _toposort(nodes, {i.name for i in g.initializer} | {i.name for i in g.input})

    # --- constants and learned-parameter sources ---------------------------------------
    init_names = set()
    values: dict[str, np.ndarray] = {}
    param_numel: dict[str, int] = {}
    init_types: dict[str, tuple[list[int], int]] = {}
    for t in g.initializer:
        init_names.add(t.name)
        dims = [int(d) for d in t.dims]
        _check_dims(f"initializer {t.name!r}", dims)
        init_types[t.name] = (dims, t.data_type)
        value = _const_value(t)
        if value is not None:
            values[t.name] = value
        if t.data_type in FLOAT_TYPES and _numel(dims) > 1:
            param_numel[t.name] = _numel(dims)
    _read_constant_nodes(g, values)

    # --- data inputs vs weights given as inputs ------------------------------------------
    declared = [i for i in g.input if i.name not in init_names]
    if data_inputs is None:
        data_names = _guess_data_inputs(declared, nodes)
    else:
        data_names = list(data_inputs)
        unknown = set(data_names) - {i.name for i in declared}
        if unknown:
            raise InvalidModelError(f"data_inputs {sorted(unknown)} are not graph inputs")
    input_shapes = dict(input_shapes or {})
    unknown = set(input_shapes) - set(data_names)
    if unknown:
        raise InvalidModelError(f"input_shapes names {sorted(unknown)}, which are not data inputs {data_names}")

    fixed_inputs: dict[str, tuple[list[int], int]] = {}
    for vi in declared:
        dims, elem = _dims(vi.type)
        if vi.name in data_names:
            if vi.name in input_shapes:
                dims = [int(d) for d in input_shapes[vi.name]]
            elif dims is None:
                raise InvalidModelError(f"input {vi.name!r} has no shape; pass input_shapes={{{vi.name!r}: (...)}}")
            else:
                dims = [1 if (isinstance(d, str) and axis == 0) else d for axis, d in enumerate(dims)]
                symbolic = [(axis, d) for axis, d in enumerate(dims) if isinstance(d, str)]
                if symbolic:
                    axis, name = symbolic[0]
                    raise InvalidModelError(
                        f"input {vi.name!r} has symbolic dimension {name!r} at axis {axis}; "
                        f"pass input_shapes={{{vi.name!r}: (...)}} to fix it"
                    )
        elif dims is None or any(isinstance(d, str) for d in dims):
            raise InvalidModelError(f"weight input {vi.name!r} has no static shape")
        _check_dims(f"input {vi.name!r}", dims)  # type: ignore[arg-type]
        fixed_inputs[vi.name] = (dims, elem)  # type: ignore[assignment]
        if vi.name not in data_names and elem in FLOAT_TYPES and _numel(dims) > 1:  # type: ignore[arg-type]
            param_numel[vi.name] = _numel(dims)  # type: ignore[arg-type]

    shapes = _infer_shapes(model, nodes, init_types, values, fixed_inputs)
    for name in data_names:
        shapes[name] = tuple(fixed_inputs[name][0])
    outputs = [o.name for o in g.output]
    produced = {o for n in nodes for o in n.outputs} | set(fixed_inputs) | init_names
    for o in outputs:
        if o not in produced:
            raise InvalidModelError(f"graph output {o!r} is not produced by any node")
    meta = {
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0),
        "input_names": list(data_names),
    }
    constants = init_names | (set(fixed_inputs) - set(data_names))
    return RawGraph(nodes, data_names, outputs, shapes, values, param_numel, constants, meta)


def _read_constant_nodes(g: onnx.GraphProto, values: dict[str, np.ndarray]) -> None:
    for n in g.node:
        if n.op_type != "Constant" or not n.output:
            continue
        for a in n.attribute:
            try:
                if a.name == "value" and _numel(a.t.dims) <= SMALL_CONST:
                    values[n.output[0]] = numpy_helper.to_array(a.t)
                elif a.name == "value_float":
                    values[n.output[0]] = np.array(a.f, dtype=np.float32)
                elif a.name == "value_int":
                    values[n.output[0]] = np.array(a.i, dtype=np.int64)
                elif a.name == "value_ints":
                    values[n.output[0]] = np.array(list(a.ints), dtype=np.int64)
                elif a.name == "value_floats":
                    values[n.output[0]] = np.array(list(a.floats), dtype=np.float32)
            except Exception:  # malformed constant payload: value unknown, never fatal
                log.debug("unreadable Constant %s", n.name)


def _guess_data_inputs(declared: Sequence[onnx.ValueInfoProto], nodes: Sequence[RawNode]) -> list[str]:
    """Tell data inputs from weights exported as inputs (``export_params=False``).

    An input read in a weight slot (Conv's kernel, BatchNorm's scale, an LSTM's W …) is a weight.
    If any exists, the model was exported with its weights as inputs; exporters list the data
    first, and learned tensors that are not read in a weight slot (a class token, a positional
    embedding) cannot be told from data by position alone, so only the first input is taken as
    data. Models with several data inputs exported that way need ``data_inputs``.
    """
    names = [vi.name for vi in declared]
    in_param_slot: set[str] = set()
    for n in nodes:
        slots = PARAM_SLOTS.get(n.op_type)
        if not slots:
            continue
        for slot, name in enumerate(n.inputs):
            if slot in slots and name:
                in_param_slot.add(name)
    if not any(name in in_param_slot for name in names):
        return names
    if names[0] in in_param_slot:
        raise InvalidModelError("every graph input is read as a weight; pass data_inputs=[...] to name the data")
    return names[:1]


def _toposort(nodes: list[RawNode], available: set[str]) -> list[RawNode]:
    """Order nodes topologically; refuse cycles, dangling inputs and tensors produced twice."""
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            if not o:
                continue
            if o in producer or o in available:
                raise InvalidModelError(f"tensor {o!r} is produced twice (node {n.name or n.op_type!r})")
            producer[o] = i
    waiting = [0] * len(nodes)
    consumers: list[list[int]] = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        for name in n.inputs:
            if not name or name in available:
                continue
            p = producer.get(name)
            if p is None:
                raise InvalidModelError(
                    f"node {n.name or n.op_type!r} reads tensor {name!r}, which no node, input or initializer provides"
                )
            waiting[i] += 1
            consumers[p].append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    ready.reverse()
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for c in reversed(consumers[i]):
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    if len(order) != len(nodes):
        stuck = next(n for i, n in enumerate(nodes) if waiting[i] > 0)
        raise InvalidModelError(f"the graph has a cycle through node {stuck.name or stuck.op_type!r}")
    if order != sorted(order):
        return [nodes[i] for i in order]
    return nodes


def _infer_shapes(
    model: onnx.ModelProto,
    nodes: Sequence[RawNode],
    init_types: Mapping[str, tuple[list[int], int]],
    values: dict[str, np.ndarray],
    inputs: Mapping[str, tuple[list[int], int]],
) -> dict[str, Shape | None]:
    """Run ONNX shape inference on a weight-free copy of the model."""
    g = model.graph
    graph = onnx.GraphProto(name=g.name or "archscore")
    graph.node.extend(g.node)
    if [list(n.output) for n in graph.node] != [n.outputs for n in nodes]:  # file not in topological order
        del graph.node[:]
        by_out = {tuple(n.output): n for n in g.node}
        graph.node.extend(by_out[tuple(n.outputs)] for n in nodes)
    for name, (dims, elem) in inputs.items():
        graph.input.append(onnx.helper.make_tensor_value_info(name, elem or onnx.TensorProto.FLOAT, dims))
    for t in g.initializer:
        dims, elem = init_types[t.name]
        if t.name in values and t.data_location != onnx.TensorProto.EXTERNAL:
            graph.initializer.append(t)
        else:
            graph.input.append(onnx.helper.make_tensor_value_info(t.name, elem or onnx.TensorProto.FLOAT, dims))
    graph.output.extend(g.output)
    slim = onnx.ModelProto(ir_version=model.ir_version, graph=graph)
    slim.opset_import.extend(model.opset_import)
    slim.functions.extend(model.functions)
    shapes = _run_inference(slim)
    computed: dict[str, np.ndarray] = {}
    for _ in range(4):  # fold shape arithmetic ONNX could not, then infer again
        if not any(s is None or -1 in s for s in shapes.values()):
            break
        found = fold(nodes, shapes, {**values, **computed})
        if not found:
            break
        computed.update(found)
        kept = [n for n in slim.graph.node if not (n.output and all(o in computed for o in n.output))]
        del slim.graph.node[:]
        slim.graph.node.extend(kept)
        slim.graph.initializer.extend(numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in found.items())
        shapes = _run_inference(slim)
    for name, v in computed.items():
        values[name] = v
        shapes[name] = tuple(v.shape)
    for name, (dims, _) in init_types.items():
        shapes[name] = tuple(dims)
    return shapes


def _run_inference(slim: onnx.ModelProto) -> dict[str, Shape | None]:
    try:
        inferred = shape_inference.infer_shapes(slim, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # onnx raises several types (InferenceError, ValidationError, RuntimeError)
        raise InvalidModelError(f"ONNX shape inference failed: {exc}") from exc
    shapes: dict[str, Shape | None] = {}
    ig = inferred.graph
    for vi in (*ig.value_info, *ig.output, *ig.input):
        dims, _ = _dims(vi.type)
        if dims is None:
            shapes.setdefault(vi.name, None)
            continue
        shape = tuple(d if isinstance(d, int) else -1 for d in dims)
        _check_dims(f"tensor {vi.name!r}", [max(d, 0) for d in shape])
        shapes[vi.name] = shape
    for t in ig.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
    return shapes


def buffer_slot(op_type: str, slot: int) -> bool:
    """Whether input ``slot`` of ``op_type`` holds non-learned state (e.g. running mean)."""
    return slot in BUFFER_SLOTS.get(op_type, ())


def is_meta_source(op_type: str) -> bool:
    """Whether ``op_type`` produces constants regardless of its inputs (shape arithmetic)."""
    return op_type in META_SOURCES
