"""The zoo of real networks: weight-free ONNX exports of labelled ImageNet and CIFAR classifiers.

The labels are the bundled source ``zoo`` (``data.load("zoo", target="top1", dataset="imagenet1k")``);
the networks are members of ``bundled/zoo/zoo_onnx.zip``, written by ``benchmarks/build_zoo.py``.
Their ArchGraphs are parsed once and kept in the graph cache (shard ``zoo-<archive digest>``), so a
new parser or a new archive rebuilds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from archscore.data.archive import archive_graphs as zoo_graphs
from archscore.data.archive import zoo_onnx
from archscore.data.tables import load
from archscore.graph import ArchGraph

__all__ = ["ZooRows", "zoo_graphs", "zoo_onnx", "zoo_rows"]


@dataclass
class ZooRows:
    """Labelled real networks of one benchmark setting, one row per (source, network)."""

    dataset: str
    names: list[str]
    members: list[str]
    sources: list[str]
    families: list[str]
    y: np.ndarray
    graphs: list[ArchGraph] = field(repr=False)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, rows) -> ZooRows:
        rows = np.asarray(rows, dtype=int)
        pick = lambda xs: [xs[i] for i in rows]  # noqa: E731
        return ZooRows(self.dataset, pick(self.names), pick(self.members), pick(self.sources), pick(self.families),
                       self.y[rows], pick(self.graphs))  # fmt: skip


def zoo_rows(
    dataset: str = "imagenet1k", source: str | None = None, extra_data: bool = False, models: Sequence[str] = ()
) -> ZooRows:
    """The zoo's networks of ``dataset`` with their top-1 accuracy (%), one row per (source, network).

    A network with several labelled weights in one source (torchvision's ``V1`` and ``V2``
    recipes of one ResNet; mmpretrain's configs that differ only in pretraining) keeps the best
    top-1: the accuracy its design is known to reach. Left out unless ``extra_data``: weights
    trained on more than ImageNet-1K (SWAG, ImageNet-21k, CLIP …). Always left out: accuracies of
    a linear probe on a self-supervised backbone (not the architecture's trained accuracy).
    ``models`` keeps only those model names (only their graphs are parsed).
    """
    where = {"dataset": dataset} | ({"source": source} if source else {})
    t = load("zoo", target="top1", **where)
    cols = t.columns
    probe = cols.get("linear_probe", np.zeros(len(t)))
    keep = [
        i
        for i in range(len(t))
        if np.isfinite(t.y[i])
        and not probe[i]
        and (extra_data or not cols["extra_data"][i])
        and (not models or cols["model"][i] in models)
    ]
    graphs = zoo_graphs([t.archs[i] for i in keep])
    best: dict[tuple[str, ArchGraph], int] = {}
    graph_of = dict(zip(keep, graphs))
    for i in keep:
        key = (cols["source"][i], graph_of[i])
        if key not in best or t.y[i] > t.y[best[key]] or (t.y[i] == t.y[best[key]] and t.archs[i] < t.archs[best[key]]):
            best[key] = i
    idx = sorted(best.values(), key=lambda i: (cols["source"][i], t.archs[i]))
    return ZooRows(
        dataset,
        [f"{cols['source'][i]}:{cols['model'][i]}" for i in idx],
        [t.archs[i] for i in idx],
        [cols["source"][i] for i in idx],
        [cols["family"][i] for i in idx],
        np.asarray([t.y[i] for i in idx], dtype=np.float64),
        [graph_of[i] for i in idx],
    )
