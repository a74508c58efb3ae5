"""ONNX building blocks of MobileNet-style spaces (FBNet, Once-for-All MobileNetV3), on a :class:`NetBuilder`.

The two spaces share one layer: the inverted residual (MBConv) block — an optional 1×1
expansion convolution, a k×k depthwise convolution (which carries the stride), an optional
squeeze-and-excitation gate, a 1×1 linear projection, and an identity shortcut when the block
keeps both the resolution and the width. They differ in the details, which are arguments here:
FBNet's blocks always expand (even by 1), may group both 1×1 convolutions in two with a channel
shuffle after the first (its ``_g2`` ops) and use ReLU; OFA's blocks skip the expansion when the
ratio is 1, use h-swish in later stages and put an SE gate after the depthwise convolution.

Every convolution is written in inference form (the BatchNorm after it folded into its bias, as
``torch.onnx.export`` writes an eval-mode module). Activations are the ONNX operators
``Relu``, ``HardSwish`` and ``HardSigmoid`` (α = 1/6, β = ½), which is what PyTorch exports for
``nn.ReLU``, ``nn.Hardswish`` and ``nn.Hardsigmoid``.
"""

from __future__ import annotations

from typing import Literal

from archscore.spaces._onnx import NetBuilder

Activation = Literal["relu", "h_swish", "h_sigmoid", "none"]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, never more than 10 % below it.

    The rounding rule of the TensorFlow MobileNet code that OFA (and torchvision) use for every
    channel count; SE widths depend on it (e.g. 72 // 4 = 18 → 24, not 16).
    """
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def same_size(size: int, stride: int) -> int:
    """Spatial size after an odd-kernel convolution with "same" padding ``k // 2`` and ``stride``."""
    return (size - 1) // stride + 1


def activation(b: NetBuilder, x: str, act: Activation) -> str:
    """Apply ``act`` to ``x`` (``"none"`` returns ``x`` unchanged)."""
    if act == "relu":
        return b.relu(x)
    if act == "h_swish":
        return b.node("HardSwish", [x])
    if act == "h_sigmoid":
        return b.node("HardSigmoid", [x], alpha=1.0 / 6.0)
    if act == "none":
        return x
    raise ValueError(f"unknown activation {act!r}; known: relu, h_swish, h_sigmoid, none")


def conv_bn_act(
    b: NetBuilder, x: str, cin: int, cout: int, k: int, stride: int = 1, *, groups: int = 1, act: Activation = "relu"
) -> str:
    """Conv (padding ``k // 2``) + BatchNorm (folded into the bias) + activation."""
    return activation(b, b.conv(x, cin, cout, k, stride, groups=groups, bias=True), act)


def channel_shuffle(b: NetBuilder, x: str, channels: int, size: int, groups: int) -> str:
    """ShuffleNet's channel shuffle of a square ``(N, C, size, size)`` tensor: ``C = g·m`` → ``m·g``.

    Written as PyTorch exports ``x.view(N, g, C/g, H, W).transpose(1, 2).reshape(N, C, H, W)``; the
    batch dimension is copied (``0`` in the Reshape target), so any batch size runs.
    """
    grouped = b.node("Reshape", [x, b.ints([0, groups, channels // groups, size, size])])
    swapped = b.node("Transpose", [grouped], perm=[0, 2, 1, 3, 4])
    return b.node("Reshape", [swapped, b.ints([0, channels, size, size])])


def squeeze_excite(b: NetBuilder, x: str, channels: int, mid: int) -> str:
    """SE gate: global average pool, 1×1 conv to ``mid`` + ReLU, 1×1 conv back + h-sigmoid, times ``x``.

    Both 1×1 convolutions have a real bias (no BatchNorm), as in MobileNetV3 and OFA.
    """
    s = b.global_avg_pool(x)
    s = b.relu(b.conv(s, channels, mid, 1, bias=True))
    s = activation(b, b.conv(s, mid, channels, 1, bias=True), "h_sigmoid")
    return b.node("Mul", [x, s])


def inverted_residual(
    b: NetBuilder,
    x: str,
    *,
    cin: int,
    cout: int,
    kernel: int,
    stride: int,
    mid: int,
    act: Activation,
    expand: bool = True,
    groups: int = 1,
    shuffle_size: int | None = None,
    se_mid: int | None = None,
) -> str:
    """One MBConv block; returns its output tensor.

    Args:
        b: The builder to append to.
        x: Input tensor (``cin`` channels).
        cin, cout: Input and output channels.
        kernel: Depthwise kernel size (odd; padding ``kernel // 2``).
        stride: Stride of the depthwise convolution.
        mid: Channels of the expanded (depthwise) part.
        act: Activation after the expansion and the depthwise convolution (none after the projection).
        expand: Whether there is a 1×1 expansion convolution ``cin → mid`` (OFA leaves it out at ratio 1).
        groups: Groups of both 1×1 convolutions (FBNet's ``_g2`` ops use 2).
        shuffle_size: Spatial size of the input; when given (and ``groups > 1``), a channel shuffle
            follows the expansion, as FBNet does.
        se_mid: Width of the squeeze-and-excitation gate after the depthwise convolution, or ``None``.
    """
    y = x
    if expand:
        y = conv_bn_act(b, y, cin, mid, 1, groups=groups, act=act)
        if groups > 1 and shuffle_size is not None:
            y = channel_shuffle(b, y, mid, shuffle_size, groups)
    y = conv_bn_act(b, y, mid, mid, kernel, stride, groups=mid, act=act)
    if se_mid is not None:
        y = squeeze_excite(b, y, mid, se_mid)
    y = b.conv(y, mid, cout, 1, groups=groups, bias=True)
    if stride == 1 and cin == cout:
        y = b.add(y, x)
    return y
