"""The MLP ensemble: the scikit-learn contract, an uncertainty that means something, and a ranking loss that ranks."""

from __future__ import annotations

import math
import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from archscore import metrics
from archscore._torch import pairwise_ranking_loss
from archscore.predictors.mlp import MLPEnsembleRegressor
from archscore.testing.contract import synthetic_regression as _data


@parametrize_with_checks([MLPEnsembleRegressor(n_members=2, epochs=20, random_state=0)])
def test_scikit_learn_contract(estimator, check) -> None:
    check(estimator)


def test_same_seed_same_predictions_and_a_round_trip() -> None:
    X, y = _data(300)
    a = MLPEnsembleRegressor(n_members=3, hidden_sizes=(32, 32), epochs=30, random_state=7).fit(X, y)
    b = clone(a).fit(X, y)
    mean, std = a.predict(X, return_std=True)
    assert np.array_equal(mean, b.predict(X)) and (std >= 0).all()
    again = pickle.loads(pickle.dumps(a))
    assert np.array_equal(again.predict(X), mean)
    members = a.predict_members(X)
    assert members.shape == (3, len(X)) and members.dtype == np.float64
    other = MLPEnsembleRegressor(n_members=3, hidden_sizes=(32, 32), epochs=30, random_state=8).fit(X, y)
    assert not np.array_equal(other.predict(X), mean)


def test_the_90_percent_interval_holds_about_90_percent_of_held_out_truths() -> None:
    X, y = _data(1500, seed=1)
    model = MLPEnsembleRegressor(n_members=5, hidden_sizes=(64, 64), epochs=150, random_state=0).fit(X[:500], y[:500])
    mean, std = model.predict(X[500:], return_std=True)
    coverage = metrics.coverage90(y[500:], mean, std)
    assert 0.8 <= coverage <= 0.98, coverage
    assert metrics.spearman_rho(y[500:], mean) > 0.9


def test_units_do_not_matter_inputs_and_target_are_standardised_inside() -> None:
    X, y = _data(200)
    params = {"n_members": 3, "hidden_sizes": (32,), "epochs": 20, "random_state": 0}
    mean, std = MLPEnsembleRegressor(**params).fit(X, y).predict(X, return_std=True)
    # Features in other units and the target in thousandths, shifted: the same model, read in new units.
    scaled = MLPEnsembleRegressor(**params).fit(X * [1e3, 1e-3, 1, 5, 1], 1000 * y + 7)
    mean_k, std_k = scaled.predict(X * [1e3, 1e-3, 1, 5, 1], return_std=True)
    np.testing.assert_allclose(mean_k, 1000 * mean + 7, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(std_k, 1000 * std, rtol=1e-4)
    assert scaled.noise_std_ == pytest.approx(1000 * MLPEnsembleRegressor(**params).fit(X, y).noise_std_, rel=1e-4)


def test_the_ranking_loss_by_hand_on_four_points_with_a_tie() -> None:
    pred = torch.tensor([0.0, 1.0, 3.0, 5.0])
    y = torch.tensor([1.0, 0.0, 2.0, 2.0])  # points 2 and 3 tie: that pair is left out
    # Untied pairs and the margin by which pred orders each as y does:
    # (0,1): -1 (wrong way round), (0,2): 3, (0,3): 5, (1,2): 2, (1,3): 4.
    expected = sum(math.log1p(math.exp(-margin)) for margin in (-1, 3, 5, 2, 4)) / 5
    assert pairwise_ranking_loss(pred, y).item() == pytest.approx(expected, rel=1e-6)
    # Leading axes are kept (one loss per member); all ties give 0 and no gradient.
    batched = pairwise_ranking_loss(torch.stack([pred, pred]), torch.stack([y, torch.ones(4)]))
    assert batched.shape == (2,) and batched[0].item() == pytest.approx(expected, rel=1e-6)
    assert batched[1].item() == pytest.approx(0.0, abs=1e-6)
    # The gradient pushes a wrongly ordered pair apart the right way: point 0 up, point 1 down.
    p = pred.clone().requires_grad_()
    pairwise_ranking_loss(p, y).backward()
    assert p.grad[0] < 0 < p.grad[1]


def test_the_ranking_loss_ranks_a_heavy_tailed_target_better() -> None:
    # A monotone but steep target: plain MSE spends its fit on the tail and scrambles the many small values.
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1200, 5))
    y = np.exp(3 * (2 * X[:, 0] + X[:, 1] + 0.5 * X[:, 2] ** 2))
    taus = {}
    for weight in (0.0, 1.0):
        model = MLPEnsembleRegressor(
            n_members=2, hidden_sizes=(64, 64), epochs=60, ranking_weight=weight, random_state=0
        )
        taus[weight] = metrics.kendall_tau(y[200:], model.fit(X[:200], y[:200]).predict(X[200:]))
    assert taus[1.0] > taus[0.0] + 0.2, taus


def test_constant_columns_and_options_train_and_threads_are_restored() -> None:
    X, y = _data(120)
    X = np.c_[X, np.full(len(X), 4.0)]  # a constant column must not divide by zero
    threads = torch.get_num_threads()
    model = MLPEnsembleRegressor(
        n_members=2,
        hidden_sizes=(16,),
        activation="silu",
        dropout=0.2,
        batch_size=None,
        bootstrap=False,
        epochs=10,
        random_state=0,
        n_jobs=2,
    ).fit(X, y)
    assert torch.get_num_threads() == threads
    assert np.isfinite(model.predict(X)).all()
    assert model.noise_std_ == 0.0  # without bootstrap nothing is out of bag
    linear = MLPEnsembleRegressor(n_members=1, hidden_sizes=(), epochs=5, random_state=0).fit(X, y)
    assert linear.predict_members(X).shape == (1, len(X))


@pytest.mark.parametrize(
    "params",
    [{"n_members": 0}, {"hidden_sizes": (8, 0)}, {"activation": "tanh"}, {"dropout": 1.0}, {"epochs": 0}],
)
def test_bad_parameters_are_rejected_at_fit(params) -> None:
    X, y = _data(20)
    with pytest.raises(ValueError):
        MLPEnsembleRegressor(**params).fit(X, y)


def test_fit_without_torch_says_how_to_install_it_and_a_fitted_model_predicts_without_it(monkeypatch) -> None:
    X, y = _data(50)
    fitted = MLPEnsembleRegressor(n_members=2, hidden_sizes=(8,), epochs=3, random_state=0).fit(X, y)
    expected = fitted.predict(X)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "archscore\[torch\]"'):
        MLPEnsembleRegressor(epochs=1).fit(X, y)
    assert np.array_equal(pickle.loads(pickle.dumps(fitted)).predict(X), expected)
