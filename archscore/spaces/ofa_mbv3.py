"""The Once-for-All MobileNetV3 space (width 1.0): elastic kernel, expansion, depth and resolution.

The network is an active subnet of OFA's ``OFAMobileNetV3`` (``ofa/imagenet_classification/
elastic_nn/networks/ofa_mbv3.py``) with ``ks_list=[3, 5, 7]``, ``expand_ratio_list=[3, 4, 6]``,
``depth_list=[2, 3, 4]``, as OFA's ``get_active_subnet`` builds it:

* first conv: 3×3 stride-2 conv-BN-h-swish to 16 channels;
* first block (fixed): 3×3 depthwise conv-BN-ReLU and 1×1 conv-BN projection, 16 → 16, with an
  identity shortcut (expansion ratio 1, so no expansion convolution);
* five elastic stages of 2–4 inverted residual blocks with 24, 40, 80, 112, 160 output channels,
  strides 2, 2, 2, 1, 2 (on the first block of the stage), ReLU in the first two stages and
  h-swish after, and a squeeze-and-excitation gate in stages 2, 4 and 5. A block is a 1×1
  conv-BN-act expansion to ``mid = make_divisible(C_in · e, 8)`` channels, a k×k depthwise
  conv-BN-act, the SE gate (pool, 1×1 conv to ``make_divisible(mid // 4, 8)`` + ReLU, 1×1 conv
  back + h-sigmoid, both convolutions with a bias), a 1×1 conv-BN projection, and an identity
  shortcut on every block but the first of a stage;
* final expand layer 1×1 conv-BN-h-swish 160 → 960, global average pooling, feature-mix layer
  1×1 conv (no bias, no BN) 960 → 1280 + h-swish, dropout and a linear classifier to 1000 classes.

The input is a square RGB image of side ``r`` ∈ {128, 132, …, 224}; the resolution is part of the
cell, so :meth:`OFAMobileNetV3.input_shape` takes the cell.

Canonical cell string: HELP's/OFA's configuration written as the table rows are, e.g.
``"ks=7 5 0 0 5 7 7 0 …; e=6 4 0 0 …; d=2 3 4 2 3; r=204"``: ``ks`` and ``e`` have 4 entries per
stage (20 in all) and ``d`` one per stage. The entries of blocks beyond a stage's depth are never
built, so they are normalised to 0 (as HELP's encoder does): two OFA configurations that differ
only there are one cell. :meth:`OFAMobileNetV3.canonical` accepts that string with any values (or
0) at unused positions, keys in any order and lists with commas or brackets, an OFA/HELP config
mapping or its JSON (``{"ks": [...], "e": [...], "d": [...], "r": 176}``, ``r`` also as ``[176]``,
``"wid": null`` allowed), and ``ks``/``e`` lists holding only the active blocks (``sum(d)``
entries). Without ``r`` the resolution is 224, OFA's default.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np

from archscore.errors import InvalidCellError
from archscore.spaces._mbconv import Activation, activation, conv_bn_act, inverted_residual, make_divisible
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace, literal_text

if TYPE_CHECKING:
    pass

KERNELS: tuple[int, ...] = (3, 5, 7)
EXPANDS: tuple[int, ...] = (3, 4, 6)
DEPTHS: tuple[int, ...] = (2, 3, 4)
MAX_DEPTH = max(DEPTHS)
RESOLUTIONS: tuple[int, ...] = tuple(range(128, 225, 4))
DEFAULT_RESOLUTION = 224
NUM_CLASSES = 1000
FIRST_CHANNELS = 16
FINAL_EXPAND_CHANNELS = 960
FEATURE_MIX_CHANNELS = 1280
SE_REDUCTION = 4


class Stage(NamedTuple):
    """One elastic stage of OFA's MobileNetV3."""

    width: int
    stride: int
    act: Activation
    se: bool


STAGES: tuple[Stage, ...] = (
    Stage(24, 2, "relu", False),
    Stage(40, 2, "relu", True),
    Stage(80, 2, "h_swish", False),
    Stage(112, 1, "h_swish", True),
    Stage(160, 2, "h_swish", True),
)
NUM_SLOTS = len(STAGES) * MAX_DEPTH  # 20 entries in ks and e

CellSpec = str | Mapping[str, object]
"""Any accepted spelling of a cell: a string (canonical, table row, JSON) or a config mapping."""
Blocks = tuple[tuple[tuple[int, int], ...], ...]
"""Per stage, the ``(kernel, expand ratio)`` of each active block."""


class OFACell(NamedTuple):
    """A parsed cell: the active blocks of each stage and the input resolution."""

    blocks: Blocks
    resolution: int

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(stage) for stage in self.blocks)

    def string(self) -> str:
        ks, es = [], []
        for stage in self.blocks:
            pad = [0] * (MAX_DEPTH - len(stage))
            ks += [k for k, _ in stage] + pad
            es += [e for _, e in stage] + pad
        d = " ".join(map(str, self.depths))
        return f"ks={' '.join(map(str, ks))}; e={' '.join(map(str, es))}; d={d}; r={self.resolution}"


