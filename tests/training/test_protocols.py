"""The few-shot protocol: splits that never leak a training row into the test set, and honest summaries."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from archscore.predictors import GBDTRegressor
from archscore.training.protocols import few_shot, few_shot_split, summarise


@pytest.mark.parametrize("n", [2, 78, 469, 998])
def test_a_split_is_disjoint_complete_and_fixed_by_its_seed(n: int) -> None:
    train, test = few_shot_split(1000, n, seed=4)
    assert len(train) == n and len(test) == 1000 - n
    assert not set(train) & set(test)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(1000))
    again, _ = few_shot_split(1000, n, seed=4)
    other, _ = few_shot_split(1000, n, seed=5)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_a_split_without_two_rows_on_each_side_is_refused() -> None:
    for n in (0, 1, 999):
        with pytest.raises(ValueError, match="at least 2 rows"):
            few_shot_split(1000, n, 0)


class _Recorder:
    """A predictor that records what it is shown and predicts the row id it was given (column 0)."""

    seen: ClassVar[list[set[int]]] = []

    def fit(self, X, y):
        _Recorder.seen.append(set(X[:, 0].astype(int).tolist()))
        return self

    def predict(self, X, return_std=False):
        ids = X[:, 0].astype(int)
        assert not _Recorder.seen[-1] & set(ids.tolist()), "a training row was scored"
        return ids.astype(float), np.ones(len(ids))


def test_no_training_row_is_ever_scored_and_missing_targets_are_left_out() -> None:
    X = np.arange(300, dtype=float)[:, None]
    y = np.arange(300, dtype=float)
    y[::10] = np.nan
    runs = few_shot(X, y, lambda seed: _Recorder(), sizes=(20, 78, 400), seeds=(0, 1))
    assert [(r.n_train, r.seed) for r in runs] == [(20, 0), (20, 1), (78, 0), (78, 1)]  # 400 > 270 - 2: skipped
    assert all(r.n_test == 270 - r.n_train for r in runs)
    assert all(not (s & set(range(0, 300, 10))) for s in _Recorder.seen)  # nan rows never trained on
    assert all(r.metrics["kendall_tau"] == pytest.approx(1.0) for r in runs)


def test_a_real_predictor_through_the_protocol_learns_and_reports_spread() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (600, 4))
    y = X[:, 0] * 2 + np.sin(3 * X[:, 1])
    runs = few_shot(X, y, lambda s: GBDTRegressor(n_members=3, n_estimators=60, random_state=s), (50, 200), (0, 1, 2))
    table = summarise(runs)
    assert set(table) == {50, 200}
    assert table[200]["kendall_tau"][0] > table[50]["kendall_tau"][0] > 0.4
    assert table[200]["kendall_tau"][1] >= 0 and "coverage90" in table[200]
    row = runs[0].row()
    assert row["predictions_per_second"] > 0 and "kendall_tau" in row
