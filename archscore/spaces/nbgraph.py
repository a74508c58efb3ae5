"""NAS-Bench-Graph: 26,206 graph neural networks for node classification on nine graphs.

An architecture is a DAG of four computing nodes: each node reads one earlier node (``links[i]``,
0 being the input features) and applies one GNN layer to it; the nodes nobody reads are
concatenated, passed through ReLU and a linear layer. The layers (the benchmark's ``gnn_list``):
GAT (4 heads), GCN, GIN, ChebNet (K = 2), GraphSAGE (mean), ARMA, k-GNN (``GraphConv``),
a fully connected layer (``fc``) and the identity (``skip``). Every node whose input is a hidden
representation applies BatchNorm, ReLU (and dropout) to it first. Around the cell the benchmark
puts, per dataset, 0 or 1 linear pre-processing and post-processing layers and a hidden width of
64, 128 or 256 (:data:`DATASETS`; found by the benchmark's hyperparameter search and verified
here against its recorded parameter counts). The model code is the benchmark's
``Net``/``Cell`` on PyTorch Geometric (NeurIPS 2022, THUMNLab/NAS-Bench-Graph).

Cells. The benchmark names an architecture by ``links`` and ``ops`` and identifies spellings of
the same network: relabelled nodes, sibling nodes in a different order, and identity (``skip``)
nodes moved to the front. Its 157,440 spellings (24 link lists × 9⁴ op choices, without the
all-identity network) fall into 26,206 architectures, each with one representative spelling
whose ``links`` is one of the nine :data:`LINKS`. The canonical cell string is that
representative, e.g. ``"links=0,0,1,3;ops=sage,sage,cheb,fc"``. :meth:`NBGraph.canonical` accepts
any spelling (that string with any valid links and ops, a ``(links, ops)`` pair, the benchmark's
integer key such as ``44437``, or its ``Arch`` arguments ``"([0, 1, 2, 1], ['gcn', 'gin', 'fc',
'cheb'])"``) and maps it to the representative exactly as the benchmark's ``Arch.valid_hash``
does (checked for all 157,440 spellings by ``benchmarks/extract_nbgraph.py``).

Networks. Each dataset's network is built for that dataset's real graph: ``x`` holds the N × F
node features and a second input ``edge_index`` (2 × E, int64) the directed edges, both
directions of every undirected edge and no self loops, as PyTorch Geometric stores them. Message
passing is written as PyTorch Geometric computes it without torch-scatter: gather the source
node's features along every edge (``Gather``), weight them (``Mul``), and sum them into the
target nodes (``ScatterElements`` with ``reduction="add"``), so the cost of a layer shows as
tensors of E (or E + N with self loops) rows. The graph structure is fixed for a dataset, like
the resolution of an image, and the ArchGraph treats ``edge_index`` as a constant input
(:meth:`SearchSpace.to_graph` parses with ``data_inputs=["x"]``): the edge lists, self loops and
degree normalisations computed from it are constant computation, as PyG's ``cached=True`` (or the
benchmark's own precomputed adjacency on ogbn-proteins) would make them. A network with weights
(``weights=rng``) runs as is and computes what the reference PyTorch module
(:mod:`archscore.spaces.nbgraph_torch`) computes.
"""

from __future__ import annotations

import ast
import functools
import itertools
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

import numpy as np
from onnx import TensorProto

from archscore.errors import InvalidCellError
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace

if TYPE_CHECKING:
    pass

OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
"""The benchmark's layer choices, in its order (an op's index is its digit in the benchmark key)."""
PROTEINS_OPS: tuple[str, ...] = ("gcn", "sage", "arma", "fc", "skip")
"""The layers the benchmark evaluated on ogbn-proteins (2,021 architectures)."""
LINKS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)  # fmt: skip
"""The nine topologies of representative spellings; ``links[i]`` is the node computing node ``i + 1`` reads."""
NODES = 4
GAT_HEADS = 4
SIZE = 26_206

