"""TransNAS-Bench-101: the micro (4,096 cells) and macro (3,256 networks) spaces on seven Taskonomy tasks.

TransNAS-Bench-101 (Duan et al., CVPR 2021) trains every network of two search spaces on seven
vision tasks of the Taskonomy data. A network is an **encoder** (the searched backbone) and a
fixed **task head**; both spaces share the benchmark's ``MacroNet`` skeleton:

* stem: Conv3×3/2 (3 → 32) + BN, then ReLU-Conv3×3/2-BN (32 → 64): the input shrinks 4×;
* a sequence of *modules*, each two cells; a module's code says what its first cell does:
  ``1`` keeps the shape, ``2`` doubles the channels, ``3`` halves the resolution (stride 2),
  ``4`` does both.

**Micro** (:class:`TNB101Micro`): the module sequence is fixed to ``41414`` (64 → 512 channels,
three halvings) and the searched cell is a 4-node DAG. Node ``j`` is the sum of one operation
on each earlier node: 6 edges in the order ``0→1 | 0→2, 1→2 | 0→3, 1→3, 2→3``, each one of
``0`` none (zero), ``1`` skip, ``2`` ReLU-Conv1×1-BN, ``3`` ReLU-Conv3×3-BN, so 4⁶ = 4,096 cells.
In a module's first cell the edges leaving node 0 carry the stride and the channel doubling: a
skip there is a *factorized reduce* (two 1×1/2 convolutions on offset pixels, concatenated, BN),
a convolution has stride 2 and doubles the channels. The benchmark writes a cell as
``64-41414-a_bc_def`` (base channels, module sequence, then the edge digits grouped by target node).

**Macro** (:class:`TNB101Macro`): the cell is fixed to a ResNet basic block (ReLU-Conv3×3-BN twice
plus a shortcut, a 1×1 conv-BN when the shape changes) and the module sequence is searched:
4 to 6 modules, with 1 to 4 resolution halvings (codes 3, 4) and 1 to 3 channel doublings
(codes 2, 4), 3,256 networks. The benchmark writes one as ``64-111114-basic``.

Tasks (``datasets``; the first is the default) and the heads the benchmark puts on the encoder:

* ``class_scene`` (63 scene classes), ``class_object`` (100 object classes), ``room_layout``
  (a 9-value regression): global average pooling and a linear layer;
* ``jigsaw``: the input is 9 tiles of 64×64; one encoder (shared weights) reads each tile, the
  9 feature maps are concatenated, pooled, and a linear layer picks one of 1,000 permutations.
  The network runs the encoder once on the nine tiles as a batch (the benchmark loops over them
  with the same weights: the same computation, MACs and parameters, in a ninth of the nodes);
* ``segmentsemantic``: the benchmark's 8-layer conv/deconv ``SegmentationDecoder`` to 17 classes
  at 256×256 (layers with BN and LeakyReLU(0.2); as many stride-2 deconvolutions as the encoder
  halved the resolution);
* ``normal`` and ``autoencoder``: the benchmark's 14-layer ``GenerativeDecoder`` (pix2pix-style)
  to a 3-channel 256×256 image with tanh. (Its GAN discriminator is training machinery, not part
  of the network, and the benchmark's parameter counts leave it out too.)

The parameter counts of these networks equal the ``params`` that NAS-Bench-Suite-Zero records for
all 711 micro and 662–725 macro networks on each task (see ``tests/spaces/test_tnb101.py``):
that is what fixes the class counts (63 for ``class_scene``, where the benchmark's release config
file says 47) and the TNB digit → operation mapping.

Two spellings differ from the benchmark's code without changing what the network computes:

* node sums are chains of ``Add`` (the benchmark's ``torch.stack(...).sum(0)`` computes the same
  sum, but an exporter writes it as Unsqueeze/Concat/ReduceSum, which would make the same cell look
  unlike every other NAS cell);
* a ``none`` edge that changes the shape (out of node 0 of a module's first cell) is ``x · 0``
  strided and broadcast to the new channel count. The benchmark allocates a fresh zero tensor
  there, which does not depend on the input at all; an exporter then treats every layer after it
  as constant computation and folds it away, weights included, so the graph would lose layers
  whose parameters the benchmark counts. Written this way the edge is a ``zero`` node like every
  other ``none`` edge, and the values are the same zeros.

Canonical cell strings are the benchmark's own (``64-41414-0_00_000``, ``64-111114-basic``);
:meth:`TNB101Micro.canonical` and :meth:`TNB101Macro.canonical` also accept the tables'
``naslib_ops`` codes and NAS-Bench-Suite-Zero's ``naslib_arch`` tuples.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from archscore.errors import InvalidCellError
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace

if TYPE_CHECKING:
    pass

# -- the benchmark's constants ---------------------------------------------------------------------
BASE_CHANNELS = 64
CELLS_PER_MODULE = 2
MICRO_MODULES = "41414"
"""The micro space's fixed module sequence (the benchmark's ``64-41414-…`` skeleton)."""

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
"""Micro edge operations; the index is the benchmark's digit (and the tables' ``naslib_ops`` digit)."""
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""Micro cell edges ``(from, to)`` in the order of the benchmark's string ``a_bc_def``."""

