"""Read an ONNX model into a validated, shape-annotated raw graph.

Weights are never needed and never read: large initializers (and every initializer whose data
lives in an external file) are replaced by typed graph inputs before ONNX shape inference, so a
model parses the same with its weights embedded, in missing external files, or exported with
``export_params=False``. Only small constant tensors (shape arithmetic, clip bounds, axes) are
read by value.
"""

from __future__ import annotations

import functools
import logging
import math
import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper, shape_inference

from archscore.errors import InvalidModelError, ModelLimitError
from archscore.graph.ops import BUFFER_SLOTS, PARAM_SLOTS
from archscore.graph.shape_arith import MAX_ELEMENTS, fold_node

log = logging.getLogger(__name__)

Shape = tuple[int, ...]

MAX_FILE_BYTES = 2**31 - 1  # protobuf's own hard limit for one message
MAX_NODES = 500_000
"""Nodes a graph may hold, counted the way shape inference visits them: every call of a model-local
function counts that function's body (again per call), and every subgraph (If/Loop/Scan bodies) counts."""
MAX_RANK = 32  # real networks stay below 8; ONNX itself does not bound the rank of a tensor
MAX_DIM = 2**31 - 1
MAX_NUMEL = 2**50
INITIALIZERS_PER_NODE = 4  # limits scale with max_nodes: initializers, and node inputs in all
INPUTS_PER_NODE = 8
SMALL_CONST = 64  # constants with at most this many elements are read by value
NUMERIC_KINDS = frozenset("biuf")  # numpy kinds of constant values kept (strings, complex … are not)
STANDARD_DOMAINS = ("", "ai.onnx")
GRAPH_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})  # the standard ops with graph attributes
FLOAT_TYPES = frozenset(
    {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE}
)

ModelSource = str | os.PathLike | bytes | bytearray | memoryview | onnx.ModelProto


@dataclass(slots=True)
class RawNode:
    """An ONNX node with its attributes decoded (tensor-valued attributes dropped)."""

    op_type: str
    domain: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, object]
    proto: onnx.NodeProto | None = field(default=None, repr=False, compare=False)
    """The node as read (shape inference of single nodes needs it)."""


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
        size = src.ByteSize()
        if size > max_bytes:
            raise ModelLimitError(f"the given ModelProto: {size:,} bytes is above the limit of {max_bytes:,}")
        if not src.HasField("graph"):
            raise InvalidModelError("the given ModelProto has no graph")
        return src
    if isinstance(src, (bytes, bytearray, memoryview)):
        size = src.nbytes if isinstance(src, memoryview) else len(src)
        if size > max_bytes:
            raise ModelLimitError(f"the given bytes: {size:,} bytes is above the limit of {max_bytes:,}")
        data = bytes(src)
        where = "the given bytes"
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.exists():
            raise InvalidModelError(f"{path}: no such file")
        if not path.is_file():
            raise InvalidModelError(f"{path}: not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ModelLimitError(
                f"{path}: {size:,} bytes is above the limit of {max_bytes:,}; archscore never needs "
                "weights, so export with external data (or export_params=False) to shrink the file"
            )
        try:
            with path.open("rb") as f:
                data = f.read(size + 1)
                if len(data) > size:  # the file has grown since stat(): read on, up to the limit
                    data += f.read(max_bytes + 1 - len(data))
        except OSError as exc:
            raise InvalidModelError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        where = str(path)
    else:
        raise TypeError(f"expected a path, bytes or onnx.ModelProto, got {type(src).__name__}")
    if len(data) > max_bytes:
        raise ModelLimitError(f"{where}: {len(data):,} bytes or more is above the limit of {max_bytes:,}")
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


def _shape_hint(name: str) -> str:
    """How a user gives an input's shape, in the CLI and in Python."""
    example = f"input_shapes={{{name!r}: (1, 3, 224, 224)}}"
    return f"give its shape: --input-shape {name}=1,3,224,224 (CLI), {example} (Python)"


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
            dims.append(d.dim_param if d.dim_param and type(d.dim_param) is str else "?")
    return dims, tt.elem_type


def _check_dims(kind: str, name: str, dims: Sequence[int]) -> None:
    """Refuse a negative or absurd dimension, rank or number of elements in the shape of ``kind`` ``name``."""
    if len(dims) > MAX_RANK:
        raise ModelLimitError(f"{kind} {name!r}: rank {len(dims):,} is above the limit of {MAX_RANK}")
    if not dims or (min(dims) >= 0 and max(dims) <= MAX_DIM and math.prod(dims) <= MAX_NUMEL):
        return
    what = f"{kind} {name!r}"
    numel = 1
    for d in dims:
        if d < 0 or d > MAX_DIM:
            raise ModelLimitError(f"{what}: dimension {d} in shape {tuple(dims)} is negative or absurd")
        numel *= d
    if numel > MAX_NUMEL:
        raise ModelLimitError(f"{what}: shape {tuple(dims)} has {numel:.3g} elements, more than any real network")


_A = onnx.AttributeProto
_INT, _INTS = _A.INT, _A.INTS
_DECODE = {  # INT and INTS, the common cases, are read first in decode_attribute
    _A.FLOAT: lambda a: a.f,
    _A.STRING: lambda a: a.s.decode("utf-8", "replace"),
    _A.FLOATS: lambda a: tuple(a.floats),
    _A.STRINGS: lambda a: tuple(s.decode("utf-8", "replace") for s in a.strings),
    _A.TENSOR: lambda a: _const_value(a.t),  # small numeric tensors only, else None (dropped)
}
"""Attribute type → value as plain Python; types not listed (graphs, sparse tensors …) are dropped."""


def decode_attribute(a: onnx.AttributeProto) -> object:
    """An attribute's value as plain Python (ints and floats as tuples); ``None`` for the kinds archscore drops."""
    kind = a.type
    if kind == _INTS:  # the common cases first (kernel, strides, pads …)
        return tuple(a.ints)
    if kind == _INT:
        return a.i
    decode = _DECODE.get(kind)
    return None if decode is None else decode(a)


