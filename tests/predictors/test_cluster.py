"""The cluster-weighted ensemble: fuzzy c-means, the scikit-learn and archscore contracts, and experts that pay off."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from archscore import metrics
from archscore.predictors import ClusterEnsembleRegressor
from archscore.predictors.cluster import fuzzy_cmeans, memberships
from archscore.predictors.gbdt import GBDTRegressor
from archscore.testing.contract import predictor_checks


def _small(**params) -> ClusterEnsembleRegressor:
    return ClusterEnsembleRegressor(
        head=GBDTRegressor(n_members=2, n_estimators=20), n_clusters=2, random_state=0, **params
    )


@parametrize_with_checks([_small()])
def test_scikit_learn_contract(estimator, check) -> None:
    check(estimator)


@pytest.mark.parametrize("check", predictor_checks(), ids=lambda c: c.__name__)
def test_archscore_contract(check) -> None:
    check(_small())


# -- fuzzy c-means -------------------------------------------------------------------------------
def _blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])
    return centers[labels] + rng.normal(size=(n, 3)), labels


def test_memberships_are_a_distribution_per_row() -> None:
    X = np.random.default_rng(0).normal(size=(50, 4))
    centers, u = fuzzy_cmeans(X, 4, rng=0)
    assert centers.shape == (4, 4) and u.shape == (50, 4)
    assert (u >= 0).all() and np.allclose(u.sum(axis=1), 1.0)
    assert np.allclose(memberships(X, centers), u, atol=1e-4)  # converged: the fixed point
    # The fuzzy c-means formula: distances 1 and 2 give 1 / (1 + (1/2)^(2/(m-1))).
    line = np.array([[0.0], [3.0]])
    assert np.allclose(memberships([[1.0]], line, 2.0), [[0.8, 0.2]])
    assert np.allclose(memberships([[1.0]], line, 3.0), [[2 / 3, 1 / 3]])
    new = memberships(X[:7] + 0.3, centers)
    assert new.shape == (7, 4) and np.allclose(new.sum(axis=1), 1.0)


def test_fuzzy_cmeans_recovers_three_separated_blobs() -> None:
    X, labels = _blobs()
    centers, u = fuzzy_cmeans(X, 3, rng=1)
    found = u.argmax(axis=1)
    purity = sum(np.bincount(labels[found == j]).max() for j in np.unique(found)) / len(X)
    assert purity >= 0.95, purity
    assert len(np.unique(found)) == 3
    truth = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])
    assert np.abs(np.sort(centers[:, 0]) - np.sort(truth[:, 0])).max() < 0.5


def test_a_point_at_a_center_belongs_to_it() -> None:
    X, _ = _blobs()
    centers, _ = fuzzy_cmeans(X, 3, rng=0)
    at = memberships(centers, centers)
    assert np.all(np.isfinite(at)) and np.allclose(at, np.eye(3), atol=1e-9)
    # A data point exactly at a center, also for fuzziness near 1 (no division by zero, no overflow).
    points = np.vstack([X[:5], centers[1]])
    for m in (1.01, 2.0, 4.0):
        u = memberships(points, centers, m)
        assert np.isfinite(u).all() and u[-1, 1] > 1 - 1e-9


def test_degenerate_inputs() -> None:
    # More clusters than rows: clipped to the rows.
    centers, u = fuzzy_cmeans(np.array([[0.0, 1.0], [2.0, 3.0]]), 5, rng=0)
    assert centers.shape == (2, 2) and u.shape == (2, 2)
    assert np.allclose(np.sort(u, axis=1), [[0, 1], [0, 1]]) and u[0].argmax() != u[1].argmax()
    # A constant X: every center coincides, memberships are shared equally.
    _, u = fuzzy_cmeans(np.ones((6, 3)), 3, rng=0)
    assert np.isfinite(u).all() and np.allclose(u, 1 / 3)
    with pytest.raises(ValueError, match="fuzziness"):
        fuzzy_cmeans(np.ones((6, 3)), 2, m=1.0)


# -- the regressor -------------------------------------------------------------------------------
def _smooth(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 5))
    return X, 3 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.3 * rng.normal(size=n)


def _families(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two families, apart in columns 1-3; ``y = +x0`` in one and ``y = -x0`` in the other."""
    rng = np.random.default_rng(seed)
    family = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 4))
    X[:, 1:] += np.where(family[:, None] == 1, 3.0, -3.0)
    return X, np.where(family == 1, X[:, 0], -X[:, 0]) + 0.1 * rng.normal(size=n)


