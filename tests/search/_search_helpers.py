"""Small real inputs for the search tests: NB201 cells, one-hot features, a fast ensemble, a known objective."""

from __future__ import annotations

import functools

import numpy as np

from archscore.encoders import CellOneHotEncoder
from archscore.predictors import GBDTRegressor
from archscore.search import CellFeatures
from archscore.spaces import get
from archscore.spaces.nb201 import edge_ops

SPACE = get("nb201")


@functools.cache
def all_cells() -> tuple[str, ...]:
    return tuple(SPACE.enumerate())


def onehot_features() -> CellFeatures:
    """One-hot features of every NB201 cell: exact for objectives that add up per edge, and instant."""
    return CellFeatures(SPACE, CellOneHotEncoder(), fit_cells=all_cells())


def small_gbdt(seed: int = 0) -> GBDTRegressor:
    return GBDTRegressor(n_members=3, n_estimators=60, random_state=seed)


def conv3x3(cells) -> np.ndarray:
    """How many edges of each cell are 3×3 convolutions, plus a small per-edge tie-break (a unique optimum)."""
    weights = np.array([6, 5, 4, 3, 2, 1]) / 100
    return np.asarray(
        [sum((op == "nor_conv_3x3") * (1 + w) for op, w in zip(edge_ops(c), weights)) for c in cells],
        dtype=np.float64,
    )


OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
