"""ONNX → canonical :class:`ArchGraph`, its text description and its free statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from archscore.graph.archgraph import ArchGraph, Node, Ref, Shape
from archscore.graph.canonical import canonicalize
from archscore.graph.ops import VOCABULARY
from archscore.graph.parse import MAX_FILE_BYTES, MAX_NODES, ModelSource, read_graph

__all__ = ["VOCABULARY", "ArchGraph", "Node", "Ref", "Shape", "from_onnx"]


def from_onnx(
    src: ModelSource,
    *,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    data_inputs: Sequence[str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_nodes: int = MAX_NODES,
) -> ArchGraph:
    """Parse an ONNX model into its canonical :class:`ArchGraph`.

    Args:
        src: A path, the model's bytes, or an ``onnx.ModelProto`` (not modified).
        input_shapes: Static shapes for data inputs with symbolic dimensions. A symbolic leading
            (batch) dimension is taken as 1 without being asked.
        data_inputs: Names of the inputs that carry data, when weights are also graph inputs and
            the default guess (data inputs come first) does not hold.
        max_bytes: Refuse inputs larger than this many bytes (default: protobuf's 2 GiB).
        max_nodes: Refuse graphs with more ONNX nodes than this (default 500,000), counted as shape
            inference visits them: a call of a model-local function counts its body, every
            subgraph (If/Loop/Scan) counts. Tensors of rank above 32 and shapes of more than 2^50
            elements are refused whatever the limits.

    This bounds the work by the input's size, in this process. To also bound time and memory (a
    parse past its limit is killed), parse through :class:`archscore.graph.bounded.ParsePool`, as
    the CLI, the service and the MLflow model do.

    Raises:
        archscore.errors.InvalidModelError: The model cannot be read; the message names why.
        archscore.errors.ModelLimitError: The model exceeds a limit; the message names it.
    """
    raw = read_graph(src, input_shapes=input_shapes, data_inputs=data_inputs, max_bytes=max_bytes, max_nodes=max_nodes)
    return canonicalize(raw)