def _fail(msg: str) -> InvalidCellError:
    return InvalidCellError(f"ofa_mbv3: {msg}")


def _ints(key: str, value: object) -> list[int]:
    """A list of integers from a list, a number, or text like ``"7 5 3"``, ``"[7, 5, 3]"``."""
    if isinstance(value, str):
        items: list[object] = [t for t in re.split(r"[\s,\[\]()]+", value) if t]
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
    else:
        items = [value]
    out = []
    for item in items:
        try:
            number = float(item)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _fail(f"{key} holds {item!r}, which is not a number") from None
        if not number.is_integer():
            raise _fail(f"{key} holds {item!r}, which is not a whole number")
        out.append(int(number))
    return out


_KEYS = ("ks", "e", "d", "r")


def _mapping_from_text(text: str) -> Mapping[str, object]:
    if text.startswith("{"):
        try:
            parsed = literal_text(text)
        except ValueError:
            raise _fail(f"{text[:80]!r} is not a JSON/Python mapping of ks, e, d, r") from None
        if not isinstance(parsed, Mapping):
            raise _fail(f"{text[:80]!r} is not a mapping of ks, e, d, r")
        return parsed
    fields: dict[str, object] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise _fail(
                f"{part.strip()[:60]!r} is not 'key=values'; a cell looks like "
                "'ks=<20 kernels>; e=<20 expand ratios>; d=<5 depths>; r=<resolution>'"
            )
        fields[key.strip()] = value.strip()
    return fields


def _slots(key: str, values: list[int], depths: Sequence[int], choices: tuple[int, ...]) -> list[list[int]]:
    """Per stage, the active entries of a ``ks``/``e`` list (20 slots, or only the active ones)."""
    active = sum(depths)
    valid = ", ".join(map(str, choices))
    if len(values) == NUM_SLOTS:
        stages = [values[MAX_DEPTH * s : MAX_DEPTH * (s + 1)] for s in range(len(STAGES))]
        for s, (stage, d) in enumerate(zip(stages, depths)):
            for j, v in enumerate(stage[d:], start=d):
                if v != 0 and v not in choices:  # unused, yet not a value of the space: a mistake
                    raise _fail(f"{key}[{MAX_DEPTH * s + j}] = {v} is not one of {valid} (or 0 for an unused block)")
        stages = [stage[:d] for stage, d in zip(stages, depths)]
    elif len(values) == active:
        it = iter(values)
        stages = [[next(it) for _ in range(d)] for d in depths]
    else:
        raise _fail(
            f"{key} has {len(values)} entries; give {NUM_SLOTS} ({MAX_DEPTH} per stage, unused ones ignored) "
            f"or one per active block ({active} for d={' '.join(map(str, depths))})"
        )
    for s, stage in enumerate(stages):
        for j, v in enumerate(stage):
            if v not in choices:
                raise _fail(f"{key} of block {j + 1} of stage {s + 1} is {v}; valid: {valid}")
    return stages


def parse(cell: object) -> OFACell:
    """Parse any accepted spelling of a cell (see the module docstring); raises :class:`InvalidCellError`."""
    if isinstance(cell, OFACell):
        return cell
    if isinstance(cell, str):
        fields = _mapping_from_text(cell.strip())
    elif isinstance(cell, Mapping):
        fields = cell
    else:
        raise _fail(f"a cell is a string or a mapping of ks, e, d, r; got {type(cell).__name__}")
    unknown = [k for k in fields if k not in _KEYS and not (k == "wid" and fields[k] in (None, "None", "null"))]
    if unknown:
        raise _fail(
            f"unknown key(s) {', '.join(map(repr, unknown))}; a cell has ks, e, d and r (width is fixed at 1.0)"
        )
    missing = [k for k in ("ks", "e", "d") if k not in fields]
    if missing:
        raise _fail(f"missing {', '.join(missing)}; a cell has ks, e, d and r")
    depths = _ints("d", fields["d"])
    if len(depths) != len(STAGES) or any(d not in DEPTHS for d in depths):
        raise _fail(f"d must be {len(STAGES)} stage depths from {', '.join(map(str, DEPTHS))}, got {depths}")
    kernels = _slots("ks", _ints("ks", fields["ks"]), depths, KERNELS)
    expands = _slots("e", _ints("e", fields["e"]), depths, EXPANDS)
    r = _ints("r", fields.get("r", DEFAULT_RESOLUTION))
    if len(r) != 1 or r[0] not in RESOLUTIONS:
        raise _fail(f"r must be one resolution from {RESOLUTIONS[0]} to {RESOLUTIONS[-1]} in steps of 4, got {r}")
    blocks = tuple(tuple(zip(k, e)) for k, e in zip(kernels, expands))
    return OFACell(blocks, r[0])


def _random_block(rng: random.Random) -> tuple[int, int]:
    return rng.choice(KERNELS), rng.choice(EXPANDS)