MODULE_CODES: dict[str, str] = {
    "1": "keep the shape", "2": "double the channels", "3": "halve the resolution",
    "4": "halve the resolution and double the channels",
}  # fmt: skip
"""Macro module codes (the first cell of a module does this; the second keeps the shape)."""
MACRO_LENGTHS = (4, 5, 6)
MACRO_HALVINGS = (1, 4)
"""Inclusive range of modules with code 3 or 4 in a macro network."""
MACRO_DOUBLINGS = (1, 3)
"""Inclusive range of modules with code 2 or 4 in a macro network."""


def halves(code: str) -> bool:
    """Whether a module with this code halves the resolution (stride 2)."""
    return code in "34"


def doubles(code: str) -> bool:
    """Whether a module with this code doubles the channels."""
    return code in "24"


@dataclass(frozen=True)
class Task:
    """One TransNAS-Bench-101 task: the network's input and the head on the encoder."""

    input_shape: tuple[int, ...]
    head: str
    """``linear`` (pool + linear), ``jigsaw`` (shared encoder on 9 tiles), ``segmentation`` or ``generative``."""
    outputs: int
    """Classes, regression values or image channels."""


TASKS: dict[str, Task] = {
    "class_scene": Task((1, 3, 256, 256), "linear", 63),
    "class_object": Task((1, 3, 256, 256), "linear", 100),
    "jigsaw": Task((1, 9, 3, 64, 64), "jigsaw", 1000),
    "room_layout": Task((1, 3, 256, 256), "linear", 9),
    "segmentsemantic": Task((1, 3, 256, 256), "segmentation", 17),
    "normal": Task((1, 3, 256, 256), "generative", 3),
    "autoencoder": Task((1, 3, 256, 256), "generative", 3),
}
"""The seven tasks, in the column order of the benchmark tables (class counts fixed by the recorded params)."""
TARGET_SIZE = 256
"""Output resolution of the dense decoders."""
JIGSAW_TILES = 9
LEAKY_SLOPE = 0.2

_MICRO_FULL_RE = re.compile(r"^(\d+)-(\d+)-(\w+)$")
_MICRO_CODE_RE = re.compile(r"^(\d)_(\d\d)_(\d\d\d)$")


# -- cells ---------------------------------------------------------------------------------------
def micro_string(digits: Sequence[int]) -> str:
    """The benchmark's string of a micro cell from its six edge digits."""
    a, b, c, d, e, f = digits
    return f"{BASE_CHANNELS}-{MICRO_MODULES}-{a}_{b}{c}_{d}{e}{f}"


def micro_digits(cell: str) -> tuple[int, ...]:
    """The six edge digits of a canonical micro cell string."""
    m = _MICRO_FULL_RE.match(cell)
    code = _MICRO_CODE_RE.match(m.group(3)) if m else None
    if m is None or code is None or m.group(1) != str(BASE_CHANNELS) or m.group(2) != MICRO_MODULES:
        raise InvalidCellError(
            f"tnb101_micro: {cell!r} is not a cell: give the benchmark's string like "
            f"'{BASE_CHANNELS}-{MICRO_MODULES}-3_13_302', its code '3_13_302', the 6-digit code '313302' "
            f"or a tuple '(3, 1, 3, 3, 0, 2)'; digits: " + ", ".join(f"{i}={op}" for i, op in enumerate(OPS))
        )
    return tuple(int(ch) for ch in "".join(code.groups()))


