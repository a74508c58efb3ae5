"""Every predictor and encoder archscore ships keeps the contract; a component that breaks it fails the checks.

scikit-learn's own ``parametrize_with_checks`` runs on GBDT, MLP and cluster ensembles in their test files.
``LogTargetRegressor`` is the deliberate exception: its target must be positive (it fits ``log y``) and
the generic checks draw targets ≤ 0, so it is held to this contract on a positive target instead.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from archscore import predictors
from archscore.encoders import CellOneHotEncoder, StatsEncoder, WLEncoder
from archscore.spaces import get
from archscore.testing.contract import (
    check_encoder,
    check_predictor,
    check_round_trip,
    check_seeded,
    encoder_checks,
    predictor_checks,
)


def _small(name: str):
    """Each shipped predictor in a small, fast configuration."""
    small = {
        "GBDTRegressor": {"n_members": 2, "n_estimators": 30},
        "MLPEnsembleRegressor": {"n_members": 2, "epochs": 30},
        "ClusterEnsembleRegressor": {"n_clusters": 2},
        "LogTargetRegressor": {"regressor": predictors.GBDTRegressor(n_members=2, n_estimators=30)},
    }
    cls = getattr(predictors, name)
    return cls(random_state=0, **small.get(name, {}))


@pytest.mark.parametrize("check", predictor_checks(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", predictors.__all__)
def test_every_shipped_predictor_keeps_the_contract(name: str, check) -> None:
    estimator = _small(name)
    if name == "LogTargetRegressor":  # a positive target
        X, y = _positive()
        check(estimator, X, y)
    else:
        check(estimator)


def _positive() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    return X, np.exp(X[:, 0])


@pytest.fixture(scope="module")
def nb201():
    space = get("nb201")
    cells = space.sample(5, seed=11)
    return cells, [space.to_graph(c) for c in cells]


@pytest.mark.parametrize("check", encoder_checks(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("encoder", [StatsEncoder(), WLEncoder(iterations=2), CellOneHotEncoder("nb201")], ids=repr)
def test_every_shipped_encoder_keeps_the_contract(encoder, check, nb201) -> None:
    cells, graphs = nb201
    check(encoder, cells if isinstance(encoder, CellOneHotEncoder) else graphs)


class _Broken(RegressorMixin, BaseEstimator):
    """A predictor with the faults the contract exists to catch, each switched on by a flag."""

    def __init__(self, fault: str = "", random_state: int | None = None) -> None:
        self.fault = fault
        self.random_state = random_state

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X, return_std: bool = False):
        mean = np.full(len(X), self.mean_)
        if self.fault == "unseeded":
            mean = mean + np.random.default_rng().normal(size=len(X))
        mean = mean + getattr(self, "offset_", 0.0)
        std = -np.ones(len(X)) if self.fault == "negative_std" else np.ones(len(X))
        return (mean, std) if return_std else mean

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.fault == "state":  # loses its fitted state in the round trip
            self.offset_ = 1.0


@pytest.mark.parametrize(
    ("fault", "message"),
    [("negative_std", "non-negative"), ("unseeded", "must equal predict|same seed"), ("state", "pickling changed")],
)
def test_a_broken_predictor_fails_the_contract_with_a_reason(fault: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_predictor(_Broken(fault))
    check_predictor(_Broken())  # the same class without the fault passes


def test_checks_run_on_the_callers_data_too() -> None:
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = X[:, 0]
    check_seeded(_small("GBDTRegressor"), X, y)
    check_round_trip(_small("GBDTRegressor"), X, y)


def test_an_encoder_with_a_wrong_names_list_fails() -> None:
    class Misnamed(StatsEncoder):
        def get_feature_names_out(self, input_features=None):
            return super().get_feature_names_out()[:-1]

    space = get("nb201")
    graphs = [space.to_graph(c) for c in space.sample(3, seed=0)]
    with pytest.raises(AssertionError, match="feature names"):
        check_encoder(Misnamed(), graphs)
