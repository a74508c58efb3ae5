"""The plain per-space one-hot encoding of cell strings: the baseline every encoder is compared to.

It knows nothing about networks: the cell's canonical string is split into tokens (identifiers,
and single digits, so an adjacency bit string or a digit-coded macro skeleton become one decision
per position), and each position becomes a categorical feature. For a fixed-length space (NB201's
six edges, NB101's matrix and ops, a DARTS genotype, TransNAS codes) that is exactly the usual
one-hot of the architecture's choices. Positions or tokens not seen in ``fit`` encode as zeros.
"""

from __future__ import annotations

import re

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*|\d")
_PAD = "<none>"


def cell_tokens(cell: str) -> list[str]:
    """The categorical decisions of a cell string, in order."""
    return _TOKEN.findall(cell)


class CellOneHotEncoder(TransformerMixin, BaseEstimator):
    """Cell strings → one-hot of the token at each position.

    Args:
        space: A search space name; cells are canonicalised by it first (errors name a malformed cell).
    """

    def __init__(self, space: str | None = None) -> None:
        self.space = space

    def _tokens(self, cells) -> list[list[str]]:
        if isinstance(cells, str):
            raise TypeError("CellOneHotEncoder encodes a sequence of cell strings; wrap a single cell in a list")
        cells = list(cells)
        for i, c in enumerate(cells):
            if not isinstance(c, str):
                raise TypeError(f"CellOneHotEncoder encodes cell strings; item {i} is a {type(c).__name__}")
        if self.space is not None:
            from archscore.spaces import get

            space = get(self.space)
            cells = [space.canonical(c) for c in cells]
        return [cell_tokens(c) for c in cells]

    def _table(self, tokens: list[list[str]]) -> np.ndarray:
        width = self.width_
        rows = [(t + [_PAD] * width)[:width] for t in tokens]
        return np.asarray(rows, dtype=object).reshape(len(rows), width)

    def fit(self, cells, y=None) -> CellOneHotEncoder:
        tokens = self._tokens(cells)
        if not tokens:
            raise ValueError("CellOneHotEncoder.fit needs at least one cell")
        self.width_ = max(1, max(len(t) for t in tokens))
        self.onehot_ = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
        self.onehot_.fit(self._table(tokens))
        self.n_features_out_ = int(sum(len(c) for c in self.onehot_.categories_))
        return self

    def transform(self, cells) -> np.ndarray:
        check_is_fitted(self)
        return self.onehot_.transform(self._table(self._tokens(cells)))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray(
            [f"onehot__{i}={c}" for i, cats in enumerate(self.onehot_.categories_) for c in cats], dtype=object
        )
