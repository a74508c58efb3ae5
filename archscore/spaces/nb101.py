"""NAS-Bench-101: cells of up to 7 vertices and 9 edges, three operations, on CIFAR-10.

A cell is a DAG given by an upper-triangular adjacency matrix and an op per vertex (input first,
output last, interior vertices one of ``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``).
The network is the benchmark's (``model_builder.py`` in google-research/nasbench): a 3×3
conv-BN-ReLU stem with 128 channels, three stacks of three cells with 2×2 max-pool downsampling
and doubled channels between stacks, global average pooling and a dense layer. Inside a cell the
output channels are split among the vertices feeding the output (their outputs are concatenated),
other vertices take the widest of their successors, tensors are truncated to fewer channels by
slicing, and the cell input reaches a vertex through a 1×1 conv-BN-ReLU projection.

Canonical cell string: the pruned matrix (rows as bit strings joined by ``.``), ``|``, then the
interior ops joined by ``,``. Vertex numbering is kept, because the network depends on it (see
:func:`canonical_pair`). :meth:`NB101.canonical` also accepts NASLib tuples
(flattened matrix then op codes), ``(matrix, ops)`` pairs and the benchmark's own
``module_adjacency=…; module_operations=…`` records.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from archscore.errors import InvalidCellError
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace

if TYPE_CHECKING:
    pass

OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
INPUT, OUTPUT = "input", "output"
MAX_VERTICES = 7
MAX_EDGES = 9
NASLIB_CODES: dict[int, str] = {0: INPUT, 1: OUTPUT, 2: "maxpool3x3", 3: "conv1x1-bn-relu", 4: "conv3x3-bn-relu"}
"""NASLib's op codes in its NB101 tuples (established by the parameter checks in the tests)."""
STEM_CHANNELS = 128
STACKS = 3
CELLS_PER_STACK = 3
NUM_CLASSES = 10

Matrix = tuple[tuple[int, ...], ...]


def _fail(msg: str) -> InvalidCellError:
    return InvalidCellError(f"nb101: {msg}")


