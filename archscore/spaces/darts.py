"""NAS-Bench-301, the DARTS search space: about 10^18 genotypes, networks as NAS-Bench-301 trained them.

A genotype is two cells, a *normal* cell and a *reduction* cell, each used throughout the
network. A cell reads two states, ``c_{k-2}`` and ``c_{k-1}`` (the outputs of the two cells
before it), and computes four intermediate nodes; node ``j`` (0–3) is the sum of two operations
applied to two *distinct* earlier states: input index 0 is ``c_{k-2}``, 1 is ``c_{k-1}``, and
``2 + i`` is intermediate node ``i < j``. Operations are the seven of :data:`OPS` (DARTS' ``none``
is not selectable in NAS-Bench-301). The cell's output concatenates its four intermediate nodes.

The network is the one NAS-Bench-301 trained (Auto-PyTorch's copy of DARTS' ``NetworkCIFAR``,
``init_channels=32``, ``layers=8``): a 3×3 conv + BN stem with 3·C = 96 channels; eight cells,
the ones at 1/3 and 2/3 of the depth (cells 2 and 5) reduction cells that halve the resolution
and double C (32 → 64 → 128); each cell first brings its two inputs to C channels with
ReLU-Conv1×1-BN, or with a FactorizedReduce (ReLU, two stride-2 1×1 convs, the second offset by
one pixel, concat, BN) for ``c_{k-2}`` of the cell after a reduction; then global average
pooling and a linear classifier on 4·128 = 512 channels. Operations are DARTS': ``sep_conv_k``
is ReLU-dwconv-pwconv-BN twice, ``dil_conv_k`` once with dilation 2, pools are 3×3 (average
without counting padding) with no BatchNorm, ``skip_connect`` is the identity or, on a stride-2
edge, a FactorizedReduce. Every BatchNorm is affine. The network is written in inference form:
the auxiliary head (attached after cell 5) and drop-path act only in training and are not part
of it.

NASLib's zero-cost model of a genotype (whose parameter counts are NAS-Bench-Suite-Zero's ``params``)
is the same network except that the BatchNorms inside cell operations are affine-free and each
pool is followed by an affine-free BatchNorm; :func:`parameter_count` gives both counts.

Canonical cell string: the DARTS ``Genotype`` text, with the two edges of each node ordered by
input index, e.g. ``Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), …],
normal_concat=[2, 3, 4, 5], reduce=[…], reduce_concat=[2, 3, 4, 5])``; it is valid Python for
DARTS' own ``Genotype`` namedtuple. :meth:`NB301.canonical` also accepts NASLib's compact form
(``[[(0, 0), (1, 5), …], […]]`` or ``(((0, 5), …), (…))``: ``(input, op index)`` pairs, op
indices into :data:`OPS`), NAS-Bench-301's ConfigSpace dictionary (``edge_normal_0`` …), and
``(op, input)`` pairs grouped or flat.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Mapping, Sequence
from math import comb, prod
from numbers import Integral
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np

from archscore.errors import InvalidCellError, UnknownNameError
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace, literal_text

if TYPE_CHECKING:
    pass

OPS: tuple[str, ...] = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)  # fmt: skip
"""The selectable operations, in the order of NASLib's compact op indices (``OPS`` in NASLib's
``nasbench301/conversions.py``) and of NAS-Bench-301's ``PRIMITIVES``."""
STEPS = 4
"""Intermediate nodes per cell."""
EDGES_PER_CELL = 2 * STEPS
CONCAT = (2, 3, 4, 5)
"""States concatenated into the cell output (the four intermediate nodes)."""
CHANNELS = 32
"""``init_channels`` of NAS-Bench-301's training configuration."""
LAYERS = 8
"""Cells in NAS-Bench-301's network; the ones at ``LAYERS // 3`` and ``2 * LAYERS // 3`` reduce."""
STEM_MULTIPLIER = 3
NUM_CELLS = (prod(comb(j + 2, 2) for j in range(STEPS)) * len(OPS) ** EDGES_PER_CELL) ** 2
"""Distinct genotypes: per cell, node ``j`` picks 2 of ``j + 2`` states and an op per edge (≈ 1.08·10^18)."""

