"""Predictors: scikit-learn regressors over architecture features, each with ``predict(X, return_std=True)``."""

from archscore.predictors.cluster import ClusterEnsembleRegressor
from archscore.predictors.gbdt import GBDTRegressor
from archscore.predictors.log_target import LogTargetRegressor
from archscore.predictors.mlp import MLPEnsembleRegressor

__all__ = ["ClusterEnsembleRegressor", "GBDTRegressor", "LogTargetRegressor", "MLPEnsembleRegressor"]