def _read_node(n: onnx.NodeProto, opset: int) -> RawNode:
    """A node with its names checked, and, for a standard op, its arity and attributes checked against the schema.

    Attributes a standard op's schema does not define are dropped; tensor-valued attributes are
    kept only when small and numeric.
    """
    raw = RawNode(n.op_type, n.domain, n.name, list(n.input), list(n.output), {}, n)
    try:
        "".join((raw.op_type, raw.domain, raw.name, *raw.inputs, *raw.outputs))
    except TypeError:
        _check_text("node", [raw.op_type, raw.domain, raw.name, *raw.inputs, *raw.outputs])
    spec = _spec(raw.op_type, opset) if raw.domain in STANDARD_DOMAINS else None
    if spec is not None:
        _check_arity(raw, spec)
    known = spec.attr_types if spec is not None else None
    attrs = raw.attrs
    for a in n.attribute:
        name, kind = a.name, a.type
        if known is not None:
            expected = known.get(name)
            if expected is None:
                continue
            if kind != expected:
                got = _A.AttributeType.Name(kind) if kind in _ATTR_TYPES else str(kind)
                raise InvalidModelError(
                    f"{_label(raw)}: attribute {name!r} is {got}, but {raw.op_type} expects "
                    f"{_A.AttributeType.Name(expected)}"
                )
        value = decode_attribute(a)
        if value is not None:
            attrs[name] = value
    if spec is not None:
        for name in spec.required:
            if name not in attrs and not any(a.name == name for a in n.attribute):
                raise InvalidModelError(f"{_label(raw)}: required attribute {name!r} is missing")
    return raw


