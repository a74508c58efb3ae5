"""Gradient-boosted trees (LightGBM) over architecture features, with an ensemble's uncertainty.

In the spirit of GBDT-NAS: boosted trees are strong on small tabular feature sets and fit in
milliseconds. archscore trains ``n_members`` boosters, each on a bootstrap sample with its own
seed; their spread plus an out-of-bag calibrated noise term is the std (see
:mod:`archscore.predictors._ensemble`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from archscore.predictors._ensemble import EnsembleMixin, OutOfBag, bootstrap_rows


class GBDTRegressor(EnsembleMixin, RegressorMixin, BaseEstimator):
    """An ensemble of LightGBM regressors on bootstrap samples; ``predict(X, return_std=True)``.

    Args:
        n_members: Boosters in the ensemble.
        n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree,
        reg_lambda: Each booster's LightGBM settings (small data: shallow trees, few samples per leaf).
        bootstrap: Train each member on a bootstrap sample (else all rows, seeds only).
        random_state: Seed of the whole ensemble (members get seeds drawn from it).
        n_jobs: LightGBM threads per booster.
    """

    def __init__(
        self,
        n_members: int = 8,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 3,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        bootstrap: bool = True,
        random_state: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.n_members = n_members
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _booster(self, seed: int):
        from lightgbm import LGBMRegressor

        return LGBMRegressor(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            random_state=seed,
            n_jobs=self.n_jobs,
            verbose=-1,
        )

    def fit(self, X, y) -> GBDTRegressor:
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        if self.n_members < 1:
            raise ValueError(f"n_members must be at least 1, got {self.n_members}")
        rng = np.random.default_rng(self.random_state)
        self.estimators_ = []
        oob = OutOfBag(len(y))
        for _ in range(self.n_members):
            seed = int(rng.integers(2**31 - 1))
            rows, unseen = bootstrap_rows(rng, len(y), self.bootstrap)
            booster = self._booster(seed).fit(X[rows], y[rows])
            self.estimators_.append(booster)
            if unseen.size:
                oob.add(unseen, booster.predict(X[unseen]))
        self.noise_std_ = oob.noise_std(y)
        return self

    def predict_members(self, X) -> np.ndarray:
        """Each member's prediction, shape ``(n_members, n_samples)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.stack([b.predict(X) for b in self.estimators_])


class LoadedBooster:
    """A LightGBM booster loaded from a saved model, with the ``predict`` of a fitted ``LGBMRegressor``
    (a saved :class:`GBDTRegressor` gets these as its ``estimators_``)."""

    def __init__(self, booster) -> None:
        self.booster_ = booster

    def predict(self, X):
        # one thread: a served model scores a few rows per call, many calls at once; LightGBM's
        # default OpenMP team spins for a core another request (or process) is using, which made
        # one 5-member prediction take 18 ms instead of 0.8 ms on a busy 2-core machine
        return self.booster_.predict(X, num_threads=1)