_SIBLINGS: dict[tuple[int, ...], tuple[int, ...]] = {
    (0, 0, 0, 0): (0, 1, 2, 3), (0, 0, 0, 1): (1, 2), (0, 0, 1, 1): (2, 3),
    (0, 1, 1, 1): (1, 2, 3), (0, 1, 2, 2): (2, 3),
}  # fmt: skip
"""Per topology, the positions whose nodes are interchangeable leaves of one parent (kept sorted by op)."""
_RANK = {op: i for i, op in enumerate(OPS)}
_CANONICAL_RE = re.compile(r"^links\s*=([^;]*);\s*ops\s*=([^;]*)$", re.IGNORECASE)

Cell = tuple[tuple[int, ...], tuple[str, ...]]
_T = TypeVar("_T")


@dataclass(frozen=True)
class GraphDataset:
    """One benchmark dataset: its graph and the network settings the benchmark fixed for it.

    ``edges`` counts the directed entries of ``edge_index`` (each undirected edge twice, no self
    loops) of the graph the benchmark trained on; ``hidden``, ``pre`` and ``post`` are its
    hidden width and numbers of linear pre-/post-processing layers.
    """

    title: str
    nodes: int
    edges: int
    features: int
    classes: int
    hidden: int
    pre: int
    post: int
    ops: tuple[str, ...] = OPS
    """Layers the benchmark evaluated on this dataset."""
    attention_self_loops: bool = True
    """Whether GAT adds self loops (the benchmark turns them off on ogbn-proteins)."""


DATASETS: dict[str, GraphDataset] = {
    # Planetoid public splits; PyG's graphs.
    "cora": GraphDataset("Cora", 2_708, 10_556, 1_433, 7, 256, 0, 1),
    "citeseer": GraphDataset("CiteSeer", 3_327, 9_104, 3_703, 6, 256, 0, 1),
    "pubmed": GraphDataset("PubMed", 19_717, 88_648, 500, 3, 128, 0, 0),
    # Coauthor: the whole graphs (both are connected).
    "cs": GraphDataset("Coauthor-CS", 18_333, 163_788, 6_805, 15, 128, 1, 0),
    "physics": GraphDataset("Coauthor-Physics", 34_493, 495_924, 8_415, 5, 256, 1, 0),
    # Amazon: the benchmark keeps the largest connected component (Shchur et al. 2018: 7,487 nodes
    # and 119,043 undirected edges; 13,381 and 245,778).
    "photo": GraphDataset("Amazon-Photo", 7_487, 238_086, 745, 8, 128, 0, 0),
    "computers": GraphDataset("Amazon-Computers", 13_381, 491_556, 767, 10, 64, 1, 1),
    # ogbn-arxiv: the benchmark appends the reversed citations to OGB's 1,166,243 directed edges.
    "arxiv": GraphDataset("ogbn-arXiv", 169_343, 2_332_486, 128, 40, 128, 0, 1),
    # ogbn-proteins: node features are the mean of the 8 edge features; 112 binary tasks (ROC-AUC).
    "proteins": GraphDataset(
        "ogbn-proteins", 132_534, 79_122_504, 8, 112, 256, 1, 1, PROTEINS_OPS, attention_self_loops=False
    ),
}
"""The nine datasets under the benchmark's names, with the network settings that reproduce its parameter counts."""


# -- cells ------------------------------------------------------------------------------------
def _fail(msg: str) -> InvalidCellError:
    return InvalidCellError(f"nbgraph: {msg}")


def _relabel(links: Sequence[int], ops: Sequence[str], order: Sequence[int]) -> Cell:
    """The same network with its computing nodes listed in ``order`` (old positions)."""
    position = {old: new for new, old in enumerate(order)}
    new_links = tuple(0 if links[o] == 0 else position[links[o] - 1] + 1 for o in order)
    return new_links, tuple(ops[o] for o in order)


def _topology(links: tuple[int, ...], ops: tuple[str, ...]) -> Cell:
    """Relabel the nodes so that the links are one of the nine :data:`LINKS` (first such order)."""
    if links in LINKS:
        return links, ops
    for order in itertools.permutations(range(NODES)):
        candidate = _relabel(links, ops, order)
        if candidate[0] in LINKS:
            return candidate
    raise AssertionError(f"no relabelling of links {links} is a listed topology")  # every DAG has one