DATASETS: dict[str, tuple[int, int, int, int]] = {
    "cifar10": (3, 32, 32, 10),
    "svhn": (3, 32, 32, 10),
    "scifar100": (3, 60, 60, 100),
    "ninapro": (1, 16, 52, 18),
}
"""Dataset → (input channels, height, width, classes). CIFAR-10 is NAS-Bench-301's own; the other
three are the NAS-Bench-360 tasks of NAS-Bench-Suite-Zero (SVHN; Spherical CIFAR-100 at 60×60;
NinaPro DB5 EMG windows, one channel of 16×52, 18 gestures). Channels and classes are confirmed by
the recorded parameter counts of those rows, resolutions by their recorded FLOPs (see the tests)."""

_CONFIG_PREFIX = "NetworkSelectorDatasetInfo:darts:"
_CONFIG_EDGE_OFFSET = (0, 2, 5, 9)
"""NAS-Bench-301's ConfigSpace numbers a cell's 14 candidate edges node by node: node ``j``'s edge
from state ``i`` is ``edge_<cell>_<offset[j] + i>``."""

Edge = tuple[str, int]
"""One edge of a cell: ``(op, input state index)``."""


class Genotype(NamedTuple):
    """The two cells of a genotype, each 8 ``(op, input)`` edges, two per intermediate node."""

    normal: tuple[Edge, ...]
    reduce: tuple[Edge, ...]


def _fail(msg: str) -> InvalidCellError:
    return InvalidCellError(f"nb301: {msg}")


_SPELLINGS = (
    "give a DARTS genotype like \"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], "
    "normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])\", NASLib's compact form "
    "'[[(0, 3), (1, 3), ...], [...]]' (8 (input, op index) pairs per cell) or a NAS-Bench-301 config dict"
)


# -- cells ------------------------------------------------------------------------------------
def genotype_string(genotype: Genotype) -> str:
    """The canonical text of a (validated, edge-ordered) genotype."""
    concat = list(CONCAT)
    normal, reduce = list(genotype.normal), list(genotype.reduce)
    return f"Genotype(normal={normal}, normal_concat={concat}, reduce={reduce}, reduce_concat={concat})"


def _check_cell(edges: Sequence[Edge], which: str) -> tuple[Edge, ...]:
    """Validate one cell's 8 edges and order each node's pair by input index."""
    if len(edges) != EDGES_PER_CELL:
        raise _fail(f"the {which} cell has {len(edges)} edges; a cell has {EDGES_PER_CELL} (2 per node, {STEPS} nodes)")
    out: list[Edge] = []
    for j in range(STEPS):
        pair = edges[2 * j : 2 * j + 2]
        for op, src in pair:
            if op not in OPS:
                extra = " ('none' is not selectable in NAS-Bench-301)" if op in ("none", "zero") else ""
                raise _fail(f"op {op!r} in the {which} cell is not one of {', '.join(OPS)}{extra}")
            if not 0 <= src < j + 2:
                raise _fail(
                    f"node {j} of the {which} cell reads state {src}; node {j} may read states 0..{j + 1} "
                    "(0 = c_{k-2}, 1 = c_{k-1}, 2+i = intermediate node i)"
                )
        if pair[0][1] == pair[1][1]:
            raise _fail(f"node {j} of the {which} cell reads state {pair[0][1]} twice; its two inputs must differ")
        out.extend(sorted(pair, key=lambda e: e[1]))
    return tuple(out)


def _is_int(v: object) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _edge(item: object, which: str) -> tuple[Edge, bool]:
    """One edge from ``(op, input)`` (DARTS) or ``(input, op index)`` (NASLib); says whether it was NASLib's."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise _fail(f"an edge of the {which} cell must be a pair, got {item!r}")
    a, b = item
    if isinstance(a, str) and _is_int(b):
        return (str(a), int(b)), False  # type: ignore[call-overload]
    if _is_int(a) and _is_int(b):  # NASLib builds these with numpy integers
        if not 0 <= b < len(OPS):  # type: ignore[operator]
            raise _fail(
                f"NASLib op index {b} in the {which} cell; valid: " + ", ".join(f"{i}={op}" for i, op in enumerate(OPS))
            )
        return (OPS[int(b)], int(a)), True  # type: ignore[call-overload]
    raise _fail(f"an edge of the {which} cell is (op name, input) or NASLib's (input, op index), got {item!r}")


def _cell_edges(value: object, which: str) -> tuple[Edge, ...]:
    """A cell's edges from 8 pairs, or from 4 per-node groups of 2 pairs (as some DARTS code writes them)."""
    if not isinstance(value, (tuple, list)):
        raise _fail(f"the {which} cell must be a list of edges, got {type(value).__name__}")
    items = list(value)
    if len(items) == STEPS and all(
        isinstance(g, (tuple, list)) and len(g) == 2 and all(isinstance(e, (tuple, list)) for e in g) for g in items
    ):
        items = [e for g in items for e in g]
    parsed = [_edge(e, which) for e in items]
    if len({naslib for _, naslib in parsed}) > 1:
        raise _fail(f"the {which} cell mixes (op, input) and NASLib (input, op index) edges")
    return _check_cell([e for e, _ in parsed], which)


