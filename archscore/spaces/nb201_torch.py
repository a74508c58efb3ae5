"""The reference PyTorch network of a NAS-Bench-201 cell (the benchmark's ``TinyNetwork``/``InferCell``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from archscore.spaces.nb201 import CELLS_PER_STAGE, CHANNELS, DATASETS, EDGES, NB201, edge_ops


def sum_of_edges(edges: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """A 4-node cell (NB201, TransNAS micro): node ``j`` sums its incoming edges (in :data:`EDGES`
    order) as a chain of ``+``; the last node is the output."""
    nodes = [x]
    for j in range(1, 4):
        total: torch.Tensor | None = None
        for k, (src, dst) in enumerate(EDGES):
            if dst == j:
                y = edges[k](nodes[src])
                total = y if total is None else total + y
        nodes.append(total)  # type: ignore[arg-type]
    return nodes[-1]


class ReLUConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout))


class Zero(nn.Module):
    """The ``none`` edge, exactly as the benchmark's code computes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def edge_module(name: str, c: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")


class NB201Cell(nn.Module):
    """4 nodes, 6 edges ``i → j`` (``i < j``); node ``j`` is the sum of its incoming edges."""

    def __init__(self, ops: Sequence[str], c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(edge_module(op, c) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum_of_edges(self.edges, x)


class NB201Reduction(nn.Module):
    """Residual reduction block: ReLU-Conv3x3/2-BN, ReLU-Conv3x3-BN; shortcut AvgPool2x2 + Conv1x1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(cin, cout, 1, 1, 0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem Conv3x3+BN; 3 stages of ``n`` cells at C, 2C, 4C with reduction blocks; BN-ReLU-GAP-Linear."""

    def __init__(self, ops: Sequence[str], c: int = 16, n: int = 5, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        cells: list[nn.Module] = []
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage:
                cells.append(NB201Reduction(width // 2, width))
            cells.extend(NB201Cell(ops, width) for _ in range(n))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.global_pooling(self.lastact(self.cells(self.stem(x))))
        return self.classifier(out.view(out.size(0), -1))


def nb201_network(space: NB201, cell: str, dataset: str) -> nn.Module:
    """NB201's reference network of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return NB201Network(edge_ops(space.canonical(cell)), CHANNELS, CELLS_PER_STAGE, DATASETS[dataset][1])
