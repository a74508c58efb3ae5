"""Bundled benchmark tables as the oracle of a search, and the plain search loop.

:class:`TableOracle` answers "what is this cell's measured value" from a bundled table (NB201's
validation accuracy, parameters, latency …): a search on it costs lookups, not training runs, so
strategies can be compared over many seeds. :func:`run_search` is the loop every archscore search
(the benchmark, the CLI, the examples) runs: ask a batch, evaluate it, tell the results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from archscore.errors import UnknownNameError
from archscore.search.surrogate import SearchConfigError, Surrogate
from archscore.spaces.base import SearchSpace

log = logging.getLogger(__name__)

MINIMISED = ("latency", "params", "flops", "macs", "energy", "memory")
"""An objective whose name contains one of these is minimised; every other one is maximised."""


def is_minimised(objective: str) -> bool:
    """Whether a table column is an objective to minimise (latency, size, energy …)."""
    return any(word in objective.lower() for word in MINIMISED)


def _sources_of(space: str, dataset: str | None) -> list[tuple[str, dict[str, str]]]:
    """Bundled labelled tables of ``space``, each with the filters that select its rows (and dataset)."""
    from archscore.data import SOURCES
    from archscore.spaces import get

    out = []
    for name, src in SOURCES.items():
        if src.unlabeled:
            continue
        if src.space == space:
            keys = [{}]
        elif src.space_column is not None:
            keys = [{src.space_column: key} for key, sp in src.spaces.items() if sp == space]
        else:
            continue
        for where in keys:
            if "dataset" in src.groups:  # rows of several datasets: keep the asked one (or the space's first)
                wanted = get(space).dataset(dataset) if dataset is None else dataset
                table_name = {v: k for k, v in src.datasets.items()}.get(wanted, wanted)
                where = {**where, "dataset": table_name}
            out.append((name, where))
    return out


class TableOracle:
    """Measured values of a space's cells from a bundled table.

    Args:
        space: The search space (or its name).
        objectives: Target column(s) of the table, e.g. ``"cifar10_val_acc"`` or
            ``["cifar10_val_acc", "params_M_cifar10"]``. A short name is completed with the
            dataset: ``"val_acc"`` with ``dataset="cifar100"`` is ``"cifar100_val_acc"``.
        dataset: The space's dataset (for short names).
        source: The bundled table (default: the first one of the space that has the objectives).

    Raises:
        SearchConfigError: The space has no bundled table, or no table of it has data for an
            objective; the message lists the objectives there are.
    """

    def __init__(
        self,
        space: str | SearchSpace,
        objectives: str | Sequence[str],
        dataset: str | None = None,
        source: str | None = None,
    ) -> None:
        from archscore import data

        name = space if isinstance(space, str) else space.name
        wanted = [objectives] if isinstance(objectives, str) else list(objectives)
        if not wanted:
            raise SearchConfigError("give at least one objective")
        sources = [(source, {})] if source is not None else _sources_of(name, dataset)
        if not sources:
            raise SearchConfigError(
                f"no bundled table has measured values for the {name} space; a search on it needs your own "
                "evaluation function (see examples/search_own_loop.py)"
            )
        tried: list[str] = []
        for src, where in sources:
            try:
                table = data.load(src, **where)
            except UnknownNameError:  # the table has no rows of this dataset
                continue
            if table.space != name:
                raise SearchConfigError(f"bundled table {src!r} is not of the {name} space")
            columns = [_resolve(c, dataset, table.targets) for c in wanted]
            if all(c is not None for c in columns):
                break
            tried += [t for t in table.targets if t not in tried]
        else:
            if not tried:
                raise SearchConfigError(f"no bundled table of the {name} space has rows on dataset {dataset!r}")
            missing = [c for c in wanted if _resolve(c, dataset, tried) is None]
            raise SearchConfigError(
                f"the {name} space has no data for objective(s) {', '.join(map(repr, missing))}"
                + (f" on dataset {dataset!r}" if dataset else "")
                + f"; objectives with data: {', '.join(tried)}"
            )
        self.source = src
        self.where = where
        self.space = name
        self.objectives: list[str] = [c for c in columns if c is not None]
        Y = np.column_stack([np.asarray(table.columns[c], dtype=np.float64) for c in self.objectives])
        ok = np.isfinite(Y).all(axis=1)
        if not ok.any():
            raise SearchConfigError(f"{src}: objective(s) {', '.join(self.objectives)} have no values")
        assert table.cells is not None
        self.cells: list[str] = [c for c, keep in zip(table.cells, ok) if keep]
        self.Y = Y[ok]
        self._row = {c: i for i, c in enumerate(self.cells)}

    def __call__(self, cells: Sequence[str]) -> np.ndarray:
        """Values of ``cells``: shape ``(n,)`` for one objective, ``(n, n_objectives)`` for several."""
        try:
            rows = [self._row[c] for c in cells]
        except KeyError as err:
            raise UnknownNameError(f"{self.source} has no measured value for cell {err.args[0]!r}") from None
        Y = self.Y[rows]
        return Y[:, 0] if Y.shape[1] == 1 else Y

    def optimum(self, objective: int = 0, maximize: bool = True) -> tuple[list[str], float]:
        """The best value on one objective and every cell that has it."""
        y = self.Y[:, objective]
        best = float(y.max() if maximize else y.min())
        return [c for c, v in zip(self.cells, y) if v == best], best


def _resolve(objective: str, dataset: str | None, targets: Sequence[str]) -> str | None:
    if objective in targets:
        return objective
    for name in (f"{dataset}_{objective}" if dataset else None, f"{objective}_{dataset}" if dataset else None):
        if name in targets:
            return name
    return None


@dataclass
class SearchResult:
    """What a search evaluated, in order, and what it cost.

    Attributes:
        cells: Evaluated cells, in evaluation order.
        values: Their values, ``(n, n_objectives)``.
        best_so_far: Per evaluation, the best first-objective value up to it.
        step_seconds: Per ask, the seconds of the proposal and the refit before it.
        found_at: 1-based number of the evaluation at which ``stop`` was satisfied, if it was.
    """

    cells: list[str]
    values: np.ndarray
    best_so_far: np.ndarray
    step_seconds: list[float] = field(default_factory=list)
    found_at: int | None = None


def check_budget(budget: int, batch_size: int) -> None:
    """A budget and batch size a search can run with; :class:`SearchConfigError` otherwise."""
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise SearchConfigError(f"the budget must be at least 1 evaluation, got {budget!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise SearchConfigError(f"the batch size must be at least 1, got {batch_size!r}")


def run_search(
    surrogate: Surrogate,
    evaluate: Callable[[list[str]], object],
    budget: int,
    batch_size: int = 10,
    stop: Callable[[list[str]], bool] | None = None,
    callback: Callable[[Surrogate, list[str]], None] | None = None,
) -> SearchResult:
    """Ask ``batch_size`` cells, evaluate them, tell the results, until ``budget`` evaluations.

    Args:
        surrogate: The ask/tell object (its strategy decides what is asked).
        evaluate: Cells → values (one per cell, or one row per cell with several objectives).
        budget: Evaluations in all (≥ 1; checked before anything runs).
        batch_size: Cells per ask (the predictor is refitted once per batch).
        stop: Called with each evaluated batch; ``True`` ends the search (e.g. "the optimum is found").
        callback: Called after each tell with the surrogate and the batch.
    """
    check_budget(budget, batch_size)
    found_at = None
    while surrogate.n_told < budget:
        batch = surrogate.ask(min(batch_size, budget - surrogate.n_told))
        if not batch:
            log.info("archscore.search: no new candidates left after %d evaluations", surrogate.n_told)
            break
        values = evaluate(batch)
        surrogate.tell(batch, values)
        if callback is not None:
            callback(surrogate, batch)
        if stop is not None and stop(batch):
            found_at = surrogate.n_told - len(batch) + 1 + _first_hit(batch, stop)
            break
    y = surrogate.oriented[:, 0]
    best = np.maximum.accumulate(y) * surrogate._sign[0]
    return SearchResult(surrogate.cells, surrogate.values, best, [float(t) for t in surrogate.step_seconds()], found_at)


def _first_hit(batch: list[str], stop: Callable[[list[str]], bool]) -> int:
    """Position in ``batch`` of the first cell that alone satisfies ``stop`` (0 if none does alone)."""
    for i, c in enumerate(batch):
        if stop([c]):
            return i
    return 0