def _check_concat(value: object, which: str) -> None:
    if value is None:
        return
    try:
        same = tuple(value) == CONCAT  # type: ignore[call-overload]
    except TypeError:
        same = False
    if not same:
        raise _fail(f"{which}_concat must be {list(CONCAT)} (every intermediate node), got {value!r}")


def _literal(node: ast.expr) -> object:
    """A literal, or ``range(a, b)`` as written in DARTS' genotypes.py."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        return list(range(*(ast.literal_eval(a) for a in node.args)))
    return ast.literal_eval(node)


def _from_genotype_text(text: str) -> Genotype:
    try:
        call = ast.parse(text, mode="eval").body
        if not isinstance(call, ast.Call):
            raise ValueError
        fields = ["normal", "normal_concat", "reduce", "reduce_concat"]
        values: dict[str, object] = dict(zip(fields, (_literal(a) for a in call.args)))
        values.update({k.arg: _literal(k.value) for k in call.keywords if k.arg})
    except (SyntaxError, ValueError, TypeError):
        raise _fail(f"{text[:80]!r} is not a readable Genotype(...); {_SPELLINGS}") from None
    unknown = sorted(set(values) - set(fields))
    if unknown or "normal" not in values or "reduce" not in values:
        raise _fail(f"a Genotype has fields {', '.join(fields)}; got {', '.join(sorted(values))}")
    _check_concat(values.get("normal_concat"), "normal")
    _check_concat(values.get("reduce_concat"), "reduce")
    return Genotype(_cell_edges(values["normal"], "normal"), _cell_edges(values["reduce"], "reduce"))


def _from_config(config: Mapping[str, object]) -> Genotype:
    """A genotype from NAS-Bench-301's ConfigSpace dictionary (keys with or without the ``NetworkSelector…`` prefix)."""
    flat = {str(k).removeprefix(_CONFIG_PREFIX): v for k, v in config.items()}
    cells = []
    for which in ("normal", "reduce"):
        edges: list[Edge] = []
        for j in range(STEPS):
            if j == 0:
                inputs = [0, 1]
            else:
                key = f"inputs_node_{which}_{j + 2}"
                try:
                    inputs = [int(i) for i in str(flat[key]).split("_")]
                except KeyError:
                    raise _fail(f"the config lacks {key!r}") from None
                except ValueError:
                    raise _fail(f"{key} must be like '0_2', got {flat[key]!r}") from None
                if len(inputs) != 2:
                    raise _fail(f"{key} must name two inputs like '0_2', got {flat[key]!r}")
            for i in inputs:
                key = f"edge_{which}_{_CONFIG_EDGE_OFFSET[j] + i}"
                if key not in flat:
                    raise _fail(f"the config lacks {key!r} (node {j + 2} reads state {i})")
                edges.append((str(flat[key]), i))
        cells.append(_check_cell(edges, which))
    return Genotype(*cells)


