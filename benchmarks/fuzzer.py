"""Seeded fuzzing of :func:`archscore.graph.from_onnx`.

Every case is built from one integer seed, so any case can be replayed alone. Four kinds of case:

``bytes``
    Random byte mutations of real serialized models (the bundled examples, with and without their
    weights, and small models built with ``onnx.helper``): bit flips, overwrites, truncations,
    deletions, insertions, duplicated chunks, splices of two models, plain random bytes.
``proto``
    Structural mutations of the same models: nodes deleted or duplicated, inputs rewired to dangling
    names or to later outputs (cycles), op types replaced by other or unknown ops, attributes of the
    wrong type or absurd value, negative/huge/symbolic/missing dimensions, initializers with
    impossible dims or external data in odd places (``../``, absolute paths, FIFOs), outputs that
    nothing produces, odd opsets, recursive functions.
``graph``
    Random graphs from a seeded generator over ~60 ONNX ops (plus unknown and custom-domain ops),
    built from realistic blocks (conv/BN/activation, linear, attention, shape arithmetic, recurrent
    cells …) and then, half of the time, corrupted with the ``proto`` mutations.
``scale`` (about 1 %)
    Graphs of 500–4,000 nodes shaped to expose anything quadratic: long chains, one Concat of
    thousands of branches, one gate read thousands of times, thousands of graph outputs, one
    tensor read thousands of times by one node, residual ladders, repeated shape arithmetic.

A case passes when ``from_onnx`` returns an :class:`~archscore.graph.ArchGraph` (with no negative
MAC or parameter count, and usable ``to_text``/``stats``/JSON) or raises an
:class:`~archscore.errors.ArchscoreError`, within the time limit, without growing the worker's memory
by more than a bound and without modifying a ``ModelProto`` it was given. Cases run in worker
processes (so a hang or an abort in C++ code is caught and the run goes on) with a cap on their
address space, and their working directory holds FIFOs named like the external-data files the
cases point at: opening one would hang the case.
"""

from __future__ import annotations

import copy
import functools
import os
import platform
import random
import re
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from archscore.errors import ArchscoreError

KINDS = ("bytes", "proto", "graph", "scale")
KIND_WEIGHTS = (30, 40, 40, 1)
TIMEOUT = 5.0
"""Seconds one case may take before it counts as a hang."""
MAX_RSS_GROWTH_MB = 256
"""Growth of a worker's peak resident memory during one case that counts as a failure."""
ADDRESS_SPACE_HEADROOM = 3 << 30
"""Each worker may map this many bytes beyond what it maps after start-up (then MemoryError)."""
EXTERNAL_NAMES = ("weights.bin", "data.bin", "model.onnx.data")
"""External-data locations the cases use; in the worker's directory each is a FIFO."""

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


