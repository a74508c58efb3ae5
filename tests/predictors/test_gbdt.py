"""The LightGBM ensemble: the scikit-learn contract, an uncertainty that means something, and real NB201 data."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from archscore import metrics
from archscore.predictors.gbdt import GBDTRegressor
from archscore.testing.contract import synthetic_regression as _data


@parametrize_with_checks([GBDTRegressor(n_members=2, n_estimators=20, random_state=0)])
def test_scikit_learn_contract(estimator, check) -> None:
    check(estimator)


def test_same_seed_same_predictions_and_a_round_trip() -> None:
    X, y = _data(300)
    a = GBDTRegressor(n_members=3, n_estimators=50, random_state=7).fit(X, y)
    b = clone(a).fit(X, y)
    mean, std = a.predict(X, return_std=True)
    assert np.array_equal(mean, b.predict(X)) and (std >= 0).all()
    again = pickle.loads(pickle.dumps(a))
    assert np.array_equal(again.predict(X), mean)
    assert a.predict_members(X).shape == (3, len(X))
    other = GBDTRegressor(n_members=3, n_estimators=50, random_state=8).fit(X, y)
    assert not np.array_equal(other.predict(X), mean)


def test_the_90_percent_interval_holds_about_90_percent_of_held_out_truths() -> None:
    X, y = _data(1500, seed=1)
    model = GBDTRegressor(n_members=8, n_estimators=150, random_state=0).fit(X[:500], y[:500])
    mean, std = model.predict(X[500:], return_std=True)
    coverage = metrics.coverage90(y[500:], mean, std)
    assert 0.8 <= coverage <= 0.98, coverage
    assert metrics.spearman_rho(y[500:], mean) > 0.9


def test_a_latency_like_target_is_learned_on_the_log_scale() -> None:
    from archscore.predictors.log_target import LogTargetRegressor

    rng = np.random.default_rng(2)
    X = rng.uniform(0, 3, (800, 3))
    y = np.exp(X[:, 0] + 0.5 * X[:, 1]) * (1 + 0.02 * rng.normal(size=800))  # 1 to 150 ms, 2 % noise
    model = LogTargetRegressor(GBDTRegressor(n_members=3, n_estimators=200), random_state=0).fit(X[:400], y[:400])
    mean, std = model.predict(X[400:], return_std=True)
    assert metrics.within_percent(y[400:], mean, 10) > 0.4 and metrics.spearman_rho(y[400:], mean) > 0.95
    low, high = model.predict_interval(X[400:])
    assert (low < mean).all() and (mean < high).all() and (std > 0).all()
    assert 0.8 <= np.mean((low <= y[400:]) & (y[400:] <= high)) <= 0.99
    with np.testing.assert_raises_regex(ValueError, r"rows \[1\]"):
        LogTargetRegressor().fit(X[:3], [1.0, -2.0, 3.0])