def _numel(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


_RAW_DTYPES = {
    onnx.TensorProto.INT64: np.dtype("<i8"),
    onnx.TensorProto.INT32: np.dtype("<i4"),
    onnx.TensorProto.FLOAT: np.dtype("<f4"),
    onnx.TensorProto.DOUBLE: np.dtype("<f8"),
}
"""Element types whose little-endian ``raw_data`` is read without ``numpy_helper``."""


def _const_value(tensor: onnx.TensorProto) -> np.ndarray | None:
    """Value of a small tensor stored inline; ``None`` if external, large, unreadable or not numeric."""
    if (
        tensor.data_location == onnx.TensorProto.EXTERNAL
        or tensor.external_data
        or not 0 <= _numel(tensor.dims) <= SMALL_CONST
        or any(d < 0 for d in tensor.dims)
    ):
        return None
    dtype = _RAW_DTYPES.get(tensor.data_type)
    raw = tensor.raw_data if dtype is not None else b""
    if raw and len(raw) == dtype.itemsize * _numel(tensor.dims):  # type: ignore[union-attr]
        return np.frombuffer(raw, dtype=dtype).reshape(tuple(tensor.dims)).copy()  # the common case, read directly
    try:
        value = numpy_helper.to_array(tensor)
    except Exception:  # malformed payloads are treated as unknown values, never fatal
        return None
    return value if value.dtype.kind in NUMERIC_KINDS else None


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
    _check_size(model, max_nodes)
    for what, count, limit in (
        ("graph inputs and outputs", len(g.input) + len(g.output), max_nodes),
        ("initializers", len(g.initializer), INITIALIZERS_PER_NODE * max_nodes),
    ):
        if count > limit:
            raise ModelLimitError(f"the ONNX graph has {count:,} {what}, above the limit of {limit:,}")

    opset = max((o.version for o in model.opset_import if o.domain in STANDARD_DOMAINS), default=0)
    if opset <= 0 and any(n.domain in STANDARD_DOMAINS for n in g.node):
        raise InvalidModelError(
            "the model imports no version of the standard ONNX opset (opset_import is empty or invalid); "
            "a truncated or hand-built file?"
        )
    for what, items in (("graph input", g.input), ("graph output", g.output), ("initializer", g.initializer)):
        _check_text(what, [i.name for i in items])
    nodes = [_read_node(n, opset) for n in g.node]
    _check_reads(nodes, max_nodes)
    ordered = _toposort(nodes, {i.name for i in g.initializer} | {i.name for i in g.input})
    reordered, nodes = ordered is not nodes, ordered

    values, param_numel, init_types = _initializers(g, check=True)
    init_names = set(init_types)
    _read_constant_nodes(nodes, values)

    # --- data inputs vs weights given as inputs ------------------------------------------
    declared = [i for i in g.input if i.name not in init_names]
    if data_inputs is None:
        data_names = _guess_data_inputs(declared, nodes)
    else:
        data_names = list(data_inputs)
        if len(set(data_names)) != len(data_names):
            raise InvalidModelError(f"data_inputs {data_names} names an input twice")
        unknown = set(data_names) - {i.name for i in declared}
        if unknown:
            raise InvalidModelError(f"data_inputs {sorted(unknown)} are not graph inputs")
    input_shapes = dict(input_shapes or {})
    unknown = set(input_shapes) - set(data_names)
    if unknown:
        raise InvalidModelError(f"input_shapes names {sorted(unknown)}, which are not data inputs {data_names}")

    fixed_inputs: dict[str, tuple[list[int], int]] = {}
    retype: set[str] = set()  # inputs whose declared type differs from the one inference must see
    for vi in declared:
        dims, elem = _dims(vi.type)
        declared_dims = dims
        if vi.name in data_names:
            if vi.name in input_shapes:
                dims = _given_shape(vi.name, input_shapes[vi.name])
            elif dims is None:
                raise InvalidModelError(f"input {vi.name!r} has no shape; {_shape_hint(vi.name)}")
            else:
                dims = [1 if (isinstance(d, str) and axis == 0) else d for axis, d in enumerate(dims)]
                symbolic = [(axis, d) for axis, d in enumerate(dims) if isinstance(d, str)]
                if symbolic:
                    axis, name = symbolic[0]
                    raise InvalidModelError(
                        f"input {vi.name!r} has symbolic dimension {name!r} at axis {axis}; {_shape_hint(vi.name)}"
                    )
        elif dims is None or any(isinstance(d, str) for d in dims):
            raise InvalidModelError(f"weight input {vi.name!r} has no static shape")
        _check_dims("input", vi.name, dims)  # type: ignore[arg-type]
        fixed_inputs[vi.name] = (dims, elem)  # type: ignore[assignment]
        if dims != declared_dims or not elem:
            retype.add(vi.name)
        if vi.name not in data_names and (size := _learned(elem, dims)):  # type: ignore[arg-type]
            param_numel[vi.name] = size

    outputs = [o.name for o in g.output]
    node_outputs = {o for n in nodes for o in n.outputs if o}
    for o in outputs:
        if o not in node_outputs and o not in fixed_inputs and o not in init_names:
            raise InvalidModelError(f"graph output {o!r} is not produced by any node")
    held = _held_slices(nodes, set(fixed_inputs) | set(init_types))
    slim = _weightless(
        model,
        owned=not isinstance(src, onnx.ModelProto),
        nodes=[n for n in nodes if id(n) not in held] if reordered or held else None,
        values=values,
        inputs={name: fixed_inputs[name] for name in retype},
    )
    raw, types = _shaped(model, slim, nodes, data_names, fixed_inputs, init_types, values, param_numel, held)
    _check_semantics(nodes, raw.shapes, types, opset)
    return raw


def read_built(
    nodes: list[RawNode],
    data_inputs: Sequence[str],
    inputs: Mapping[str, tuple[list[int], int]],
    initializers: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    *,
    producer: str,
    opset: int,
    ir_version: int,
    protos: Callable[[int], onnx.NodeProto],
) -> RawGraph:
    """The raw graph of a network archscore built itself (a search space's ``NetBuilder``).

    The same :class:`RawGraph` :func:`read_graph` gives for the serialised model, without the work
    that guards against untrusted files, and without making the model at all: no protobuf messages,
    no attribute decoding (``nodes`` come decoded from the builder, in topological order), no
    limit, name, arity or type checks. ONNX infers the shapes node by node
    (:func:`_infer_built`), each distinct node once per process. Search spaces build hundreds of
    thousands of networks for the graph cache; tests hold this path equal to :func:`read_graph`
    for every space.

    Args:
        nodes: The network's nodes, decoded, in topological order.
        data_inputs: Names of the graph inputs that carry data.
        inputs: Every graph input, name → (dims, element type): data inputs and weights.
        initializers: Every initializer's value.
        outputs: The graph outputs.
        producer, opset, ir_version: What the model declares.
        protos: The ``NodeProto`` of node ``k`` (made only for ONNX inference of a node not met before).
    """
    values: dict[str, np.ndarray] = {}
    param_numel: dict[str, int] = {}
    init_types: dict[str, tuple[list[int], int]] = {}
    for name, value in initializers.items():
        dims = list(value.shape)
        elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
        init_types[name] = (dims, elem)
        if size := _learned(elem, dims):
            param_numel[name] = size
        elif value.size <= SMALL_CONST and value.dtype.kind in NUMERIC_KINDS:
            values[name] = value
    fixed_inputs = {name: spec for name, spec in inputs.items() if name not in init_types}
    for name, (dims, elem) in fixed_inputs.items():
        if (size := _learned(elem, dims)) and name not in data_inputs:
            param_numel[name] = size
    _read_constant_nodes(nodes, values)
    types: dict[str, int] = {}
    shapes: dict[str, Shape | None] = {}
    for name, (dims, elem) in (*init_types.items(), *fixed_inputs.items()):
        types[name] = elem
        shapes[name] = tuple(dims)
    opset_imports = [onnx.helper.make_opsetid("", opset)]
    if _infer_built(nodes, shapes, types, values, opset_imports, ir_version, protos):
        for k, n in enumerate(nodes):
            n.proto = n.proto or protos(k)
        _complete(nodes, opset_imports, ir_version, shapes, types, values)
    return _assemble(nodes, list(data_inputs), list(outputs), shapes, values, param_numel, init_types, fixed_inputs,
                     producer, opset)  # fmt: skip


_NODE_TYPES: dict[tuple, tuple[tuple[int, Shape | None, bool] | None, ...]] = {}
"""What ONNX infers for a node, by (op, domain, attributes, input types, input values): one entry per distinct node."""
_NODE_TYPES_LIMIT = 100_000


def _infer_built(
    nodes: Sequence[RawNode],
    shapes: dict[str, Shape | None],
    types: dict[str, int],
    values: Mapping[str, np.ndarray],
    opset_imports: list[onnx.OperatorSetIdProto],
    ir_version: int,
    protos: Callable[[int], onnx.NodeProto],
) -> bool:
    """Element types and shapes of every node output, node by node, as ONNX whole-model inference gives them.

    Whole-model inference (``data_prop=False``) is this sweep: each node's inference function sees
    its inputs' types and the values of constant inputs. A network repeats few distinct nodes, so
    each is inferred once (:data:`_NODE_TYPES`) and met again as a dictionary look-up. Each output
    is checked (:func:`_inferred_shape`) before a later node sees it, so no Slice meets the negative
    dimension that aborts ONNX (see :func:`_held_slices`). Returns whether some output is left
    without a full static shape (for :func:`_complete`).
    """
    memo = _NODE_TYPES
    if len(memo) > _NODE_TYPES_LIMIT:
        memo.clear()
    opset = opset_imports[0].version
    seen: dict[str, tuple] = {}  # tensor → what inference sees of it: (element type, shape[, value])
    for name, shape in shapes.items():
        seen[name] = _seen(name, types.get(name), shape, values)
    look = seen.get
    incomplete = False
    for k, n in enumerate(nodes):
        try:
            key = (n.op_type, n.domain, tuple(n.attrs.items()), tuple(map(look, n.inputs)))
            found = memo.get(key)
        except TypeError:  # an unhashable attribute (a tensor-valued one): inferred every time
            key, found = None, None
        if found is None:
            found = _infer_node(n, protos(k), shapes, types, values, opset, opset_imports, ir_version)
            if key is not None:
                memo[key] = found
        for name, out in zip(n.outputs, found):
            if not name:
                continue
            if out is None:
                incomplete = True
                continue
            elem, shape, static = out
            if elem:
                types[name] = elem
            if shape is None:
                shapes.setdefault(name, None)
            else:
                shapes[name] = shape
            seen[name] = _seen(name, types.get(name), shapes[name], values)
            if not static:
                incomplete = True
    return incomplete


def _seen(name: str, elem: int | None, shape: Shape | None, values: Mapping[str, np.ndarray]) -> tuple:
    """What ONNX inference of a node sees of an input: its element type and shape, and a constant's value."""
    v = values.get(name)
    return (elem, shape) if v is None else (elem, shape, v.dtype.str, v.tobytes())


def _infer_node(
    n: RawNode,
    proto: onnx.NodeProto,
    shapes: Mapping[str, Shape | None],
    types: Mapping[str, int],
    values: Mapping[str, np.ndarray],
    opset: int,
    opset_imports: list[onnx.OperatorSetIdProto],
    ir_version: int,
) -> tuple[tuple[int, Shape | None, bool] | None, ...]:
    """(element type, shape, whether static) of each output of one node as ONNX infers it; ``None`` if it does not."""
    schema = _schema(n.op_type, opset) if n.domain in STANDARD_DOMAINS else None
    inputs = [i for i in n.inputs if i]
    if schema is None:
        return (None,) * len(n.outputs)
    in_types = {i: _type_proto(types[i], shapes.get(i)) for i in inputs if i in types}
    data = {i: _tensor(values[i], i) for i in inputs if i in values}
    try:
        out_types = shape_inference.infer_node_outputs(
            schema, proto, in_types, data, opset_imports=opset_imports, ir_version=ir_version
        )
    except Exception:  # lenient, like whole-graph inference in its default mode: the outputs stay unknown
        return (None,) * len(n.outputs)
    found = []
    for name in n.outputs:
        tp = out_types.get(name)
        if tp is None:
            found.append(None)
            continue
        shape = _inferred_shape(name, tp, [proto])
        found.append((tp.tensor_type.elem_type, shape, _static(shape)))
    return tuple(found)


def _tensor(value: np.ndarray, name: str) -> onnx.TensorProto:
    """A constant input's value for ONNX inference (``np.ascontiguousarray`` would make a scalar 1-D)."""
    return numpy_helper.from_array(value if value.flags.c_contiguous else np.ascontiguousarray(value), name)


def _type_proto(elem: int, shape: Shape | None) -> onnx.TypeProto:
    return onnx.helper.make_tensor_type_proto(elem, None if shape is None else [d if d >= 0 else None for d in shape])


def _learned(elem: int, dims: Sequence[int]) -> int:
    """The size of a constant tensor (initializer, or weight given as input) if it is a learned parameter, else 0.

    A learned parameter is a float tensor with more than one element (a scalar is a constant).
    """
    if elem not in FLOAT_TYPES:
        return 0
    size = _numel(dims)
    return size if size > 1 else 0


def _initializers(
    g: onnx.GraphProto, *, check: bool
) -> tuple[dict[str, np.ndarray], dict[str, int], dict[str, tuple[list[int], int]]]:
    """Values of the small constant initializers, sizes of the learned ones, and every initializer's type."""
    values: dict[str, np.ndarray] = {}
    param_numel: dict[str, int] = {}
    init_types: dict[str, tuple[list[int], int]] = {}
    for t in g.initializer:
        dims = list(t.dims)
        if check:
            _check_dims("initializer", t.name, dims)
        init_types[t.name] = (dims, t.data_type)
        if size := _learned(t.data_type, dims):
            param_numel[t.name] = size  # a learned tensor: its values are never needed
            continue
        value = _const_value(t)
        if value is not None:
            values[t.name] = value
    return values, param_numel, init_types


def _shaped(
    model: onnx.ModelProto,
    slim: onnx.ModelProto,
    nodes: list[RawNode],
    data_names: list[str],
    fixed_inputs: dict[str, tuple[list[int], int]],
    init_types: dict[str, tuple[list[int], int]],
    values: dict[str, np.ndarray],
    param_numel: dict[str, int],
    held: set[int],
) -> tuple[RawGraph, dict[str, int]]:
    """The raw graph of ``model``, every tensor's shape from ONNX shape inference on ``slim``; and the element types."""
    types: dict[str, int] = {}
    node_outputs = {o for n in nodes for o in n.outputs if o}
    shapes = _infer_shapes(slim, nodes, node_outputs, init_types, values, fixed_inputs, types, held)
    opset = max((o.version for o in model.opset_import if o.domain in STANDARD_DOMAINS), default=0)
    producer = f"{model.producer_name} {model.producer_version}".strip()
    outputs = [o.name for o in model.graph.output]
    raw = _assemble(nodes, data_names, outputs, shapes, values, param_numel, init_types, fixed_inputs, producer, opset)
    return raw, types


def _assemble(
    nodes: list[RawNode],
    data_names: list[str],
    outputs: list[str],
    shapes: dict[str, Shape | None],
    values: dict[str, np.ndarray],
    param_numel: dict[str, int],
    init_types: dict[str, tuple[list[int], int]],
    fixed_inputs: Mapping[str, tuple[list[int], int]],
    producer: str,
    opset: int,
) -> RawGraph:
    for name in data_names:
        shapes[name] = tuple(fixed_inputs[name][0])
    meta = {"producer": producer, "opset": opset, "input_names": list(data_names)}
    constants = set(init_types) | (set(fixed_inputs) - set(data_names))
    return RawGraph(nodes, data_names, outputs, shapes, values, param_numel, constants, meta)


_CONSTANT_ATTRS = (("value", None), ("value_float", np.float32), ("value_int", np.int64),
                   ("value_ints", np.int64), ("value_floats", np.float32))  # fmt: skip


def _read_constant_nodes(nodes: Sequence[RawNode], values: dict[str, np.ndarray]) -> None:
    """Values of ``Constant`` nodes, from their decoded attributes (large or external tensors stay unknown)."""
    for n in nodes:
        if n.op_type != "Constant" or not n.outputs:
            continue
        for key, dtype in _CONSTANT_ATTRS:
            v = n.attrs.get(key)
            if v is None:
                continue
            try:
                values[n.outputs[0]] = v if dtype is None else np.array(v, dtype=dtype)
            except (TypeError, ValueError, OverflowError):  # not numeric, or out of range: value unknown
                log.debug("unreadable Constant %s", n.name)
            break


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


def _check_size(model: onnx.ModelProto, max_nodes: int) -> None:
    """Refuse a graph with more nodes than ``max_nodes``, counting what ONNX shape inference will visit.

    A call of a model-local function costs its body's nodes (inference expands the body at every
    call), a node with graph attributes (If, Loop, Scan) costs its subgraphs' nodes, and a value's
    type costs its rank: a small file can otherwise ask for minutes of inference.
    """
    g = model.graph
    if len(g.node) > max_nodes:
        raise ModelLimitError(f"the ONNX graph has {len(g.node):,} nodes, above the limit of {max_nodes:,}")
    for vi in (*g.input, *g.output, *g.value_info):
        if vi.type.HasField("tensor_type") and len(vi.type.tensor_type.shape.dim) > MAX_RANK:
            rank = len(vi.type.tensor_type.shape.dim)
            raise ModelLimitError(f"value {vi.name!r}: rank {rank:,} is above the limit of {MAX_RANK}")
    functions = {(f.domain, f.name): f for f in model.functions}
    shadowing = any(domain in STANDARD_DOMAINS for domain, _ in functions)
    cost: dict[tuple[str, str], int] = {}
    opening: set[tuple[str, str]] = set()

    def nodes_cost(nodes: Iterable[onnx.NodeProto], budget: int) -> int:
        total = 0
        for n in nodes:
            if total > budget:
                break
            total += 1
            if n.domain in STANDARD_DOMAINS and n.op_type not in GRAPH_OPS and not shadowing:
                continue  # the common case: a standard op, no subgraph, no function of that name
            key = (n.domain, n.op_type)
            if key in functions:
                if key not in cost:
                    if key in opening:
                        raise InvalidModelError(f"model-local function {n.domain}:{n.op_type} calls itself")
                    opening.add(key)
                    cost[key] = nodes_cost(functions[key].node, budget)
                    opening.discard(key)
                total += cost[key]
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    total += nodes_cost(a.g.node, budget)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    total += sum(nodes_cost(sub.node, budget) for sub in a.graphs)
        return total

    total = nodes_cost(g.node, max_nodes)
    if total > max_nodes:
        raise ModelLimitError(
            f"the ONNX graph has more than {max_nodes:,} nodes once its model-local functions and subgraphs "
            f"are counted ({len(g.node):,} at the top level); the limit is {max_nodes:,}"
        )


def _check_reads(nodes: Sequence[RawNode], max_nodes: int) -> None:
    """Bound the number of node inputs (edges), which ``max_nodes`` alone does not."""
    total = sum(len(n.inputs) for n in nodes)
    if total > INPUTS_PER_NODE * max_nodes:
        raise ModelLimitError(
            f"the ONNX graph's nodes read {total:,} tensors, above the limit of {INPUTS_PER_NODE * max_nodes:,}"
        )


def _given_shape(name: str, dims: object) -> list[int]:
    """A shape from ``input_shapes``, checked to be a sequence of integers."""
    try:
        shape = [int(d) for d in dims]  # type: ignore[attr-defined]
        exact = all(int(d) == d for d in dims)  # type: ignore[attr-defined]
    except (TypeError, ValueError, OverflowError):
        exact = False
    if not exact or isinstance(dims, (str, bytes)):
        raise InvalidModelError(f"input_shapes[{name!r}] = {dims!r} is not a sequence of integers")
    return shape


def _label(n: onnx.NodeProto | RawNode) -> str:
    return f"node {n.name!r} ({n.op_type})" if n.name else f"an unnamed {n.op_type} node"


@functools.lru_cache(maxsize=2048)
def _schema(op_type: str, opset: int) -> onnx.defs.OpSchema | None:
    """The ONNX schema of a standard op at ``opset`` (its newest form if the opset predates it)."""
    if 0 < opset < 2**31:
        try:
            return onnx.defs.get_schema(op_type, opset, "")
        except onnx.defs.SchemaError:
            pass
    try:
        return onnx.defs.get_schema(op_type, "")
    except onnx.defs.SchemaError:
        return None  # not an ONNX op: kept as "other"


def _arity(low: int, high: int) -> str:
    if high >= 2**31 - 1:
        return f"at least {low}"
    return f"{low}" if low == high else f"{low} to {high}"


class _Spec(NamedTuple):
    """What a standard op's schema says about a node's arity and attributes."""

    inputs: tuple[int, int]
    outputs: tuple[int, int]
    single_inputs: tuple[tuple[int, str], ...]
    single_outputs: tuple[tuple[int, str], ...]
    attr_types: dict[str, int]
    required: tuple[str, ...]
    input_types: tuple[frozenset[int] | None, ...]
    """Element types each formal input accepts (``None``: not checked); the last one repeats for variadic inputs."""


@functools.lru_cache(maxsize=2048)
def _spec(op_type: str, opset: int) -> _Spec | None:
    schema = _schema(op_type, opset)
    if schema is None:
        return None
    single = onnx.defs.OpSchema.FormalParameterOption.Single
    return _Spec(
        (schema.min_input, schema.max_input),
        (schema.min_output, schema.max_output),
        tuple((k, p.name) for k, p in enumerate(schema.inputs) if p.option == single),
        tuple((k, p.name) for k, p in enumerate(schema.outputs) if p.option == single),
        {name: int(a.type) for name, a in schema.attributes.items()},
        tuple(name for name, a in schema.attributes.items() if a.required),
        tuple(_allowed_types(op_type, opset, k) for k in range(len(schema.inputs))),
    )


def _check_text(what: str, values: Sequence[object]) -> None:
    """Names must be text: protobuf hands back invalid UTF-8 as ``bytes``."""
    for v in values:
        if type(v) is not str:
            raise InvalidModelError(f"a {what} has a name or type that is not valid UTF-8 text: {v!r:.80}")


def _check_arity(node: RawNode, spec: _Spec) -> None:
    """Refuse a standard ONNX node whose number of inputs or outputs does not fit its schema."""
    low_in, high_in = spec.inputs
    low_out, high_out = spec.outputs
    if (
        low_in <= len(node.inputs) <= high_in and low_out <= len(node.outputs) <= high_out
        and "" not in node.inputs and "" not in node.outputs
    ):  # fmt: skip
        return
    for kind, names, (low, high), single in (
        ("inputs", node.inputs, spec.inputs, spec.single_inputs),
        ("outputs", node.outputs, spec.outputs, spec.single_outputs),
    ):
        if not low <= len(names) <= high:
            raise InvalidModelError(f"{_label(node)} has {len(names)} {kind}; {node.op_type} takes {_arity(low, high)}")
        for k, param in single:
            if k < len(names) and not names[k]:
                raise InvalidModelError(f"{_label(node)}: required {kind[:-1]} {k} ({param}) is empty")


_ATTR_TYPES = frozenset(onnx.AttributeProto.AttributeType.values())
WINDOWED = frozenset({"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"})
RECURRENT = frozenset({"LSTM", "GRU", "RNN"})


@functools.lru_cache(maxsize=4096)
def _allowed_types(op_type: str, opset: int, slot: int) -> frozenset[int] | None:
    """Element types input ``slot`` of a standard op accepts (``None``: not checked)."""
    schema = _schema(op_type, opset)
    if schema is None or not schema.inputs:
        return None
    param = schema.inputs[min(slot, len(schema.inputs) - 1)]
    strs: Sequence[str] = [param.type_str]
    for c in schema.type_constraints:
        if c.type_param_str == param.type_str:
            strs = c.allowed_type_strs
    allowed = set()
    for t in strs:
        if t.startswith("tensor(") and t.endswith(")"):
            try:
                allowed.add(onnx.TensorProto.DataType.Value(t[len("tensor(") : -1].upper()))
            except ValueError:
                return None
    return frozenset(allowed) or None


def _type_name(elem: int) -> str:
    try:
        return onnx.TensorProto.DataType.Name(elem).lower()
    except ValueError:
        return f"unknown type {elem}"


def _check_semantics(
    nodes: Sequence[RawNode], shapes: Mapping[str, Shape | None], types: Mapping[str, int], opset: int
) -> None:
    """Refuse standard nodes whose input types or shapes contradict their attributes.

    ONNX shape inference runs in lenient mode (so unknown ops and partial shapes never stop a
    parse); these are the contradictions it would have reported and the canonical form relies on.
    """
    windows_ok: set[tuple] = set()
    types_ok: set[tuple] = set()  # (op, input element types) already checked
    get = types.get
    for n in nodes:
        spec = _spec(n.op_type, opset) if n.domain in STANDARD_DOMAINS else None
        if spec is None:
            continue
        elems = tuple(map(get, n.inputs))
        if (n.op_type, elems) not in types_ok:  # each op with each input typing is checked once
            _check_types(n, elems, spec)
            types_ok.add((n.op_type, elems))
        if n.op_type in WINDOWED:
            x = shapes.get(n.inputs[0])
            w = shapes.get(n.inputs[1]) if n.op_type in ("Conv", "ConvTranspose") and len(n.inputs) > 1 else None
            try:
                key = (n.op_type, tuple(n.attrs.items()), x, w)
                known = key in windows_ok
            except TypeError:  # an unhashable attribute value: check without memo
                key, known = None, False
            if not known:
                _check_window(n, x, w)
                if key is not None:
                    windows_ok.add(key)  # networks repeat the same layer: check each setting once
        elif n.op_type == "Gemm":
            for name in n.inputs[:2]:
                shape = shapes.get(name)
                if shape is not None and len(shape) != 2:
                    raise InvalidModelError(f"{_label(n)}: input {name!r} has shape {shape}, but Gemm needs a matrix")
        elif n.op_type in RECURRENT:
            for name in n.inputs[:3]:
                shape = shapes.get(name)
                if shape is not None and len(shape) != 3:
                    raise InvalidModelError(
                        f"{_label(n)}: input {name!r} has shape {shape}, but {n.op_type} needs rank 3"
                    )
            hidden = n.attrs.get("hidden_size", 1)
            if not isinstance(hidden, int) or hidden < 1:
                raise InvalidModelError(f"{_label(n)}: hidden_size={hidden} is not a positive size")


def _check_types(n: RawNode, elems: Sequence[int | None], spec: _Spec) -> None:
    last = len(spec.input_types) - 1
    if last < 0:
        return
    for k, (name, elem) in enumerate(zip(n.inputs, elems)):
        if not elem or not name:
            continue
        allowed = spec.input_types[min(k, last)]
        if allowed is not None and elem not in allowed:
            raise InvalidModelError(
                f"{_label(n)}: input {k} {name!r} has element type {_type_name(elem)}, which "
                f"{n.op_type} does not accept ({', '.join(sorted(_type_name(t) for t in allowed))})"
            )


def _check_window(n: RawNode, x: Shape | None, w: Shape | None) -> None:
    """Convolution and pooling: kernel, strides, dilations, pads and ranks of input ``x``, weight ``w`` agree."""
    a = n.attrs
    kernel = a.get("kernel_shape")
    if isinstance(kernel, tuple):
        nd = len(kernel)
    elif w is not None:
        nd = len(w) - 2
    elif x is not None:
        nd = len(x) - 2
    else:
        return
    if nd < 1:
        raise InvalidModelError(f"{_label(n)} has no spatial dimension (kernel {kernel}, input {x}, weight {w})")
    for key, size, low in (
        ("kernel_shape", nd, 1),
        ("strides", nd, 1),
        ("dilations", nd, 1),
        ("pads", 2 * nd, 0),
        ("output_padding", nd, 0),
    ):
        v = a.get(key)
        if v is None:
            continue
        if not isinstance(v, tuple) or len(v) != size:
            raise InvalidModelError(f"{_label(n)}: {key}={v} should have {size} values for {nd} spatial dimension(s)")
        if min(v) < low:
            raise InvalidModelError(f"{_label(n)}: {key}={v} has a value below {low}")
    group = a.get("group", 1)
    if not isinstance(group, int) or group < 1:
        raise InvalidModelError(f"{_label(n)}: group={group} is not a positive count")
    for role, shape in (("input", x), ("weight", w)):
        if shape is not None and len(shape) != nd + 2:
            raise InvalidModelError(
                f"{_label(n)}: {role} shape {shape} does not have rank {nd + 2} for a {nd}-D window"
            )
    if isinstance(kernel, tuple) and w is not None and all(d >= 0 for d in w[2:]) and tuple(w[2:]) != kernel:
        raise InvalidModelError(f"{_label(n)}: kernel_shape={kernel} does not match weight shape {w}")


def _toposort(nodes: list[RawNode], available: set[str]) -> list[RawNode]:
    """Order nodes topologically; refuse cycles, dangling inputs and tensors produced twice.

    Returns ``nodes`` itself when it is already in topological order (as exporters write it).
    """
    seen = set(available)
    seen.add("")
    for n in nodes:
        if not seen.issuperset(n.inputs):
            break
        for o in n.outputs:
            if o in seen and o:
                raise InvalidModelError(f"tensor {o!r} is produced twice (node {n.name or n.op_type!r})")
            seen.add(o)
    else:
        return nodes
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


def _held_slices(nodes: Sequence[RawNode], sound: set[str]) -> set[int]:
    """Slice nodes (by ``id``) kept out of whole-graph shape inference.

    Slice's inference aborts the process (a C++ assertion in onnx 1.23) on a negative dimension,
    which an earlier node can produce (a kernel larger than its input): a Slice whose data is not
    known to be sound waits for the node-by-node pass of :func:`_complete`, which checks its
    input first. ``sound`` holds the graph's inputs and initializers.
    """
    if not any(n.op_type == "Slice" for n in nodes):
        return set()
    sound = set(sound)
    for n in nodes:  # in topological order: soundness flows through ops that cannot make a dimension negative
        if n.op_type in ("Shape", "Size") or (
            n.op_type in _SIZE_KEEPING and n.domain in STANDARD_DOMAINS and all(not i or i in sound for i in n.inputs)
        ):
            sound.update(n.outputs)
    return {id(n) for n in nodes if n.op_type == "Slice" and n.inputs and n.inputs[0] not in sound}


_SIZE_KEEPING = frozenset(
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "Greater", "Not",
        "And", "Or", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid",
        "HardSwish", "Tanh", "Softplus", "Softsign", "Mish", "Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs",
        "Clip", "Floor", "Ceil", "Round", "Sin", "Cos", "Softmax", "LogSoftmax", "MatMul", "Gemm", "Transpose",
        "Concat", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Identity", "Dropout", "Cast", "CastLike",
        "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization", "Slice",
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Gather", "GatherElements",
    }
)  # fmt: skip
"""Ops whose ONNX shape inference cannot turn sound (non-negative) input shapes into a negative
dimension: their outputs broadcast, permute, join or copy input dimensions, or are unknown (Reshape and
Expand with a negative target leave the shape unknown). Windowed ops (Conv, pooling), Pad, Tile, Split,
TopK, Range … compute sizes by arithmetic and are not listed."""


