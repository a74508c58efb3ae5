"""``ArchGraph``: the one intermediate representation every part of archscore reads.

An ArchGraph is a canonical, weight-free description of a network: nodes in a canonical
topological order, each with its op from :data:`~archscore.graph.ops.VOCABULARY`, scalar
attributes, the tensors it reads (``(producer, output slot)``), its output shapes, its
multiply-accumulate count and its number of learned parameters. Two exports of the same network
give equal ArchGraphs (see :mod:`archscore.graph.canonical`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archscore.errors import InvalidModelError
from archscore.graph.node import CONST, AttrValue, Node, Ref, Shape, numel
from archscore.graph.ops import OP_INDEX, VOCABULARY

__all__ = ["CONST", "ArchGraph", "AttrValue", "Node", "Ref", "Shape", "numel"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ArchGraph:
    """A canonical architecture graph.

    Attributes:
        nodes: Nodes in canonical topological order; the graph inputs come first as ``input``
            nodes.
        outputs: The tensors the network returns, in declared order.
        meta: Provenance (producer, opset, original input names). Not part of equality, text or
            statistics.
    """

    nodes: tuple[Node, ...]
    outputs: tuple[Ref, ...]
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_structure(self.nodes, self.outputs)

    @classmethod
    def trusted(cls, nodes: tuple[Node, ...], outputs: tuple[Ref, ...], meta: Mapping[str, Any]) -> ArchGraph:
        """An ArchGraph from nodes the canonicaliser built, which are topological by construction (no re-check)."""
        graph = object.__new__(cls)
        object.__setattr__(graph, "nodes", nodes)
        object.__setattr__(graph, "outputs", outputs)
        object.__setattr__(graph, "meta", meta)
        return graph

    def __len__(self) -> int:
        return len(self.nodes)

    def __getstate__(self) -> dict[str, Any]:
        # derived values memoised on the object (statistics) are not part of a pickled graph
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    # -- derived views -------------------------------------------------------------------
    @property
    def total_macs(self) -> int:
        """Multiply-accumulates of one forward pass."""
        return sum(n.macs for n in self.nodes)

    @property
    def total_params(self) -> int:
        """Learned parameters (BatchNorm folded into a preceding convolution)."""
        return sum(n.params for n in self.nodes)

    @property
    def edges(self) -> list[tuple[int, int]]:
        """Data-flow edges ``(producer, consumer)``, one per tensor read (constants excluded)."""
        return [(src, i) for i, n in enumerate(self.nodes) for src, _ in n.inputs if src != CONST]

    def input_shapes(self, index: int) -> list[Shape | None]:
        """Shapes of the tensors node ``index`` reads, in input order."""
        node = self.nodes[index]
        return [node.const_shapes[slot] if src == CONST else _slot(self.nodes[src], slot) for src, slot in node.inputs]

    def to_text(self) -> str:
        """Deterministic, lossless text description (see :mod:`archscore.graph.text`)."""
        from archscore.graph.text import to_text

        return to_text(self)

    def stats(self) -> dict[str, float]:
        """Named free statistics (see :mod:`archscore.graph.stats`)."""
        from archscore.graph.stats import stats

        return stats(self)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Compact numpy form: op ids, edge index, MACs and params per node."""
        edges = self.edges
        return {
            "op": np.array([OP_INDEX[n.op] for n in self.nodes], dtype=np.int16),
            "edge_index": np.array(edges, dtype=np.int32).reshape(-1, 2).T.copy(),
            "macs": np.array([n.macs for n in self.nodes], dtype=np.int64),
            "params": np.array([n.params for n in self.nodes], dtype=np.int64),
        }

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dictionary; :meth:`from_dict` restores an equal graph."""
        return {
            "format": FORMAT_VERSION,
            "nodes": [
                {
                    "op": n.op,
                    "inputs": [list(r) for r in n.inputs],
                    "outputs": [None if s is None else list(s) for s in n.outputs],
                    "attrs": {k: list(v) if isinstance(v, tuple) else v for k, v in n.attrs},
                    "macs": n.macs,
                    "params": n.params,
                    **({"const_shapes": [list(s) for s in n.const_shapes]} if n.const_shapes else {}),
                }
                for n in self.nodes
            ],
            "outputs": [list(r) for r in self.outputs],
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArchGraph:
        """Rebuild an ArchGraph from :meth:`to_dict` output, validating its structure."""
        try:
            if data.get("format") != FORMAT_VERSION:
                raise InvalidModelError(f"unsupported ArchGraph format {data.get('format')!r}")
            nodes = tuple(
                Node(
                    op=str(d["op"]),
                    inputs=tuple((int(a), int(b)) for a, b in d["inputs"]),
                    outputs=tuple(None if s is None else tuple(int(x) for x in s) for s in d["outputs"]),
                    attrs=tuple((str(k), tuple(v) if isinstance(v, list) else v) for k, v in d["attrs"].items()),
                    macs=int(d["macs"]),
                    params=int(d["params"]),
                    const_shapes=tuple(tuple(int(x) for x in s) for s in d.get("const_shapes", ())),
                )
                for d in data["nodes"]
            )
            outputs = tuple((int(a), int(b)) for a, b in data["outputs"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, InvalidModelError):
                raise
            raise InvalidModelError(f"malformed ArchGraph data: {exc!r}") from exc
        return cls(nodes=nodes, outputs=outputs, meta=dict(data.get("meta", {})))

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str | bytes) -> ArchGraph:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidModelError(f"not ArchGraph JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidModelError("not ArchGraph JSON: top level is not an object")
        return cls.from_dict(data)


def _slot(node: Node, slot: int) -> Shape | None:
    return node.outputs[slot] if slot < len(node.outputs) else None


def _check_structure(nodes: tuple[Node, ...], outputs: tuple[Ref, ...]) -> None:
    """Refuse graphs whose references are not topological or point nowhere."""
    for i, node in enumerate(nodes):
        if node.op not in OP_INDEX:
            raise InvalidModelError(f"node {i}: unknown op {node.op!r} (vocabulary: {VOCABULARY})")
        for src, slot in node.inputs:
            if src == CONST:
                if not 0 <= slot < len(node.const_shapes):
                    raise InvalidModelError(f"node {i} reads constant {slot} it does not declare")
            elif not (0 <= src < i and 0 <= slot < len(nodes[src].outputs)):
                raise InvalidModelError(f"node {i} reads tensor {src}:{slot}, which is not an earlier node's output")
    for src, slot in outputs:
        if not (0 <= src < len(nodes) and 0 <= slot < len(nodes[src].outputs)):
            raise InvalidModelError(f"graph output {src}:{slot} is not a node output")
