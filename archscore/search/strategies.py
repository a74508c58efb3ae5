"""Search strategies: how a :class:`~archscore.search.surrogate.Surrogate` chooses the next cells.

* :class:`RandomSearch` — the baseline: new cells uniformly at random.
* :class:`RegularizedEvolution` — aging evolution (Real et al. 2019): a tournament among the
  ``population`` most recent results picks a parent, a mutation of it is the child. With
  ``prescreen=k`` each child is the best of ``k`` mutations by the surrogate's prediction, so the
  predictor spends no evaluation on mutants it already expects to be poor.
* :class:`BayesOpt` — BANANAS-style Bayesian optimisation: the ensemble's mean and std (or its
  members) score a candidate pool drawn by mutating the best cells so far and by random sampling,
  and an acquisition (EI, UCB, Thompson, or the mean alone) picks the batch.

With several objectives each proposal draws random weights and ranks candidates by the augmented
Chebyshev scalarisation of the objectives normalised to the range seen so far (ParEGO); EI and UCB
score each objective optimistically (mean + ``beta``·std) before scalarising.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from archscore.errors import UnknownNameError
from archscore.search.acquisition import ACQUISITIONS, expected_improvement, thompson_samples, upper_confidence_bound
from archscore.search.pareto import pareto_ranks

if TYPE_CHECKING:
    from archscore.search.surrogate import Prediction, Surrogate

CHEBYSHEV_RHO = 0.05


class Strategy(ABC):
    """Proposes cells for a surrogate; ``needs_model`` says whether it reads the predictor."""

    name: ClassVar[str]
    needs_model: bool = False
    acquisition: str | None = None

    @abstractmethod
    def propose(self, s: Surrogate, n: int) -> list[str]:
        """Up to ``n`` distinct new cells (``s.is_new``)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _check_acquisition(acquisition: str) -> str:
    if acquisition not in ACQUISITIONS:
        raise UnknownNameError(f"unknown acquisition {acquisition!r}; choose one of {', '.join(ACQUISITIONS)}")
    return acquisition


def _weights(s: Surrogate) -> np.ndarray:
    m = len(s.objectives)
    return np.ones(1) if m == 1 else s.np_rng.dirichlet(np.ones(m))