_DATA_FIELDS = ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")


def _weightless(
    model: onnx.ModelProto,
    *,
    owned: bool,
    nodes: Sequence[RawNode] | None,
    values: Mapping[str, np.ndarray],
    inputs: Mapping[str, tuple[list[int], int]],
) -> onnx.ModelProto:
    """The model as ONNX shape inference should see it: no weights, fixed input shapes, nodes in ``nodes``' order.

    ``inputs`` holds the graph inputs whose declared type is replaced (fixed dimensions).

    Initializers whose values archscore does not read keep their name, type and shape but lose their
    data (and any external-data reference), so inference never touches a weight. Value annotations
    (``value_info``, output types) are dropped: ONNX infers them from the fixed input shapes. A model archscore
    loaded itself (``owned``) is changed in place; a caller's ModelProto is left untouched.
    """
    g = model.graph
    if owned and nodes is None:
        slim, graph = model, g
        for t in g.initializer:
            if t.name not in values:
                for f in _DATA_FIELDS:
                    t.ClearField(f)
                t.ClearField("external_data")
                t.ClearField("data_location")
    else:
        slim = onnx.ModelProto(ir_version=model.ir_version)
        slim.opset_import.extend(model.opset_import)
        slim.functions.extend(model.functions)
        graph = slim.graph
        graph.name = "archscore"
        graph.node.extend(g.node if nodes is None else [n.proto for n in nodes])  # type: ignore[misc]
        graph.input.extend(g.input)
        graph.output.extend(onnx.ValueInfoProto(name=o.name) for o in g.output)
        for t in g.initializer:
            if t.name in values:
                graph.initializer.append(t)
            else:
                graph.initializer.add(name=t.name, data_type=t.data_type, dims=t.dims)
    if graph is g:  # annotations written by the exporter may contradict the shapes fixed here: infer afresh
        g.ClearField("value_info")
        names = [o.name for o in g.output]
        g.ClearField("output")
        g.output.extend(onnx.ValueInfoProto(name=name) for name in names)
    for vi in graph.input:
        fixed = inputs.get(vi.name)
        if fixed is not None:
            dims, elem = fixed
            vi.CopyFrom(onnx.helper.make_tensor_value_info(vi.name, elem or onnx.TensorProto.FLOAT, dims))
    return slim


