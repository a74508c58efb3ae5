"""The reference PyTorch network of a NAS-Bench-301 genotype (DARTS' ``NetworkCIFAR``, as NB301 trained it).

Written from the DARTS paper's definition of the evaluation network; with the defaults it is
NAS-Bench-301's (32 initial channels, 8 cells). Training-only parts (auxiliary head, drop-path)
are left out: the module is the inference network that :meth:`NB301.to_onnx` writes.
"""

from __future__ import annotations

import torch
from torch import nn

from archscore.spaces.darts import (
    CHANNELS,
    CONCAT,
    DATASETS,
    LAYERS,
    NB301,
    STEM_MULTIPLIER,
    STEPS,
    CellLayout,
    Genotype,
    layout,
    parse,
    stride,
)


class ReLUConvBN(nn.Sequential):
    """ReLU, 1×1 convolution, BatchNorm: brings a cell input to the cell's channels."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two stride-2 1×1 convs, the second on the input shifted by one pixel."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class SepConv(nn.Sequential):
    """Two stacked ReLU - depthwise k×k - pointwise 1×1 - BatchNorm (the first carries the stride)."""

    def __init__(self, c: int, k: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, k, 1, k // 2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class DilConv(nn.Sequential):
    """ReLU - depthwise k×k with dilation 2 - pointwise 1×1 - BatchNorm."""

    def __init__(self, c: int, k: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, k, stride, k - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


def operation(op: str, c: int, stride: int) -> nn.Module:
    """One DARTS operation on ``c`` channels (pools without BatchNorm, as in the evaluation network)."""
    if op == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if op == "max_pool_3x3":
        return nn.MaxPool2d(3, stride, 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if op.startswith("sep_conv"):
        return SepConv(c, int(op[-1]), stride)
    if op.startswith("dil_conv"):
        return DilConv(c, int(op[-1]), stride)
    raise ValueError(f"unknown DARTS op {op!r}")


class DartsCell(nn.Module):
    """Preprocess the two inputs, compute 4 nodes (each the sum of two ops on earlier states), concat them."""

    def __init__(self, edges: tuple[tuple[str, int], ...], spec: CellLayout) -> None:
        super().__init__()
        c = spec.c
        self.preprocess0 = (
            FactorizedReduce(spec.c_prev_prev, c) if spec.reduction_prev else ReLUConvBN(spec.c_prev_prev, c)
        )
        self.preprocess1 = ReLUConvBN(spec.c_prev, c)
        self.ops = nn.ModuleList(operation(op, c, stride(spec, src)) for op, src in edges)
        self.inputs = [src for _, src in edges]

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for j in range(STEPS):
            a, b = 2 * j, 2 * j + 1
            states.append(self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]]))
        return torch.cat([states[i] for i in CONCAT], dim=1)


class DartsNetwork(nn.Module):
    """Stem conv3×3 + BN (3·C channels), ``layers`` cells (reduction at 1/3 and 2/3), GAP, linear.

    Shapes:
        input: ``(N, channels, height, width)`` of ``dataset`` (see :data:`~archscore.spaces.darts.DATASETS`)
        output: ``(N, classes)`` logits
    """

    def __init__(
        self, genotype: Genotype, dataset: str = "cifar10", channels: int = CHANNELS, layers: int = LAYERS
    ) -> None:
        super().__init__()
        cin, _, _, classes = DATASETS[dataset]
        stem = STEM_MULTIPLIER * channels
        self.stem = nn.Sequential(nn.Conv2d(cin, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem))
        specs = layout(channels, layers)
        self.cells = nn.ModuleList(
            DartsCell(genotype.reduce if spec.reduction else genotype.normal, spec) for spec in specs
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(len(CONCAT) * specs[-1].c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1))


def darts_network(space: NB301, cell: object, dataset: str) -> nn.Module:
    """NB301's reference network of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return DartsNetwork(parse(cell), dataset)
