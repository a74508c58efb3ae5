"""Tiny ONNX graphs built with onnx.helper, for tests that need a few exact nodes."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def weight(name: str, *shape: int, seed: int = 0) -> onnx.TensorProto:
    """A float initializer with random values, the same in every process (no salted ``hash``)."""
    rng = np.random.default_rng([zlib.crc32(name.encode()), seed])
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def ints(name: str, values: Sequence[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def scalar(name: str, value: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: dict[str, Sequence[int | str]],
    outputs: Sequence[str],
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = 17,
) -> onnx.ModelProto:
    """A model with float inputs of the given shapes and outputs of unknown shape."""
    graph = helper.make_graph(
        list(nodes),
        "g",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v)) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def conv_relu(cin: int = 3, cout: int = 8, k: int = 3, hw: int = 8) -> onnx.ModelProto:
    """Conv(k×k, pad same) → Relu on a 1×cin×hw×hw input."""
    p = k // 2
    return model(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], pads=[p] * 4),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        {"x": (1, cin, hw, hw)},
        ["y"],
        [weight("w", cout, cin, k, k), weight("b", cout)],
    )