def _reads_input(k: int, links: Sequence[int], ops: Sequence[str]) -> bool:
    """Whether node ``k + 1`` only forwards the input features (it and all its ancestors are ``skip``)."""
    while k >= 0:
        if ops[k] != "skip":
            return False
        k = links[k] - 1
    return True


def _skip_to_front(k: int, links: Sequence[int], ops: Sequence[str]) -> Cell:
    """Move identity node ``k + 1`` to the front as node 1 reading the input.

    Its children read its parent instead, and everything that read the input (or a node before
    it) now reads one position further on.
    """
    order = (k, *(j for j in range(NODES) if j != k))
    new_links = [0]
    for j in order[1:]:
        parent = links[j]
        new_links.append(links[k] + 1 if parent == k + 1 else parent + 1 if parent <= k else parent)
    return tuple(new_links), tuple(ops[o] for o in order)


def _hoist_skips(links: tuple[int, ...], ops: tuple[str, ...]) -> Cell:
    """The benchmark's move of identity nodes: one with a child, without a sibling, or only forwarding the input."""
    for i in range(NODES):
        if ops[i] != "skip":
            continue
        has_child = (i + 1) in links
        has_sibling = any(links[j] == links[i] for j in range(NODES) if j != i)
        if has_child or not has_sibling or _reads_input(i, links, ops):
            links, ops = _skip_to_front(i, links, ops)
    return _topology(links, ops)


def _sort_siblings(links: tuple[int, ...], ops: tuple[str, ...]) -> Cell:
    """Order interchangeable siblings by op (two parallel chains ``0→2, 1→3`` by their first, then second op)."""
    out = list(ops)
    if links == (0, 0, 1, 2):
        a, b, c, d = (_RANK[op] for op in ops)
        if a > b or (a == b and c > d):
            out = [ops[1], ops[0], ops[3], ops[2]]
    else:
        positions = _SIBLINGS.get(links, ())
        for p, op in zip(positions, sorted((ops[p] for p in positions), key=_RANK.__getitem__)):
            out[p] = op
    return links, tuple(out)


def representative(links: Sequence[int], ops: Sequence[str]) -> Cell:
    """The benchmark's representative spelling of ``(links, ops)`` (what ``Arch.valid_hash`` keys).

    Raises:
        InvalidCellError: The links do not describe four nodes each reading an earlier one, an
            op is not a layer of the space, or every op is ``skip``.
    """
    links = tuple(links)
    ops = tuple(ops)
    if len(links) != NODES or len(ops) != NODES:
        raise _fail(f"a cell has {NODES} links and {NODES} ops, got {len(links)} and {len(ops)}")
    for i, link in enumerate(links):
        if not isinstance(link, (int, np.integer)) or isinstance(link, bool) or not 0 <= link <= i:
            raise _fail(
                f"links {list(links)}: node {i + 1} must read the input (0) or an earlier node (1..{i}), got {link!r}"
            )
    for op in ops:
        if op not in _RANK:
            raise _fail(f"op {op!r} is not one of {', '.join(OPS)}")
    if all(op == "skip" for op in ops):
        raise _fail("every op is 'skip': the benchmark has no network without a layer")
    links = tuple(int(v) for v in links)
    return _sort_siblings(*_hoist_skips(*_topology(links, ops)))


def key(links: Sequence[int], ops: Sequence[str]) -> int:
    """The benchmark's integer key (``Arch.hash_arch``) of a representative spelling: topology digit, then op digits."""
    value = LINKS.index(tuple(links))
    for op in ops:
        value = value * 10 + _RANK[op]
    return value


def from_key(value: int) -> Cell:
    """``(links, ops)`` written in a benchmark key (a spelling in a listed topology, maybe not the representative)."""
    if not 0 <= value < len(LINKS) * 10**NODES:
        raise _fail(f"benchmark key {value} is out of range 0..{len(LINKS) * 10**NODES - 1}")
    digits = f"{value:0{NODES + 1}d}"
    bad = [d for d in digits[1:] if int(d) >= len(OPS)]
    if bad:
        raise _fail(f"benchmark key {value}: op digit(s) {', '.join(bad)}; digits are 0..8 = {', '.join(OPS)}")
    return LINKS[int(digits[0])], tuple(OPS[int(d)] for d in digits[1:])


