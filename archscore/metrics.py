"""How well a predictor ranks and fits architectures, and how honest its uncertainty is.

Every number archscore reports about a predictor comes from these functions: rank correlations
(Kendall τ, Spearman ρ) because search needs the order right, errors (MAE, RMSE) because users
read the values, precision among the true top architectures because search looks for those, and
calibration (the share of truths inside the predicted 90 % interval, Gaussian NLL) because the
uncertainty feeds Bayesian optimisation.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

Z90 = float(stats.norm.ppf(0.95))
"""Half-width of a central 90 % Gaussian interval in standard deviations (≈ 1.645)."""


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}")
    if t.size < 2:
        raise ValueError("at least two architectures are needed to compare rankings")
    return t, p


def kendall_tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kendall's τ-b between truths and predictions (ties handled; a constant prediction gives 0)."""
    t, p = _pair(y_true, y_pred)
    if np.ptp(p) == 0 or np.ptp(t) == 0:
        return 0.0
    return float(stats.kendalltau(t, p).statistic)


def spearman_rho(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Spearman's ρ between truths and predictions (a constant prediction gives 0)."""
    t, p = _pair(y_true, y_pred)
    if np.ptp(p) == 0 or np.ptp(t) == 0:
        return 0.0
    return float(stats.spearmanr(t, p).statistic)


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def precision_at_top(y_true: np.ndarray, y_pred: np.ndarray, fraction: float = 0.05) -> float:
    """Share of the predicted top ``fraction`` that is in the true top ``fraction`` (higher is better)."""
    t, p = _pair(y_true, y_pred)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, math.ceil(fraction * t.size))
    true_top = set(np.argsort(-t, kind="stable")[:k].tolist())
    pred_top = np.argsort(-p, kind="stable")[:k]
    return sum(int(i) in true_top for i in pred_top) / k


def within_percent(y_true: np.ndarray, y_pred: np.ndarray, percent: float = 10.0) -> float:
    """Share of predictions within ±``percent`` % of the truth (nn-Meter's latency measure)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t) <= np.abs(t) * percent / 100))


def coverage90(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> float:
    """Share of truths inside the central 90 % Gaussian interval ``mean ± 1.645·std`` (ideal: 0.9)."""
    t, m = _pair(y_true, mean)
    s = np.asarray(std, dtype=np.float64).reshape(-1)
    if s.shape != t.shape or (s < 0).any():
        raise ValueError("std must have one non-negative value per architecture")
    return float(np.mean(np.abs(t - m) <= Z90 * s))


def gaussian_nll(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray, floor: float = 1e-6) -> float:
    """Mean negative log-likelihood of the truths under ``N(mean, std²)`` (std floored at ``floor``)."""
    t, m = _pair(y_true, mean)
    s = np.maximum(np.asarray(std, dtype=np.float64).reshape(-1), floor)
    return float(np.mean(0.5 * np.log(2 * np.pi * s**2) + (t - m) ** 2 / (2 * s**2)))


def evaluate(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray | None = None) -> dict[str, float]:
    """Every metric at once; the calibration ones only when ``std`` is given."""
    out = {
        "kendall_tau": kendall_tau(y_true, mean),
        "spearman_rho": spearman_rho(y_true, mean),
        "mae": mae(y_true, mean),
        "rmse": rmse(y_true, mean),
        "precision_at_top5": precision_at_top(y_true, mean, 0.05),
    }
    if std is not None:
        out["coverage90"] = coverage90(y_true, mean, std)
        out["gaussian_nll"] = gaussian_nll(y_true, mean, std)
    return out