def parse(cell: object) -> Genotype:
    """The validated, edge-ordered :class:`Genotype` of any accepted spelling of a cell.

    Raises:
        InvalidCellError: The cell is malformed or outside the space; the message says what is valid.
    """
    if isinstance(cell, str):
        text = cell.strip()
        if text.startswith("Genotype"):
            return _from_genotype_text(text)
        if text.startswith("{"):
            try:
                config = literal_text(text)
            except ValueError:
                raise _fail(f"{text[:80]!r} is not a readable config dictionary") from None
            return parse(config)
        if text.startswith(("(", "[")):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise _fail(f"{text[:80]!r} is not a readable list of cells; {_SPELLINGS}") from None
            return parse(value)
        raise _fail(f"{text[:80]!r} is not a cell; {_SPELLINGS}")
    if isinstance(cell, Mapping):
        return _from_config(cell)
    if hasattr(cell, "normal") and hasattr(cell, "reduce"):  # DARTS' Genotype namedtuple, or ours
        _check_concat(getattr(cell, "normal_concat", None), "normal")
        _check_concat(getattr(cell, "reduce_concat", None), "reduce")
        return Genotype(_cell_edges(cell.normal, "normal"), _cell_edges(cell.reduce, "reduce"))
    if isinstance(cell, (tuple, list)):
        if len(cell) != 2:
            raise _fail(f"a genotype is two cells (normal, reduction), got {len(cell)} items; {_SPELLINGS}")
        return Genotype(_cell_edges(cell[0], "normal"), _cell_edges(cell[1], "reduce"))
    raise _fail(f"cannot read a cell from {type(cell).__name__}; {_SPELLINGS}")


def naslib_compact(cell: object) -> str:
    """NASLib's compact form of ``cell`` (as the ``nb301_pool`` table writes it): ``(((input, op index), …), (…))``."""
    g = parse(cell)
    return str(tuple(tuple((src, OPS.index(op)) for op, src in edges) for edges in g))


def nb301_config(cell: object) -> dict[str, str]:
    """NAS-Bench-301's ConfigSpace dictionary of ``cell`` (architecture keys only), as its surrogate API reads it."""
    g = parse(cell)
    config: dict[str, str] = {}
    for which, edges in zip(("normal", "reduce"), g):
        for j in range(STEPS):
            pair = edges[2 * j : 2 * j + 2]
            for op, src in pair:
                config[f"{_CONFIG_PREFIX}edge_{which}_{_CONFIG_EDGE_OFFSET[j] + src}"] = op
            if j:
                config[f"{_CONFIG_PREFIX}inputs_node_{which}_{j + 2}"] = f"{pair[0][1]}_{pair[1][1]}"
    return config


# -- the network's layout, shared by the ONNX builder, the PyTorch module and the parameter count ----------
class CellLayout(NamedTuple):
    """Channels and kind of one cell of the network."""

    c_prev_prev: int
    c_prev: int
    c: int
    reduction: bool
    reduction_prev: bool


def layout(channels: int = CHANNELS, layers: int = LAYERS) -> list[CellLayout]:
    """The cells of DARTS' ``NetworkCIFAR`` with ``channels`` initial channels and ``layers`` cells."""
    if layers < 3 or channels < 2 or channels % 2:
        raise ValueError(f"need at least 3 layers and an even number of channels, got {layers} and {channels}")
    c_pp = c_p = STEM_MULTIPLIER * channels
    c = channels
    cells = []
    reduction_prev = False
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            c *= 2
        cells.append(CellLayout(c_pp, c_p, c, reduction, reduction_prev))
        c_pp, c_p, reduction_prev = c_p, len(CONCAT) * c, reduction
    return cells


def stride(cell: CellLayout, src: int) -> int:
    """Edges of a reduction cell that read the cell's inputs have stride 2."""
    return 2 if cell.reduction and src < 2 else 1


def _dataset(dataset: str) -> tuple[int, int, int, int]:
    try:
        return DATASETS[dataset]
    except KeyError:
        raise UnknownNameError(f"nb301 has no dataset {dataset!r}; choose one of {', '.join(DATASETS)}") from None