def cell_string(links: Sequence[int], ops: Sequence[str]) -> str:
    """``links=…;ops=…`` of a spelling (canonical when the spelling is the representative)."""
    return f"links={','.join(map(str, links))};ops={','.join(ops)}"


def parse(cell: str) -> Cell:
    """``(links, ops)`` of a cell string (any spelling; use :func:`representative` to normalise)."""
    m = _CANONICAL_RE.match(cell.strip())
    if m is None:
        raise _fail(
            f"{cell[:80]!r} is not a cell: write 'links=0,0,1,3;ops=sage,sage,cheb,fc' (ops: {', '.join(OPS)}), "
            "a benchmark key like '44437' or a (links, ops) pair"
        )
    try:
        links = tuple(int(v) for v in m.group(1).split(",") if v.strip())
    except ValueError:
        raise _fail(f"links {m.group(1)!r} are not integers") from None
    ops = tuple(v.strip().lower() for v in m.group(2).split(",") if v.strip())
    return links, ops


def leaves(links: Sequence[int]) -> list[int]:
    """Computing nodes (1-based) no other node reads: their outputs are concatenated."""
    return [i for i in range(1, NODES + 1) if i not in links]


def reads_raw(links: Sequence[int], ops: Sequence[str], pre: int) -> list[bool]:
    """Per node 0..4, whether its output is the raw input features (the benchmark's ``res_in_dim``).

    Without a pre-processing layer the input and any chain of ``skip`` nodes from it carry the
    raw features: layers reading them take F inputs and skip the BatchNorm–ReLU.
    """
    raw = [pre == 0] + [False] * NODES
    for i, (link, op) in enumerate(zip(links, ops)):
        raw[i + 1] = raw[link] and op == "skip"
    return raw


@functools.cache
def _all_cells() -> tuple[Cell, ...]:
    """Every representative, in benchmark key order."""
    cells = []
    for links in LINKS:
        for ops in itertools.product(OPS, repeat=NODES):
            if all(op == "skip" for op in ops):
                continue
            if representative(links, ops) == (links, ops):
                cells.append((links, ops))
    cells.sort(key=lambda c: key(*c))
    return tuple(cells)


# -- networks -----------------------------------------------------------------------------------
def unused_parameters(links: Sequence[int], ops: Sequence[str], setting: GraphDataset) -> int:
    """Parameters the benchmark's model owns but never uses (its ``para`` counts them; a graph cannot).

    The benchmark creates a BatchNorm for every node, also for the nodes reading raw features
    (which skip it): 2·hidden each; and PyG's ARMAConv with one layer allocates its ``weight``
    for the layers after the first: hidden² per ARMA node.
    """
    d = setting.hidden
    raw = reads_raw(links, ops, setting.pre)
    return sum(2 * d for link in links if raw[link]) + d * d * sum(op == "arma" for op in ops)


@dataclass(frozen=True)
class _Route:
    """An edge list for message passing: ``rows`` (sources) → ``cols`` (targets), ``size`` entries, optional weight."""

    rows: str
    cols: str
    size: int
    weight: str | None = None
    """Per-entry weight of shape (size, 1), or ``None`` for a plain sum."""