def _infer_shapes(
    slim: onnx.ModelProto,
    nodes: Sequence[RawNode],
    node_outputs: set[str],
    init_types: Mapping[str, tuple[list[int], int]],
    values: dict[str, np.ndarray],
    inputs: Mapping[str, tuple[list[int], int]],
    types: dict[str, int],
    held: set[int],
) -> dict[str, Shape | None]:
    """Shapes of every tensor from ONNX shape inference on a weightless model (element types go to ``types``).

    ``held`` are the Slice nodes (by ``id``) left out of ``slim`` (see :func:`_held_slices`): once a
    pass has shown a held Slice's data to have a sound static shape, the Slice joins the next pass,
    so a network with slices (DARTS' factorized reductions) is still inferred whole, in a few passes.
    """
    for name, (_, elem) in (*init_types.items(), *inputs.items()):
        types[name] = elem
    shapes, partial = _run_inference(slim, types)
    while held:
        release = {
            id(n) for n in nodes if id(n) in held and n.inputs[0] not in partial and _static(shapes.get(n.inputs[0]))
        }
        if not release:
            break
        held = held - release
        del slim.graph.node[:]
        slim.graph.node.extend([n.proto for n in nodes if id(n) not in held])  # type: ignore[misc]
        shapes, partial = _run_inference(slim, types)
    for name, (dims, _) in (*init_types.items(), *inputs.items()):
        shapes[name] = tuple(dims)
    if not partial.isdisjoint(node_outputs) or not shapes.keys() >= node_outputs:
        _complete(nodes, list(slim.opset_import), slim.ir_version, shapes, types, values)
    return shapes