def parameter_count(
    cell: object,
    dataset: str = "cifar10",
    *,
    naslib: bool = False,
    channels: int = CHANNELS,
    layers: int = LAYERS,
) -> int:
    """Learned parameters of ``cell``'s network, every BatchNorm counted unfolded (scale and shift).

    With ``naslib=False`` this is the network :meth:`NB301.to_onnx` builds (equal to
    ``archscore.testing.params_with_batchnorm`` of its graph). With ``naslib=True`` it is NASLib's
    zero-cost model of the genotype, whose count is NAS-Bench-Suite-Zero's ``params`` column: the same
    convolutions and classifier, but the BatchNorms inside cell operations are affine-free (no
    parameters), so each ``sep_conv`` has 4C, each ``dil_conv`` and stride-2 ``skip_connect`` 2C
    fewer. (Its extra BatchNorm after each pool is affine-free too, so it adds nothing.)
    """
    g = parse(cell)
    cin, _, _, classes = _dataset(dataset)
    stem = STEM_MULTIPLIER * channels
    total = cin * stem * 9 + 2 * stem
    for spec in layout(channels, layers):
        c = spec.c
        bn = 0 if naslib else 2 * c
        if spec.reduction_prev:
            total += 2 * spec.c_prev_prev * (c // 2) + 2 * c  # FactorizedReduce
        else:
            total += spec.c_prev_prev * c + 2 * c
        total += spec.c_prev * c + 2 * c
        for op, src in g.reduce if spec.reduction else g.normal:
            if op.startswith("sep_conv"):
                k = int(op[-1])
                total += 2 * (c * k * k + c * c + bn)
            elif op.startswith("dil_conv"):
                k = int(op[-1])
                total += c * k * k + c * c + bn
            elif op == "skip_connect" and stride(spec, src) == 2:
                total += 2 * c * (c // 2) + bn
    c_last = len(CONCAT) * layout(channels, layers)[-1].c
    return total + c_last * classes + classes


# -- ONNX ----------------------------------------------------------------------------------------------------
def conv(
    b: NetBuilder, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0, *,
    dilation: int = 1, groups: int = 1, bias: bool = False,
) -> str:  # fmt: skip
    """A convolution with dilation (``NetBuilder.conv`` has none); ``bias=True`` is a folded BatchNorm."""
    ins = [x, b.weight("w", (cout, cin // groups, k, k))]
    if bias:
        ins.append(b.weight("b", (cout,), fill=0.0))
    return b.node(
        "Conv", ins, "conv", kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4, dilations=[dilation] * 2,
        group=groups,
    )  # fmt: skip


def relu_conv_bn(b: NetBuilder, x: str, cin: int, cout: int) -> str:
    """DARTS' ReLUConvBN with a 1×1 kernel (the cell input preprocessing)."""
    return b.conv_bn(b.relu(x), cin, cout, 1, 1, 0)


def factorized_reduce(b: NetBuilder, x: str, cin: int, cout: int) -> str:
    """ReLU, two stride-2 1×1 convs (the second on the input shifted by one pixel), concat, BatchNorm."""
    x = b.relu(x)
    shifted = b.node("Slice", [x, b.ints([1, 1]), b.ints([2**62, 2**62]), b.ints([2, 3]), b.ints([1, 1])], "slice")
    a = b.conv(x, cin, cout // 2, 1, 2, 0)
    s = b.conv(shifted, cin, cout // 2, 1, 2, 0)
    return b.batch_norm(b.concat([a, s]), cout)


def operation(b: NetBuilder, op: str, x: str, c: int, stride: int) -> str:
    """One DARTS operation on ``c`` channels."""
    if op == "skip_connect":
        return x if stride == 1 else factorized_reduce(b, x, c, c)
    if op == "max_pool_3x3":
        return b.max_pool(x, 3, stride, 1)
    if op == "avg_pool_3x3":
        return b.avg_pool(x, 3, stride, 1, count_include_pad=False)
    k = int(op[-1])
    if op.startswith("sep_conv"):
        x = conv(b, b.relu(x), c, c, k, stride, k // 2, groups=c)
        x = b.conv_bn(x, c, c, 1, 1, 0)
        x = conv(b, b.relu(x), c, c, k, 1, k // 2, groups=c)
        return b.conv_bn(x, c, c, 1, 1, 0)
    if op.startswith("dil_conv"):
        x = conv(b, b.relu(x), c, c, k, stride, k - 1, dilation=2, groups=c)
        return b.conv_bn(x, c, c, 1, 1, 0)
    raise _fail(f"op {op!r} is not one of {', '.join(OPS)}")


def build_network(
    genotype: Genotype,
    dataset: str = "cifar10",
    *,
    channels: int = CHANNELS,
    layers: int = LAYERS,
    weights: np.random.Generator | None = None,
) -> Network:
    """DARTS' CIFAR network of ``genotype`` (NB301's with the defaults), built with onnx.helper, in inference form."""
    cin, height, width, classes = _dataset(dataset)
    b = NetBuilder((1, cin, height, width), rng=weights)
    cells = layout(channels, layers)
    s0 = s1 = b.conv_bn("x", cin, STEM_MULTIPLIER * channels, 3, 1, 1)
    for spec in cells:
        c = spec.c
        if spec.reduction_prev:
            p0 = factorized_reduce(b, s0, spec.c_prev_prev, c)
        else:
            p0 = relu_conv_bn(b, s0, spec.c_prev_prev, c)
        states = [p0, relu_conv_bn(b, s1, spec.c_prev, c)]
        edges = genotype.reduce if spec.reduction else genotype.normal
        for j in range(STEPS):
            (op_a, src_a), (op_b, src_b) = edges[2 * j : 2 * j + 2]
            h_a = operation(b, op_a, states[src_a], c, stride(spec, src_a))
            h_b = operation(b, op_b, states[src_b], c, stride(spec, src_b))
            states.append(b.add(h_a, h_b))
        s0, s1 = s1, b.concat([states[i] for i in CONCAT])
    c_last = len(CONCAT) * cells[-1].c
    y = b.linear(b.flatten(b.global_avg_pool(s1)), c_last, classes)
    return b.network(y, "nb301", f"NAS-Bench-301 {dataset} C={channels} layers={layers} {genotype_string(genotype)}")


# -- the space -----------------------------------------------------------------------------------------------
class NB301(SearchSpace):
    """NAS-Bench-301 / DARTS: genotypes as canonical ``Genotype(...)`` text, networks as NB301 trained them."""

    name: ClassVar[str] = "nb301"
    torch_reference: ClassVar[str] = "archscore.spaces.darts_torch:darts_network"
    description: ClassVar[str] = (
        "NAS-Bench-301 (DARTS space): ~10^18 genotypes, normal + reduction cell of 4 nodes × 2 edges × 7 ops; "
        "C=32, 8 cells"
    )
    datasets: ClassVar[tuple[str, ...]] = tuple(DATASETS)

    def canonical(self, cell: object) -> str:  # type: ignore[override]
        return genotype_string(parse(cell))

    def genotype(self, cell: object) -> Genotype:
        """The :class:`Genotype` of any accepted spelling of ``cell``."""
        return parse(cell)

    def naslib_compact(self, cell: object) -> str:
        """NASLib's compact form of ``cell`` (the inverse of accepting one in :meth:`canonical`)."""
        return naslib_compact(cell)

    def random_cell(self, rng: random.Random) -> str:
        """Uniform over genotypes: each node picks 2 distinct states uniformly, each edge an op uniformly."""
        cells = []
        for _ in range(2):
            edges: list[Edge] = []
            for j in range(STEPS):
                a, c = sorted(rng.sample(range(j + 2), 2))
                edges += [(rng.choice(OPS), a), (rng.choice(OPS), c)]
            cells.append(tuple(edges))
        return genotype_string(Genotype(*cells))

    def mutate(self, cell: object, rng: random.Random) -> str:
        """Change one edge of one cell: its op, or (with probability ½, where the node has another state to
        read) its input state, as NASLib's DARTS mutation does but never returning the cell unchanged."""
        g = parse(cell)
        k = rng.randrange(2)
        edges = list(g[k])
        e = rng.randrange(EDGES_PER_CELL)
        j = e // 2
        op, src = edges[e]
        other = edges[e ^ 1][1]
        free = [s for s in range(j + 2) if s not in (src, other)]
        if free and rng.random() < 0.5:
            edges[e] = (op, rng.choice(free))
        else:
            edges[e] = (rng.choice([o for o in OPS if o != op]), src)
        cells = list(g)
        cells[k] = _check_cell(edges, ("normal", "reduce")[k])
        return genotype_string(Genotype(*cells))

    def input_shape(self, dataset: str | None = None, cell: object | None = None) -> tuple[int, ...]:
        cin, height, width, _ = DATASETS[self.dataset(dataset)]
        return (1, cin, height, width)

    def network(
        self, cell: object, dataset: str | None = None, *, weights: np.random.Generator | None = None
    ) -> Network:
        return build_network(parse(cell), self.dataset(dataset), weights=weights)

    def parameter_count(self, cell: object, dataset: str | None = None, *, naslib: bool = False) -> int:
        """See :func:`parameter_count`: this network's count, or NASLib's zero-cost model's with ``naslib=True``."""
        return parameter_count(cell, self.dataset(dataset), naslib=naslib)
