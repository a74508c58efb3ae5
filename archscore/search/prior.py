"""A zero-shot prior for a search: archscore's scoring model, trained without the searched space.

The shipped default model saw NB201's labels, so using it to warm-start a search *on* NB201 would
be using the answer. :func:`zero_shot_prior` trains a fresh :class:`~archscore.models.ScoringModel`
on every bundled zero-shot task except those of the excluded spaces, and scores the search's
candidates against their own batch (``reference="batch"``): how good each cell looks relative to
the other cells of its space, without any label of that space.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


class ScorePrior:
    """A prior given as a score per cell (cells it has no score for get the lowest one)."""

    def __init__(self, cells: Sequence[str], scores: np.ndarray) -> None:
        scores = np.asarray(scores, dtype=np.float64)
        if len(cells) != len(scores):
            raise ValueError(f"{len(cells)} cells but {len(scores)} scores")
        self._score = dict(zip(cells, scores.tolist()))
        self._floor = float(scores.min()) if len(scores) else 0.0

    def __call__(self, cells: Sequence[str]) -> np.ndarray:
        return np.asarray([self._score.get(c, self._floor) for c in cells], dtype=np.float64)


def zero_shot_model(exclude_spaces: Sequence[str], max_rows: int = 1000, seed: int = 0):
    """A ScoringModel fitted on the bundled zero-shot tasks of every space but ``exclude_spaces``."""
    from archscore.data.tasks import load_task, zero_shot_tasks
    from archscore.models.scoring import ScoringModel

    groups = []
    for task in zero_shot_tasks(max_rows=max_rows):
        if task.space in exclude_spaces:
            continue
        rows = load_task(task, 0.2, seed)[0]
        groups.append(rows)
    log.info("archscore.search: zero-shot prior from %d tasks (%s excluded)", len(groups), ", ".join(exclude_spaces))
    return ScoringModel(seed=seed).fit(groups)


def zero_shot_prior(
    space: str,
    cells: Sequence[str],
    dataset: str | None = None,
    max_rows: int = 1000,
    seed: int = 0,
) -> ScorePrior:
    """The zero-shot score of ``cells`` of ``space`` from a model that never saw ``space``'s labels."""
    from archscore.data.cache import GraphCache

    model = zero_shot_model([space], max_rows=max_rows, seed=seed)
    graphs = GraphCache().graphs(space, list(cells), dataset)
    return ScorePrior(list(cells), model.predict(graphs, reference="batch"))
