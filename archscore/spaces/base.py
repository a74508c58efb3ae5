"""What every search space offers: cells as canonical strings, sampling, mutation, and networks as ONNX."""

from __future__ import annotations

import ast
import importlib
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import onnx

from archscore.errors import UnknownNameError
from archscore.graph import ArchGraph

if TYPE_CHECKING:
    from torch import nn

    from archscore.spaces._onnx import Network


def literal_text(text: str) -> object:
    """A JSON or Python literal written as text (configs given as ``{…}``); ``ValueError`` if it is neither."""
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{text[:80]!r} is not a JSON or Python literal") from None


class SearchSpace(ABC):
    """A family of architectures, each named by a canonical cell string.

    Cells are plain strings so they can be stored in tables, sent over HTTP and compared with
    ``==``; :meth:`canonical` turns any accepted spelling into the one canonical string and refuses
    anything outside the space with a message that says what is valid.
    """

    name: ClassVar[str]
    torch_reference: ClassVar[str]
    """``module:function`` building the space's reference PyTorch network (``to_torch``). The reference
    module imports the space's definitions, so the definition names it rather than importing it:
    imports point one way, from the references down to the definitions."""
    description: ClassVar[str]
    datasets: ClassVar[tuple[str, ...]]
    """Input settings the space's networks are built for (the first is the default)."""

    # -- cells --------------------------------------------------------------------------------
    @abstractmethod
    def canonical(self, cell: str) -> str:
        """The canonical string of ``cell``; raises :class:`InvalidCellError` naming what is valid."""

    @property
    def size(self) -> int | None:
        """Number of distinct cells, or ``None`` when the space is not enumerable here."""
        return None

    def enumerate(self) -> Iterator[str]:
        """Every cell, in a fixed order (finite spaces only)."""
        raise NotImplementedError(f"the {self.name} space is not enumerable; use sample()")

    @abstractmethod
    def random_cell(self, rng: random.Random) -> str:
        """One cell drawn uniformly (or by the space's own sampling rule)."""

    def sample(self, n: int, seed: int | None = None) -> list[str]:
        """``n`` distinct cells (fewer if the space is smaller), reproducible under ``seed``."""
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        rng = random.Random(seed)
        limit = n if self.size is None else min(n, self.size)
        seen: dict[str, None] = {}
        tries = 0
        while len(seen) < limit:
            seen.setdefault(self.random_cell(rng))
            tries += 1
            if tries > 100 * limit + 1000:
                break  # a space whose sampler keeps repeating: return what was found
        return list(seen)

    @abstractmethod
    def mutate(self, cell: str, rng: random.Random) -> str:
        """A neighbouring cell that differs from ``cell`` in one choice (for evolution and local search)."""

    # -- networks -----------------------------------------------------------------------------
    def dataset(self, dataset: str | None) -> str:
        if dataset is None:
            return self.datasets[0]
        if dataset not in self.datasets:
            raise UnknownNameError(f"{self.name} has no dataset {dataset!r}; choose one of {', '.join(self.datasets)}")
        return dataset

    @abstractmethod
    def network(self, cell: str, dataset: str | None = None, *, weights: np.random.Generator | None = None) -> Network:
        """The full network of ``cell``, built with the ``onnx.helper`` builder (see :meth:`to_onnx`)."""

    def to_onnx(
        self, cell: str, dataset: str | None = None, *, weights: np.random.Generator | None = None
    ) -> onnx.ModelProto:
        """The full network of ``cell`` as ONNX, built with ``onnx.helper``.

        Weight-free by default (learned tensors are graph inputs after the data input ``x``); with
        a numpy ``Generator`` the weights are random initializers and the model runs as is.
        """
        return self.network(cell, dataset, weights=weights).model()

    def to_torch(self, cell: str, dataset: str | None = None) -> nn.Module:
        """The reference PyTorch module of the same network (needs the ``torch`` extra)."""
        module, _, function = self.torch_reference.partition(":")
        return getattr(importlib.import_module(module), function)(self, cell, self.dataset(dataset))

    def data_inputs(self, cell: str) -> list[str]:
        """Graph inputs of ``cell``'s network that carry data (the rest, in a weight-free network, are weights)."""
        return ["x"]

    def to_graph(self, cell: str, dataset: str | None = None) -> ArchGraph:
        """The canonical :class:`ArchGraph` of ``cell``'s network: ``from_onnx(to_onnx(cell))``, on a faster path."""
        return self.network(cell, dataset).graph(self.data_inputs(cell))

    def input_shape(self, dataset: str | None = None, cell: object | None = None) -> tuple[int, ...]:
        """Shape of the network's input for ``dataset`` (batch 1).

        Spaces whose cells choose the input resolution (Once-for-All) read it from ``cell``;
        the others ignore it.
        """
        raise NotImplementedError
