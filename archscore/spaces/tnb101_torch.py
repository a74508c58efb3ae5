"""The reference PyTorch networks of TransNAS-Bench-101 (the benchmark's ``MacroNet`` encoder and task heads).

Written from the benchmark's definitions (``net_infer/net_macro.py``, ``cell_micro.py``,
``net_ops/cell_ops.py``, ``task_models/decoder.py`` and the per-task configs); see
:mod:`archscore.spaces.tnb101` for the two deliberate spelling differences (Add chains for node
sums, and a data-dependent zero for a ``none`` edge that changes the shape). Parameter counts
(``sum(p.numel())``) are the benchmark's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from archscore.spaces.nb201_torch import sum_of_edges
from archscore.spaces.tnb101 import (
    BASE_CHANNELS,
    CELLS_PER_MODULE,
    EDGES,
    JIGSAW_TILES,
    LEAKY_SLOPE,
    MICRO_MODULES,
    TASKS,
    TNB101Macro,
    TNB101Micro,
    doubles,
    halves,
    upsamplings,
)


class ReLUConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout))


class Zero(nn.Module):
    """The ``none`` edge: zeros of the edge's output shape, computed as ``x · 0``.

    When the edge keeps the shape this is exactly the benchmark's ``x.mul(0.)``; when it halves
    the resolution and changes the channels the zeros are strided and broadcast from ``x · 0``
    (the benchmark allocates them with ``x.new_zeros``, which has no data dependence).
    """

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.mul(0.0)
        if self.stride == 1 and self.cin == self.cout:
            return z
        return z[:, :1, :: self.stride, :: self.stride].expand(-1, self.cout, -1, -1)


class FactorizedReduce(nn.Module):
    """Skip edge that halves the resolution: ReLU, 1×1/2 convs on x and on x shifted by one pixel, concat, BN."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(cin, cout // 2, 1, stride, 0, bias=False),
                nn.Conv2d(cin, cout - cout // 2, 1, stride, 0, bias=False),
            ]
        )
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


def micro_edge(op: str, cin: int, cout: int, stride: int) -> nn.Module:
    if op == "none":
        return Zero(cin, cout, stride)
    if op == "skip_connect":
        return nn.Identity() if stride == 1 and cin == cout else FactorizedReduce(cin, cout, stride)
    if op == "nor_conv_1x1":
        return ReLUConvBN(cin, cout, 1, stride)
    if op == "nor_conv_3x3":
        return ReLUConvBN(cin, cout, 3, stride)
    raise ValueError(f"unknown TransNAS-Bench-101 op {op!r}")


class MicroCell(nn.Module):
    """4 nodes, 6 edges ``i → j``; node ``j`` sums its incoming edges; edges out of node 0 carry the stride."""

    def __init__(self, ops: Sequence[str], cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            micro_edge(op, cin, cout, stride) if src == 0 else micro_edge(op, cout, cout, 1)
            for (src, _), op in zip(EDGES, ops)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum_of_edges(self.edges, x)


class BasicBlock(nn.Module):
    """The macro space's cell: ReLU-Conv3×3-BN (stride) then ReLU-Conv3×3-BN, plus a shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, stride)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


class Encoder(nn.Module):
    """The benchmark's MacroNet backbone: a stem that shrinks the input 4×, then two cells per module.

    Args:
        modules: Module codes, e.g. ``"41414"`` (1 keep, 2 double channels, 3 halve resolution, 4 both).
        ops: The micro cell's six edge ops, or ``None`` for the macro space's basic block.
    """

    def __init__(self, modules: str, ops: Sequence[str] | None) -> None:
        super().__init__()
        half = BASE_CHANNELS // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, half, 3, 2, 1, bias=False), nn.BatchNorm2d(half), ReLUConvBN(half, BASE_CHANNELS, 3, 2)
        )
        layers: list[nn.Module] = []
        c = BASE_CHANNELS
        for code in modules:
            cout = 2 * c if doubles(code) else c
            for i in range(CELLS_PER_MODULE):
                cin, stride = (c, 2 if halves(code) else 1) if i == 0 else (cout, 1)
                layers.append(BasicBlock(cin, cout, stride) if ops is None else MicroCell(ops, cin, cout, stride))
            c = cout
        self.layers = nn.Sequential(*layers)
        self.out_channels = c
        self.reduction = 4 * 2 ** sum(map(halves, modules))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))


class ConvLayer(nn.Sequential):
    """Conv3×3 with a bias, then (optionally) BN and an activation."""

    def __init__(self, cin: int, cout: int, act: nn.Module | None, norm: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, 1, 1)]
        if norm:
            layers.append(nn.BatchNorm2d(cout))
        if act is not None:
            layers.append(act)
        super().__init__(*layers)


class DeconvLayer(nn.Sequential):
    """ConvTranspose3×3/2 (padding 1, output padding 1, bias), BN, LeakyReLU(0.2): doubles the resolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(LEAKY_SLOPE)
        )