def _static(shape: Shape | None) -> bool:
    return shape is not None and all(d >= 0 for d in shape)


def _inferred_shape(name: str, tp: onnx.TypeProto, nodes: Iterable[onnx.NodeProto | RawNode]) -> Shape | None:
    """The shape ONNX inferred for ``name`` (``-1`` for unknown dims); refuses negative and absurd sizes."""
    dims, _ = _dims(tp)
    if dims is None:
        return None
    if any(isinstance(d, int) and d < 0 for d in dims):
        producer = next((n for n in nodes if name in n.output), None) if nodes else None
        where = f" (output of {_label(producer)})" if producer is not None else ""
        shape = tuple(d if isinstance(d, int) else "?" for d in dims)
        raise InvalidModelError(
            f"tensor {name!r}{where} would have a negative dimension, shape {shape}: "
            "a kernel, pad or slice does not fit its input"
        )
    shape = tuple(d if isinstance(d, int) else -1 for d in dims)
    _check_dims("tensor", name, [max(d, 0) for d in shape])
    return shape


def _complete(
    nodes: Sequence[RawNode],
    opset_imports: list[onnx.OperatorSetIdProto],
    ir_version: int,
    shapes: dict[str, Shape | None],
    types: dict[str, int],
    values: dict[str, np.ndarray],
) -> None:
    """Fill in the shapes ONNX inference left unknown, in one topological sweep.

    Exporters compute reshape targets from ``Shape`` through ``Gather``/``Concat``/… chains, and
    ONNX only resolves them with its data propagation, which is not safe on untrusted models: it
    materialises one protobuf message per element of any 1-D tensor with a known length that
    reaches Gather/Concat/Add/…, so a 9-node model whose index tensor is declared with 2**31
    elements takes minutes and gigabytes (onnx 1.23). Instead, node by node, :func:`fold_node`
    evaluates the small shape tensors and ONNX infers the node's outputs from its inputs' types and
    those values, which join ``values``.
    """
    known = dict(values)
    opset = max((o.version for o in opset_imports if o.domain in STANDARD_DOMAINS), default=0)
    for n in nodes:
        proto = n.proto
        outs = [o for o in n.outputs if o]
        if not outs:
            continue
        value = fold_node(n, shapes, known)
        if value is not None:
            known[outs[0]] = values[outs[0]] = value
            shapes[outs[0]] = tuple(value.shape)
        if all(_static(shapes.get(o)) for o in outs) or n.domain not in STANDARD_DOMAINS:
            continue
        schema = _schema(n.op_type, opset)
        inputs = [i for i in n.inputs if i]
        if schema is None or any(i not in types for i in inputs) or not any(shapes.get(i) for i in inputs):
            continue
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in proto.attribute):
            continue
        in_types = {i: _type_proto(types[i], shapes.get(i)) for i in inputs}
        data = {i: _tensor(known[i], i) for i in inputs if _small(known.get(i))}
        try:
            out_types = shape_inference.infer_node_outputs(
                schema, proto, in_types, data, opset_imports=opset_imports, ir_version=ir_version
            )
        except Exception:  # lenient, like whole-graph inference: the outputs stay unknown
            continue
        for name, tp in out_types.items():
            if tp.tensor_type.elem_type:
                types[name] = tp.tensor_type.elem_type
            shape = _inferred_shape(name, tp, [proto])
            if shape is None:
                continue
            old = shapes.get(name)
            if old is None or sum(d >= 0 for d in shape) > sum(d >= 0 for d in old):
                shapes[name] = shape


