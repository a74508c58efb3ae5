"""Pareto fronts: the trade-offs no other point beats in every objective.

Points are rows of a matrix with one column per objective, all to be *maximised* (negate a column
that is minimised before calling).
"""

from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is at least as good as ``b`` everywhere and strictly better somewhere."""
    return bool(np.all(a >= b) and np.any(a > b))


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Indices of the rows no other row dominates (duplicates of a front point are all kept), in row order."""
    P = np.asarray(points, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"points must be a matrix (n_points × n_objectives), got shape {P.shape}")
    keep = []
    for i in range(len(P)):
        ge = np.all(P[i] <= P, axis=1)
        gt = np.any(P[i] < P, axis=1)
        if not np.any(ge & gt):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def pareto_ranks(points: np.ndarray) -> np.ndarray:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, and so on."""
    P = np.asarray(points, dtype=np.float64)
    ranks = np.full(len(P), -1, dtype=np.int64)
    left = np.arange(len(P))
    rank = 0
    while left.size:
        front = left[non_dominated(P[left])]
        ranks[front] = rank
        left = np.setdiff1d(left, front)
        rank += 1
    return ranks


def hypervolume_2d(points: np.ndarray, reference: np.ndarray) -> float:
    """Area dominated by two-objective ``points`` (maximised) and bounded below by ``reference``."""
    P = np.asarray(points, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != 2:
        raise ValueError("hypervolume_2d takes points with exactly two objectives")
    P = P[np.all(ref < P, axis=1)]
    if not len(P):
        return 0.0
    P = P[non_dominated(P)]
    P = P[np.argsort(-P[:, 0])]  # best first objective first: the second rises along the front
    area, last_y = 0.0, ref[1]
    for x, y in P:
        if y > last_y:
            area += (x - ref[0]) * (y - last_y)
            last_y = y
    return float(area)
