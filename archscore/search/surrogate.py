"""The surrogate: a predictor over a search space that proposes what to evaluate next.

``Surrogate(space, predictor, strategy=...)`` is the ask/tell object every search in archscore goes
through: ``ask(n)`` proposes the next ``n`` cells to evaluate, ``tell(cells, values)`` adds their
measured values and refits the predictor once for the batch. It works over any search space
(cells are canonical strings; features are computed per cell through the graph encoders) and any
predictor with scikit-learn's ``fit``/``predict`` (an ensemble's ``predict(X, return_std=True)``
and ``predict_members(X)`` unlock the acquisitions that need uncertainty).

Several objectives (e.g. accuracy and parameters) are searched with one predictor per objective
and random scalarisations per proposal (ParEGO-style); :meth:`Surrogate.pareto_front` returns the
non-dominated results.

Every configuration problem is raised by the constructor, before anything is evaluated:
:class:`SearchConfigError` (an :class:`~archscore.errors.ArchscoreError` and a ``ValueError``)
names it.
"""

from __future__ import annotations

import inspect
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from archscore.errors import ArchscoreError
from archscore.search.acquisition import NEEDS_STD
from archscore.search.features import CellFeatures
from archscore.search.pareto import non_dominated
from archscore.spaces.base import SearchSpace

log = logging.getLogger(__name__)

Prior = Callable[[list[str]], np.ndarray]
"""A zero-shot score of cells (higher is better for the first objective), e.g. a ScoringModel's."""


class SearchConfigError(ArchscoreError, ValueError):
    """A search that cannot run as configured (budget, objective, predictor, acquisition …)."""


def default_predictor(seed: int | None = 0):
    """An ensemble of 5 LightGBM boosters: fits ≤ 200 rows in well under a second, gives mean, std and members."""
    from archscore.predictors import GBDTRegressor

    return GBDTRegressor(n_members=5, n_estimators=200, random_state=seed)


def predictor_has_std(predictor: object) -> bool:
    """The predictor's ``predict`` takes ``return_std`` (archscore's ensembles, scikit-learn's GPs …)."""
    predict = getattr(predictor, "predict", None)
    if predict is None:
        return False
    try:
        return "return_std" in inspect.signature(predict).parameters
    except (TypeError, ValueError):
        return False


def predictor_has_members(predictor: object) -> bool:
    """The predictor is an ensemble whose members can be asked one by one (``predict_members``)."""
    return callable(getattr(predictor, "predict_members", None))


@dataclass
class Prediction:
    """The surrogate's belief about candidates, every objective oriented to be maximised.

    ``mean`` and ``std`` have shape ``(n_objectives, n_candidates)``; ``members`` (ensembles only,
    when asked for) is one ``(n_members, n_candidates)`` array per objective.
    """

    mean: np.ndarray
    std: np.ndarray | None = None
    members: list[np.ndarray] | None = None


@dataclass
class Step:
    """One ask: how many cells it proposed, the seconds it took to propose them, and the seconds of
    the refit(s) since the previous ask (the refit after ``tell``): a search step costs both."""

    n: int
    seconds: float
    fit_seconds: float = 0.0


@dataclass
class _History:
    cells: list[str] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)


