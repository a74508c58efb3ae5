"""Predictors: scikit-learn regressors over architecture features, each with ``predict(X, return_std=True)``."""

from archscore.predictors.gbdt import GBDTRegressor

__all__ = ["GBDTRegressor"]
