"""The reference PyTorch network of a NAS-Bench-101 cell (the benchmark's ``model_builder.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from archscore.spaces.nb101 import CELLS_PER_STACK, NB101, NUM_CLASSES, STACKS, STEM_CHANNELS, vertex_channels


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, 1, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class NB101Cell(nn.Module):
    def __init__(self, matrix: Sequence[Sequence[int]], ops: Sequence[str], cin: int, cout: int) -> None:
        super().__init__()
        self.matrix, self.ops = [list(r) for r in matrix], list(ops)
        n = len(matrix)
        self.ch = vertex_channels(cin, cout, tuple(tuple(r) for r in matrix))
        self.proj = nn.ModuleDict()
        self.vertex = nn.ModuleDict()
        for t in range(1, n - 1):
            if matrix[0][t]:
                self.proj[str(t)] = ConvBNReLU(cin, self.ch[t], 1)
            if ops[t] == "maxpool3x3":
                self.vertex[str(t)] = nn.MaxPool2d(3, 1, 1)
            else:
                k = 3 if ops[t] == "conv3x3-bn-relu" else 1
                self.vertex[str(t)] = ConvBNReLU(self.ch[t], self.ch[t], k)
        self.out_proj = ConvBNReLU(cin, cout, 1) if matrix[0][n - 1] else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, ch = len(self.matrix), self.matrix, self.ch
        tensors = [x]
        concat = []
        for t in range(1, n - 1):
            add_in = [tensors[s][:, : ch[t]] if ch[s] > ch[t] else tensors[s] for s in range(1, t) if m[s][t]]
            if m[0][t]:
                add_in.append(self.proj[str(t)](x))
            v = add_in[0]
            for other in add_in[1:]:
                v = v + other
            v = self.vertex[str(t)](v)
            tensors.append(v)
            if m[t][n - 1]:
                concat.append(v)
        if not concat:
            return self.out_proj(x)  # type: ignore[misc]
        out = concat[0] if len(concat) == 1 else torch.cat(concat, 1)
        if self.out_proj is not None:
            out = out + self.out_proj(x)
        return out


class NB101Network(nn.Module):
    def __init__(self, matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> None:
        super().__init__()
        channels = STEM_CHANNELS
        layers: list[nn.Module] = [ConvBNReLU(3, channels, 3)]
        cin = channels
        for stack in range(STACKS):
            if stack:
                layers.append(nn.MaxPool2d(2, 2))
                channels *= 2
            for _ in range(CELLS_PER_STACK):
                layers.append(NB101Cell(matrix, ops, cin, channels))
                cin = channels
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def nb101_network(space: NB101, cell: str, dataset: str) -> nn.Module:
    """NB101's reference network of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return NB101Network(*space.pair(cell))