def _small(value: np.ndarray | None) -> bool:
    return value is not None and value.size <= MAX_ELEMENTS and value.dtype.kind in NUMERIC_KINDS


_DIM_VALUE = operator.attrgetter("dim_value")


def _run_inference(slim: onnx.ModelProto, types: dict[str, int]) -> tuple[dict[str, Shape | None], set[str]]:
    """Shapes (``-1`` for unknown dimensions) of the tensors ONNX infers, and the names of those not fully known.

    Element types go to ``types``.
    """
    try:
        # data_prop=False: ONNX's data propagation is unbounded on hostile input (see _complete)
        inferred = shape_inference.infer_shapes(slim, check_type=False, strict_mode=False, data_prop=False)
    except Exception as exc:  # onnx raises several types (InferenceError, ValidationError, RuntimeError)
        raise InvalidModelError(f"ONNX shape inference failed: {exc}") from exc
    shapes: dict[str, Shape | None] = {}
    partial: set[str] = set()
    ig = inferred.graph
    seen: dict[bytes, tuple[int, Shape] | None] = {}  # a network repeats few types: decode each once
    for infos in (ig.value_info, ig.output):
        for vi in infos:
            name = vi.name
            tp = vi.type
            key = tp.SerializeToString()
            known = seen.get(key, False)
            if known is False:
                tt = tp.tensor_type
                elem = tt.elem_type
                # fast path: every dim a sane static size (an unknown dim reads as 0; none is a scalar or no shape)
                fast = tuple(map(_DIM_VALUE, tt.shape.dim))
                if fast and min(fast) > 0 and max(fast) <= MAX_DIM and math.prod(fast) <= MAX_NUMEL:
                    known = (elem, fast)
                elif not fast and tt.HasField("shape"):
                    known = (elem, ())
                else:
                    known = None
                seen[key] = known
            if known is None:
                elem = tp.tensor_type.elem_type
                if elem:
                    types[name] = elem
                _slow_shape(name, tp, ig.node, shapes, partial)
            else:
                if known[0]:
                    types[name] = known[0]
                shapes[name] = known[1]
    return shapes, partial


def _slow_shape(
    name: str, tp: onnx.TypeProto, nodes: Iterable[onnx.NodeProto], shapes: dict[str, Shape | None], partial: set[str]
) -> None:
    """Record a shape with unknown dimensions (or none at all), refusing negative and absurd ones."""
    shape = _inferred_shape(name, tp, nodes)
    if shape is None or not _static(shape):
        partial.add(name)
    if shape is None:
        shapes.setdefault(name, None)
    else:
        shapes[name] = shape


def buffer_slot(op_type: str, slot: int) -> bool:
    """Whether input ``slot`` of ``op_type`` holds non-learned state (e.g. running mean)."""
    return slot in BUFFER_SLOTS.get(op_type, ())