def _scalarise(s: Surrogate, values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Augmented Chebyshev of oriented ``values`` (objectives × points), normalised to the told range."""
    if len(values) == 1:
        return values[0]
    told = s.oriented
    lo, hi = told.min(axis=0), told.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    z = (values - lo[:, None]) / span[:, None]
    wz = w[:, None] * z
    return wz.min(axis=0) + CHEBYSHEV_RHO * wz.sum(axis=0)


def _fitness(s: Surrogate) -> np.ndarray:
    """One number per told cell, larger better: the value (one objective) or minus the Pareto rank."""
    Y = s.oriented
    if Y.shape[1] == 1:
        return Y[:, 0]
    return -pareto_ranks(Y).astype(np.float64) + 1e-9 * _scalarise(s, Y.T, np.full(Y.shape[1], 1 / Y.shape[1]))


def _acquire(s: Surrogate, pred: Prediction, acquisition: str, beta: float, n: int) -> list[int]:
    """Indices of the ``n`` candidates the acquisition prefers (each slot its own draw or weights)."""
    N = pred.mean.shape[1]
    m = pred.mean.shape[0]
    n = min(n, N)
    if m == 1 and acquisition != "thompson":
        if acquisition == "mean":
            score = pred.mean[0]
        elif acquisition == "ucb":
            score = upper_confidence_bound(pred.mean[0], pred.std[0], beta)
        else:
            score = expected_improvement(pred.mean[0], pred.std[0], float(s.oriented[:, 0].max()))
        return [int(i) for i in np.argsort(-score, kind="stable")[:n]]
    if acquisition == "thompson":
        draws = [
            thompson_samples(
                s.np_rng, n, pred.mean[j], None if pred.std is None else pred.std[j],
                None if pred.members is None else pred.members[j],
            )
            for j in range(m)
        ]  # fmt: skip
    taken = np.zeros(N, dtype=bool)
    chosen: list[int] = []
    for slot in range(n):
        if acquisition == "thompson":
            values = np.vstack([d[slot] for d in draws])
        elif acquisition == "mean":
            values = pred.mean
        else:
            values = pred.mean + beta * pred.std
        score = _scalarise(s, values, _weights(s))
        score = np.where(taken, -np.inf, score)
        i = int(np.argmax(score))
        taken[i] = True
        chosen.append(i)
    return chosen


class RandomSearch(Strategy):
    """New cells uniformly at random: the baseline every other strategy must beat."""

    name = "random"

    def propose(self, s: Surrogate, n: int) -> list[str]:
        return s.random_cells(n)


class RegularizedEvolution(Strategy):
    """Aging evolution; with ``prescreen ≥ 2`` each child is the predicted best of that many mutants.

    Args:
        population: How many of the most recent results compete in tournaments.
        sample: Tournament size.
        prescreen: Mutants generated per child and screened by the surrogate (0 or 1: plain evolution).
        acquisition: How the screen ranks mutants (``"mean"`` by default).
        n_initial: Random (or prior-designed) cells before evolution starts (default: ``population``).
        beta: UCB's weight of the std.
    """

    name = "evolution"

    def __init__(
        self,
        population: int = 20,
        sample: int = 5,
        prescreen: int = 0,
        acquisition: str = "mean",
        n_initial: int | None = None,
        beta: float = 1.0,
    ) -> None:
        if population < 2 or sample < 1:
            raise ValueError(f"evolution needs population ≥ 2 and sample ≥ 1, got {population} and {sample}")
        self.population = population
        self.sample = sample
        self.prescreen = prescreen
        self.acquisition = _check_acquisition(acquisition) if prescreen > 1 else None
        self.n_initial = population if n_initial is None else n_initial
        self.beta = beta
        self.needs_model = prescreen > 1

    def propose(self, s: Surrogate, n: int) -> list[str]:
        if s.n_told < self.n_initial:
            return s.initial_design(n)
        rng = s.rng
        recent = list(range(s.n_told))[-self.population :]
        fitness = _fitness(s)
        cells = s.cells
        chosen: list[str] = []
        for _ in range(8 * n):
            if len(chosen) >= n:
                break
            contenders = rng.sample(recent, min(self.sample, len(recent)))
            parent = cells[max(contenders, key=lambda i: fitness[i])]
            kids = [k for k in s.neighbours(parent, max(1, self.prescreen), rng) if k not in chosen]
            if not kids:
                continue
            if self.needs_model and s.fitted and len(kids) > 1:
                pred = s.predict_oriented(kids, std=self.acquisition != "mean", members=self.acquisition == "thompson")
                kids = [kids[_acquire(s, pred, self.acquisition, self.beta, 1)[0]]]
            chosen.append(kids[0])
        if len(chosen) < n:  # every neighbour of the population is taken: explore elsewhere
            chosen += [c for c in s.random_cells(n - len(chosen)) if c not in chosen]
        return chosen


class BayesOpt(Strategy):
    """Bayesian optimisation over a candidate pool, as BANANAS does.

    Args:
        acquisition: ``"ei"``, ``"ucb"``, ``"thompson"`` or ``"mean"``.
        n_initial: Cells of the initial design (random, or the prior's best) before the model leads.
        pool_size: Candidates scored per ask.
        n_parents: How many of the best cells so far are mutated into the pool.
        random_share: Share of the pool drawn at random instead (exploration beyond the incumbents).
        max_edits: Mutations are 1 to ``max_edits`` edits away from their parent.
        pool: ``"mutations"`` (the above) or ``"all"``: every remaining candidate of a confined
            search (cheap when the features are precomputed).
        beta: UCB's weight of the std.
    """

    name = "bo"
    needs_model = True

    def __init__(
        self,
        acquisition: str = "ei",
        n_initial: int = 10,
        pool_size: int = 200,
        n_parents: int = 10,
        random_share: float = 0.1,
        max_edits: int = 1,
        pool: str = "mutations",
        beta: float = 1.0,
    ) -> None:
        if pool not in ("mutations", "all"):
            raise ValueError(f"pool must be 'mutations' or 'all', got {pool!r}")
        if n_initial < 2:
            raise ValueError(f"n_initial must be at least 2 (a model needs data), got {n_initial}")
        self.acquisition = _check_acquisition(acquisition)
        self.n_initial = n_initial
        self.pool_size = pool_size
        self.n_parents = n_parents
        self.random_share = random_share
        self.max_edits = max_edits
        self.pool = pool
        self.beta = beta

    def candidate_pool(self, s: Surrogate) -> list[str]:
        if self.pool == "all" and s.candidates is not None:
            return [c for c in s.candidates if s.is_new(c)]
        fitness = _fitness(s)
        parents = [s.cells[i] for i in np.argsort(-fitness, kind="stable")[: self.n_parents]]
        n_mut = round(self.pool_size * (1 - self.random_share))
        per = max(1, math.ceil(n_mut / max(1, len(parents))))
        pool: dict[str, None] = {}
        for p in parents:
            pool.update(dict.fromkeys(s.neighbours(p, per, s.rng, self.max_edits)))
        pool.update(dict.fromkeys(s.random_cells(max(1, self.pool_size - len(pool)))))
        return list(pool)

    def propose(self, s: Surrogate, n: int) -> list[str]:
        if s.n_told < self.n_initial:
            return s.initial_design(n)
        if not s.fitted:
            return s.random_cells(n)
        pool = self.candidate_pool(s)
        if not pool:
            return []
        acq = self.acquisition
        pred = s.predict_oriented(pool, std=acq in ("ei", "ucb", "thompson"), members=acq == "thompson")
        return [pool[i] for i in _acquire(s, pred, acq, self.beta, n)]


STRATEGIES: dict[str, tuple[type[Strategy], dict]] = {
    "random": (RandomSearch, {}),
    "evolution": (RegularizedEvolution, {}),
    "evolution+surrogate": (RegularizedEvolution, {"prescreen": 10}),
    "bo-ei": (BayesOpt, {"acquisition": "ei"}),
    "bo-ucb": (BayesOpt, {"acquisition": "ucb"}),
    "bo-ts": (BayesOpt, {"acquisition": "thompson"}),
    "bo-mean": (BayesOpt, {"acquisition": "mean"}),
}
"""Strategy names → class and its settings (``make_strategy(name, **overrides)``)."""


def make_strategy(name: str, **options) -> Strategy:
    """A strategy by name (see :data:`STRATEGIES`), with ``options`` overriding its settings."""
    try:
        cls, defaults = STRATEGIES[name]
    except KeyError:
        raise UnknownNameError(f"unknown search strategy {name!r}; choose one of {', '.join(STRATEGIES)}") from None
    return cls(**{**defaults, **options})
