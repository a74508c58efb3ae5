"""The evaluation protocols every reported predictor number comes from.

Few-shot, in space (DESIGN.md): train on ``n`` architectures drawn at random from one labelled
table, test on *all the rest*, repeat over seeds, report the mean and std of every metric. The
split is a pure function of (table size, n, seed), so two predictors compared at the same seed
see exactly the same labels, and a test checks that no training row is ever scored.

Encoders may be fitted on every architecture of the space (labels are never shown to them: the
unlabelled architectures of a space are free, as in FBNetV3's and GENNAPE's pretraining); the
predictor sees only the ``n`` labelled rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from archscore.metrics import evaluate

FEW_SHOT_SIZES = (20, 78, 156, 469, 1000)
"""Training-set sizes of the published few-shot NB201 results (78/156/469 are 0.5/1/3 % of 15,625)."""


def few_shot_split(n_total: int, n_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``n_train`` random training rows and of every other row (the test set), both sorted."""
    if not 2 <= n_train <= n_total - 2:
        raise ValueError(f"n_train must leave at least 2 rows on each side: got {n_train} of {n_total}")
    order = np.random.default_rng(seed).permutation(n_total)
    return np.sort(order[:n_train]), np.sort(order[n_train:])


@dataclass(frozen=True)
class FewShotRun:
    """One (n, seed) run of one predictor: its metrics on the held-out rows, and how long it took."""

    n_train: int
    seed: int
    n_test: int
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds: float

    def row(self) -> dict[str, object]:
        flat = asdict(self)
        flat.update(flat.pop("metrics"))
        flat["predictions_per_second"] = self.n_test / self.predict_seconds if self.predict_seconds > 0 else None
        return flat


def few_shot(
    X: np.ndarray,
    y: np.ndarray,
    make_predictor: Callable[[int], object],
    sizes: Sequence[int] = FEW_SHOT_SIZES,
    seeds: Sequence[int] = range(5),
) -> list[FewShotRun]:
    """Run the few-shot protocol for one predictor on one feature matrix and target.

    Args:
        X: Features of every architecture of the table (row i is architecture i).
        y: Its target; rows with a missing (nan) target are left out before splitting.
        make_predictor: ``seed -> unfitted predictor`` (a fresh one per run, seeded by the run).
        sizes, seeds: Training-set sizes and seeds; a size that leaves fewer than 2 test rows is skipped.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    known = np.flatnonzero(~np.isnan(y))
    X, y = X[known], y[known]
    runs = []
    for n in sizes:
        if n > len(y) - 2:
            continue
        for seed in seeds:
            train, test = few_shot_split(len(y), n, seed)
            model = make_predictor(seed)
            t0 = time.perf_counter()
            model.fit(X[train], y[train])  # type: ignore[attr-defined]
            t1 = time.perf_counter()
            mean, std = model.predict(X[test], return_std=True)  # type: ignore[attr-defined]
            t2 = time.perf_counter()
            runs.append(FewShotRun(n, seed, len(test), evaluate(y[test], mean, std), t1 - t0, t2 - t1))
    return runs


def summarise(runs: Sequence[FewShotRun]) -> dict[int, dict[str, tuple[float, float]]]:
    """Per training-set size: each metric's mean and std over seeds."""
    out: dict[int, dict[str, tuple[float, float]]] = {}
    for n in sorted({r.n_train for r in runs}):
        group = [r for r in runs if r.n_train == n]
        keys = [*group[0].metrics, "fit_seconds", "predict_seconds"]
        values = {k: [r.metrics[k] if k in r.metrics else getattr(r, k) for r in group] for k in keys}
        out[n] = {k: (float(np.mean(v)), float(np.std(v))) for k, v in values.items()}
    return out
