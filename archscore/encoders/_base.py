"""What the graph encoders share: checking their input, and the signed log scale of counts."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from archscore.graph import ArchGraph


def check_graphs(archs: Iterable[object], who: str) -> list[ArchGraph]:
    """The input as a list of ArchGraphs; anything else is a ``TypeError`` naming the first bad item."""
    if isinstance(archs, (str, bytes, ArchGraph)):
        raise TypeError(f"{who} encodes a sequence of ArchGraphs; wrap a single graph in a list")
    graphs = list(archs)
    for i, g in enumerate(graphs):
        if not isinstance(g, ArchGraph):
            raise TypeError(
                f"{who} encodes ArchGraphs; item {i} is a {type(g).__name__} "
                "(parse ONNX with archscore.graph.from_onnx, or take Table.graphs())"
            )
    return graphs


def signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x)·log(1 + |x|)``: counts, MACs and parameters span orders of magnitude."""
    return np.sign(x) * np.log1p(np.abs(x))