def prune(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> tuple[Matrix, tuple[str, ...]]:
    """Remove vertices not on a path from input to output (as the benchmark does before building)."""
    n = len(matrix)
    forward = {0}
    for i in range(n):
        if i in forward:
            forward.update(j for j in range(i + 1, n) if matrix[i][j])
    backward = {n - 1}
    for j in range(n - 1, -1, -1):
        if j in backward:
            backward.update(i for i in range(j) if matrix[i][j])
    if n - 1 not in forward:
        raise _fail("the output is not reachable from the input")
    keep = sorted(forward & backward)
    return tuple(tuple(int(matrix[i][j]) for j in keep) for i in keep), tuple(ops[i] for i in keep)


def _string(matrix: Matrix, ops: Sequence[str]) -> str:
    return ".".join("".join(map(str, row)) for row in matrix) + "|" + ",".join(ops[1:-1])


def canonical_pair(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> tuple[Matrix, tuple[str, ...]]:
    """Validate and prune a cell into its canonical (matrix, ops).

    Vertices keep their numbering: the benchmark assigns channels in vertex order (which vertex
    gets the remainder, which is truncated), so two numberings of one graph are two networks, with
    parameter counts that can differ.
    """
    n = len(matrix)
    if not 2 <= n <= MAX_VERTICES or any(len(row) != n for row in matrix):
        raise _fail(f"the adjacency matrix must be square with 2 to {MAX_VERTICES} vertices, got {n} rows")
    if len(ops) != n:
        raise _fail(f"{len(ops)} ops for {n} vertices")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise _fail(f"the first op must be {INPUT!r} and the last {OUTPUT!r}, got {ops[0]!r} and {ops[-1]!r}")
    for op in ops[1:-1]:
        if op not in OPS:
            raise _fail(f"op {op!r} is not one of {', '.join(OPS)}")
    for i in range(n):
        for j in range(n):
            if matrix[i][j] not in (0, 1):
                raise _fail("adjacency entries must be 0 or 1")
            if matrix[i][j] and j <= i:
                raise _fail("the adjacency matrix must be upper-triangular (a DAG in vertex order)")
    pruned = prune(matrix, ops)
    edges = sum(map(sum, pruned[0]))
    if edges > MAX_EDGES:  # counted after pruning, as the benchmark does
        raise _fail(f"{edges} edges on input-output paths; the space allows at most {MAX_EDGES}")
    return pruned


def parse(cell: str) -> tuple[Matrix, tuple[str, ...]]:
    """(matrix, ops) of a canonical cell string."""
    try:
        rows, ops = cell.split("|")
        matrix = tuple(tuple(int(c) for c in row) for row in rows.split("."))
        interior = tuple(op for op in ops.split(",") if op)
    except ValueError:
        raise _fail(f"{cell!r} is not a cell string like '0110.0001.0001.0000|conv3x3-bn-relu,maxpool3x3'") from None
    return matrix, (INPUT, *interior, OUTPUT)


def vertex_channels(input_channels: int, output_channels: int, matrix: Matrix) -> list[int]:
    """Channels of each vertex, by the benchmark's rule (``compute_vertex_channels``)."""
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[-1] = input_channels, output_channels
    if n == 2:
        return channels
    in_degree = [sum(matrix[i][j] for i in range(1, n)) for j in range(n)]
    interior, correction = divmod(output_channels, in_degree[-1])
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            channels[v] = interior + (1 if correction else 0)
            correction -= 1 if correction else 0
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v][dst]:
                    channels[v] = max(channels[v], channels[dst])
    return channels


class NB101(SearchSpace):
    name: ClassVar[str] = "nb101"
    torch_reference: ClassVar[str] = "archscore.spaces.nb101_torch:nb101_network"
    description: ClassVar[str] = "NAS-Bench-101: 423,624 cells of ≤ 7 vertices and ≤ 9 edges, 3 ops, CIFAR-10"
    datasets: ClassVar[tuple[str, ...]] = ("cifar10",)

    def canonical(self, cell: object) -> str:  # type: ignore[override]
        return _string(*self.pair(cell))

    def pair(self, cell: object) -> tuple[Matrix, tuple[str, ...]]:
        """Canonical (matrix, ops) of any accepted spelling of a cell."""
        if isinstance(cell, str):
            text = cell.strip()
            if text.startswith("module_adjacency="):
                adj, _, ops = text.partition(";")
                matrix = json.loads(adj.split("=", 1)[1])
                names = json.loads(ops.split("=", 1)[1])
                return canonical_pair(matrix, names)
            if text.startswith("("):
                try:
                    values = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise _fail(f"{text[:60]!r} is not a NASLib tuple") from None
                return self._from_naslib(values)
            return canonical_pair(*parse(text))
        if isinstance(cell, (tuple, list)) and len(cell) == 2:
            return canonical_pair(cell[0], cell[1])  # type: ignore[arg-type]
        raise _fail(f"cannot read a cell from {type(cell).__name__}")

    def _from_naslib(self, values: Sequence[int]) -> tuple[Matrix, tuple[str, ...]]:
        for n in range(2, MAX_VERTICES + 1):
            if len(values) == n * n + n:
                break
        else:
            raise _fail(f"a NASLib tuple has n·n + n values (n ≤ {MAX_VERTICES}), got {len(values)}")
        matrix = [list(values[i * n : (i + 1) * n]) for i in range(n)]
        codes = values[n * n :]
        bad = [c for c in codes if c not in NASLIB_CODES]
        if bad:
            raise _fail(f"NASLib op code(s) {bad}; valid: {NASLIB_CODES}")
        return canonical_pair(matrix, [NASLIB_CODES[c] for c in codes])

    def random_cell(self, rng: random.Random) -> str:
        while True:  # the benchmark's sampler: random matrix and ops, kept if valid
            matrix = [[int(j > i and rng.random() < 0.5) for j in range(MAX_VERTICES)] for i in range(MAX_VERTICES)]
            ops = [INPUT, *(rng.choice(OPS) for _ in range(MAX_VERTICES - 2)), OUTPUT]
            try:
                return self.canonical((matrix, ops))
            except InvalidCellError:
                continue

    def mutate(self, cell: str, rng: random.Random) -> str:
        """Flip one edge or change one op of the cell laid out on all 7 vertices (as the benchmark's search does).

        The pruned cell is padded with unused vertices, so a mutation can also grow it.
        """
        matrix, ops = self.pair(cell)
        start = _string(matrix, ops)
        n = len(matrix)
        pad = MAX_VERTICES - n
        full = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        index = [*range(n - 1), MAX_VERTICES - 1]  # old vertex → position; new vertices go before the output
        for a in range(n):
            for b in range(n):
                full[index[a]][index[b]] = matrix[a][b]
        o = [*ops[:-1], *(rng.choice(OPS) for _ in range(pad)), OUTPUT]
        m = full
        for _ in range(100_000):
            # One change at a time on a copy; a change that stays in the space is kept even when it
            # does not show (an unused vertex), so two steps can grow a cell by a vertex.
            m2, o2 = [list(row) for row in m], list(o)
            if rng.random() < 0.5:
                v = rng.randrange(1, MAX_VERTICES - 1)
                o2[v] = rng.choice([op for op in OPS if op != o2[v]])
            else:
                i = rng.randrange(0, MAX_VERTICES - 1)
                j = rng.randrange(i + 1, MAX_VERTICES)
                m2[i][j] = 1 - m2[i][j]
            try:
                child = self.canonical((m2, o2))
            except InvalidCellError:
                continue
            if child != start:
                return child
            m, o = m2, o2
        raise RuntimeError(f"nb101: no mutation of {cell!r} found")  # not reachable: every cell has neighbours

    def input_shape(self, dataset: str | None = None, cell: object | None = None) -> tuple[int, ...]:
        self.dataset(dataset)
        return (1, 3, 32, 32)

    def network(self, cell: str, dataset: str | None = None, *, weights: np.random.Generator | None = None) -> Network:
        matrix, ops = self.pair(cell)
        b = NetBuilder(self.input_shape(dataset), rng=weights)

        def conv_bn_relu(x: str, cin: int, cout: int, k: int) -> str:
            return b.relu(b.conv_bn(x, cin, cout, k))

        def truncate(x: str, have: int, want: int) -> str:
            if have == want:
                return x
            return b.node("Slice", [x, b.ints([0]), b.ints([want]), b.ints([1])], "truncate")

        def cell_net(x: str, cin: int, cout: int) -> str:
            n = len(matrix)
            ch = vertex_channels(cin, cout, matrix)
            tensors = [x]
            concat = []
            for t in range(1, n - 1):
                add_in = [truncate(tensors[s], ch[s], ch[t]) for s in range(1, t) if matrix[s][t]]
                if matrix[0][t]:
                    add_in.append(conv_bn_relu(x, cin, ch[t], 1))
                v = add_in[0]
                for other in add_in[1:]:
                    v = b.add(v, other)
                if ops[t] == "maxpool3x3":
                    v = b.max_pool(v, 3, 1, 1)
                else:
                    v = conv_bn_relu(v, ch[t], ch[t], 3 if ops[t] == "conv3x3-bn-relu" else 1)
                tensors.append(v)
                if matrix[t][n - 1]:
                    concat.append(v)
            if not concat:
                return conv_bn_relu(x, cin, cout, 1)
            out = concat[0] if len(concat) == 1 else b.concat(concat)
            if matrix[0][n - 1]:
                out = b.add(out, conv_bn_relu(x, cin, cout, 1))
            return out

        channels = STEM_CHANNELS
        x = conv_bn_relu("x", 3, channels, 3)
        cin = channels
        for stack in range(STACKS):
            if stack:
                x = b.max_pool(x, 2, 2, 0)
                channels *= 2
            for _ in range(CELLS_PER_STACK):
                x = cell_net(x, cin, channels)
                cin = channels
        y = b.linear(b.flatten(b.global_avg_pool(x)), channels, NUM_CLASSES)
        return b.network(y, "nb101", f"NAS-Bench-101 {_string(matrix, ops)}")