class _Graph:
    """The graph's edge lists and normalisations, built once per network from the input ``edge_index``.

    Everything here depends on ``edge_index`` only; the ArchGraph folds it away as constant
    computation. The expressions follow PyG's ``gcn_norm``, ``get_laplacian`` and ``add_self_loops``.
    """

    def __init__(self, b: NetBuilder, nodes: int, edges: int) -> None:
        self.b, self.n, self.e = b, nodes, edges
        self._memo: dict[object, object] = {}

    def once(self, name: object, make: Callable[[], _T]) -> _T:
        """``make()`` the first time ``name`` is asked for, the same tensor afterwards."""
        if name not in self._memo:
            self._memo[name] = make()
        return cast(_T, self._memo[name])

    def _ones(self, n: int) -> str:
        return self.b.node("Expand", [self.b.constant(1.0), self.b.ints([n])], "ones")

    def zeros(self, shape: Sequence[int]) -> str:
        return self.b.node("ConstantOfShape", [self.b.ints(list(shape))], "zeros")

    def _endpoint(self, which: int) -> str:
        return self.once(("edge", which), lambda: self.b.node("Gather", ["edge_index", self.b.ints(which)], axis=0))

    @property
    def src(self) -> str:
        return self._endpoint(0)

    @property
    def dst(self) -> str:
        return self._endpoint(1)

    @property
    def loops(self) -> str:
        b = self.b
        return self.once("loops", lambda: b.node("Range", [b.ints(0), b.ints(self.n), b.ints(1)], "loops"))

    def _inv_sqrt_degree(self, index: str, size: int) -> str:
        """``deg^-1/2`` (0 where the degree is 0) of the nodes counted in ``index``."""
        b = self.b
        deg = b.node("ScatterElements", [self.zeros([self.n]), index, self._ones(size)], "deg", axis=0, reduction="add")
        d = b.node("Pow", [deg, b.constant(-0.5)])
        is_inf = b.node("Equal", [d, b.constant(np.inf)])
        return b.node("Where", [is_inf, b.constant(0.0), d])

    def _column(self, t: str) -> str:
        return self.b.node("Unsqueeze", [t, self.b.ints([1])])

    def _sym_weight(self, rows: str, cols: str, size: int, degree_of: str) -> str:
        """``deg^-1/2[row] · deg^-1/2[col]`` as a (size, 1) column, degrees counted on ``degree_of``."""
        b = self.b
        d = self._inv_sqrt_degree(degree_of, size)
        return b.node("Mul", [b.node("Gather", [d, rows], axis=0), b.node("Gather", [d, cols], axis=0)])

    def route(self, kind: str) -> _Route:
        """The edge list of a layer kind: ``plain`` (E edges), ``loops`` (E + N, with self loops),
        ``gcn`` (E + N, symmetric normalisation), ``arma`` (E, symmetric normalisation), ``cheb``
        (E + 2N, the scaled Laplacian minus the identity as PyG's ChebConv writes it)."""
        return self.once(("route", kind), lambda: self._make_route(kind))

    def _make_route(self, kind: str) -> _Route:
        b, n, e = self.b, self.n, self.e
        src, dst = self.src, self.dst
        if kind == "plain":
            return _Route(src, dst, e)
        if kind in ("loops", "gcn"):
            rows = b.concat([src, self.loops], axis=0)
            cols = b.concat([dst, self.loops], axis=0)
            weight = self._column(self._sym_weight(rows, cols, e + n, cols)) if kind == "gcn" else None
            return _Route(rows, cols, e + n, weight)
        if kind == "arma":
            return _Route(src, dst, e, self._column(self._sym_weight(src, dst, e, dst)))
        if kind == "cheb":
            # get_laplacian (sym): L = I − D^-1/2 A D^-1/2 as edges −norm plus self loops 1; scaled by
            # 2/λmax = 1; then add_self_loops(fill −1): L̂ = L − I. Degrees are counted on the sources.
            norm = b.node("Neg", [self._sym_weight(src, dst, e, src)])
            ones = self._ones(n)
            weight = b.concat([norm, ones, b.node("Neg", [ones])], axis=0)
            rows = b.concat([src, self.loops, self.loops], axis=0)
            cols = b.concat([dst, self.loops, self.loops], axis=0)
            return _Route(rows, cols, e + 2 * n, self._column(weight))
        raise ValueError(f"unknown route {kind!r}")

    def count(self) -> str:
        """In-degree clamped to ≥ 1, as an (N, 1) column: the divisor of a mean over incoming edges."""
        b = self.b

        def make() -> str:
            zeros, ones = self.zeros([self.n]), self._ones(self.e)
            deg = b.node("ScatterElements", [zeros, self.dst, ones], "count", axis=0, reduction="add")
            return self._column(b.node("Clip", [deg, b.constant(1.0)]))

        return self.once("count", make)

    def scatter_index(self, cols: str, shape: Sequence[int], axis: int) -> str:
        """``cols`` broadcast to a message tensor of ``shape`` whose edge axis is ``axis``."""

        def make() -> str:
            view = [1] * len(shape)
            view[axis] = -1
            col = self.b.node("Reshape", [cols, self.b.ints(view)])
            return self.b.node("Expand", [col, self.b.ints(list(shape))])

        return self.once(("index", cols, tuple(shape), axis), make)


