"""Cells → feature rows for the surrogate, computed once per cell.

:class:`CellFeatures` encodes cells of any search space on demand: it builds each cell's graph
(from the on-disk graph cache when the space's shard is there, else from the space itself), fits
its encoder once on unlabelled cells of the space, and remembers every row it computed. For a
finite set of candidates (an enumerable space, or the cells of a benchmark table) the whole matrix
can be computed up front with :meth:`CellFeatures.precompute`, and the surrogate then only looks
rows up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from archscore.spaces.base import SearchSpace

log = logging.getLogger(__name__)


def default_encoder():
    """Free statistics + Weisfeiler-Lehman features: the best few-shot ranker of archscore's benchmark."""
    from archscore.encoders import make_encoder

    return make_encoder("stats+wl")


def _reads_cells(encoder: object) -> bool:
    from archscore.encoders import CellOneHotEncoder

    return isinstance(encoder, CellOneHotEncoder) or bool(getattr(encoder, "reads_cells", False))


class CellFeatures:
    """Feature rows of cells of one search space, memoised.

    Args:
        space: The search space.
        encoder: A scikit-learn transformer over ArchGraphs (default: stats + WL), or over cell
            strings (:class:`~archscore.encoders.CellOneHotEncoder`, or any transformer with a true
            ``reads_cells`` attribute).
        dataset: The space's input setting the graphs are built for (default: its first).
        fit_cells: Unlabelled cells the encoder is fitted on (default: ``fit_sample`` random cells).
        fit_sample: How many random cells to fit the encoder on when ``fit_cells`` is not given.
        seed: Seed of that sample.
    """

    def __init__(
        self,
        space: SearchSpace,
        encoder: object | None = None,
        dataset: str | None = None,
        fit_cells: Sequence[str] | None = None,
        fit_sample: int = 1000,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.encoder = encoder if encoder is not None else default_encoder()
        self.dataset = space.dataset(dataset)
        self.reads_cells = _reads_cells(self.encoder)
        self._fit_cells = list(fit_cells) if fit_cells is not None else None
        self._fit_sample = fit_sample
        self._seed = seed
        self._index: dict[str, int] = {}  # cell → row of the matrix
        self._n_rows = 0
        self._blocks: list[np.ndarray] = []  # rows computed since the matrix was last put together
        self._matrix: np.ndarray | None = None
        self._shard: dict | None = None
        self._fitted = False

    # -- graphs --------------------------------------------------------------------------------
    def _graphs(self, cells: list[str]) -> list:
        if self._shard is None:
            from archscore.data.cache import GraphCache

            self._shard = GraphCache().read(self.space.name, self.dataset)
        out = []
        for c in cells:
            g = self._shard.get(c)
            if g is None:
                g = self._shard[c] = self.space.to_graph(c, self.dataset)
            out.append(g)
        return out

    def _encode(self, cells: list[str]) -> np.ndarray:
        inputs = cells if self.reads_cells else self._graphs(cells)
        return np.asarray(self.encoder.transform(inputs), dtype=np.float32)

    def _fit(self) -> None:
        if self._fitted:
            return
        cells = self._fit_cells
        if cells is None:
            cells = self.space.sample(self._fit_sample, seed=self._seed)
        log.info("archscore.search: fitting the %s encoder on %d cells", type(self.encoder).__name__, len(cells))
        self.encoder.fit(cells if self.reads_cells else self._graphs(list(cells)))
        self._fitted = True

    # -- rows ----------------------------------------------------------------------------------
    def precompute(self, cells: Sequence[str]) -> CellFeatures:
        """Fit the encoder on ``cells`` (unless fitted already) and encode them all at once."""
        cells = list(dict.fromkeys(cells))
        if not self._fitted and (self._fit_cells is None or self._fit_cells == cells):
            # fit and encode in one pass (graph encoders compute their labels once)
            inputs = cells if self.reads_cells else self._graphs(cells)
            X = np.asarray(self.encoder.fit_transform(inputs), dtype=np.float32)
            self._fit_cells, self._fitted = cells, True
            self._add(cells, X)
            return self
        self._fit()
        todo = [c for c in cells if c not in self._index]
        if todo:
            self._add(todo, self._encode(todo))
        return self

    def _add(self, cells: list[str], X: np.ndarray) -> None:
        X = np.asarray(X, dtype=np.float32)
        if len(X) != len(cells):
            raise ValueError(f"{len(cells)} cells but {len(X)} feature rows")
        self._index.update((c, self._n_rows + i) for i, c in enumerate(cells))
        self._n_rows += len(X)
        self._blocks.append(X)

    def _rows(self) -> np.ndarray:
        if self._blocks:
            parts = ([self._matrix] if self._matrix is not None else []) + self._blocks
            self._matrix = np.vstack(parts) if len(parts) > 1 else parts[0]
            self._blocks = []
        assert self._matrix is not None
        return self._matrix

    def transform(self, cells: Sequence[str]) -> np.ndarray:
        """The feature matrix of ``cells`` (canonical strings), one row each."""
        self._fit()
        cells = list(cells)
        todo = list(dict.fromkeys(c for c in cells if c not in self._index))
        if todo:
            self._add(todo, self._encode(todo))
        if not cells:
            return np.zeros((0, self.n_features), dtype=np.float32)
        return self._rows()[[self._index[c] for c in cells]]

    @property
    def n_features(self) -> int:
        if not self._index:
            return 0
        return int(self._rows().shape[1])

    @classmethod
    def from_matrix(cls, space: SearchSpace, cells: Sequence[str], X: np.ndarray) -> CellFeatures:
        """Features already computed elsewhere (e.g. shared between benchmark workers): rows of ``X`` for ``cells``."""
        X = np.asarray(X)
        if len(X) != len(cells):
            raise ValueError(f"{len(cells)} cells but {len(X)} feature rows")
        out = cls(space, encoder=_Frozen(), fit_cells=[])
        out._add(list(cells), X)
        out._fitted = True
        return out


class _Frozen:
    """The encoder of features given as a matrix: it knows no cell beyond those."""

    reads_cells = True

    def fit(self, cells, y=None) -> _Frozen:
        return self

    def transform(self, cells):
        from archscore.errors import UnknownNameError

        raise UnknownNameError(
            f"no precomputed features for {len(cells)} cell(s), e.g. {cells[0]!r}: confine the search to the "
            "matrix's cells (Surrogate(candidates=...))"
        )
