"""The FBNet search space as HW-NAS-Bench defines it: 22 searchable layers, 9 candidate blocks each.

The network is HW-NAS-Bench's ``FBNet_Infer`` (``hw_nas_bench_api/fbnet_models/model_infer.py``,
the FBNet-v1 macro architecture): a 3×3 conv-BN-ReLU stem with 16 channels, then seven stages of
1, 4, 4, 4, 4, 4, 1 searchable layers with 16, 24, 32, 64, 112, 184, 352 output channels (the
first layer of a stage changes the width and carries the stage's stride), a 1×1 conv-BN-ReLU
head, global average pooling and a linear classifier. Two input settings, as HW-NAS-Bench has:

* ``cifar100`` (the default; HELP's 5,000 measured FBNet architectures are in this setting):
  32×32 input, stem stride 1, stage strides 1, 1, 2, 2, 1, 2, 1, head 1504 channels, 100 classes;
* ``imagenet``: 224×224 input, stem stride 2, stage strides 1, 2, 2, 2, 1, 2, 1, head 1984
  channels, 1000 classes.

Each layer is one of :data:`OPS` (HW-NAS-Bench's ``PRIMITIVES`` order, so an op's index is its
HW-NAS-Bench/HELP ``op_idx``): ``k{3,5}_e{1,3,6}`` is an inverted residual block — a 1×1
conv-BN-ReLU expanding ``C_in`` to ``e·C_in`` (present even for ``e = 1``), a k×k depthwise
conv-BN-ReLU with the layer's stride, a 1×1 conv-BN projection to ``C_out`` — with an identity
shortcut when ``C_in = C_out`` and the stride is 1; ``k{3,5}_e1_g2`` splits both 1×1 convolutions
into 2 groups and shuffles the channels after the first; ``skip`` is the identity, or a 1×1
conv-BN-ReLU where the layer changes width or resolution. There is no squeeze-and-excitation.

Canonical cell string: the 22 op names separated by single spaces, as HELP's table writes them,
e.g. ``"k5_e6 skip k3_e1_g2 …"``. :meth:`FBNet.canonical` also accepts the op indices
(``"7 8 1 …"``, HELP's ``op_idx``, or HW-NAS-Bench's ``arch_index`` list ``"[7, 8, 1, …]"``),
names or indices separated by commas, and a sequence of names or indices.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np

from archscore.errors import InvalidCellError
from archscore.spaces._mbconv import conv_bn_act, inverted_residual, same_size
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace

if TYPE_CHECKING:
    pass


class Block(NamedTuple):
    """A candidate layer: depthwise kernel, expansion ratio and groups of the 1×1 convolutions."""

    kernel: int
    expansion: int
    groups: int


SKIP = "skip"
OPS: dict[str, Block | None] = {
    "k3_e1": Block(3, 1, 1),
    "k3_e1_g2": Block(3, 1, 2),
    "k3_e3": Block(3, 3, 1),
    "k3_e6": Block(3, 6, 1),
    "k5_e1": Block(5, 1, 1),
    "k5_e1_g2": Block(5, 1, 2),
    "k5_e3": Block(5, 3, 1),
    "k5_e6": Block(5, 6, 1),
    SKIP: None,
}
"""The 9 candidate layers in HW-NAS-Bench's order (index = ``op_idx``); ``skip`` has no block."""
OP_NAMES: tuple[str, ...] = tuple(OPS)

STEM_CHANNELS = 16
STAGE_CHANNELS: tuple[int, ...] = (16, 24, 32, 64, 112, 184, 352)
STAGE_LAYERS: tuple[int, ...] = (1, 4, 4, 4, 4, 4, 1)
NUM_LAYERS = sum(STAGE_LAYERS)  # 22


class Setting(NamedTuple):
    """An input setting of HW-NAS-Bench's FBNet networks."""

    resolution: int
    num_classes: int
    stem_stride: int
    stage_strides: tuple[int, ...]
    head_channels: int


DATASETS: dict[str, Setting] = {
    "cifar100": Setting(32, 100, 1, (1, 1, 2, 2, 1, 2, 1), 1504),
    "imagenet": Setting(224, 1000, 2, (1, 2, 2, 2, 1, 2, 1), 1984),
}
_SPLIT = re.compile(r"[\s,]+")
CellSpec = str | Sequence[str | int]
"""Any accepted spelling of a cell: a string of names or indices, or a sequence of them."""


class Layer(NamedTuple):
    """One searchable position of the network: its input/output channels and stride."""

    cin: int
    cout: int
    stride: int


def layer_plan(dataset: str = "cifar100") -> tuple[Layer, ...]:
    """The 22 searchable positions (channels and strides) of ``dataset``'s setting, in network order."""
    setting = DATASETS[dataset]
    plan: list[Layer] = []
    cin = STEM_CHANNELS
    for width, count, stride in zip(STAGE_CHANNELS, STAGE_LAYERS, setting.stage_strides):
        for i in range(count):
            plan.append(Layer(cin, width, stride if i == 0 else 1))
            cin = width
    return tuple(plan)