def macro_string(code: str) -> str:
    """The benchmark's string of a macro network from its module codes."""
    return f"{BASE_CHANNELS}-{code}-basic"


def macro_problem(code: str) -> str | None:
    """Why a module sequence is outside the macro space, or ``None`` if it is inside."""
    if not code.isdigit() or not set(code) <= set(MODULE_CODES):
        return f"module codes are {', '.join(f'{k} ({v})' for k, v in MODULE_CODES.items())}; got {code!r}"
    if not MACRO_LENGTHS[0] <= len(code) <= MACRO_LENGTHS[-1]:
        return f"a network has {MACRO_LENGTHS[0]} to {MACRO_LENGTHS[-1]} modules, got {len(code)} ({code!r})"
    n_half = sum(map(halves, code))
    if not MACRO_HALVINGS[0] <= n_half <= MACRO_HALVINGS[1]:
        return f"{code!r} halves the resolution {n_half} times (codes 3, 4); the space allows 1 to 4"
    n_double = sum(map(doubles, code))
    if not MACRO_DOUBLINGS[0] <= n_double <= MACRO_DOUBLINGS[1]:
        return f"{code!r} doubles the channels {n_double} times (codes 2, 4); the space allows 1 to 3"
    return None


@functools.cache
def macro_codes() -> tuple[str, ...]:
    """Every macro module sequence, by length then lexicographically (3,256 of them)."""
    return tuple(
        code
        for n in MACRO_LENGTHS
        for code in map("".join, itertools.product(sorted(MODULE_CODES), repeat=n))
        if macro_problem(code) is None
    )


def macro_code(cell: str) -> str:
    """The module codes of a canonical macro string (``64-111114-basic`` → ``111114``)."""
    parts = cell.split("-")
    if len(parts) != 3 or parts[0] != str(BASE_CHANNELS) or parts[2] != "basic":
        raise InvalidCellError(
            f"tnb101_macro: {cell!r} is not a network: give the benchmark's string like "
            f"'{BASE_CHANNELS}-111114-basic' (base channels {BASE_CHANNELS}, module codes, cell 'basic'), "
            "the module codes '111114' or a tuple '(1, 1, 1, 1, 1, 4)' (NAS-Bench-Suite-Zero pads with zeros)"
        )
    problem = macro_problem(parts[1])
    if problem is not None:
        raise InvalidCellError(f"tnb101_macro: {problem}")
    return parts[1]


def _tuple_digits(text: str, space: str) -> str | None:
    """``"(1, 0, 2)"`` or ``"[1, 0, 2]"`` → ``"102"``; ``None`` if the text is not such a tuple of digits."""
    if len(text) >= 2 and text[0] + text[-1] in ("()", "[]"):
        parts = [p.strip() for p in text[1:-1].split(",") if p.strip()]
        if parts and all(len(p) == 1 and p.isdigit() for p in parts):
            return "".join(parts)
        raise InvalidCellError(f"{space}: {text!r} is not a tuple of single digits")
    return None


# -- network builders (onnx.helper) --------------------------------------------------------------
WeightFn = Callable[[str, Sequence[int], "float | None"], str]


def _conv(
    b: NetBuilder, w: WeightFn, x: str, cin: int, cout: int, k: int, stride: int = 1, *, bias: bool
) -> str:  # fmt: skip
    """A convolution (``bias=True`` for one followed by BatchNorm: the BN folds into its bias)."""
    ins = [x, w("w", (cout, cin, k, k), None)]
    if bias:
        ins.append(w("b", (cout,), 0.0))
    pad = k // 2
    return b.node("Conv", ins, "conv", kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4, group=1)


def _relu_conv_bn(b: NetBuilder, w: WeightFn, x: str, cin: int, cout: int, k: int, stride: int) -> str:
    return _conv(b, w, b.relu(x), cin, cout, k, stride, bias=True)


