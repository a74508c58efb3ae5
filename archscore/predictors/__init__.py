"""Predictors: scikit-learn regressors over architecture features, each with ``predict(X, return_std=True)``."""

from archscore.predictors.gbdt import GBDTRegressor
from archscore.predictors.log_target import LogTargetRegressor

__all__ = ["GBDTRegressor", "LogTargetRegressor"]