def propagate(
    b: NetBuilder, g: _Graph, route: _Route, x: str, shape: Sequence[int], axis: int = 0, scale: str | None = None
) -> str:
    """Sum over every node's incoming edges of the (weighted) source features: gather, weight, scatter-add.

    ``x`` has ``shape`` with the node axis at ``axis``; ``scale`` replaces the route's edge weight
    (GAT's attention coefficients). Two layers that aggregate the same tensor over the same edges
    share one aggregation, as torch's exporter merges them (common subexpression elimination).
    """

    def make() -> str:
        msg_shape = list(shape)
        msg_shape[axis] = route.size
        msg = b.node("Gather", [x, route.rows], "message", axis=axis)
        weight = scale or route.weight
        if weight is not None:
            msg = b.node("Mul", [msg, weight])
        index = g.scatter_index(route.cols, msg_shape, axis)
        return b.node("ScatterElements", [g.zeros(shape), index, msg], "aggregate", axis=axis, reduction="add")

    return g.once(("propagate", route, x, axis, scale), make)


def _matmul(b: NetBuilder, x: str, cin: int, cout: int) -> str:
    """A linear map without bias (``nn.Linear(bias=False)`` as torch exports it: MatMul by the transposed weight)."""
    return b.node("MatMul", [x, b.weight("w", (cin, cout))])


def gnn_layer(b: NetBuilder, g: _Graph, op: str, x: str, cin: int, d: int, setting: GraphDataset) -> str:
    """One of the space's layers on node features ``x`` (N × ``cin``) → N × ``d``, as PyG computes it."""
    n = g.n
    if op == "skip":
        return x
    if op == "fc":
        return b.linear(x, cin, d)
    if op == "gcn":  # GCNConv: Â (x W) + b, Â = D^-1/2 (A + I) D^-1/2
        h = _matmul(b, x, cin, d)
        return b.add(propagate(b, g, g.route("gcn"), h, (n, d)), b.weight("b", (d,)))
    if op == "gin":  # GINConv (ε = 0): nn(Σ_j x_j + x), nn = Linear
        return b.linear(b.add(propagate(b, g, g.route("plain"), x, (n, cin)), x), cin, d)
    if op in ("sage", "graph"):  # SAGEConv (mean) / GraphConv (sum): lin_rel(agg) + lin_root(x)
        agg = propagate(b, g, g.route("plain"), x, (n, cin))
        if op == "sage":
            agg = b.node("Div", [agg, g.count()])
        return b.add(b.linear(agg, cin, d), _matmul(b, x, cin, d))
    if op == "cheb":  # ChebConv (K = 2, sym, λmax = 2): x W0 + (L̂ x) W1 + b
        out = _matmul(b, x, cin, d)
        tx1 = propagate(b, g, g.route("cheb"), x, (n, cin))
        return b.add(b.add(out, _matmul(b, tx1, cin, d)), b.weight("b", (d,)))
    if op == "arma":  # ARMAConv (1 stack, 1 layer): ReLU(Â (x W) + x V + b), computed on a (1, N, ·) stack
        x3 = b.node("Unsqueeze", [x, b.ints([0])])
        h = b.node("MatMul", [x3, b.weight("w", (1, cin, d))])
        out = propagate(b, g, g.route("arma"), h, (1, n, d), axis=1)
        root = b.node("MatMul", [x3, b.weight("w", (1, cin, d))])
        out = b.relu(b.add(b.add(out, root), b.weight("b", (1, 1, d))))
        return b.node("ReduceMean", [out], axes=[0], keepdims=0)  # opset 17: axes is an attribute
    if op == "gat":  # GATConv (4 heads, concat): softmax over incoming edges of LeakyReLU(a_s·h_j + a_d·h_i)
        heads, c = GAT_HEADS, d // GAT_HEADS
        h = b.node("Reshape", [_matmul(b, x, cin, d), b.ints([n, heads, c])])
        scores = []
        for _ in range(2):  # a_src, then a_dst
            weighted = b.node("Mul", [h, b.weight("att", (1, heads, c))])
            scores.append(b.node("ReduceSum", [weighted, b.ints([-1])], keepdims=0))
        route = g.route("loops" if setting.attention_self_loops else "plain")
        alpha = b.add(
            b.node("Gather", [scores[0], route.rows], axis=0), b.node("Gather", [scores[1], route.cols], axis=0)
        )
        alpha = b.node("Exp", [b.node("LeakyRelu", [alpha], alpha=0.2)])
        total = b.node(
            "ScatterElements",
            [g.zeros((n, heads)), g.scatter_index(route.cols, (route.size, heads), 0), alpha],
            "softmax_sum", axis=0, reduction="add",
        )  # fmt: skip
        denominator = b.node("Gather", [b.add(total, b.constant(1e-16)), route.cols], axis=0)
        attention = b.node("Unsqueeze", [b.node("Div", [alpha, denominator]), b.ints([-1])])
        out = propagate(b, g, route, h, (n, heads, c), scale=attention)
        return b.add(b.node("Reshape", [out, b.ints([n, d])]), b.weight("b", (d,)))
    raise ValueError(f"unknown op {op!r}")