def cell_ops(cell: str) -> tuple[str, ...]:
    """The 22 op names of a canonical cell string."""
    ops = tuple(cell.split(" "))
    if len(ops) != NUM_LAYERS or any(op not in OPS for op in ops):
        raise InvalidCellError(f"fbnet: {cell[:80]!r} is not a canonical cell string (22 op names)")
    return ops


def _op(token: object, position: int) -> str:
    """An op name from a name or an index (``op_idx``)."""
    if isinstance(token, str):
        text = token.strip().strip("'\"")
        if text in OPS:
            return text
        if text.isdigit():
            token = int(text)
    if isinstance(token, (int, np.integer)) and not isinstance(token, bool) and 0 <= token < len(OP_NAMES):
        return OP_NAMES[int(token)]
    valid = ", ".join(f"{i}={name}" for i, name in enumerate(OP_NAMES))
    raise InvalidCellError(
        f"fbnet: layer {position} has {token!r}, which is not an op; valid ops (or indices): {valid}"
    )


class FBNet(SearchSpace):
    """HW-NAS-Bench's FBNet space: 9^22 ≈ 9.8·10^20 cells (sampled, never enumerated)."""

    name: ClassVar[str] = "fbnet"
    torch_reference: ClassVar[str] = "archscore.spaces.mobilenet_torch:fbnet_network"
    description: ClassVar[str] = (
        "FBNet (HW-NAS-Bench): 22 layers × 9 blocks (k3/k5, e1/e3/e6, g2, skip); CIFAR-100, ImageNet"
    )
    datasets: ClassVar[tuple[str, ...]] = tuple(DATASETS)

    num_cells: ClassVar[int] = len(OPS) ** NUM_LAYERS
    """Number of distinct cells (far too many to enumerate; :attr:`size` is ``None``)."""

    # -- cells --------------------------------------------------------------------------------
    def canonical(self, cell: CellSpec) -> str:
        if isinstance(cell, str):
            text = cell.strip()
            if text[:1] in "[(" and text[-1:] in ")]":
                text = text[1:-1]
            tokens: Sequence[object] = [t for t in _SPLIT.split(text) if t]
        else:
            tokens = list(cell)
        if len(tokens) != NUM_LAYERS:
            raise InvalidCellError(
                f"fbnet: a cell has {NUM_LAYERS} layer choices, got {len(tokens)}; give 22 op names "
                f"({', '.join(OP_NAMES)}) or their indices 0–8, separated by spaces or commas"
            )
        return " ".join(_op(t, i) for i, t in enumerate(tokens))

    def op_indices(self, cell: CellSpec) -> list[int]:
        """HW-NAS-Bench's ``arch_index`` / HELP's ``op_idx`` of ``cell`` (the inverse of accepting them)."""
        return [OP_NAMES.index(op) for op in cell_ops(self.canonical(cell))]

    def random_cell(self, rng: random.Random) -> str:
        return " ".join(rng.choice(OP_NAMES) for _ in range(NUM_LAYERS))

    def mutate(self, cell: CellSpec, rng: random.Random) -> str:
        """Replace the op of one uniformly chosen layer by a different op."""
        ops = list(cell_ops(self.canonical(cell)))
        k = rng.randrange(NUM_LAYERS)
        ops[k] = rng.choice([op for op in OP_NAMES if op != ops[k]])
        return " ".join(ops)

    # -- networks -----------------------------------------------------------------------------
    def input_shape(self, dataset: str | None = None, cell: CellSpec | None = None) -> tuple[int, ...]:
        """``(1, 3, 32, 32)`` on CIFAR-100, ``(1, 3, 224, 224)`` on ImageNet (the cell does not change it)."""
        res = DATASETS[self.dataset(dataset)].resolution
        return (1, 3, res, res)

    def network(
        self, cell: CellSpec, dataset: str | None = None, *, weights: np.random.Generator | None = None
    ) -> Network:
        ops = cell_ops(self.canonical(cell))
        dataset = self.dataset(dataset)
        setting = DATASETS[dataset]
        b = NetBuilder(self.input_shape(dataset), rng=weights)
        x = conv_bn_act(b, "x", 3, STEM_CHANNELS, 3, setting.stem_stride)
        size = same_size(setting.resolution, setting.stem_stride)
        for op, (cin, cout, stride) in zip(ops, layer_plan(dataset)):
            block = OPS[op]
            if block is None:
                if stride != 1 or cin != cout:
                    x = conv_bn_act(b, x, cin, cout, 1, stride)
            else:
                mid = cin * block.expansion
                x = inverted_residual(
                    b, x, cin=cin, cout=cout, kernel=block.kernel, stride=stride, mid=mid, act="relu",
                    groups=block.groups, shuffle_size=size,
                )  # fmt: skip
            size = same_size(size, stride)
        x = conv_bn_act(b, x, STAGE_CHANNELS[-1], setting.head_channels, 1)
        y = b.linear(b.flatten(b.global_avg_pool(x)), setting.head_channels, setting.num_classes)
        return b.network(y, "fbnet", f"FBNet (HW-NAS-Bench) {dataset} {' '.join(ops)}")
