"""Optuna meets the surrogate: pre-screen what a study evaluates next with ``study.enqueue_trial``.

An Optuna study keeps its own sampler (TPE, random …); :class:`OptunaPreScreener` reads the
study's finished trials into a :class:`~archscore.search.surrogate.Surrogate`, asks it for the most
promising cells and enqueues them as the next trials, so the objective function evaluates those
first. As a study callback (:meth:`OptunaPreScreener.callback`) it does this whenever the queue runs
dry, optionally leaving some trials in between to the study's own sampler.

A trial's cell is read from its ``archscore_cell`` user attribute (set by :func:`suggest_cell` and
by every enqueued trial), else from its parameters through ``cell_of``. For NB201 the parameters
are one categorical choice per edge (:func:`nb201_params`); for other spaces give ``params_of`` and
``cell_of`` (or suggest a single ``"cell"`` parameter over a finite candidate list).

Optuna is an optional dependency (``pip install "archscore[train]"``); this module imports it lazily.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from archscore.search.surrogate import SearchConfigError, Surrogate

log = logging.getLogger(__name__)

CELL_ATTR = "archscore_cell"
SOURCE_ATTR = "archscore_source"


def _optuna():
    try:
        import optuna
    except ImportError as err:
        raise ImportError('the Optuna adapter needs Optuna: pip install "archscore[train]"') from err
    return optuna


def nb201_params(cell: str) -> dict[str, str]:
    """An NB201 cell as Optuna parameters: one op per edge, named ``edge_<from>_<to>``."""
    from archscore.spaces.nb201 import EDGES, edge_ops

    return {f"edge_{i}_{j}": op for (i, j), op in zip(EDGES, edge_ops(cell))}


def nb201_cell(params: dict[str, Any]) -> str:
    """The NB201 cell of parameters written by :func:`nb201_params` (or suggested by :func:`suggest_cell`)."""
    from archscore.spaces.nb201 import EDGES, arch_string

    try:
        return arch_string([params[f"edge_{i}_{j}"] for i, j in EDGES])
    except KeyError as err:
        raise SearchConfigError(f"the trial has no parameter {err.args[0]!r}: not an NB201 trial") from None


def suggest_cell(trial, space: str = "nb201", candidates: list[str] | None = None) -> str:
    """Suggest a cell in an Optuna objective, and record it on the trial.

    For ``"nb201"`` one categorical parameter per edge; for any space with a finite ``candidates``
    list, one categorical ``"cell"`` parameter over it.
    """
    if candidates is not None:
        cell = trial.suggest_categorical("cell", candidates)
    elif space == "nb201":
        from archscore.spaces.nb201 import EDGES, OPS, arch_string

        cell = arch_string([trial.suggest_categorical(f"edge_{i}_{j}", OPS) for i, j in EDGES])
    else:
        raise SearchConfigError(
            f"suggest_cell knows the parameters of nb201 only; for {space!r} give a candidates list, "
            "or suggest your own parameters and pass params_of/cell_of to OptunaPreScreener"
        )
    trial.set_user_attr(CELL_ATTR, cell)
    return cell


class OptunaPreScreener:
    """Feeds a study's results to a surrogate and enqueues the surrogate's proposals as trials.

    Args:
        surrogate: The surrogate; its objectives and directions must match the study's.
        params_of: Cell → the trial parameters the objective suggests (default: NB201's edges, or
            ``{"cell": cell}`` for other spaces).
        cell_of: Trial parameters → cell, for trials without the ``archscore_cell`` user attribute.
    """

    def __init__(
        self,
        surrogate: Surrogate,
        params_of: Callable[[str], dict[str, Any]] | None = None,
        cell_of: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self.surrogate = surrogate
        nb201 = surrogate.space.name == "nb201"
        self.params_of = params_of or (nb201_params if nb201 else (lambda cell: {"cell": cell}))
        self.cell_of = cell_of or (nb201_cell if nb201 else (lambda params: params["cell"]))
        self._told: set[int] = set()
        self._since_enqueue = 0

    def check(self, study) -> None:
        """The study optimises what the surrogate does, in the same directions; SearchConfigError otherwise."""
        optuna = _optuna()
        maximize = [d == optuna.study.StudyDirection.MAXIMIZE for d in study.directions]
        if len(maximize) != len(self.surrogate.objectives) or tuple(maximize) != self.surrogate.maximize:
            raise SearchConfigError(
                f"the study optimises {len(maximize)} objective(s) in directions "
                f"{['maximize' if m else 'minimize' for m in maximize]}, the surrogate "
                f"{list(self.surrogate.objectives)} with maximize={list(self.surrogate.maximize)}"
            )

    def sync(self, study) -> int:
        """Tell the surrogate every finished trial it has not seen; the number told."""
        optuna = _optuna()
        self.check(study)
        cells, values = [], []
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if t.number in self._told:
                continue
            self._told.add(t.number)
            cell = t.user_attrs.get(CELL_ATTR) or self.cell_of(t.params)
            cells.append(cell)
            values.append(t.values if len(self.surrogate.objectives) > 1 else t.value)
        if cells:
            self.surrogate.tell(cells, values)
        return len(cells)

    def enqueue(self, study, n: int) -> list[str]:
        """Sync, then enqueue the surrogate's next ``n`` cells as trials; the cells enqueued."""
        self.sync(study)
        cells = self.surrogate.ask(n)
        for cell in cells:
            study.enqueue_trial(self.params_of(cell), user_attrs={CELL_ATTR: cell, SOURCE_ATTR: "surrogate"})
        log.info("archscore.search: enqueued %d surrogate proposals", len(cells))
        return cells

    def callback(self, n: int = 10, n_startup: int = 10, sampler_trials: int = 0):
        """A study callback: after ``n_startup`` finished trials, enqueue ``n`` proposals whenever the
        queue is empty and ``sampler_trials`` trials of the study's own sampler ran since the last batch."""
        if n < 1:
            raise SearchConfigError(f"the callback needs n ≥ 1 proposals per batch, got {n}")
        optuna = _optuna()

        def enqueue_when_empty(study, trial) -> None:
            if trial.user_attrs.get(SOURCE_ATTR) != "surrogate":
                self._since_enqueue += 1
            if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) < n_startup:
                return
            if study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
                return
            if self._since_enqueue < sampler_trials and self.surrogate.n_told >= n_startup:
                return
            self._since_enqueue = 0
            self.enqueue(study, n)

        return enqueue_when_empty
