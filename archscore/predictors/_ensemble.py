"""What every archscore ensemble shares: mean and std from its members, and an honest noise term.

An ensemble's spread is its own (epistemic) uncertainty; on its own it is overconfident, because
members trained on overlapping data agree where they are all wrong. Each ensemble therefore adds
a noise term the members cannot see, ``std² = var(members) + σ²``, with σ calibrated on rows a
member did not train on (out-of-bag rows): the smallest σ for which 90 % of those residuals fall
inside ``±1.645·std``. The 90 % interval then holds about 90 % of held-out truths.
"""

from __future__ import annotations

import numpy as np

from archscore.metrics import Z90  # one definition: half-width of a central 90 % interval, in stds


class EnsembleMixin:
    """``predict(X, return_std=False)`` from ``predict_members(X)`` and a fitted ``noise_std_``."""

    def predict_members(self, X) -> np.ndarray:  # pragma: no cover - every ensemble defines it
        raise NotImplementedError

    def predict(self, X, return_std: bool = False):
        """The ensemble mean, and with ``return_std=True`` also ``sqrt(var(members) + noise_std_²)``."""
        members = self.predict_members(X)
        mean = members.mean(axis=0)
        if not return_std:
            return mean
        return mean, np.sqrt(members.var(axis=0) + self.noise_std_**2)


class OutOfBag:
    """Running out-of-bag sums: per row, how many members predicted it unseen, their sum and sum of squares."""

    def __init__(self, n: int) -> None:
        self.sums = np.zeros((3, n))

    def add(self, rows: np.ndarray, predictions: np.ndarray) -> None:
        """Record ``predictions`` for ``rows`` made by a member that did not train on them."""
        p = np.asarray(predictions, dtype=np.float64)
        np.add.at(self.sums, (slice(None), rows), np.stack([np.ones_like(p), p, p**2]))

    def noise_std(self, y: np.ndarray) -> float:
        """The smallest σ with 90 % of out-of-bag residuals inside ``±Z90·sqrt(spread² + σ²)``; 0 without OOB rows."""
        count, total, squares = self.sums
        seen = count > 0
        if seen.sum() < 2:
            return 0.0  # e.g. one member without bootstrap: nothing is out of bag
        mean = total[seen] / count[seen]
        spread2 = np.maximum(squares[seen] / count[seen] - mean**2, 0.0)
        return calibrated_noise(np.asarray(y, dtype=np.float64)[seen], mean, spread2)


def calibrated_noise(y: np.ndarray, mean: np.ndarray, spread2: np.ndarray) -> float:
    """The smallest σ with 90 % of residuals ``y − mean`` inside ``±Z90·sqrt(spread2 + σ²)`` (held-out rows)."""
    need = (y - mean) ** 2 / Z90**2 - spread2  # σ² each row needs
    return float(np.sqrt(max(np.quantile(need, 0.9), 0.0)))


def bootstrap_rows(rng: np.random.Generator, n: int, bootstrap: bool) -> tuple[np.ndarray, np.ndarray]:
    """A member's training rows (a bootstrap sample, or all rows) and the rows it leaves out."""
    rows = rng.integers(0, n, n) if bootstrap and n > 1 else np.arange(n)
    return rows, np.setdiff1d(np.arange(n), rows)