def test_same_seed_same_predictions_and_a_round_trip() -> None:
    X, y = _families(200)
    a = _small().fit(X, y)
    b = clone(a).fit(X, y)
    mean, std = a.predict(X, return_std=True)
    assert np.array_equal(mean, b.predict(X)) and np.array_equal(std, b.predict(X, return_std=True)[1])
    assert (std > 0).all()
    again = pickle.loads(pickle.dumps(a))
    assert np.array_equal(again.predict(X), mean)
    assert np.array_equal(again.memberships(X), a.memberships(X))
    other = clone(a).set_params(random_state=1).fit(X, y)
    assert not np.array_equal(other.predict(X), mean)


def test_the_mean_is_the_membership_weighted_mix_of_the_heads() -> None:
    X, y = _families(200)
    model = _small(global_weight=0.2).fit(X, y)
    heads = model.predict_members(X[:20])
    assert heads.shape == (3, 20)  # the global head, then one per cluster
    u = model.memberships(X[:20])
    assert u.shape == (20, 2) and np.allclose(u.sum(axis=1), 1.0)
    mix = 0.2 * heads[0] + 0.8 * (u * heads[1:].T).sum(axis=1)
    assert np.allclose(model.predict(X[:20]), mix)
    assert not np.allclose(heads.mean(axis=0), mix)  # not the plain mean of the heads
    # The families are the clusters: each row belongs mostly to one.
    assert np.median(u.max(axis=1)) > 0.9


def test_distance_to_clusters_flags_architectures_far_from_the_training_ones() -> None:
    X, y = _smooth(200)
    wide = np.hstack([X, np.random.default_rng(1).normal(size=(200, 40))])  # wider than n_components
    model = _small(n_components=4).fit(wide, y)
    assert model.pca_ is not None and model.centers_.shape == (2, 4)
    inside = model.distance_to_clusters(wide)
    assert inside.shape == (200,) and (inside >= 0).all()
    # Far along a direction the 4 components do not span: the same memberships, yet far.
    off = np.eye(45)[20] - model.pca_.components_.T @ model.pca_.components_[:, 20]
    away = wide[:10] + 50.0 * off / np.linalg.norm(off) * model.scale_
    assert np.allclose(model.memberships(away), model.memberships(wide[:10]))
    assert model.distance_to_clusters(away).min() > inside.max() + 30
    centers = model.pca_.inverse_transform(model.centers_) * model.scale_ + model.mean_
    assert np.allclose(model.distance_to_clusters(centers), 0.0, atol=1e-6)


def test_the_90_percent_interval_holds_about_90_percent_of_held_out_truths() -> None:
    X, y = _smooth(1500, seed=1)
    model = ClusterEnsembleRegressor(head=GBDTRegressor(n_members=4, n_estimators=150), random_state=0)
    mean, std = model.fit(X[:500], y[:500]).predict(X[500:], return_std=True)
    coverage = metrics.coverage90(y[500:], mean, std)
    assert 0.8 <= coverage <= 0.98, coverage
    assert metrics.spearman_rho(y[500:], mean) > 0.9


class _WideRidge(Ridge):
    """A ridge regression whose std claims ten times the truth's noise."""

    def predict(self, X, return_std: bool = False):
        mean = super().predict(X)
        return (mean, np.full(len(mean), 3.0)) if return_std else mean


@pytest.mark.parametrize("head", [Ridge(), _WideRidge()], ids=["no std: add noise", "too wide: shrink"])
def test_the_std_is_calibrated_both_ways(head) -> None:
    # On a linear problem every head agrees: without a noise term a std-less head gives a std of
    # about 0, and a head that overstates its std would cover everything.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1200, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 * rng.normal(size=1200)
    model = ClusterEnsembleRegressor(head=head, n_clusters=3, random_state=0).fit(X[:300], y[:300])
    mean, std = model.predict(X[300:], return_std=True)
    assert 0.8 <= metrics.coverage90(y[300:], mean, std) <= 0.98
    if isinstance(head, _WideRidge):
        assert model.std_scale_ < 0.3 and model.noise_std_ == 0
    else:
        assert model.std_scale_ == 1 and model.noise_std_ > 0.2


def test_experts_beat_one_head_when_families_follow_opposite_trends() -> None:
    # A linear head cannot fit y = +x0 in one family and y = -x0 in the other at once (it predicts
    # about 0), but one linear expert per family can; the mix keeps a 1/3 share of the global head.
    X, y = _families(1200, seed=3)
    train, test = slice(0, 200), slice(200, None)
    single = metrics.rmse(y[test], Ridge().fit(X[train], y[train]).predict(X[test]))
    model = ClusterEnsembleRegressor(head=Ridge(), n_clusters=2, random_state=0).fit(X[train], y[train])
    mean, std = model.predict(X[test], return_std=True)
    mixed = metrics.rmse(y[test], mean)
    assert mixed < 0.65 * single, (mixed, single)
    assert 0.8 <= metrics.coverage90(y[test], mean, std) <= 0.98  # Ridge has no std: spread + noise only