def build_network(
    links: Sequence[int],
    ops: Sequence[str],
    setting: GraphDataset,
    *,
    weights: np.random.Generator | None = None,
    name: str = "nbgraph",
) -> Network:
    """The network of a spelling on a dataset setting (the benchmark's ``Net`` in eval mode), built with onnx.helper."""
    n, f, d = setting.nodes, setting.features, setting.hidden
    b = NetBuilder((n, f), rng=weights)
    b.data_input("edge_index", (2, setting.edges), TensorProto.INT64)
    g = _Graph(b, n, setting.edges)
    x = "x"
    for i in range(setting.pre):  # LinearConv layers; ELU only between two of them
        x = b.linear(x, f if i == 0 else d, d)
        if i == setting.pre - 2:
            x = b.node("Elu", [x], alpha=1.0)
    raw = reads_raw(links, ops, setting.pre)
    width = [f if raw[0] else d]
    res = [x]
    for link, op in zip(links, ops):
        inp = res[link]
        if not raw[link]:  # BatchNorm, ReLU (dropout is the identity in eval mode)
            inp = b.relu(b.batch_norm(inp, d))
        res.append(gnn_layer(b, g, op, inp, width[link], d, setting))
        width.append(width[link] if op == "skip" else d)
    outs = leaves(links)
    y = b.relu(b.concat([res[i] for i in outs], axis=1))
    y = b.linear(y, len(outs) * d, d if setting.post else setting.classes)
    for i in range(setting.post):
        y = b.linear(y, d, setting.classes if i == setting.post - 1 else d)
        if i == setting.post - 2:
            y = b.node("Elu", [y], alpha=1.0)
    return b.network(y, name, f"NAS-Bench-Graph {setting.title} {cell_string(links, ops)}")


@functools.lru_cache(maxsize=65_536)
def _pair_of_text(cell: str) -> Cell:
    """The representative of a cell written as text (memoised: tables repeat each cell once per dataset)."""
    text = cell.strip()
    if text.isdigit():
        return representative(*from_key(int(text)))
    if text.startswith(("(", "[")):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise _fail(f"{text[:80]!r} is not a (links, ops) pair") from None
        return NBGraph().pair(value)
    return representative(*parse(text))