# ---------------------------------------------------------------------------------------------
# seed corpus
# ---------------------------------------------------------------------------------------------
def _w(name: str, shape: list[int], rng: random.Random | None = None, dtype: int = FLOAT) -> TensorProto:
    """An initializer: real (zero or random) data when small, dims only when large (never read)."""
    numel = int(np.prod(shape)) if shape else 1
    if dtype == TensorProto.STRING and 0 <= numel <= 64:
        return helper.make_tensor(name, dtype, shape, [b"s%d" % k for k in range(numel)])
    if numel <= 4096 and dtype != TensorProto.STRING and all(d >= 0 for d in shape):
        np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
        if rng is not None and np.issubdtype(np_dtype, np.floating):
            data = np.array([rng.uniform(-1, 1) for _ in range(min(numel, 64))] * (numel // 64 + 1))[:numel]
            arr = data.astype(np_dtype).reshape(shape)
        else:
            arr = np.zeros(shape, dtype=np_dtype)
        return onnx.numpy_helper.from_array(arr, name)
    t = TensorProto(name=name, data_type=dtype)
    t.dims.extend(shape)
    return t


def _ints(name: str, values: list[int]) -> TensorProto:
    return onnx.numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _model(nodes, inputs, outputs, inits=(), opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "fuzz", list(inputs), list(outputs), list(inits))
    opsets = [helper.make_opsetid(domain, opset if domain == "" else 1) for domain in ("", "custom", "com.microsoft")]
    return helper.make_model(graph, opset_imports=opsets, producer_name="archscore-fuzz")


def _vi(name: str, shape, elem: int = FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _helper_models() -> dict[str, onnx.ModelProto]:
    mk, n = helper.make_node, {}
    n["conv_bn_relu"] = _model(
        [
            mk("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
            mk("BatchNormalization", ["c", "s", "bb", "m", "v"], ["bn"], name="bn"),
            mk("Relu", ["bn"], ["r"], name="relu"),
            mk("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
            mk("GlobalAveragePool", ["p"], ["g"], name="gap"),
            mk("Flatten", ["g"], ["f"], name="flat"),
            mk("Gemm", ["f", "fw", "fb"], ["y"], transB=1, name="fc"),
        ],
        [_vi("x", ["N", 3, 16, 16])],
        [_vi("y", None)],
        [
            *(_w(name, shape) for name, shape in (("w", [8, 3, 3, 3]), ("fw", [10, 8]), ("fb", [10]))),
            *(_w(name, [8]) for name in ("b", "s", "bb", "m", "v")),
        ],
    )
    n["attention"] = _model(
        [
            mk("MatMul", ["x", "wq"], ["q"]),
            mk("MatMul", ["x", "wk"], ["k"]),
            mk("MatMul", ["x", "wv"], ["v"]),
            mk("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
            mk("MatMul", ["q", "kt"], ["s"]),
            mk("Div", ["s", "scale"], ["ss"]),
            mk("Softmax", ["ss"], ["a"], axis=-1),
            mk("MatMul", ["a", "v"], ["o"]),
            mk("LayerNormalization", ["o", "g", "beta"], ["ln"], axis=-1),
            mk("Add", ["ln", "x"], ["y"]),
        ],
        [_vi("x", [1, 8, 16])],
        [_vi("y", None)],
        [
            *(_w(name, [16, 16]) for name in ("wq", "wk", "wv")),
            *(_w(name, [16]) for name in ("g", "beta")),
            onnx.numpy_helper.from_array(np.array(4.0, np.float32), "scale"),
        ],
    )
    n["shape_arith"] = _model(
        [
            mk("Shape", ["x"], ["sh"]),
            mk("Gather", ["sh", "zero"], ["n"], axis=0),
            mk("Unsqueeze", ["n", "axes0"], ["n1"]),
            mk("Concat", ["n1", "minus1"], ["target"], axis=0),
            mk("Reshape", ["x", "target"], ["flat"]),
            mk("MatMul", ["flat", "w"], ["mm"]),
            mk("Add", ["mm", "b"], ["lin"]),
            mk("Sigmoid", ["lin"], ["sg"]),
            mk("Mul", ["lin", "sg"], ["y"]),
        ],
        [_vi("x", ["batch", 4, 4, 4])],
        [_vi("y", None)],
        [_ints("zero", [0]), _ints("axes0", [0]), _ints("minus1", [-1]), _w("w", [64, 32]), _w("b", [32])],
    )
    n["lstm"] = _model(
        [
            mk("LSTM", ["x", "W", "R", "B"], ["Y", "Yh"], hidden_size=8, name="lstm"),
            mk("Squeeze", ["Yh", "ax"], ["h"]),
            mk("Gemm", ["h", "fw"], ["y"], transB=1),
        ],
        [_vi("x", [5, 1, 4])],
        [_vi("y", None)],
        [_w("W", [1, 32, 4]), _w("R", [1, 32, 8]), _w("B", [1, 64]), _ints("ax", [0]), _w("fw", [3, 8])],
    )
    params_as_inputs = copy.deepcopy(n["conv_bn_relu"])  # export_params=False: weights are typed inputs
    for t in params_as_inputs.graph.initializer:
        params_as_inputs.graph.input.append(_vi(t.name, list(t.dims)))
    del params_as_inputs.graph.initializer[:]
    n["params_as_inputs"] = params_as_inputs
    external = copy.deepcopy(n["conv_bn_relu"])  # weights in an external file (a FIFO in the worker)
    offset = 0
    for t in external.graph.initializer:
        size = len(t.raw_data)
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(size))):
            t.external_data.add(key=key, value=value)
        offset += size
    n["external_data"] = external
    return n


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with the data of large initializers dropped (the parser never reads them)."""
    m = copy.deepcopy(model)
    for t in m.graph.initializer:
        if int(np.prod(t.dims)) > 64:
            for f in ("raw_data", "float_data", "int64_data", "int32_data", "double_data"):
                t.ClearField(f)
    return m


@functools.cache
def corpus() -> dict[str, bytes]:
    """Serialized seed models: the bundled examples (whole and weight-free) and helper models."""
    from archscore.examples import example_path, examples

    out: dict[str, bytes] = {}
    for name in examples():
        data = example_path(name).read_bytes()
        out[name] = data
        out[f"{name}_skeleton"] = _skeleton(onnx.load_from_string(data)).SerializeToString()
    for name, model in _helper_models().items():
        out[name] = model.SerializeToString()
    return out


# ---------------------------------------------------------------------------------------------
# byte mutations
# ---------------------------------------------------------------------------------------------
def mutate_bytes(data: bytes, rng: random.Random, other: bytes = b"") -> bytes:
    """One to eight random byte-level mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 4, 8))):
        if not buf:
            buf = bytearray(rng.randbytes(rng.randint(1, 64)))
        op = rng.randrange(9)
        pos = rng.randrange(len(buf))
        if op == 0:  # flip bits
            for _ in range(rng.randint(1, 8)):
                p = rng.randrange(len(buf))
                buf[p] ^= 1 << rng.randrange(8)
        elif op == 1:  # overwrite bytes
            chunk = rng.randbytes(rng.randint(1, 16))
            buf[pos : pos + len(chunk)] = chunk
        elif op == 2:  # truncate
            del buf[pos:]
        elif op == 3:  # delete a chunk
            del buf[pos : pos + rng.randint(1, 256)]
        elif op == 4:  # insert random bytes
            buf[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif op == 5:  # duplicate a chunk
            end = min(len(buf), pos + rng.randint(1, 512))
            buf[pos:pos] = buf[pos:end]
        elif op == 6 and other:  # splice with another model
            buf = buf[:pos] + bytearray(other[rng.randrange(len(other)) :])
        elif op == 7:  # interesting bytes: huge varints, zero lengths
            buf[pos:pos] = rng.choice((b"\xff" * 9 + b"\x01", b"\x00", b"\x80" * 10, b"\x0a\xff\xff\xff\xff\x0f"))
        else:  # keep only a prefix or a suffix
            buf = buf[:pos] if rng.random() < 0.5 else buf[pos:]
    return bytes(buf)


# ---------------------------------------------------------------------------------------------
# structural mutations
# ---------------------------------------------------------------------------------------------
ONNX_OPS = (
    "Conv", "ConvTranspose", "Relu", "Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "BatchNormalization",
    "LayerNormalization", "GroupNormalization", "InstanceNormalization", "MaxPool", "AveragePool",
    "GlobalAveragePool", "GlobalMaxPool", "LpPool", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze",
    "Concat", "Split", "Slice", "Gather", "GatherElements", "Shape", "Size", "Softmax", "LogSoftmax", "Sigmoid",
    "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "PRelu", "Elu", "Selu", "Gelu", "Softplus", "Erf", "Exp",
    "Sqrt", "Pow", "Clip", "ReduceMean", "ReduceMax", "ReduceSum", "ReduceProd", "Dropout", "Identity", "Cast",
    "CastLike", "Pad", "Resize", "Upsample", "Where", "Expand", "Tile", "Range", "ConstantOfShape", "Constant",
    "LSTM", "GRU", "RNN", "Sum", "Max", "Min", "Einsum", "TopK", "ArgMax", "Equal", "Not", "If", "Loop",
    "DepthToSpace", "SpaceToDepth", "Attention", "Mish", "Swish", "Neg", "Floor", "Mod", "NonZero", "Trilu",
)  # fmt: skip
UNKNOWN_OPS = ("FooBar", "MyCustomOp", "conv", "", "Conv2d", "FusedConv", "QuickGelu")
ATTR_NAMES = (
    "kernel_shape", "strides", "pads", "dilations", "group", "axis", "axes", "perm", "to", "hidden_size",
    "keepdims", "auto_pad", "mode", "alpha", "beta", "transB", "transA", "min", "max", "value", "split",
    "direction", "epsilon", "blocksize", "num_groups", "output_padding", "allowzero", "start", "end", "layout",
)  # fmt: skip
ODD_INTS = (0, -1, -2, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**40, 2**62, -(2**62))
ODD_FLOATS = (0.0, -1.0, 1e30, -1e30, float("nan"), float("inf"), 6.0, 1e-12)
ODD_DIMS = (0, -1, -7, 1, 3, 2**31 - 1, 2**31, 2**40, 2**62, 10**6)
ODD_LOCATIONS = (
    "weights.bin", "data.bin", "model.onnx.data", "../outside.bin", "../../etc/passwd", "/etc/passwd",
    "/dev/zero", "/dev/urandom", "/proc/self/mem", "sub/../../x.bin", "", "C:\\weights.bin", "\x00bad",
)  # fmt: skip


def _names(m: onnx.ModelProto) -> list[str]:
    g = m.graph
    out = [i.name for i in g.input] + [t.name for t in g.initializer]
    for n in g.node:
        out.extend(o for o in n.output if o)
    return out or ["x"]


def _rand_attr(rng: random.Random, name: str | None = None) -> onnx.AttributeProto:
    name = name or rng.choice(ATTR_NAMES)
    kind = rng.randrange(7)
    if kind == 0:
        return helper.make_attribute(name, rng.choice(ODD_INTS))
    if kind == 1:
        ints = [rng.choice(ODD_INTS) for _ in range(rng.randint(0, 6))]
        return helper.make_attribute(name, ints, attr_type=onnx.AttributeProto.INTS)
    if kind == 2:
        return helper.make_attribute(name, rng.choice(ODD_FLOATS))
    if kind == 3:
        return helper.make_attribute(name, rng.choice(("NOTSET", "SAME_UPPER", "VALID", "bidirectional", "", "zz")))
    if kind == 4:
        return helper.make_attribute(name, [rng.choice(ODD_FLOATS) for _ in range(rng.randint(1, 4))])
    if kind == 5:
        dims = [rng.choice((1, 2, 3, 0, 100)) for _ in range(rng.randint(0, 2))]
        return helper.make_attribute(name, _w("t", dims, rng, rng.choice((FLOAT, INT64, TensorProto.STRING))))
    odd = (onnx.AttributeProto.UNDEFINED, onnx.AttributeProto.GRAPH, onnx.AttributeProto.SPARSE_TENSOR)
    return onnx.AttributeProto(name=name, type=rng.choice(odd))


def _mut_node_delete(m, rng):
    if m.graph.node:
        del m.graph.node[rng.randrange(len(m.graph.node))]


def _mut_node_duplicate(m, rng):
    if m.graph.node:
        m.graph.node.append(copy.deepcopy(m.graph.node[rng.randrange(len(m.graph.node))]))


def _mut_rewire(m, rng):
    nodes = m.graph.node
    if not nodes:
        return
    i = rng.randrange(len(nodes))
    n = nodes[i]
    if not n.input:
        n.input.append("x")
    k = rng.randrange(len(n.input))
    choice = rng.randrange(4)
    if choice == 0:
        n.input[k] = f"ghost_{rng.randrange(100)}"
    elif choice == 1:
        n.input[k] = ""
    elif choice == 2 and i + 1 < len(nodes) and nodes[-1].output:  # a later output: a cycle, often
        later = nodes[rng.randrange(i, len(nodes))]
        n.input[k] = later.output[0] if later.output else "ghost"
    else:
        n.input[k] = rng.choice(_names(m))


def _mut_arity(m, rng):
    if not m.graph.node:
        return
    n = m.graph.node[rng.randrange(len(m.graph.node))]
    op = rng.randrange(4)
    if op == 0:
        n.input.append(rng.choice([*_names(m), ""]))
    elif op == 1 and n.input:
        n.input.pop()
    elif op == 2:
        n.output.append(rng.choice((f"extra_{rng.randrange(1000)}", "", *_names(m)[:2])))
    elif n.output:
        n.output.pop()


def _mut_op(m, rng):
    if not m.graph.node:
        return
    n = m.graph.node[rng.randrange(len(m.graph.node))]
    r = rng.random()
    if r < 0.6:
        n.op_type = rng.choice(ONNX_OPS)
    elif r < 0.85:
        n.op_type = rng.choice(UNKNOWN_OPS)
    else:
        n.domain = rng.choice(("custom", "com.microsoft", "ai.onnx", "ai.onnx.ml", "\x00"))


def _mut_attr(m, rng):
    if not m.graph.node:
        return
    n = m.graph.node[rng.randrange(len(m.graph.node))]
    r = rng.random()
    if n.attribute and r < 0.4:
        k = rng.randrange(len(n.attribute))
        n.attribute[k].CopyFrom(_rand_attr(rng, n.attribute[k].name))
    elif n.attribute and r < 0.55:
        del n.attribute[rng.randrange(len(n.attribute))]
    else:
        n.attribute.append(_rand_attr(rng))


def _mut_input_dims(m, rng):
    g = m.graph
    if not g.input:
        g.input.append(_vi("x", [1, 3]))
    vi = g.input[rng.randrange(len(g.input))]
    tt = vi.type.tensor_type
    r = rng.randrange(6)
    if r == 0:
        vi.type.ClearField("tensor_type")
    elif r == 1:
        tt.ClearField("shape")
    elif r == 2:
        tt.elem_type = rng.choice((0, TensorProto.STRING, INT64, TensorProto.BFLOAT16, 999))
    elif r == 3 or not tt.shape.dim:
        tt.shape.dim.add().dim_value = rng.choice(ODD_DIMS)
    else:
        d = tt.shape.dim[rng.randrange(len(tt.shape.dim))]
        if rng.random() < 0.5:
            d.dim_value = rng.choice(ODD_DIMS)
        elif rng.random() < 0.5:
            d.dim_param = rng.choice(("N", "batch", "seq", "height", ""))
        else:
            d.Clear()


def _mut_initializer(m, rng):
    g = m.graph
    if not g.initializer:
        g.initializer.append(_w("w_extra", [4]))
    t = g.initializer[rng.randrange(len(g.initializer))]
    r = rng.randrange(7)
    if r == 0:
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice(ODD_DIMS)
        else:
            t.dims.append(rng.choice(ODD_DIMS))
    elif r == 1:
        t.data_type = rng.choice((0, TensorProto.STRING, INT64, TensorProto.FLOAT16, TensorProto.BFLOAT16, 77))
    elif r == 2:  # external data somewhere odd
        for f in ("raw_data", "float_data", "int64_data"):
            t.ClearField(f)
        t.data_location = TensorProto.EXTERNAL
        del t.external_data[:]
        t.external_data.add(key="location", value=rng.choice(ODD_LOCATIONS))
        if rng.random() < 0.5:
            t.external_data.add(key="offset", value=rng.choice(("0", "-5", "99999999999", "x")))
            t.external_data.add(key="length", value=rng.choice(("16", "-1", "1" + "0" * 20)))
    elif r == 3:
        g.initializer.remove(t)
    elif r == 4:
        g.initializer.append(copy.deepcopy(t))
    elif r == 5:
        t.raw_data = rng.randbytes(rng.randint(0, 40))
    else:
        t.name = rng.choice(_names(m))


def _mut_outputs(m, rng):
    g = m.graph
    r = rng.randrange(5)
    if r == 0:
        g.output.append(_vi(f"ghost_out_{rng.randrange(10)}", None))
    elif r == 1 and g.output:
        g.output.append(copy.deepcopy(g.output[0]))
    elif r == 2:
        del g.output[:]
    elif r == 3:
        g.output.append(_vi(rng.choice(_names(m)), None))
    elif g.output:
        g.output[0].name = rng.choice(_names(m))


def _mut_opset(m, rng):
    r = rng.randrange(4)
    if r == 0:
        del m.opset_import[:]
    elif r == 1:
        m.opset_import.add(domain=rng.choice(("custom", "", "ai.onnx")), version=rng.choice((1, 99, -3)))
    elif m.opset_import:
        m.opset_import[0].version = rng.choice((1, 6, 9, 11, 13, 17, 18, 21, 25, 99, 0, -1, 2**40))
    else:
        m.ir_version = rng.choice((0, 1, 3, 7, 10, 99, -1))


def _mut_shuffle(m, rng):
    nodes = list(m.graph.node)
    rng.shuffle(nodes)
    del m.graph.node[:]
    m.graph.node.extend(nodes)


def _mut_constant(m, rng):
    """Insert a Constant with an odd value (strings, NaN, negative dims, external data) and read it."""
    name = f"const_{rng.randrange(1000)}"
    r = rng.randrange(5)
    if r == 0:
        t = _w("v", [rng.choice((1, 2, 4))], rng, rng.choice((FLOAT, INT64, TensorProto.STRING, TensorProto.BOOL)))
        node = helper.make_node("Constant", [], [name], value=t)
    elif r == 1:
        node = helper.make_node("Constant", [], [name], value_floats=[rng.choice(ODD_FLOATS) for _ in range(3)])
    elif r == 2:
        node = helper.make_node("Constant", [], [name], value_ints=[rng.choice(ODD_INTS) for _ in range(3)])
    elif r == 3:
        t = TensorProto(name="v", data_type=FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
        t.external_data.add(key="location", value=rng.choice(ODD_LOCATIONS))
        node = helper.make_node("Constant", [], [name], value=t)
    else:
        t = TensorProto(name="v", data_type=rng.choice((FLOAT, INT64)), dims=[rng.choice(ODD_DIMS)])
        node = helper.make_node("Constant", [], [name], value=t)
    m.graph.node.insert(0, node)
    if len(m.graph.node) > 1:
        target = m.graph.node[rng.randrange(1, len(m.graph.node))]
        if target.input:
            target.input[rng.randrange(len(target.input))] = name
        else:
            target.input.append(name)


def _mut_function(m, rng):
    """Add a model-local function (sometimes recursive) and call it."""
    fname = rng.choice(("Block", "Rec"))
    body_op = fname if rng.random() < 0.5 else "Relu"
    body_domain = "local" if body_op == fname else ""
    fn = helper.make_function(
        "local",
        fname,
        ["a"],
        ["b"],
        [helper.make_node(body_op, ["a"], ["b"], domain=body_domain)],
        [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
    )
    m.functions.append(fn)
    m.opset_import.add(domain="local", version=1)
    src = rng.choice(_names(m))
    m.graph.node.append(helper.make_node(fname, [src], [f"fn_out_{rng.randrange(100)}"], domain="local"))
    m.graph.output.append(_vi(m.graph.node[-1].output[0], None))


def _mut_names(m, rng):
    nodes = m.graph.node
    if nodes:
        n = nodes[rng.randrange(len(nodes))]
        n.name = rng.choice(("", "x" * 10_000, "\u00e9\u4e2d", "a'b\"c", nodes[0].name))


PROTO_MUTATIONS: tuple[Callable[[onnx.ModelProto, random.Random], None], ...] = (
    _mut_node_delete,
    _mut_node_duplicate,
    _mut_rewire,
    _mut_rewire,
    _mut_arity,
    _mut_op,
    _mut_op,
    _mut_attr,
    _mut_attr,
    _mut_attr,
    _mut_input_dims,
    _mut_input_dims,
    _mut_initializer,
    _mut_initializer,
    _mut_outputs,
    _mut_opset,
    _mut_shuffle,
    _mut_constant,
    _mut_function,
    _mut_names,
)


def mutate_proto(model: onnx.ModelProto, rng: random.Random, count: int | None = None) -> onnx.ModelProto:
    """A copy of ``model`` with ``count`` (by default one to four) structural mutations."""
    m = copy.deepcopy(model)
    for _ in range(count if count is not None else rng.choice((1, 1, 2, 3, 4))):
        rng.choice(PROTO_MUTATIONS)(m, rng)
    return m


# ---------------------------------------------------------------------------------------------
# random graphs
# ---------------------------------------------------------------------------------------------
class GraphGen:
    """A seeded generator of random, mostly well-formed ONNX graphs built from realistic blocks."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.opset = rng.choice((11, 13, 13, 17, 17, 17, 18, 20))
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.tensors: list[tuple[str, tuple[int, ...] | None]] = []
        self.count = 0

    def fresh(self, prefix: str = "t") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def add_input(self, rank: int | None = None) -> None:
        rng = self.rng
        shapes = {4: ([1, rng.choice((1, 3, 8)), 8, 8], [2, 4, 6, 6], [1, 3, 32, 32]), 3: ([1, 16, 16], [1, 8, 32])}
        shapes[2] = ([1, 32], [1, 16])
        shape = rng.choice(shapes[rank] if rank in shapes else [*shapes[4], *shapes[3], *shapes[2]])
        dims: list[int | str] = list(shape)
        r = rng.random()
        if r < 0.1:
            dims[0] = "batch"  # taken as 1
        elif r < 0.13:
            dims[rng.randrange(len(dims))] = rng.choice(("N", "seq", "h"))
        elif r < 0.15:
            dims[rng.randrange(len(dims))] = rng.choice(ODD_DIMS)
        name = self.fresh("in")
        self.inputs.append(_vi(name, None if rng.random() < 0.01 else dims))
        self.tensors.append((name, tuple(shape)))

    def pick(self, rank: int | None = None) -> tuple[str, tuple[int, ...] | None]:
        rng = self.rng
        pool = self.tensors
        if rank is not None:
            fit = [t for t in pool if t[1] is not None and len(t[1]) == rank]
            if not fit and rng.random() < 0.9:
                self.add_input(rank)
                fit = self.tensors[-1:]
            if fit and rng.random() < 0.95:
                pool = fit
        name, shape = pool[max(0, len(pool) - 1 - int(rng.expovariate(0.7)))]
        if rank is not None and shape is not None and len(shape) != rank:
            shape = None  # a misfit on purpose: the block guesses the sizes it needs
        return name, shape

    def weight(self, shape: list[int], dtype: int = FLOAT) -> str:
        name = self.fresh("w")
        self.inits.append(_w(name, shape, self.rng, dtype))
        return name

    def const(self, values: list[int]) -> str:
        name = self.fresh("c")
        if self.rng.random() < 0.5:
            self.inits.append(_ints(name, values))
        else:
            self.nodes.append(helper.make_node("Constant", [], [name], value=_ints("v", values)))
        return name

    def node(
        self, op: str, ins: list[str], shape=None, n_out: int = 1, domain: str = "", data: bool = True, **attrs
    ) -> list[str]:
        """Add a node; its first output joins the pickable data tensors unless ``data`` is false."""
        outs = [self.fresh() for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, name=self.fresh(op.lower()), domain=domain, **attrs))
        if data:
            self.tensors.append((outs[0], shape))
        return outs

    # -- blocks -----------------------------------------------------------------------------
    def conv_block(self) -> None:
        rng = self.rng
        x, s = self.pick(4)
        cin = s[1] if s else rng.choice((3, 8))
        h = s[2] if s else 8
        k = rng.choice((1, 3, 3, 5))
        stride = rng.choice((1, 1, 2))
        depthwise = rng.random() < 0.25
        cout = cin if depthwise else rng.choice((4, 8, 16))
        group = cin if depthwise else 1
        op = "ConvTranspose" if rng.random() < 0.08 else "Conv"
        wshape = [cin, cout // group, k, k] if op == "ConvTranspose" else [cout, cin // max(group, 1), k, k]
        ins = [x, self.weight(wshape)]
        if rng.random() < 0.5:
            ins.append(self.weight([cout]))
        attrs: dict[str, Any] = {"kernel_shape": [k, k], "strides": [stride, stride], "group": group}
        if rng.random() < 0.2:
            attrs["auto_pad"] = rng.choice(("SAME_UPPER", "SAME_LOWER", "VALID"))
        else:
            attrs["pads"] = [k // 2] * 4
        ho = (h + 2 * (k // 2) - k) // stride + 1 if op == "Conv" else None
        (y,) = self.node(op, ins, (s[0], cout, ho, ho) if s and ho else None, **attrs)
        if rng.random() < 0.6:
            bn = [self.weight([cout]) for _ in range(4)]
            (y,) = self.node("BatchNormalization", [y, *bn], self.tensors[-1][1])
        self.activation(y, self.tensors[-1][1])

    def activation(self, x: str, shape) -> None:
        rng = self.rng
        r = rng.randrange(9)
        if r == 0:
            self.node("Relu", [x], shape)
        elif r == 1:
            if self.opset >= 11:
                self.node("Clip", [x, self.scalar(0.0), self.scalar(6.0)], shape)
            else:
                self.node("Clip", [x], shape, min=0.0, max=6.0)
        elif r == 2:
            (sg,) = self.node("Sigmoid", [x], shape)
            self.node("Mul", [x, sg], shape)
        elif r == 3:
            (e,) = self.node("Erf", [x], shape)
            self.node("Mul", [x, e], shape)
        elif r == 4:
            (sp,) = self.node("Softplus", [x], shape)
            (t,) = self.node("Tanh", [sp], shape)
            self.node("Mul", [x, t], shape)
        elif r == 5:
            ops = ("HardSwish", "HardSigmoid", "Elu", "Selu", "Celu", "Tanh", "Softsign", "Softplus")
            self.node(rng.choice(ops), [x], shape)
        elif r == 6:
            self.node("LeakyRelu", [x], shape, alpha=rng.choice((0.01, 0.2)))
        elif r == 7:
            self.node("PRelu", [x, self.weight([shape[1] if shape and len(shape) > 1 else 1, 1, 1])], shape)
        # else: no activation

    def scalar(self, v: float) -> str:
        name = self.fresh("s")
        self.inits.append(onnx.numpy_helper.from_array(np.array(v, dtype=np.float32), name))
        return name

    def linear_block(self) -> None:
        rng = self.rng
        x, s = self.pick(rng.choice((2, 3)))
        din = s[-1] if s else rng.choice((16, 32))
        dout = rng.choice((8, 16, 32))
        shape = (*s[:-1], dout) if s else None
        if s and len(s) == 2 and rng.random() < 0.5:
            trans = rng.random() < 0.5
            w = self.weight([dout, din] if trans else [din, dout])
            ins = [x, w] + ([self.weight([dout])] if rng.random() < 0.7 else [])
            self.node("Gemm", ins, shape, transB=int(trans))
        else:
            (y,) = self.node("MatMul", [x, self.weight([din, dout])], shape)
            if rng.random() < 0.7:
                self.node("Add", [y, self.weight([dout])], shape)

    def attention_block(self) -> None:
        x, s = self.pick(3)
        d = s[-1] if s else 16
        q = self.node("MatMul", [x, self.weight([d, d])], s)[0]
        k = self.node("MatMul", [x, self.weight([d, d])], s)[0]
        v = self.node("MatMul", [x, self.weight([d, d])], s)[0]
        kt = self.node("Transpose", [k], None, perm=[0, 2, 1])[0]
        sc = self.node("MatMul", [q, kt], None)[0]
        sc = self.node("Mul", [sc, self.scalar(0.125)], None)[0]
        a = self.node("Softmax", [sc], None, axis=-1)[0]
        self.node("MatMul", [a, v], s)

    def reshape_block(self) -> None:
        rng = self.rng
        x, s = self.pick()
        sh = self.node("Shape", [x], data=False)[0]
        n = self.node("Gather", [sh, self.const([0])], axis=0, data=False)[0]
        if self.opset >= 13 and rng.random() < 0.5:
            n = self.node("Unsqueeze", [n, self.const([0])], data=False)[0]
        target = self.node("Concat", [n, self.const([-1])], axis=0, data=False)[0]
        self.node("Reshape", [x, target], (s[0], int(np.prod(s[1:]))) if s else None)

    def layout_block(self) -> None:
        rng = self.rng
        x, s = self.pick()
        rank = len(s) if s else 4
        r = rng.randrange(8)
        if r == 0:
            perm = list(range(rank))
            rng.shuffle(perm)
            self.node("Transpose", [x], tuple(s[p] for p in perm) if s else None, perm=perm)
        elif r == 1:
            self.node("Flatten", [x], None, axis=rng.choice((1, 1, 0, -1)))
        elif r == 2:
            self.node("Reshape", [x, self.const([1, -1])], None)
        elif r == 3:
            axes = [rng.randrange(-rank, rank)]
            if self.opset >= 13:
                self.node("Unsqueeze", [x, self.const(axes)], None)
            else:
                self.node("Unsqueeze", [x], None, axes=axes)
        elif r == 4:
            starts, ends = self.const([0]), self.const([rng.choice((1, 2, -1, 2**62))])
            self.node("Slice", [x, starts, ends, self.const([rng.randrange(rank)])], None)
        elif r == 5:
            outs = self.node("Split", [x], None, n_out=2, axis=1)
            self.tensors.append((outs[1], None))
        elif r == 6:
            self.node("Identity" if rng.random() < 0.5 else "Dropout", [x], s)
        else:
            self.node("Cast", [x], s, to=rng.choice((FLOAT, FLOAT, TensorProto.FLOAT16, INT64)))

    def merge_block(self) -> None:
        rng = self.rng
        a, s = self.pick()
        b, _ = self.pick(len(s) if s else None)
        op = rng.choice(("Add", "Add", "Mul", "Sub", "Div", "Concat", "Sum", "Max", "Min", "Where", "Pow"))
        if op == "Concat":
            self.node("Concat", [a, b] * rng.choice((1, 1, 2)), None, axis=rng.choice((1, 1, 0, -1)))
        elif op in ("Sum", "Max", "Min"):
            self.node(op, [a, b, a][: rng.randint(1, 3)], s)
        elif op == "Where":
            cond = self.node("Greater", [a, b], data=False)[0]
            self.node("Where", [cond, a, b], s)
        elif op == "Pow":
            self.node("Pow", [a, self.scalar(rng.choice((2.0, 0.5, 3.0)))], s)
        else:
            self.node(op, [a, b], s)

    def pool_block(self) -> None:
        rng = self.rng
        x, s = self.pick(4)
        r = rng.randrange(6)
        if r == 0:
            self.node("MaxPool", [x], None, kernel_shape=[2, 2], strides=[2, 2])
        elif r == 1:
            self.node("AveragePool", [x], None, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
        elif r == 2:
            self.node(rng.choice(("GlobalAveragePool", "GlobalMaxPool")), [x], (*s[:2], 1, 1) if s else None)
        elif r == 3:
            keep = rng.choice((0, 1))
            if self.opset >= 18:
                self.node("ReduceMean", [x, self.const([2, 3])], None, keepdims=keep)
            else:
                self.node("ReduceMean", [x], None, axes=[2, 3], keepdims=keep)
        elif r == 4 and s:
            self.node("MaxPool", [x], None, kernel_shape=list(s[2:]))
        elif r == 5 and rng.random() < 0.3:
            self.node("LpPool", [x], None, kernel_shape=[2, 2], p=rng.choice((1, 2)))
        else:
            op = rng.choice(("ReduceSum", "ReduceMax", "ReduceProd", "ReduceL2"))
            self.node(op, [x], None, keepdims=rng.choice((0, 1)))

    def norm_block(self) -> None:
        rng = self.rng
        x, s = self.pick()
        d = s[-1] if s else 8
        c = s[1] if s and len(s) > 1 else 8
        r = rng.randrange(6)
        if r == 0:
            self.node("LayerNormalization", [x, self.weight([d]), self.weight([d])], s, axis=-1)
        elif r == 1:
            self.node("InstanceNormalization", [x, self.weight([c]), self.weight([c])], s)
        elif r == 2 and self.opset >= 18:
            groups = rng.choice((1, 2, c))
            self.node("GroupNormalization", [x, self.weight([c]), self.weight([c])], s, num_groups=groups)
        elif r == 3:
            self.node("LRN", [x], s, size=rng.choice((3, 5)))
        elif r == 4:  # an embedding: a weight table read at integer positions
            ids = self.node("Cast", [x], None, to=INT64, data=False)[0]
            self.node("Gather", [self.weight([rng.choice((16, 100)), rng.choice((8, 32))]), ids], None)
        else:
            self.node(rng.choice(("Softmax", "LogSoftmax")), [x], s, axis=rng.choice((-1, 1)))

    def recurrent_block(self) -> None:
        rng = self.rng
        x, s = self.pick(3)
        din = s[-1] if s else 16
        hidden = rng.choice((4, 8))
        op = rng.choice(("LSTM", "GRU", "RNN"))
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
        dirs = rng.choice((1, 2))
        ins = [x, self.weight([dirs, gates * hidden, din]), self.weight([dirs, gates * hidden, hidden])]
        if rng.random() < 0.5:
            ins.append(self.weight([dirs, 2 * gates * hidden]))
        direction = "bidirectional" if dirs == 2 else "forward"
        self.node(op, ins, None, n_out=2, hidden_size=hidden, direction=direction)

    def misc_block(self) -> None:
        rng = self.rng
        x, s = self.pick()
        r = rng.randrange(10)
        if r == 0:
            self.node(rng.choice(UNKNOWN_OPS[:3]), [x], None, alpha=1.0)
        elif r == 1:
            self.node("FancyOp", [x, x], None, domain=rng.choice(("custom", "com.microsoft")), n_out=rng.randint(1, 2))
        elif r == 2 and s and len(s) == 4:
            self.node("Pad", [x, self.const([0, 0, 1, 1, 0, 0, 1, 1])], None, mode=rng.choice(("constant", "reflect")))
        elif r == 3 and s and len(s) == 4:
            scales = self.scalar_list([1.0, 1.0, 2.0, 2.0])
            roi = "" if self.opset >= 13 else self.scalar_list([])
            self.node("Resize", [x, roi, scales], None, mode=rng.choice(("nearest", "linear")))
        elif r == 4:
            shape = self.node("Shape", [x], data=False)[0]
            self.node("Expand", [x, shape], s)
        elif r == 5:
            start, limit, delta = (self.const([v]) for v in (0, rng.choice((4, 10**9, -(2**62))), rng.choice((1, 0))))
            self.node("Range", [start, limit, delta], None)
        elif r == 6:
            self.node("ConstantOfShape", [self.const([rng.choice(ODD_DIMS), 2])], None)
        elif r == 7:
            self.node("Tile", [x, self.const([1] * (len(s) if s else 4))], s)
        elif r == 8 and s and len(s) == 4 and s[1] % 4 == 0:
            self.node(rng.choice(("DepthToSpace", "SpaceToDepth")), [x], None, blocksize=2)
        else:
            self.node(rng.choice(("Exp", "Sqrt", "Neg", "Abs", "Floor", "Erf", "Sigmoid")), [x], s)

    def scalar_list(self, values: list[float]) -> str:
        name = self.fresh("f")
        self.inits.append(onnx.numpy_helper.from_array(np.array(values, dtype=np.float32), name))
        return name

    def build(self) -> onnx.ModelProto:
        rng = self.rng
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            self.add_input()
        blocks = (
            (self.conv_block, 5),
            (self.linear_block, 3),
            (self.attention_block, 1),
            (self.reshape_block, 2),
            (self.layout_block, 3),
            (self.merge_block, 3),
            (self.pool_block, 2),
            (self.norm_block, 2),
            (self.recurrent_block, 1),
            (self.misc_block, 3),
        )
        funcs, weights = zip(*blocks)
        for _ in range(rng.randint(1, 14)):
            rng.choices(funcs, weights)[0]()
        outs = {self.tensors[-1][0]}
        for _ in range(rng.choice((0, 0, 1, 2))):
            outs.add(rng.choice(self.tensors)[0])
        return _model(self.nodes, self.inputs, [_vi(o, None) for o in sorted(outs)], self.inits, opset=self.opset)


def random_graph(rng: random.Random) -> onnx.ModelProto:
    """A random graph from :class:`GraphGen`."""
    return GraphGen(rng).build()


def scale_graph(rng: random.Random) -> onnx.ModelProto:
    """A graph whose size stresses every pass that could be quadratic: long chains, wide fan-in and
    fan-out, thousands of graph outputs, a tensor read hundreds of times, long alias chains."""
    mk = helper.make_node
    n = rng.randint(500, 4000)
    shape = rng.choice(([1, 8], [1, 4, 4, 4]))
    kind = rng.randrange(7)
    outs = ["y"]
    if kind == 0:  # a chain of cheap ops
        ops = ("Relu", "Identity", "Sigmoid", "Neg", "Dropout", "Cast")
        nodes = []
        for i in range(n):
            op = rng.choice(ops)
            extra = {"to": FLOAT} if op == "Cast" else {}
            nodes.append(mk(op, ["x" if i == 0 else f"t{i - 1}"], [f"t{i}" if i < n - 1 else "y"], **extra))
    elif kind == 1:  # wide: n branches joined by one Concat (or Sum)
        nodes = [mk("Relu", ["x"], [f"t{i}"]) for i in range(n)]
        nodes.append(mk(rng.choice(("Concat", "Sum")), [f"t{i}" for i in range(n)], ["y"], axis=1))
    elif kind == 2:  # fan-out: one gate read by n products (x * sigmoid(x) candidates)
        nodes = [mk("Sigmoid", ["x"], ["g"])] + [mk("Mul", ["x", "g"], [f"t{i}"]) for i in range(n)]
        nodes.append(mk("Sum", [f"t{i}" for i in range(n)], ["y"]))
    elif kind == 3:  # every node is a graph output
        nodes = [mk("Relu", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"]) for i in range(n)]
        outs = [f"t{i}" for i in range(n)]
    elif kind == 4:  # one tensor read many times by one node
        m = rng.choice((2, 50, 300, 700, 3000))
        nodes = [mk("Relu", ["x"], ["r"]), mk(rng.choice(("Concat", "Sum")), ["r"] * m, ["y"], axis=1)]
    elif kind == 5:  # a residual ladder: every node adds its two predecessors
        nodes = [mk("Relu", ["x"], ["t0"]), mk("Relu", ["x"], ["t1"])]
        nodes += [mk("Add", [f"t{i - 1}", f"t{i - 2}"], [f"t{i}"]) for i in range(2, n)]
        nodes.append(mk("Identity", [f"t{n - 1}"], ["y"]))
    else:  # shape arithmetic before every reshape
        nodes, prev = [], "x"
        for i in range(n // 6):
            nodes += [
                mk("Shape", [prev], [f"s{i}"]),
                mk("Gather", [f"s{i}", "zero"], [f"g{i}"], axis=0),
                mk("Unsqueeze", [f"g{i}", "zero"], [f"u{i}"]),
                mk("Concat", [f"u{i}", "minus1"], [f"c{i}"], axis=0),
                mk("Reshape", [prev, f"c{i}"], [f"r{i}"]),
                mk("Relu", [f"r{i}"], [f"a{i}"]),
            ]
            prev = f"a{i}"
        nodes.append(mk("Identity", [prev], ["y"]))
    if rng.random() < 0.5:
        rng.shuffle(nodes)  # the file need not be in topological order
    inits = [_ints("zero", [0]), _ints("minus1", [-1])] if kind == 6 else []
    return _model(nodes, [_vi("x", shape)], [_vi(o, None) for o in outs], inits)


# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One fuzz case: what to pass to ``from_onnx``."""

    seed: int
    kind: str
    src: bytes | onnx.ModelProto
    kwargs: dict[str, Any] = field(default_factory=dict)
    as_file: bool = False
    """Write ``src`` to a file in the worker's directory and pass its path."""


def _random_kwargs(rng: random.Random, model: onnx.ModelProto | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    names = [i.name for i in model.graph.input] if model is not None else ["x"]
    r = rng.random()
    if r < 0.06:
        name = rng.choice([*names, "nope"]) if names else "nope"
        kwargs["input_shapes"] = {
            name: rng.choice(([1, 3, 8, 8], [1, 16], [-1, 3], [2**40], ["a", 2], [1.5, 2], [], [1, 3, 16, 16]))
        }
    elif r < 0.09:
        kwargs["data_inputs"] = rng.sample([*names, "nope"], k=min(len(names) + 1, rng.randint(0, 2)))
    elif r < 0.11:
        kwargs["max_nodes"] = rng.choice((0, 1, 5))
    elif r < 0.13:
        kwargs["max_bytes"] = rng.choice((0, 10, 1000))
    return kwargs


def make_case(seed: int) -> Case:
    """The case for ``seed`` (deterministic)."""
    rng = random.Random(seed)
    kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
    seeds = corpus()
    names = sorted(seeds)
    if kind == "bytes":
        if rng.random() < 0.05:
            return Case(seed, kind, rng.randbytes(rng.randint(0, 300)))
        base = seeds[rng.choice([n for n in names if rng.random() < 0.2 or "skeleton" in n or "_" in n])]
        other = seeds[rng.choice(names)]
        data = mutate_bytes(base, rng, other)
        return Case(seed, kind, data, _random_kwargs(rng, None), as_file=rng.random() < 0.1)
    if kind == "scale":
        model = scale_graph(rng)
        if rng.random() < 0.2:
            model = mutate_proto(model, rng, 1)
    elif kind == "proto":
        base = onnx.load_from_string(seeds[rng.choice(names)])
        model = mutate_proto(base, rng)
    else:
        model = random_graph(rng)
        if rng.random() < 0.5:
            model = mutate_proto(model, rng)
    kwargs = _random_kwargs(rng, model)
    r = rng.random()
    if r < 0.45:
        return Case(seed, kind, model, kwargs)
    return Case(seed, kind, model.SerializeToString(), kwargs, as_file=r > 0.9)


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------
ERROR_CATEGORIES: tuple[tuple[str, str], ...] = (
    (r"bytes (or more )?is above the limit", "file_too_large"),
    (r"nodes, above the limit", "too_many_nodes"),
    (r"not an ONNX model or truncated", "not_onnx_or_truncated"),
    (r"empty input", "empty_input"),
    (r"no graph output depends", "no_output_from_inputs"),
    (r"no graph|has no graph", "no_graph"),
    (r"not valid UTF-8", "not_utf8"),
    (r"graph is empty", "empty_graph"),
    (r"has a cycle", "cycle"),
    (r"no node, input or initializer provides", "dangling_input"),
    (r"is not produced by any node", "dangling_output"),
    (r"produced twice", "duplicate_tensor"),
    (r"symbolic dimension", "symbolic_dim"),
    (r"has no shape|no static shape", "missing_shape"),
    (r"negative or absurd|more than any real network", "absurd_dim"),
    (r"would have a negative dimension", "negative_inferred_dim"),
    (r"has \d+ (inputs|outputs); ", "wrong_arity"),
    (r"required (input|output) \d+ .* is empty", "empty_required_io"),
    (r"attribute .* is [A-Z_0-9]+, but", "attribute_type"),
    (r"required attribute", "missing_attribute"),
    (r"element type", "element_type"),
    (r"spatial dimension|has a value below|kernel_shape=|group=|does not have rank", "bad_window"),
    (r"Gemm needs a matrix|needs rank 3|hidden_size=", "bad_operand_rank"),
    (r"input_shapes|data_inputs|read as a weight", "bad_arguments"),
    (r"nodes read .* tensors, above the limit|initializers, above the limit|inputs and outputs, above", "graph_size"),
    (r"imports no version of the standard ONNX opset|No opset import for domain", "missing_opset"),
    (r"model-local function", "bad_function"),
    (r"ONNX shape inference failed", "shape_inference"),
)


def categorize(message: str) -> str:
    """A short category name for an archscore error message."""
    for pattern, name in ERROR_CATEGORIES:
        if re.search(pattern, message):
            return name
    return "other"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _check_result(graph: Any) -> str | None:
    """A description of what is wrong with a returned graph, or ``None``."""
    from archscore.graph import ArchGraph

    if not isinstance(graph, ArchGraph):
        return f"returned {type(graph).__name__}, not an ArchGraph"
    bad = [n for n in graph.nodes if n.macs < 0 or n.params < 0]
    if bad:
        return f"negative MACs or parameters: {bad[0]}"
    graph.to_text()
    graph.stats()
    text = graph.to_json()
    if ArchGraph.from_json(text).to_json() != text:  # compared as text: NaN attributes are never equal
        return "JSON round trip changed the graph"
    return None


def run_case(case: Case, workdir: Path | None = None) -> dict[str, Any]:
    """Run one case in this process and classify its outcome."""
    from archscore.graph import from_onnx

    src: Any = case.src
    if case.as_file:
        path = (workdir or Path(tempfile.gettempdir())) / f"case_{case.seed}.onnx"
        path.write_bytes(src if isinstance(src, bytes) else src.SerializeToString())
        src = path
    before = case.src.SerializeToString() if isinstance(case.src, onnx.ModelProto) else None
    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    record: dict[str, Any] = {"seed": case.seed, "kind": case.kind}
    try:
        graph = from_onnx(src, **case.kwargs)
        problem = _check_result(graph)
        if problem:
            record.update(outcome="failure", failure="wrong_result", message=problem)
        else:
            record.update(outcome="ok", nodes=len(graph), ops=sorted({n.op for n in graph.nodes}))
    except ArchscoreError as exc:
        record.update(outcome="error", category=categorize(str(exc)), message=str(exc)[:300])
    except Exception as exc:  # the point of fuzzing: anything else is a bug
        failure = "memory" if isinstance(exc, MemoryError) else "crash"
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames]
        record.update(outcome="failure", failure=failure, type=type(exc).__name__, message=str(exc)[:300], where=where)
    finally:
        if case.as_file:
            Path(src).unlink(missing_ok=True)
    record["seconds"] = round(time.perf_counter() - t0, 4)
    record["rss_growth_mb"] = round(_peak_rss_mb() - rss0, 1)
    if record["outcome"] != "failure":
        if before is not None and case.src.SerializeToString() != before:  # type: ignore[union-attr]
            record.update(outcome="failure", failure="modified_input", message="the given ModelProto was modified")
        elif record["seconds"] > TIMEOUT:
            record.update(outcome="failure", failure="slow", message=f"took {record['seconds']:.1f} s")
        elif record["rss_growth_mb"] > MAX_RSS_GROWTH_MB:
            record.update(outcome="failure", failure="memory", message=f"peak RSS grew {record['rss_growth_mb']} MB")
    return record


def prepare_workdir(root: Path) -> None:
    """Make ``root`` the working directory, with FIFOs where cases put external data."""
    root.mkdir(parents=True, exist_ok=True)
    for name in EXTERNAL_NAMES:
        p = root / name
        if not p.exists():
            os.mkfifo(p)
    os.chdir(root)


def _worker(conn: Connection, workdir: str) -> None:
    """Worker process: say ``"ready"``, then answer case seeds with records; ``None`` ends it."""
    import logging

    logging.disable(logging.CRITICAL)
    prepare_workdir(Path(workdir))
    corpus()
    run_case(make_case(0), Path(workdir))  # warm up lazy imports before any timing
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    limit = mapped + ADDRESS_SPACE_HEADROOM
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    conn.send("ready")
    while True:
        seed = conn.recv()
        if seed is None:
            return
        try:
            record = run_case(make_case(seed), Path(workdir))
        except Exception as exc:  # building the case failed: a fuzzer bug, reported as such
            record = {"seed": seed, "kind": "?", "outcome": "failure", "failure": "generator", "message": repr(exc)}
        conn.send(record)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    seed: int | None = None
    started: float = 0.0


def run(
    count: int,
    seed: int = 0,
    *,
    workers: int = 2,
    timeout: float = TIMEOUT,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``count`` cases with seeds ``seed * 1_000_000 + i`` in ``workers`` processes.

    A case still running after ``timeout`` seconds is killed and recorded as a ``hang``; a worker
    that dies (segfault, out of memory) is recorded as a ``crash``. Either way a new worker takes over.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    seeds: Iterator[int] = iter(range(seed * 1_000_000, seed * 1_000_000 + count))
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="archscore-fuzz-") as tmp:

        def start(k: int) -> _Worker:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(child, os.path.join(tmp, f"w{k}")), daemon=True)
            p.start()
            child.close()
            if not parent.poll(300) or parent.recv() != "ready":
                raise RuntimeError("a fuzz worker did not start")
            return _Worker(p, parent)

        def feed(w: _Worker) -> _Worker | None:
            w.seed = next(seeds, None)
            if w.seed is None:
                w.conn.send(None)
                w.process.join(timeout=10)
                return None
            w.started = time.monotonic()
            w.conn.send(w.seed)
            return w

        def lost(w: _Worker, failure: str, message: str, k: int) -> _Worker:
            records.append(
                {"seed": w.seed, "kind": make_case(w.seed).kind, "outcome": "failure", "failure": failure}
                | {"message": message}
            )
            w.process.kill()
            w.process.join(timeout=10)
            return start(k)

        active: list[_Worker | None] = [feed(start(k)) for k in range(max(1, workers))]
        while any(active):
            live = [w for w in active if w is not None]
            now = time.monotonic()
            ready = wait([w.conn for w in live], timeout=max(0.0, min(w.started + timeout - now for w in live)) + 0.05)
            for k, w in enumerate(active):
                if w is None:
                    continue
                if w.conn in ready:
                    try:
                        records.append(w.conn.recv())
                    except (EOFError, OSError):  # the worker died: a segfault, the OOM killer …
                        w = lost(w, "crash", f"the worker died (exit code {w.process.exitcode})", k)
                elif time.monotonic() - w.started > timeout:
                    w = lost(w, "hang", f"still running after {timeout:g} s; killed", k)
                else:
                    continue
                if progress:
                    progress(len(records), count)
                active[k] = feed(w)
    records.sort(key=lambda r: r["seed"])
    return records


def replay(case_seed: int) -> dict[str, Any]:
    """Run one case in this process (tracebacks propagate) and return its record."""
    return run_case(make_case(case_seed))


def summarize(records: list[dict[str, Any]], wall: float, config: dict[str, Any]) -> dict[str, Any]:
    """The results document: counts per outcome, kind and error category, failures, timings."""
    outcomes = Counter(r["outcome"] for r in records)
    by_kind: dict[str, Counter] = {}
    for r in records:
        by_kind.setdefault(r["kind"], Counter())[r["outcome"]] += 1
    categories = Counter(r["category"] for r in records if r["outcome"] == "error")
    examples: dict[str, str] = {}
    for r in records:
        if r["outcome"] == "error":
            examples.setdefault(r["category"], r["message"])
    failures = [r for r in records if r["outcome"] == "failure"]
    times = sorted(r.get("seconds", 0.0) for r in records)
    sizes = sorted(r["nodes"] for r in records if "nodes" in r)
    slowest = sorted((r for r in records if "seconds" in r), key=lambda r: -r["seconds"])[:10]
    return {
        "config": config,
        "machine": machine_info(),
        "cases": len(records),
        "wall_seconds": round(wall, 1),
        "cases_per_second": round(len(records) / wall, 1) if wall else None,
        "outcomes": {k: outcomes.get(k, 0) for k in ("ok", "error", "failure")},
        "by_kind": {k: {o: c.get(o, 0) for o in ("ok", "error", "failure")} for k, c in sorted(by_kind.items())},
        "error_categories": dict(categories.most_common()),
        "error_examples": dict(sorted(examples.items())),
        "failure_classes": dict(Counter(r["failure"] for r in failures).most_common()),
        "ok_graphs_containing_op": dict(Counter(op for r in records for op in r.get("ops", ())).most_common()),
        "ok_graph_nodes": {"median": sizes[len(sizes) // 2] if sizes else None, "max": sizes[-1] if sizes else None},
        "failures": failures,
        "case_seconds": {
            "median": times[len(times) // 2] if times else None,
            "p99": times[int(len(times) * 0.99)] if times else None,
            "max": times[-1] if times else None,
        },
        "slowest": [{"seed": r["seed"], "kind": r["kind"], "seconds": r["seconds"]} for r in slowest],
        "max_rss_growth_mb": max((r.get("rss_growth_mb", 0.0) for r in records), default=0.0),
    }


def machine_info() -> dict[str, Any]:
    """Where the run happened."""
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "onnx": onnx.__version__,
        "numpy": np.__version__,
    }