def _leaky() -> nn.Module:
    return nn.LeakyReLU(LEAKY_SLOPE)


class SegmentationDecoder(nn.Sequential):
    """The benchmark's segmentation decoder: conv to 1024, halving convs, deconvs up to 256×256, class conv."""

    def __init__(self, cin: int, width: int, classes: int) -> None:
        n_up = upsamplings(width)
        layers: list[nn.Module] = [ConvLayer(cin, 1024, _leaky())]
        c = 1024
        for _ in range(6 - n_up):
            layers.append(ConvLayer(c, c // 2, _leaky()))
            c //= 2
        for _ in range(n_up - 1):
            layers.append(DeconvLayer(c, c // 2))
            c //= 2
        layers += [DeconvLayer(c, c), ConvLayer(c, classes, None, norm=False)]
        super().__init__(*layers)


class GenerativeDecoder(nn.Sequential):
    """The benchmark's image decoder (normal, autoencoder): 14 layers; deconvolutions where the width needs them."""

    def __init__(self, cin: int, width: int, channels: int) -> None:
        n_up = upsamplings(width)

        def up_or_conv(cin: int, cout: int, up: bool) -> nn.Module:
            return DeconvLayer(cin, cout) if up else ConvLayer(cin, cout, _leaky())

        super().__init__(
            ConvLayer(cin, 1024, _leaky()),
            ConvLayer(1024, 1024, _leaky()),
            up_or_conv(1024, 512, n_up == 6),
            ConvLayer(512, 512, _leaky()),
            up_or_conv(512, 256, n_up >= 5),
            ConvLayer(256, 128, _leaky()),
            up_or_conv(128, 64, n_up >= 4),
            ConvLayer(64, 64, _leaky()),
            up_or_conv(64, 32, n_up >= 3),
            ConvLayer(32, 32, _leaky()),
            DeconvLayer(32, 16),
            ConvLayer(16, 32, _leaky()),
            DeconvLayer(32, 16),
            ConvLayer(16, channels, nn.Tanh(), norm=False),
        )


class LinearHead(nn.Sequential):
    """Global average pooling, flatten, linear (classification and room-layout regression)."""

    def __init__(self, cin: int, outputs: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1), nn.Linear(cin, outputs))


class FeedForward(nn.Module):
    """Encoder then head (every task but jigsaw)."""

    def __init__(self, encoder: Encoder, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class Siamese(nn.Module):
    """Jigsaw: one encoder reads each of the 9 tiles; features concatenated, pooled, linear over permutations.

    Shapes:
        x: ``(N, 9, 3, 64, 64)`` → ``(N, 1000)``
    """

    def __init__(self, encoder: Encoder, outputs: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = LinearHead(JIGSAW_TILES * encoder.out_channels, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the tiles as one batch through the shared encoder: the same as encoding each and concatenating
        y = self.encoder(x.reshape(-1, *x.shape[2:]))
        return self.decoder(y.reshape(x.shape[0], -1, y.shape[2], y.shape[3]))


def tnb101_network(modules: str, ops: Sequence[str] | None, task: str) -> nn.Module:
    """The full network: the encoder of ``modules`` (micro cell ``ops`` or basic blocks) and ``task``'s head."""
    spec = TASKS[task]
    encoder = Encoder(modules, ops)
    if spec.head == "jigsaw":
        return Siamese(encoder, spec.outputs)
    if spec.head == "linear":
        return FeedForward(encoder, LinearHead(encoder.out_channels, spec.outputs))
    width = spec.input_shape[-1] // encoder.reduction
    if spec.head == "segmentation":
        return FeedForward(encoder, SegmentationDecoder(encoder.out_channels, width, spec.outputs))
    return FeedForward(encoder, GenerativeDecoder(encoder.out_channels, width, spec.outputs))


def micro_network(space: TNB101Micro, cell: str, dataset: str) -> nn.Module:
    """TransNAS-Bench-101 micro's reference network of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return tnb101_network(MICRO_MODULES, space.ops(cell), dataset)


def macro_network(space: TNB101Macro, cell: str, dataset: str) -> nn.Module:
    """TransNAS-Bench-101 macro's reference network of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return tnb101_network(space.modules(cell), None, dataset)
