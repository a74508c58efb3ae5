"""Pareto fronts and the 2-D hypervolume on small hand-checked point sets."""

from __future__ import annotations

import numpy as np
import pytest

from archscore.search import hypervolume_2d, non_dominated, pareto_ranks
from archscore.search.pareto import dominates


def test_non_dominated_keeps_exactly_the_trade_offs() -> None:
    P = np.array([[1, 5], [2, 4], [2, 2], [3, 1], [0, 0], [3, 1]])
    assert non_dominated(P).tolist() == [0, 1, 3, 5]  # [2, 2] is beaten by [2, 4]; duplicates stay
    assert dominates(P[1], P[2]) and not dominates(P[3], P[5])


def test_pareto_ranks_peel_fronts_one_after_another() -> None:
    P = np.array([[3, 3], [2, 2], [1, 1], [3, 0], [0, 3]])
    assert pareto_ranks(P).tolist() == [0, 1, 2, 1, 1]


def test_hypervolume_is_the_dominated_area() -> None:
    P = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [1.0, 1.0]])
    assert hypervolume_2d(P, np.array([0.0, 0.0])) == pytest.approx(3 + 2 + 1)
    assert hypervolume_2d(P, np.array([5.0, 5.0])) == 0.0


def test_non_dominated_refuses_a_vector() -> None:
    with pytest.raises(ValueError, match="matrix"):
        non_dominated(np.array([1.0, 2.0]))