class OFAMobileNetV3(SearchSpace):
    """OFA MobileNetV3 (w1.0): (Σ_d 9^d)^5 · 25 = 7371^5 · 25 ≈ 5.4·10^20 subnets (sampled, never enumerated)."""

    name: ClassVar[str] = "ofa_mbv3"
    torch_reference: ClassVar[str] = "archscore.spaces.mobilenet_torch:ofa_network"
    description: ClassVar[str] = (
        "Once-for-All MobileNetV3 w1.0: 5 stages × depth 2–4, kernel 3/5/7, expand 3/4/6, r 128–224"
    )
    datasets: ClassVar[tuple[str, ...]] = ("imagenet",)

    num_cells: ClassVar[int] = sum((len(KERNELS) * len(EXPANDS)) ** d for d in DEPTHS) ** len(STAGES) * len(RESOLUTIONS)
    """Number of distinct cells (normalised subnets × resolutions); :attr:`size` is ``None``."""

    # -- cells --------------------------------------------------------------------------------
    def canonical(self, cell: CellSpec) -> str:
        return parse(cell).string()

    def config(self, cell: CellSpec) -> dict[str, object]:
        """OFA's/HELP's configuration of ``cell``: ``{"ks": [20], "e": [20], "d": [5], "r": int}``, 0 = unused."""
        fields = dict(part.split("=", 1) for part in self.canonical(cell).split("; "))
        return {k: [int(v) for v in fields[k].split()] for k in ("ks", "e", "d")} | {"r": int(fields["r"])}

    def random_cell(self, rng: random.Random) -> str:
        """Depth, kernel and expansion of each block and the resolution uniform, as OFA's sampler draws them."""
        blocks = tuple(tuple(_random_block(rng) for _ in range(rng.choice(DEPTHS))) for _ in STAGES)
        return OFACell(blocks, rng.choice(RESOLUTIONS)).string()

    def mutate(self, cell: CellSpec, rng: random.Random) -> str:
        """Change one uniformly chosen choice: a block's kernel or expansion, a stage's depth, or the resolution.

        A deeper stage gets a new last block with a random kernel and expansion; a shallower one loses its
        last block.
        """
        parsed = parse(cell)
        stages = [list(stage) for stage in parsed.blocks]
        choices: list[tuple[str, int, int]] = [
            (what, s, j) for s, stage in enumerate(stages) for j in range(len(stage)) for what in ("k", "e")
        ]
        choices += [("d", s, 0) for s in range(len(stages))] + [("r", 0, 0)]
        what, s, j = rng.choice(choices)
        resolution = parsed.resolution
        if what == "k":
            k, e = stages[s][j]
            stages[s][j] = (rng.choice([v for v in KERNELS if v != k]), e)
        elif what == "e":
            k, e = stages[s][j]
            stages[s][j] = (k, rng.choice([v for v in EXPANDS if v != e]))
        elif what == "d":
            depth = rng.choice([d for d in DEPTHS if d != len(stages[s])])
            stages[s] = stages[s][:depth] + [_random_block(rng) for _ in range(depth - len(stages[s]))]
        else:
            resolution = rng.choice([r for r in RESOLUTIONS if r != resolution])
        return OFACell(tuple(tuple(stage) for stage in stages), resolution).string()

    # -- networks -----------------------------------------------------------------------------
    def input_shape(self, dataset: str | None = None, cell: CellSpec | None = None) -> tuple[int, ...]:
        """``(1, 3, r, r)`` with the cell's resolution ``r`` (224 without a cell)."""
        self.dataset(dataset)
        r = DEFAULT_RESOLUTION if cell is None else parse(cell).resolution
        return (1, 3, r, r)

    def network(
        self, cell: CellSpec, dataset: str | None = None, *, weights: np.random.Generator | None = None
    ) -> Network:
        parsed = parse(cell)
        dataset = self.dataset(dataset)
        r = parsed.resolution
        b = NetBuilder((1, 3, r, r), rng=weights)
        x = conv_bn_act(b, "x", 3, FIRST_CHANNELS, 3, 2, act="h_swish")
        x = inverted_residual(
            b, x, cin=FIRST_CHANNELS, cout=FIRST_CHANNELS, kernel=3, stride=1, mid=FIRST_CHANNELS, act="relu",
            expand=False,
        )  # fmt: skip
        cin = FIRST_CHANNELS
        for stage, blocks in zip(STAGES, parsed.blocks):
            for i, (kernel, expand) in enumerate(blocks):
                mid = make_divisible(cin * expand, 8)
                x = inverted_residual(
                    b, x, cin=cin, cout=stage.width, kernel=kernel, stride=stage.stride if i == 0 else 1, mid=mid,
                    act=stage.act, se_mid=make_divisible(mid // SE_REDUCTION, 8) if stage.se else None,
                )  # fmt: skip
                cin = stage.width
        x = conv_bn_act(b, x, cin, FINAL_EXPAND_CHANNELS, 1, act="h_swish")
        x = b.global_avg_pool(x)
        x = activation(b, b.conv(x, FINAL_EXPAND_CHANNELS, FEATURE_MIX_CHANNELS, 1), "h_swish")
        y = b.linear(b.flatten(x), FEATURE_MIX_CHANNELS, NUM_CLASSES)
        return b.network(y, "ofa_mbv3", f"Once-for-All MobileNetV3 w1.0 {dataset} {parsed.string()}")
