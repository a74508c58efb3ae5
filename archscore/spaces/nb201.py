"""NAS-Bench-201 (NATS-Bench topology search space): 15,625 cells on CIFAR-10/100 and ImageNet16-120.

A cell is a 4-node DAG; each of its 6 edges ``i → j`` carries one of five operations and node
``j`` is the sum of its incoming edges. The network is the benchmark's macro skeleton
(``TinyNetwork`` in NAS-Bench-201's code): a 3×3 conv + BN stem with C = 16 channels, three
stages of N = 5 copies of the cell at C, 2C and 4C channels joined by residual reduction blocks,
then BN-ReLU, global average pooling and a linear classifier.

Canonical cell string: the benchmark's own, e.g.
``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``.
:meth:`NB201.canonical` also accepts NASLib's 6-digit op code (``"433000"``, or as a tuple
``"(4, 3, 3, 0, 0, 0)"``) and a sequence of six op names in arch-string edge order.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from archscore.errors import InvalidCellError
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace

if TYPE_CHECKING:
    pass

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""Cell edges ``(from, to)`` in the order of the arch string ``|a~0|+|b~0|c~1|+|d~0|e~1|f~2|``."""
NASLIB_DIGITS: dict[str, str] = {
    "0": "skip_connect", "1": "none", "2": "nor_conv_3x3", "3": "nor_conv_1x1", "4": "avg_pool_3x3",
}  # fmt: skip
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
"""Edge order of NASLib's op code (its nodes 1..4 are our 0..3)."""

DATASETS: dict[str, tuple[int, int]] = {"cifar10": (32, 10), "cifar100": (32, 100), "imagenet16_120": (16, 120)}
"""Dataset → (input resolution, number of classes)."""
CHANNELS = 16
CELLS_PER_STAGE = 5
_ARCH_RE = re.compile(r"^\|([^|~]+)~0\|\+\|([^|~]+)~0\|([^|~]+)~1\|\+\|([^|~]+)~0\|([^|~]+)~1\|([^|~]+)~2\|$")


def arch_string(ops: Sequence[str]) -> str:
    """The canonical arch string of six edge ops (in arch-string edge order)."""
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


def edge_ops(cell: str) -> tuple[str, ...]:
    """The six edge ops of a canonical arch string, in :data:`EDGES` order."""
    m = _ARCH_RE.match(cell)
    if m is None:
        raise InvalidCellError(
            f"nb201: {cell!r} is not a cell: give an arch string like {arch_string(OPS[:1] * 6)!r} "
            "or a 6-digit NASLib op code like '433000'"
        )
    return m.groups()


class NB201(SearchSpace):
    name: ClassVar[str] = "nb201"
    torch_reference: ClassVar[str] = "archscore.spaces.nb201_torch:nb201_network"
    description: ClassVar[str] = "NAS-Bench-201: 15,625 cells, 4 nodes × 6 edges × 5 ops, C=16, N=5"
    datasets: ClassVar[tuple[str, ...]] = tuple(DATASETS)

    def canonical(self, cell: str | Sequence[str]) -> str:
        if isinstance(cell, str):
            text = cell.strip()
            if text.startswith("(") and text.endswith(")"):  # NASLib's tuple form: "(0, 2, 3, 2, 3, 1)"
                text = "".join(part.strip() for part in text[1:-1].split(","))
            if len(text) == 6 and text.isdigit():
                bad = sorted({d for d in text if d not in NASLIB_DIGITS})
                if bad:
                    raise InvalidCellError(
                        f"nb201: NASLib op code {text!r} has digit(s) {', '.join(bad)}; valid digits: "
                        + ", ".join(f"{d}={op}" for d, op in NASLIB_DIGITS.items())
                    )
                by_edge = dict(zip(NASLIB_EDGES, (NASLIB_DIGITS[d] for d in text)))
                return arch_string([by_edge[e] for e in EDGES])
            ops = edge_ops(text)
        else:
            ops = tuple(cell)
            if len(ops) != len(EDGES):
                raise InvalidCellError(f"nb201: a cell has {len(EDGES)} edge ops, got {len(ops)}")
        for op in ops:
            if op not in OPS:
                raise InvalidCellError(f"nb201: op {op!r} is not one of {', '.join(OPS)}")
        return arch_string(ops)

    def naslib_code(self, cell: str) -> str:
        """NASLib's 6-digit op code of ``cell`` (the inverse of accepting one in :meth:`canonical`)."""
        digit = {op: d for d, op in NASLIB_DIGITS.items()}
        by_edge = dict(zip(EDGES, edge_ops(self.canonical(cell))))
        return "".join(digit[by_edge[e]] for e in NASLIB_EDGES)

    @property
    def size(self) -> int:
        return len(OPS) ** len(EDGES)

    def enumerate(self) -> Iterator[str]:
        for ops in itertools.product(OPS, repeat=len(EDGES)):
            yield arch_string(ops)

    def random_cell(self, rng: random.Random) -> str:
        return arch_string([rng.choice(OPS) for _ in EDGES])

    def mutate(self, cell: str, rng: random.Random) -> str:
        ops = list(edge_ops(self.canonical(cell)))
        k = rng.randrange(len(ops))
        ops[k] = rng.choice([op for op in OPS if op != ops[k]])
        return arch_string(ops)

    def input_shape(self, dataset: str | None = None, cell: object | None = None) -> tuple[int, ...]:
        res = DATASETS[self.dataset(dataset)][0]
        return (1, 3, res, res)

    def network(self, cell: str, dataset: str | None = None, *, weights: np.random.Generator | None = None) -> Network:
        ops = edge_ops(self.canonical(cell))
        dataset = self.dataset(dataset)
        classes = DATASETS[dataset][1]
        b = NetBuilder(self.input_shape(dataset), rng=weights)

        def relu_conv_bn(x: str, cin: int, cout: int, k: int, stride: int) -> str:
            return b.conv_bn(b.relu(x), cin, cout, k, stride)

        def edge(op: str, x: str, c: int) -> str:
            if op == "none":
                return b.mul_zero(x)
            if op == "skip_connect":
                return x
            if op == "avg_pool_3x3":
                return b.avg_pool(x, 3, 1, 1, count_include_pad=False)
            return relu_conv_bn(x, c, c, 1 if op == "nor_conv_1x1" else 3, 1)

        def cell_net(x: str, c: int) -> str:
            nodes = [x]
            for j in range(1, 4):
                total = None
                for (src, dst), op in zip(EDGES, ops):
                    if dst == j:
                        y = edge(op, nodes[src], c)
                        total = y if total is None else b.add(total, y)
                nodes.append(total)  # type: ignore[arg-type]
            return nodes[-1]

        c = CHANNELS
        x = b.conv_bn("x", 3, c, 3, 1)
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage:  # residual reduction block
                main = relu_conv_bn(relu_conv_bn(x, width // 2, width, 3, 2), width, width, 3, 1)
                short = b.conv(b.avg_pool(x, 2, 2, 0, count_include_pad=True), width // 2, width, 1, 1, 0)
                x = b.add(short, main)
            for _ in range(CELLS_PER_STAGE):
                x = cell_net(x, width)
        x = b.relu(b.batch_norm(x, 4 * c))
        y = b.linear(b.flatten(b.global_avg_pool(x)), 4 * c, classes)
        return b.network(y, "nb201", f"NAS-Bench-201 {dataset} {arch_string(ops)}")