class Surrogate:
    """Ask/tell architecture search with a learned predictor.

    Args:
        space: A search space (or its name, see :func:`archscore.spaces.get`).
        predictor: Any scikit-learn regressor; cloned once per objective and refitted after each
            ``tell``. Default: :func:`default_predictor`.
        strategy: A :class:`~archscore.search.strategies.Strategy` or its name: ``"random"``,
            ``"evolution"``, ``"evolution+surrogate"``, ``"bo-ei"``, ``"bo-ucb"``, ``"bo-ts"``,
            ``"bo-mean"`` (see :data:`~archscore.search.strategies.STRATEGIES`).
        objectives: Names of the measured values (one per column of ``tell``'s values).
        maximize: Per objective (or one for all): is larger better.
        features: How cells become feature rows (default: :class:`CellFeatures` with stats + WL
            over the space's graphs).
        encoder: The encoder of the default ``features`` (ignored when ``features`` is given).
        dataset: The space's input setting the graphs are built for.
        candidates: A finite set of cells the search is confined to (e.g. a benchmark table's);
            default: the whole space.
        prior: A zero-shot score of cells (higher is better on the first objective). It becomes an
            extra feature, and the strategies' initial design takes its best-scored cells.
        seed: Seed of every random choice (and of the predictor's refits).
    """

    def __init__(
        self,
        space: str | SearchSpace,
        predictor: object | None = None,
        *,
        strategy: object = "bo-ei",
        objectives: Sequence[str] = ("value",),
        maximize: bool | Sequence[bool] = True,
        features: CellFeatures | None = None,
        encoder: object | None = None,
        dataset: str | None = None,
        candidates: Sequence[str] | None = None,
        prior: Prior | None = None,
        seed: int = 0,
    ) -> None:
        from archscore.search.strategies import Strategy, make_strategy

        if isinstance(space, str):
            from archscore.spaces import get

            space = get(space)
        self.space = space
        self.objectives = tuple(objectives)
        if not self.objectives or len(set(self.objectives)) != len(self.objectives):
            raise SearchConfigError(f"objectives must be distinct names, at least one; got {list(objectives)}")
        if isinstance(maximize, (bool, np.bool_)):
            maximize = [bool(maximize)] * len(self.objectives)
        if len(maximize) != len(self.objectives):
            raise SearchConfigError(
                f"maximize has {len(maximize)} entries for {len(self.objectives)} objectives ({', '.join(objectives)})"
            )
        self.maximize = tuple(bool(m) for m in maximize)
        self._sign = np.where(self.maximize, 1.0, -1.0)
        self.strategy = strategy if isinstance(strategy, Strategy) else make_strategy(str(strategy))
        self.predictor = predictor if predictor is not None else default_predictor(seed)
        self._check_predictor()
        self.seed = seed
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.features = features if features is not None else CellFeatures(space, encoder, dataset, seed=seed)
        self.candidates: list[str] | None = None
        self._candidate_set: set[str] | None = None
        if candidates is not None:
            self.candidates = list(dict.fromkeys(space.canonical(c) for c in candidates))
            if not self.candidates:
                raise SearchConfigError("candidates is empty: there is nothing to search")
            self._candidate_set = set(self.candidates)
        self.prior = prior
        self._history = _History()
        self._seen: set[str] = set()
        self._pending: set[str] = set()
        self._models: list[object] | None = None
        self._fits = 0
        self.steps: list[Step] = []
        self._fit_seconds = 0.0  # refits not yet counted in a step: the next ask's

    # -- configuration checks --------------------------------------------------------------------
    def _check_predictor(self) -> None:
        p = self.predictor
        if not callable(getattr(p, "fit", None)) or not callable(getattr(p, "predict", None)):
            raise SearchConfigError(f"the predictor must have fit() and predict(); {type(p).__name__} has not")
        acq = getattr(self.strategy, "acquisition", None)
        if not self.strategy.needs_model or acq is None:
            return
        name = type(p).__name__
        if acq in NEEDS_STD and not predictor_has_std(p):
            raise SearchConfigError(
                f"acquisition {acq!r} needs the predictor's uncertainty, but {name}.predict has no return_std; "
                "use an ensemble (GBDTRegressor, MLPEnsembleRegressor, ClusterEnsembleRegressor) or the 'mean' "
                "acquisition"
            )
        if acq == "thompson" and not (predictor_has_members(p) or predictor_has_std(p)):
            raise SearchConfigError(
                f"acquisition 'thompson' needs an ensemble's members (predict_members) or a std (return_std); "
                f"{name} has neither"
            )

    # -- what has been seen ------------------------------------------------------------------------
    @property
    def n_told(self) -> int:
        return len(self._history.cells)

    @property
    def cells(self) -> list[str]:
        """Every told cell, in the order told."""
        return list(self._history.cells)

    @property
    def values(self) -> np.ndarray:
        """Told values, shape ``(n_told, n_objectives)``, as given."""
        if not self._history.values:
            return np.zeros((0, len(self.objectives)))
        return np.vstack(self._history.values)

    @property
    def oriented(self) -> np.ndarray:
        """Told values with every objective turned to be maximised."""
        return self.values * self._sign

    def is_new(self, cell: str) -> bool:
        """Neither told nor pending, and inside the candidates (when the search is confined)."""
        if cell in self._seen or cell in self._pending:
            return False
        return self._candidate_set is None or cell in self._candidate_set

    def best(self, objective: int | str = 0) -> tuple[str, float]:
        """The best told cell on one objective and its value."""
        if not self.n_told:
            raise ArchscoreError("no results yet: tell() some before asking for the best")
        j = self.objectives.index(objective) if isinstance(objective, str) else objective
        i = int(np.argmax(self.oriented[:, j]))
        return self._history.cells[i], float(self.values[i, j])

    def pareto_front(self) -> list[tuple[str, tuple[float, ...]]]:
        """The told cells no other told cell beats on every objective, with their values, best first objective first."""
        if not self.n_told:
            return []
        idx = non_dominated(self.oriented)
        idx = idx[np.argsort(-self.oriented[idx, 0], kind="stable")]
        return [(self._history.cells[i], tuple(float(v) for v in self.values[i])) for i in idx]

    # -- ask / tell ------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[str]:
        """The next ``n`` distinct cells to evaluate (fewer only when the candidates run out).

        Proposed cells stay pending (never proposed again) until they are told.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise SearchConfigError(f"ask(n) needs n ≥ 1 cells to propose, got {n!r}")
        t0 = time.perf_counter()
        if self.strategy.needs_model and self._models is None and self.n_told >= 2:
            self.refit()
        fit, self._fit_seconds = self._fit_seconds, 0.0
        cells = self.strategy.propose(self, int(n))
        cells = list(dict.fromkeys(cells))[: int(n)]
        self._pending.update(cells)
        self.steps.append(Step(len(cells), time.perf_counter() - t0, fit))
        return cells

    def tell(self, cells: Sequence[str] | str, values) -> None:
        """Add measured ``values`` of ``cells`` (one value per cell, or one row per cell with several
        objectives) and refit the predictor on everything told so far."""
        if isinstance(cells, str):
            cells = [cells]
        cells = [self.space.canonical(c) for c in cells]
        Y = np.asarray(values, dtype=np.float64)
        m = len(self.objectives)
        if Y.ndim == 0:
            Y = Y.reshape(1, 1)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1) if m == 1 else Y.reshape(1, -1)
        if Y.shape != (len(cells), m):
            raise SearchConfigError(
                f"tell() got {len(cells)} cells and values of shape {np.shape(values)}; expected {len(cells)} "
                f"value(s) per objective ({', '.join(self.objectives)})"
            )
        bad = [c for c, row in zip(cells, Y) if not np.isfinite(row).all()]
        if bad:
            raise SearchConfigError(f"tell(): values of {len(bad)} cell(s) are not finite numbers, e.g. {bad[0]!r}")
        for c, row in zip(cells, Y):
            self._history.cells.append(c)
            self._history.values.append(row)
            self._seen.add(c)
            self._pending.discard(c)
        if self.strategy.needs_model and self.n_told >= 2:
            self.refit()

    # -- the model -------------------------------------------------------------------------------
    def _X(self, cells: list[str]) -> np.ndarray:
        X = self.features.transform(cells)
        if self.prior is not None:
            X = np.hstack([X, np.asarray(self.prior(cells), dtype=np.float32).reshape(-1, 1)])
        return X

    def refit(self) -> None:
        """Fit one clone of the predictor per objective on everything told so far."""
        from sklearn.base import clone

        t0 = time.perf_counter()
        X = self._X(self._history.cells)
        Y = self.oriented
        models = []
        for j in range(len(self.objectives)):
            model = clone(self.predictor)
            if "random_state" in model.get_params():
                model.set_params(random_state=self.seed * 100_003 + self._fits)
            models.append(model.fit(X, Y[:, j]))
        self._fits += 1
        self._models = models
        self._fit_seconds += time.perf_counter() - t0

    @property
    def fitted(self) -> bool:
        return self._models is not None

    def predict_oriented(self, cells: Sequence[str], std: bool = True, members: bool = False) -> Prediction:
        """The fitted predictor's belief about ``cells``, every objective oriented to be maximised."""
        if self._models is None:
            raise ArchscoreError("the surrogate has no model yet: tell() at least two results first")
        X = self._X(list(cells))
        means, stds, mems = [], [], []
        for model in self._models:
            if (members or std) and predictor_has_members(model) and hasattr(model, "noise_std_"):
                M = np.asarray(model.predict_members(X), dtype=np.float64)
                means.append(M.mean(axis=0))
                stds.append(np.sqrt(M.var(axis=0) + float(model.noise_std_) ** 2))
                mems.append(M)
            elif std and predictor_has_std(model):
                mu, sd = model.predict(X, return_std=True)
                means.append(np.asarray(mu, dtype=np.float64))
                stds.append(np.asarray(sd, dtype=np.float64))
            else:
                means.append(np.asarray(model.predict(X), dtype=np.float64))
        return Prediction(
            np.vstack(means),
            np.vstack(stds) if len(stds) == len(means) and std else None,
            mems if members and len(mems) == len(means) else None,
        )

    def predict(self, cells: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted values of ``cells`` as the user measures them: ``(mean, std)``, each
        ``(n_cells,)`` for one objective or ``(n_cells, n_objectives)`` for several (std ``None``
        when the predictor gives none)."""
        cells = [self.space.canonical(c) for c in cells]
        p = self.predict_oriented(cells, std=predictor_has_std(self.predictor))
        mean = (p.mean * self._sign[:, None]).T
        std = None if p.std is None else p.std.T
        if len(self.objectives) == 1:
            return mean[:, 0], None if std is None else std[:, 0]
        return mean, std

    # -- candidates, for the strategies ----------------------------------------------------------
    def random_cells(self, n: int, rng: random.Random | None = None) -> list[str]:
        """Up to ``n`` new cells drawn at random (from the candidates, when the search is confined)."""
        rng = rng or self.rng
        out: dict[str, None] = {}
        tries = 0
        while len(out) < n and tries < 50 * n + 200:
            tries += 1
            c = rng.choice(self.candidates) if self.candidates is not None else self.space.random_cell(rng)
            if self.is_new(c):
                out.setdefault(c)
        if len(out) < n and self.candidates is not None:  # nearly exhausted: take what is left
            rest = [c for c in self.candidates if self.is_new(c) and c not in out]
            rng.shuffle(rest)
            out.update(dict.fromkeys(rest[: n - len(out)]))
        return list(out)

    def neighbours(self, cell: str, k: int, rng: random.Random | None = None, max_edits: int = 1) -> list[str]:
        """Up to ``k`` new cells one to ``max_edits`` mutations away from ``cell``."""
        rng = rng or self.rng
        out: dict[str, None] = {}
        for _ in range(8 * k + 8):
            if len(out) >= k:
                break
            c = cell
            for _ in range(rng.randint(1, max_edits)):
                c = self.space.mutate(c, rng)
            if self.is_new(c):
                out.setdefault(c)
        return list(out)

    def initial_design(self, n: int) -> list[str]:
        """The first cells of a search: the prior's best-scored (when there is a prior), else random ones."""
        if self.prior is None:
            return self.random_cells(n)
        if self.candidates is not None:
            pool = [c for c in self.candidates if self.is_new(c)]
        else:
            pool = self.random_cells(max(50 * n, 1000))
        if not pool:
            return []
        scores = np.asarray(self.prior(pool), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        return [pool[i] for i in order[:n]]

    def step_seconds(self) -> np.ndarray:
        """Seconds per search step: each ask's proposal plus the refit that preceded it."""
        return np.asarray([s.seconds + s.fit_seconds for s in self.steps])
