"""The parts of an :class:`~archscore.graph.archgraph.ArchGraph`: nodes, the tensors they read, shapes.

Kept apart from the graph class so that the modules computing on nodes (statistics, text) and the
graph itself depend on these definitions, not on each other.
"""

from __future__ import annotations

import math
from typing import NamedTuple

Shape = tuple[int, ...]
"""A tensor shape; an unknown dimension is ``-1``."""
Ref = tuple[int, int]
"""A tensor read by a node: ``(producer node index, output slot)``; a producer of ``-1`` is a
constant operand whose shape is ``Node.const_shapes[slot]``."""
AttrValue = int | float | str | bool | tuple[int | float, ...] | None

CONST = -1


class Node(NamedTuple):
    """One atomic operation of an architecture.

    A named tuple: immutable, compact, and fast to build and unpickle, since graphs are held and
    cached by the hundred thousand.
    """

    op: str
    inputs: tuple[Ref, ...] = ()
    outputs: tuple[Shape | None, ...] = ()
    attrs: tuple[tuple[str, AttrValue], ...] = ()
    macs: int = 0
    params: int = 0
    const_shapes: tuple[Shape, ...] = ()

    def attr(self, name: str, default: AttrValue = None) -> AttrValue:
        """Return attribute ``name`` or ``default``."""
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    @property
    def shape(self) -> Shape | None:
        """Shape of the first output."""
        return self.outputs[0] if self.outputs else None


def numel(shape: Shape | None) -> int:
    """Number of elements of ``shape``; ``-1`` when the shape or any dimension is unknown."""
    if shape is None or (shape and min(shape) < 0):
        return -1
    return math.prod(shape)
