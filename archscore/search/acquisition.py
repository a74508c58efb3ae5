"""Acquisition functions: how much a candidate is worth evaluating, from the surrogate's prediction.

Every function scores candidates to be *maximised* (objectives that are minimised are negated
before they get here). ``ei`` and ``ucb`` need the predictor's std; ``thompson`` needs either an
ensemble's members (one member's prediction is one posterior sample, as in BANANAS) or a std to
sample from; ``mean`` is pure exploitation and needs neither.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

ACQUISITIONS: tuple[str, ...] = ("ei", "ucb", "thompson", "mean")
NEEDS_STD: frozenset[str] = frozenset({"ei", "ucb"})
"""Acquisitions that cannot work from a point prediction."""


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """``E[max(f - best - xi, 0)]`` under ``f ~ N(mean, std²)``; where std is 0, the plain improvement."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    gain = mean - best - xi
    safe = np.where(std > 0, std, 1.0)
    z = gain / safe
    ei = gain * norm.cdf(z) + safe * norm.pdf(z)
    return np.where(std > 0, ei, np.maximum(gain, 0.0))


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """``mean + beta·std``."""
    return np.asarray(mean, dtype=np.float64) + beta * np.asarray(std, dtype=np.float64)


def thompson_samples(
    rng: np.random.Generator,
    n_draws: int,
    mean: np.ndarray,
    std: np.ndarray | None = None,
    members: np.ndarray | None = None,
    noise: bool = False,
) -> np.ndarray:
    """``n_draws`` posterior samples over the candidates, shape ``(n_draws, n_candidates)``.

    With ``members`` (shape ``(n_members, n_candidates)``) each draw is one member picked at random
    (with ``noise=True`` plus, per candidate, the noise the ensemble's std has beyond the members'
    spread: over a large pool that noise rather than the model picks the maximum, so it is off by
    default); without members, each candidate is drawn independently from ``N(mean, std²)``
    (BANANAS' "independent Thompson sampling").
    """
    mean = np.asarray(mean, dtype=np.float64)
    if members is not None and len(members) > 1:
        members = np.asarray(members, dtype=np.float64)
        picks = rng.integers(0, len(members), n_draws)
        draws = members[picks]
        if noise and std is not None:  # the calibrated noise term the members cannot see
            extra = np.sqrt(np.maximum(np.asarray(std) ** 2 - members.var(axis=0), 0.0))
            draws = draws + rng.standard_normal(draws.shape) * extra
        return draws
    if std is None:
        raise ValueError("Thompson sampling needs an ensemble's members or a std")
    return mean + rng.standard_normal((n_draws, len(mean))) * np.asarray(std, dtype=np.float64)
