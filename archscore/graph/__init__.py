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
        max_bytes: Refuse inputs larger than this many bytes.
        max_nodes: Refuse graphs with more ONNX nodes than this.

    Raises:
        archscore.errors.InvalidModelError: The model cannot be read; the message names why.
    """
    raw = read_graph(src, input_shapes=input_shapes, data_inputs=data_inputs, max_bytes=max_bytes, max_nodes=max_nodes)
    return canonicalize(raw)