class NBGraph(SearchSpace):
    """NAS-Bench-Graph's 26,206 architectures; networks on each of its nine datasets."""

    name: ClassVar[str] = "nbgraph"
    torch_reference: ClassVar[str] = "archscore.spaces.nbgraph_torch:nbgraph_network"
    description: ClassVar[str] = (
        "NAS-Bench-Graph: 26,206 GNNs, 4-node DAG of {GAT, GCN, GIN, Cheb, SAGE, ARMA, k-GNN, FC, skip}, 9 graphs"
    )
    datasets: ClassVar[tuple[str, ...]] = tuple(DATASETS)

    # -- cells ------------------------------------------------------------------------------------
    def pair(self, cell: object) -> Cell:
        """The representative ``(links, ops)`` of any accepted spelling of a cell."""
        if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool):
            return representative(*from_key(int(cell)))
        if isinstance(cell, str):
            return _pair_of_text(cell)
        if isinstance(cell, (tuple, list)) and len(cell) == 2 and not isinstance(cell[1], (int, np.integer)):
            links, ops = cell
            if isinstance(ops, str) or not isinstance(links, (tuple, list)):
                raise _fail(f"a (links, ops) pair holds two sequences, got {cell!r:.80}")
            return representative(links, [str(op).lower() for op in ops])
        raise _fail(f"cannot read a cell from {type(cell).__name__} {cell!r:.80}")

    def canonical(self, cell: object) -> str:  # type: ignore[override]
        return cell_string(*self.pair(cell))

    def key(self, cell: object) -> int:
        """The benchmark's integer key of ``cell`` (its index in the benchmark's ``.bench`` files)."""
        return key(*self.pair(cell))

    @property
    def size(self) -> int:
        return SIZE

    def enumerate(self) -> Iterator[str]:
        """Every architecture, in benchmark key order."""
        for links, ops in _all_cells():
            yield cell_string(links, ops)

    def evaluated(self, dataset: str) -> Iterator[str]:
        """The architectures the benchmark trained on ``dataset`` (all but on ogbn-proteins: 2,021 cells)."""
        allowed = set(DATASETS[self.dataset(dataset)].ops)
        for links, ops in _all_cells():
            if allowed.issuperset(ops):
                yield cell_string(links, ops)

    def random_cell(self, rng: random.Random) -> str:
        return cell_string(*rng.choice(_all_cells()))

    def mutate(self, cell: str, rng: random.Random) -> str:
        """A different architecture reached by changing one op or one link of ``cell``'s representative."""
        links, ops = self.pair(cell)
        start = (links, ops)
        while True:
            new_links, new_ops = list(links), list(ops)
            i = rng.randrange(NODES)
            if i > 0 and rng.random() < 0.5:
                new_links[i] = rng.choice([v for v in range(i + 1) if v != links[i]])
            else:
                new_ops[i] = rng.choice([op for op in OPS if op != ops[i]])
            if all(op == "skip" for op in new_ops):
                continue
            child = representative(new_links, new_ops)
            if child != start:
                return cell_string(*child)

    # -- networks ---------------------------------------------------------------------------------
    def setting(self, dataset: str | None = None) -> GraphDataset:
        """The graph and network settings of ``dataset`` (default: the first, Cora)."""
        return DATASETS[self.dataset(dataset)]

    def input_shape(self, dataset: str | None = None) -> tuple[int, ...]:
        s = self.setting(dataset)
        return (s.nodes, s.features)

    def edge_index_shape(self, dataset: str | None = None) -> tuple[int, int]:
        """Shape of the second input, ``edge_index`` (int64)."""
        return (2, self.setting(dataset).edges)

    def unused_parameters(self, cell: object, dataset: str | None = None) -> int:
        """Parameters counted in the benchmark's ``para`` of ``cell`` that its network never uses.

        See :func:`unused_parameters`; a graph's parameters plus these are the benchmark's count.
        """
        return unused_parameters(*self.pair(cell), self.setting(dataset))

    def network(
        self, cell: object, dataset: str | None = None, *, weights: np.random.Generator | None = None
    ) -> Network:
        """The network of ``cell`` on ``dataset`` with inputs ``x`` (N × F) and ``edge_index`` (2 × E, int64)."""
        links, ops = self.pair(cell)
        return build_network(links, ops, self.setting(dataset), weights=weights)
