"""Reference PyTorch networks of the MobileNet-style spaces: HW-NAS-Bench's FBNet and OFA's MobileNetV3.

Written after the benchmarks' own modules (HW-NAS-Bench ``FBNet_Infer``/``ConvBlock``/``Skip``;
OFA ``MobileNetV3`` with ``MBConvLayer``, ``SEModule`` and ``ResidualBlock``), independently of the
``onnx.helper`` builders, so that exporting them checks those builders. Two spellings differ from
OFA's source but compute the same function: h-swish and h-sigmoid are ``nn.Hardswish`` and
``nn.Hardsigmoid`` (OFA writes ``x * relu6(x + 3) / 6`` and ``relu6(x + 3) / 6``), and global
average pooling is one mean over both spatial axes (OFA takes the mean over axis 3, then axis 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from archscore.spaces import fbnet, ofa_mbv3
from archscore.spaces._mbconv import make_divisible
from archscore.spaces.fbnet import OPS, STAGE_CHANNELS, STAGE_LAYERS, STEM_CHANNELS, FBNet
from archscore.spaces.ofa_mbv3 import (
    FEATURE_MIX_CHANNELS,
    FINAL_EXPAND_CHANNELS,
    FIRST_CHANNELS,
    SE_REDUCTION,
    STAGES,
    OFAMobileNetV3,
)


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "h_swish": nn.Hardswish, "h_sigmoid": nn.Hardsigmoid}[name]()


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias, padding ``k // 2``) → BatchNorm2d → activation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: str = "relu") -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            _activation(act),
        )


class ChannelShuffle(nn.Module):
    """``[N, g·m, H, W] → [N, m·g, H, W]``, as HW-NAS-Bench's ``ChannelShuffle``."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        g = self.groups
        return x.view(n, g, c // g, h, w).permute(0, 2, 1, 3, 4).contiguous().view(n, c, h, w)


class SqueezeExcite(nn.Module):
    """OFA's ``SEModule``: pool, 1×1 conv (bias) → ReLU, 1×1 conv (bias) → h-sigmoid, scale the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mid = make_divisible(channels // SE_REDUCTION, 8)
        self.reduce = nn.Conv2d(channels, mid, 1, bias=True)
        self.relu = nn.ReLU()
        self.expand = nn.Conv2d(mid, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.expand(self.relu(self.reduce(y))))


# -- FBNet (HW-NAS-Bench) ---------------------------------------------------------------------
class FBNetBlock(nn.Module):
    """HW-NAS-Bench's ``ConvBlock``: 1×1 (grouped) conv-BN-ReLU, [shuffle], k×k dw conv-BN-ReLU, 1×1 conv-BN."""

    def __init__(self, cin: int, cout: int, kernel: int, expansion: int, groups: int, stride: int) -> None:
        super().__init__()
        mid = cin * expansion
        self.residual = cin == cout and stride == 1
        self.conv1 = ConvBNAct(cin, mid, 1, groups=groups)
        self.shuffle = ChannelShuffle(groups) if groups > 1 else nn.Identity()
        self.conv2 = ConvBNAct(mid, mid, kernel, stride, groups=mid)
        self.conv3 = nn.Sequential(nn.Conv2d(mid, cout, 1, groups=groups, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(self.conv2(self.shuffle(self.conv1(x))))
        return y + x if self.residual else y


def fbnet_layer(op: str, cin: int, cout: int, stride: int) -> nn.Module:
    """One searchable layer: an :class:`FBNetBlock`, or ``skip`` (identity or 1×1 conv-BN-ReLU)."""
    block = OPS[op]
    if block is None:
        return ConvBNAct(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
    return FBNetBlock(cin, cout, block.kernel, block.expansion, block.groups, stride)


class FBNetNetwork(nn.Module):
    """HW-NAS-Bench's ``FBNet_Infer``: stem, 22 searchable layers in 7 stages, 1×1 head, pool, linear.

    Shapes:
        input ``(N, 3, R, R)`` (R = 32 on CIFAR-100, 224 on ImageNet) → logits ``(N, num_classes)``.
    """

    def __init__(
        self,
        ops: Sequence[str],
        *,
        stem_stride: int = 1,
        stage_strides: Sequence[int] = (1, 1, 2, 2, 1, 2, 1),
        head_channels: int = 1504,
        num_classes: int = 100,
    ) -> None:
        super().__init__()
        if len(ops) != sum(STAGE_LAYERS):
            raise ValueError(f"FBNet needs {sum(STAGE_LAYERS)} ops, got {len(ops)}")
        self.stem = ConvBNAct(3, STEM_CHANNELS, 3, stem_stride)
        layers: list[nn.Module] = []
        cin, k = STEM_CHANNELS, 0
        for width, count, stride in zip(STAGE_CHANNELS, STAGE_LAYERS, stage_strides):
            for i in range(count):
                layers.append(fbnet_layer(ops[k], cin, width, stride if i == 0 else 1))
                cin, k = width, k + 1
        self.cells = nn.Sequential(*layers)
        self.header = ConvBNAct(STAGE_CHANNELS[-1], head_channels, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(head_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.avgpool(self.header(self.cells(self.stem(x))))
        return self.fc(out.view(out.size(0), -1))


# -- Once-for-All MobileNetV3 -----------------------------------------------------------------
class MBConv(nn.Module):
    """OFA's ``MBConvLayer`` inside a ``ResidualBlock``: [1×1 expand], k×k dw, [SE], 1×1 project, [+x]."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int, expand_ratio: int, act: str, use_se: bool
    ) -> None:
        super().__init__()
        mid = make_divisible(round(cin * expand_ratio), 8)
        self.inverted_bottleneck = ConvBNAct(cin, mid, 1, act=act) if expand_ratio != 1 else None
        self.depth_conv = ConvBNAct(mid, mid, kernel, stride, groups=mid, act=act)
        self.se = SqueezeExcite(mid) if use_se else None
        self.point_linear = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.inverted_bottleneck is None else self.inverted_bottleneck(x)
        y = self.depth_conv(y)
        if self.se is not None:
            y = self.se(y)
        y = self.point_linear(y)
        return y + x if self.residual else y


class OFAMobileNetV3Network(nn.Module):
    """An OFA MobileNetV3 (width 1.0) subnet: first conv, first block, 5 elastic stages, head, classifier.

    ``blocks`` holds, per stage, the ``(kernel, expand ratio)`` of each active block.

    Shapes:
        input ``(N, 3, r, r)`` → logits ``(N, num_classes)``.
    """

    def __init__(
        self, blocks: Sequence[Sequence[tuple[int, int]]], num_classes: int = 1000, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.first_conv = ConvBNAct(3, FIRST_CHANNELS, 3, 2, act="h_swish")
        layers: list[nn.Module] = [MBConv(FIRST_CHANNELS, FIRST_CHANNELS, 3, 1, 1, "relu", False)]
        cin = FIRST_CHANNELS
        for stage, stage_blocks in zip(STAGES, blocks):
            for i, (kernel, expand) in enumerate(stage_blocks):
                stride = stage.stride if i == 0 else 1
                layers.append(MBConv(cin, stage.width, kernel, stride, expand, stage.act, stage.se))
                cin = stage.width
        self.blocks = nn.Sequential(*layers)
        self.final_expand_layer = ConvBNAct(cin, FINAL_EXPAND_CHANNELS, 1, act="h_swish")
        self.feature_mix_layer = nn.Sequential(
            nn.Conv2d(FINAL_EXPAND_CHANNELS, FEATURE_MIX_CHANNELS, 1, bias=False), nn.Hardswish()
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURE_MIX_CHANNELS, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final_expand_layer(self.blocks(self.first_conv(x)))
        x = self.feature_mix_layer(x.mean((2, 3), keepdim=True))
        return self.classifier(x.view(x.size(0), -1))


def copy_onnx_weights(model: onnx.ModelProto, module: nn.Module) -> nn.Module:
    """Load the weights of ``to_onnx(cell, weights=rng)`` into the reference ``module`` of the same cell.

    The ONNX network holds its learned tensors in build order, which is the order of the module's
    layers; each folded BatchNorm becomes the identity plus the convolution's bias (γ = 1, μ = 0,
    σ² = 1 − ε). Afterwards the eval-mode module and the ONNX network compute the same function,
    which checks what a graph comparison cannot see (e.g. the channel order after a shuffle).

    Raises:
        ValueError: The tensors do not fit the module's layers (not the same network).
    """
    arrays = iter([numpy_helper.to_array(t).copy() for t in model.graph.initializer if not t.name.startswith("ints")])
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]

    def take(shape: torch.Size) -> torch.Tensor:
        value = next(arrays, None)
        if value is None or tuple(value.shape) != tuple(shape):
            got = None if value is None else tuple(value.shape)
            raise ValueError(f"the ONNX weights do not fit the module: expected {tuple(shape)}, got {got}")
        return torch.from_numpy(value)

    with torch.no_grad():
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.BatchNorm2d):
                continue
            layer.weight.copy_(take(layer.weight.shape))
            if layer.bias is not None:
                layer.bias.copy_(take(layer.bias.shape))
            elif i + 1 < len(layers) and isinstance(bn := layers[i + 1], nn.BatchNorm2d):
                bn.weight.fill_(1.0)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                bn.bias.copy_(take(bn.bias.shape))
    if next(arrays, None) is not None:
        raise ValueError("the ONNX network has more weights than the module")
    return module


def fbnet_network(space: FBNet, cell: object, dataset: str) -> nn.Module:
    """FBNet's reference network of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    setting = fbnet.DATASETS[dataset]
    return FBNetNetwork(
        fbnet.cell_ops(space.canonical(cell)),
        stem_stride=setting.stem_stride,
        stage_strides=setting.stage_strides,
        head_channels=setting.head_channels,
        num_classes=setting.num_classes,
    )


def ofa_network(space: OFAMobileNetV3, cell: object, dataset: str) -> nn.Module:
    """Once-for-All MobileNetV3's reference network of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return OFAMobileNetV3Network(ofa_mbv3.parse(cell).blocks, ofa_mbv3.NUM_CLASSES)