def _slice(b: NetBuilder, x: str, axes: Sequence[int], starts: Sequence[int], ends: Sequence[int],
           steps: Sequence[int]) -> str:  # fmt: skip
    return b.node("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])


_END = np.iinfo(np.int64).max


def _zero(b: NetBuilder, x: str, cout: int, stride: int, same_shape: bool) -> str:
    """The ``none`` edge: ``x · 0``; when the edge changes the shape, strided and broadcast to ``cout``."""
    z = b.mul_zero(x)
    if same_shape:
        return z
    z = _slice(b, z, (1, 2, 3), (0, 0, 0), (1, _END, _END), (1, stride, stride))
    return b.node("Expand", [z, b.ints((1, cout, 1, 1))])


def _factorized_reduce(b: NetBuilder, w: WeightFn, x: str, cin: int, cout: int, stride: int) -> str:
    """The skip edge that changes the shape: ReLU, two 1×1/s convs (one shifted by a pixel), concat, BN."""
    x = b.relu(x)
    half = cout // 2
    a = _conv(b, w, x, cin, half, 1, stride, bias=False)
    padded = b.node("Pad", [x, b.ints((0, 0, 0, 0, 0, 0, 1, 1))], mode="constant")
    shifted = _slice(b, padded, (2, 3), (1, 1), (_END, _END), (1, 1))
    c = _conv(b, w, shifted, cin, cout - half, 1, stride, bias=False)
    y = b.concat([a, c])
    ins = [y, w("gamma", (cout,), 1.0), w("beta", (cout,), 0.0), w("mean", (cout,), 0.0), w("var", (cout,), 1.0)]
    return b.node("BatchNormalization", ins, "bn", epsilon=1e-5)


def _micro_edge(b: NetBuilder, w: WeightFn, op: str, x: str, cin: int, cout: int, stride: int) -> str:
    same_shape = stride == 1 and cin == cout
    if op == "none":
        return _zero(b, x, cout, stride, same_shape)
    if op == "skip_connect":
        return x if same_shape else _factorized_reduce(b, w, x, cin, cout, stride)
    return _relu_conv_bn(b, w, x, cin, cout, 1 if op == "nor_conv_1x1" else 3, stride)


def _micro_cell(
    b: NetBuilder, w: WeightFn, x: str, ops: Sequence[str], cin: int, cout: int, stride: int
) -> str:  # fmt: skip
    """Node ``j`` sums one op on each earlier node; edges out of node 0 carry the stride and channel change."""
    nodes = [x]
    for j in range(1, 4):
        total: str | None = None
        for (src, dst), op in zip(EDGES, ops):
            if dst == j:
                first = src == 0
                y = _micro_edge(b, w, op, nodes[src], cin if first else cout, cout, stride if first else 1)
                total = y if total is None else b.add(total, y)
        nodes.append(total)  # type: ignore[arg-type]
    return nodes[-1]


def _basic_block(b: NetBuilder, w: WeightFn, x: str, cin: int, cout: int, stride: int) -> str:
    """ResNet basic block as the benchmark writes it: ReLU-Conv-BN twice, plus x or a 1×1 conv-BN shortcut."""
    y = _relu_conv_bn(b, w, _relu_conv_bn(b, w, x, cin, cout, 3, stride), cout, cout, 3, 1)
    shortcut = x if stride == 1 and cin == cout else _conv(b, w, x, cin, cout, 1, stride, bias=True)
    return b.add(shortcut, y)


Cell = Callable[[NetBuilder, WeightFn, str, int, int, int], str]


def _encoder(b: NetBuilder, w: WeightFn, x: str, modules: str, cell: Cell) -> tuple[str, int]:
    """The benchmark's MacroNet backbone: stem, then two cells per module. Returns (output, channels)."""
    half = BASE_CHANNELS // 2
    x = _conv(b, w, x, 3, half, 3, 2, bias=True)
    x = _relu_conv_bn(b, w, x, half, BASE_CHANNELS, 3, 2)
    c = BASE_CHANNELS
    for code in modules:
        cout = 2 * c if doubles(code) else c
        x = cell(b, w, x, c, cout, 2 if halves(code) else 1)
        for _ in range(1, CELLS_PER_MODULE):
            x = cell(b, w, x, cout, cout, 1)
        c = cout
    return x, c


def _conv_layer(b: NetBuilder, x: str, cin: int, cout: int, act: str | None = "leaky") -> str:
    """The decoders' ConvLayer: Conv3×3 with a bias, BN, LeakyReLU(0.2); the last one has no BN.

    In inference form both are one convolution with a bias (the BN folds into it).
    """
    y = b.conv(x, cin, cout, 3, 1, 1, bias=True)
    if act == "leaky":
        return b.node("LeakyRelu", [y], alpha=LEAKY_SLOPE)
    if act == "tanh":
        return b.node("Tanh", [y])
    return y


def _deconv_layer(b: NetBuilder, x: str, cin: int, cout: int) -> str:
    """The decoders' DeconvLayer: ConvTranspose3×3/2 (output padding 1, bias), BN, LeakyReLU(0.2).

    BatchNorm after a transposed convolution stays a separate node (exporters fold it only into
    plain convolutions).
    """
    ins = [x, b.weight("w", (cin, cout, 3, 3)), b.weight("b", (cout,), 0.0)]
    y = b.node(
        "ConvTranspose", ins, "deconv", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
        output_padding=[1, 1], group=1,
    )  # fmt: skip
    return b.node("LeakyRelu", [b.batch_norm(y, cout)], alpha=LEAKY_SLOPE)


def upsamplings(width: int) -> int:
    """How many stride-2 layers a dense decoder needs from the encoder's ``width`` to 256 (2 … 6)."""
    n = (TARGET_SIZE // width).bit_length() - 1
    if width << n != TARGET_SIZE or not 2 <= n <= 6:
        raise ValueError(f"the dense decoders need an encoder output width of 256/2^2 … 256/2^6, got {width}")
    return n


def _segmentation_decoder(b: NetBuilder, x: str, cin: int, width: int, classes: int) -> str:
    """The benchmark's SegmentationDecoder: conv to 1024, halving convs, halving deconvs, a last deconv, conv."""
    n_up = upsamplings(width)
    x, c = _conv_layer(b, x, cin, 1024), 1024
    for _ in range(6 - n_up):
        x, c = _conv_layer(b, x, c, c // 2), c // 2
    for _ in range(n_up - 1):
        x, c = _deconv_layer(b, x, c, c // 2), c // 2
    x = _deconv_layer(b, x, c, c)
    return _conv_layer(b, x, c, classes, act=None)


def _generative_decoder(b: NetBuilder, x: str, cin: int, width: int, channels: int) -> str:
    """The benchmark's GenerativeDecoder: 14 layers, stride-2 deconvolutions where the width needs them."""
    n_up = upsamplings(width)

    def maybe_up(x: str, cin: int, cout: int, up: bool) -> str:
        return _deconv_layer(b, x, cin, cout) if up else _conv_layer(b, x, cin, cout)

    x = _conv_layer(b, x, cin, 1024)
    x = _conv_layer(b, x, 1024, 1024)
    x = maybe_up(x, 1024, 512, n_up == 6)
    x = _conv_layer(b, x, 512, 512)
    x = maybe_up(x, 512, 256, n_up >= 5)
    x = _conv_layer(b, x, 256, 128)
    x = maybe_up(x, 128, 64, n_up >= 4)
    x = _conv_layer(b, x, 64, 64)
    x = maybe_up(x, 64, 32, n_up >= 3)
    x = _conv_layer(b, x, 32, 32)
    x = _deconv_layer(b, x, 32, 16)
    x = _conv_layer(b, x, 16, 32)
    x = _deconv_layer(b, x, 32, 16)
    return _conv_layer(b, x, 16, channels, act="tanh")


def build_network(
    name: str, modules: str, cell: Cell, dataset: str, weights: np.random.Generator | None, doc: str
) -> Network:
    """The full network of one encoder on one task: the encoder, then the task's head."""
    task = TASKS[dataset]
    b = NetBuilder(task.input_shape, rng=weights)
    if task.head == "jigsaw":
        # one encoder reads the nine tiles as a batch of nine (the benchmark loops over them with shared
        # weights: the same computation), then the tiles' features stand side by side as 9·C channels
        tiles = b.node("Reshape", ["x", b.ints((JIGSAW_TILES, *task.input_shape[2:]))], "tiles")
        y, c = _encoder(b, b.weight, tiles, modules, cell)
        side = task.input_shape[-1] // 4 // 2 ** sum(map(halves, modules))
        joined = b.node("Reshape", [y, b.ints((1, JIGSAW_TILES * c, side, side))], "joined")
        pooled = b.flatten(b.global_avg_pool(joined))
        return b.network(b.linear(pooled, JIGSAW_TILES * c, task.outputs), name, doc)
    y, c = _encoder(b, b.weight, "x", modules, cell)
    width = task.input_shape[-1] // 4 // 2 ** sum(map(halves, modules))
    if task.head == "linear":
        out = b.linear(b.flatten(b.global_avg_pool(y)), c, task.outputs)
    elif task.head == "segmentation":
        out = _segmentation_decoder(b, y, c, width, task.outputs)
    else:
        out = _generative_decoder(b, y, c, width, task.outputs)
    return b.network(out, name, doc)


# -- the spaces ------------------------------------------------------------------------------------
class _TNB101(SearchSpace):
    """What both TransNAS-Bench-101 spaces share: the tasks, their inputs and the network assembly."""

    datasets: ClassVar[tuple[str, ...]] = tuple(TASKS)

    def input_shape(self, dataset: str | None = None, cell: object | None = None) -> tuple[int, ...]:
        """``(1, 3, 256, 256)``, or ``(1, 9, 3, 64, 64)`` (nine tiles) for ``jigsaw``; the same for every cell."""
        return TASKS[self.dataset(dataset)].input_shape


class TNB101Micro(_TNB101):
    """TransNAS-Bench-101 micro: 4,096 cells of 6 edges × 4 ops on the fixed ``64-41414`` skeleton."""

    name: ClassVar[str] = "tnb101_micro"
    torch_reference: ClassVar[str] = "archscore.spaces.tnb101_torch:micro_network"
    description: ClassVar[str] = (
        "TransNAS-Bench-101 micro: 4,096 cells (4 nodes, 6 edges, 4 ops) in the 64-41414 skeleton, 7 Taskonomy tasks"
    )

    def canonical(self, cell: str | Sequence[str | int]) -> str:
        """The benchmark's string of ``cell``.

        Accepts that string (``64-41414-3_13_302``), its code part (``3_13_302``), the tables'
        6-digit ``naslib_ops`` (``313302``), NAS-Bench-Suite-Zero's tuple (``(3, 1, 3, 3, 0, 2)``,
        the same digits in the same edge order), or a sequence of six op names or digits.
        """
        if isinstance(cell, str):
            text = cell.strip()
            digits = _tuple_digits(text, self.name)
            if digits is None and _MICRO_CODE_RE.match(text):
                digits = text.replace("_", "")
            if digits is None and len(text) == 6 and text.isdigit():
                digits = text
            if digits is None:
                return micro_string(self._check(micro_digits(text)))
            if len(digits) != len(EDGES):
                raise InvalidCellError(f"tnb101_micro: a cell has {len(EDGES)} edge digits, got {len(digits)}")
            return micro_string(self._check([int(d) for d in digits]))
        items = list(cell)
        if len(items) != len(EDGES):
            raise InvalidCellError(f"tnb101_micro: a cell has {len(EDGES)} edge ops, got {len(items)}")
        digits_: list[int] = []
        for item in items:
            if isinstance(item, str) and not item.isdigit():
                if item not in OPS:
                    raise InvalidCellError(f"tnb101_micro: op {item!r} is not one of {', '.join(OPS)}")
                digits_.append(OPS.index(item))
            else:
                digits_.append(int(item))
        return micro_string(self._check(digits_))

    @staticmethod
    def _check(digits: Sequence[int]) -> Sequence[int]:
        bad = sorted({d for d in digits if not 0 <= d < len(OPS)})
        if bad:
            raise InvalidCellError(
                f"tnb101_micro: digit(s) {', '.join(map(str, bad))} name no op; valid digits: "
                + ", ".join(f"{i}={op}" for i, op in enumerate(OPS))
            )
        return digits

    def ops(self, cell: str) -> tuple[str, ...]:
        """The six edge ops of ``cell``, in :data:`EDGES` order."""
        return tuple(OPS[d] for d in micro_digits(self.canonical(cell)))

    def naslib_code(self, cell: str) -> str:
        """The tables' 6-digit ``naslib_ops`` code of ``cell`` (the benchmark's digits, ungrouped)."""
        return "".join(map(str, micro_digits(self.canonical(cell))))

    @property
    def size(self) -> int:
        return len(OPS) ** len(EDGES)

    def enumerate(self) -> Iterator[str]:
        for digits in itertools.product(range(len(OPS)), repeat=len(EDGES)):
            yield micro_string(digits)

    def random_cell(self, rng: random.Random) -> str:
        return micro_string([rng.randrange(len(OPS)) for _ in EDGES])

    def mutate(self, cell: str, rng: random.Random) -> str:
        """One edge gets a different op."""
        digits = list(micro_digits(self.canonical(cell)))
        k = rng.randrange(len(digits))
        digits[k] = rng.choice([d for d in range(len(OPS)) if d != digits[k]])
        return micro_string(digits)

    def network(self, cell: str, dataset: str | None = None, *, weights: np.random.Generator | None = None) -> Network:
        cell = self.canonical(cell)
        ops = tuple(OPS[d] for d in micro_digits(cell))
        dataset = self.dataset(dataset)

        def micro_cell(b: NetBuilder, w: WeightFn, x: str, cin: int, cout: int, stride: int) -> str:
            return _micro_cell(b, w, x, ops, cin, cout, stride)

        return build_network(self.name, MICRO_MODULES, micro_cell, dataset, weights, f"TNB101 micro {dataset} {cell}")


class TNB101Macro(_TNB101):
    """TransNAS-Bench-101 macro: 3,256 sequences of 4–6 modules of ResNet basic blocks."""

    name: ClassVar[str] = "tnb101_macro"
    torch_reference: ClassVar[str] = "archscore.spaces.tnb101_torch:macro_network"
    description: ClassVar[str] = (
        "TransNAS-Bench-101 macro: 3,256 networks of 4-6 modules (keep/double channels/halve resolution/both) "
        "of ResNet basic blocks, 7 Taskonomy tasks"
    )

    def canonical(self, cell: str | Sequence[int]) -> str:
        """The benchmark's string of ``cell``.

        Accepts that string (``64-111114-basic``), the module codes (``111114``, the tables'
        ``naslib_ops``), NAS-Bench-Suite-Zero's tuple padded with zeros to six
        (``(1, 2, 4, 2, 0, 0)`` is ``64-1242-basic``), or a sequence of module codes.
        """
        if isinstance(cell, str):
            text = cell.strip()
            digits = _tuple_digits(text, self.name)
            if digits is None and text.isdigit():
                digits = text
            if digits is None:
                return macro_string(macro_code(text))
        else:
            digits = "".join(str(d) for d in cell)
            if not digits.isdigit():
                raise InvalidCellError(f"tnb101_macro: {cell!r} is not a sequence of module codes 1-4")
        code = digits.rstrip("0")  # NAS-Bench-Suite-Zero pads short networks with zeros
        if "0" in code:
            raise InvalidCellError(f"tnb101_macro: {digits!r} has a 0 between modules; zeros may only pad the end")
        problem = macro_problem(code)
        if problem is not None:
            raise InvalidCellError(f"tnb101_macro: {problem}")
        return macro_string(code)

    def modules(self, cell: str) -> str:
        """The module codes of ``cell`` (``64-111114-basic`` → ``111114``)."""
        return macro_code(self.canonical(cell))

    def naslib_code(self, cell: str) -> str:
        """The tables' ``naslib_ops`` code of ``cell`` (its module codes)."""
        return self.modules(cell)

    @property
    def size(self) -> int:
        return len(macro_codes())

    def enumerate(self) -> Iterator[str]:
        for code in macro_codes():
            yield macro_string(code)

    def random_cell(self, rng: random.Random) -> str:
        """Uniform over the 3,256 networks."""
        return macro_string(rng.choice(macro_codes()))

    def neighbours(self, cell: str) -> list[str]:
        """Every network one edit away: one module's code changed, one module inserted, or one removed."""
        code = self.modules(cell)
        found: dict[str, None] = {}
        for i in range(len(code)):
            for k in MODULE_CODES:
                if k != code[i]:
                    found[code[:i] + k + code[i + 1 :]] = None
            found[code[:i] + code[i + 1 :]] = None
        for i in range(len(code) + 1):
            for k in MODULE_CODES:
                found[code[:i] + k + code[i:]] = None
        found.pop(code, None)
        return [macro_string(c) for c in found if macro_problem(c) is None]

    def mutate(self, cell: str, rng: random.Random) -> str:
        """A random neighbour (see :meth:`neighbours`): one module changed, added or removed."""
        return rng.choice(self.neighbours(cell))

    def network(self, cell: str, dataset: str | None = None, *, weights: np.random.Generator | None = None) -> Network:
        cell = self.canonical(cell)
        dataset = self.dataset(dataset)
        doc = f"TNB101 macro {dataset} {cell}"
        return build_network(self.name, macro_code(cell), _basic_block, dataset, weights, doc)
