"""The metrics every reported number comes from: checked on cases whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from archscore import metrics


def test_rank_correlations_on_known_orders() -> None:
    y = np.arange(10.0)
    assert metrics.kendall_tau(y, y) == pytest.approx(1.0)
    assert metrics.spearman_rho(y, -y) == pytest.approx(-1.0)
    swapped = y.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # one discordant pair of 45
    assert metrics.kendall_tau(y, swapped) == pytest.approx(1 - 2 * 1 / 45)
    assert metrics.kendall_tau(y, np.zeros(10)) == 0.0  # a constant prediction ranks nothing


def test_errors_and_precision_at_the_top() -> None:
    y = np.arange(100.0)
    assert metrics.mae(y, y + 2) == pytest.approx(2.0)
    assert metrics.rmse(y, y + np.r_[np.zeros(99), 10.0]) == pytest.approx(1.0)
    assert metrics.precision_at_top(y, y, 0.05) == 1.0
    pred = y.copy()
    pred[95:97] = -1  # two of the true top 5 predicted worst
    assert metrics.precision_at_top(y, pred, 0.05) == pytest.approx(3 / 5)
    assert metrics.within_percent(np.full(4, 10.0), np.array([10.5, 11.0, 8.0, 9.5])) == pytest.approx(3 / 4)


def test_calibration_of_a_true_gaussian_is_about_ninety_percent() -> None:
    rng = np.random.default_rng(0)
    mean, std = rng.normal(size=20_000), rng.uniform(0.5, 2.0, 20_000)
    truth = mean + std * rng.normal(size=20_000)
    assert metrics.coverage90(truth, mean, std) == pytest.approx(0.90, abs=0.01)
    assert metrics.coverage90(truth, mean, std / 3) < 0.5  # an overconfident model covers far less
    nll_right = metrics.gaussian_nll(truth, mean, std)
    assert nll_right < metrics.gaussian_nll(truth, mean, std / 3)
    assert nll_right < metrics.gaussian_nll(truth, mean, std * 3)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="3 values but y_pred has 2"):
        metrics.mae(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="non-negative"):
        metrics.coverage90(np.zeros(3), np.zeros(3), -np.ones(3))
    assert set(metrics.evaluate(np.arange(5.0), np.arange(5.0), np.ones(5))) >= {"kendall_tau", "coverage90"}
