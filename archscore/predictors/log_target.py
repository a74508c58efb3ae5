"""Positive, multiplicative targets (latency, energy) learned on the log scale.

Latency spans orders of magnitude across architectures and devices, and its errors are relative
(nn-Meter's measure is the share within ±10 %), so a regressor fits ``log(y)`` and predictions go
back through ``exp``. The std is carried over to first order (``std_y ≈ exp(μ)·σ``), which is
what a Gaussian interval in the original units can say; the log-scale interval
``exp(μ ± 1.645σ)`` is exact and given by :meth:`LogTargetRegressor.predict_interval`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from archscore.metrics import Z90


class LogTargetRegressor(RegressorMixin, BaseEstimator):
    """Fit ``regressor`` on ``log(y)``; predict ``exp`` of its prediction (the median on the original scale).

    Args:
        regressor: Any archscore predictor (default :class:`~archscore.predictors.GBDTRegressor`).
        random_state: Passed to the regressor when it takes one and this is not ``None``.
    """

    def __init__(self, regressor=None, random_state: int | None = None) -> None:
        self.regressor = regressor
        self.random_state = random_state

    def fit(self, X, y) -> LogTargetRegressor:
        y = np.asarray(y, dtype=np.float64)
        if (y <= 0).any() or not np.isfinite(y).all():
            bad = np.flatnonzero((y <= 0) | ~np.isfinite(y))[:5].tolist()
            raise ValueError(f"a log-scale target must be positive and finite; rows {bad} are not")
        if self.regressor is None:
            from archscore.predictors.gbdt import GBDTRegressor

            model = GBDTRegressor()
        else:
            model = clone(self.regressor)
        if self.random_state is not None and "random_state" in model.get_params():
            model.set_params(random_state=self.random_state)
        self.regressor_ = model.fit(X, np.log(y))
        return self

    def _log_predict(self, X) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self)
        mu, sigma = self.regressor_.predict(X, return_std=True)
        return np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)

    def predict(self, X, return_std: bool = False):
        mu, sigma = self._log_predict(X)
        mean = np.exp(mu)
        return (mean, mean * sigma) if return_std else mean

    def predict_interval(self, X) -> tuple[np.ndarray, np.ndarray]:
        """The central 90 % interval ``(low, high)`` on the original scale."""
        mu, sigma = self._log_predict(X)
        return np.exp(mu - Z90 * sigma), np.exp(mu + Z90 * sigma)

    def predict_members(self, X) -> np.ndarray:
        check_is_fitted(self)
        return np.exp(self.regressor_.predict_members(X))
