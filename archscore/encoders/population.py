"""Statistics relative to a population: the ``z`` part of archscore's models.

A NAS benchmark's accuracy depends on an architecture's size *relative to its space* far more than
on its absolute MACs (the zero-shot benchmark's finding), so the free statistics standardised
against a reference population are what transfers between spaces. :class:`PopulationEncoder`
keeps each training population's mean and std; an architecture is standardised against the
population nearest to it (``reference="nearest"``: its features do not depend on what it is
scored with), against the batch it comes in (``"batch"``), against a named population, or against
statistics given. The distance to the nearest population (the root-mean-square z-score) is the
out-of-distribution signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from archscore.errors import UnknownNameError

STD_FLOOR = 0.1
"""Smallest population std (signed-log units) used in distances: a statistic constant in a space
still lets an architecture that differs in it be far from that space."""
REFERENCES = ("nearest", "batch")


class PopulationEncoder(TransformerMixin, BaseEstimator):
    """Rows of statistics → the same statistics standardised against a reference population.

    Args:
        reference: What :meth:`transform` standardises against: ``"nearest"`` (each row against the
            population nearest to it), ``"batch"`` (the rows given together) or a population's name.

    ``fit(X, y=None, groups=None)``: ``groups`` names each row's population (default: one population
    of all rows). Attributes: ``names_``, ``mean_`` and ``std_`` (one row per population).
    """

    def __init__(self, reference: str = "nearest") -> None:
        self.reference = reference

    def fit(self, X, y=None, groups: Sequence[str] | None = None) -> PopulationEncoder:
        X = np.asarray(X, dtype=np.float64)
        if not len(X):
            raise ValueError("PopulationEncoder.fit needs at least one row")
        groups = ["all"] * len(X) if groups is None else list(groups)
        if len(groups) != len(X):
            raise ValueError(f"{len(groups)} group names for {len(X)} rows")
        names = list(dict.fromkeys(groups))
        labels = np.asarray(groups, dtype=object)
        return self.set_populations(names, [X[labels == n] for n in names])

    def set_populations(self, names: Sequence[str], populations: Sequence[np.ndarray]) -> PopulationEncoder:
        """Fit from each population's rows of statistics, by name (the rows may be unlabelled
        architectures of the population's space)."""
        self.names_ = list(names)
        self.mean_ = np.asarray([np.asarray(p, dtype=np.float64).mean(axis=0) for p in populations])
        self.std_ = np.asarray([np.asarray(p, dtype=np.float64).std(axis=0) for p in populations])
        self.n_features_in_ = int(self.mean_.shape[1])
        return self

    def nearest(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the index of the nearest population and the RMS z-score to it."""
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float64)
        std = np.maximum(self.std_, STD_FLOOR)  # (P, F)
        z = (X[:, None, :] - self.mean_[None]) / std[None]
        d = np.sqrt(np.mean(z**2, axis=2))  # (N, P)
        which = d.argmin(axis=1)
        return which, d[np.arange(len(X)), which]

    def standardise(self, X, reference: str | np.ndarray | None = None) -> np.ndarray:
        """``X`` standardised against ``reference`` (default: :attr:`reference`); an array is the
        statistics of a population given by the caller."""
        X = np.asarray(X, dtype=np.float64)
        mean, std = self._against(X, self.reference if reference is None else reference)
        return (X - mean) / np.where(std > 0, std, 1.0)

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.standardise(X)

    def _against(self, X: np.ndarray, reference) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std (per row, or one for all rows) of the population ``X`` is standardised against."""
        if not isinstance(reference, str):
            pop = np.asarray(reference, dtype=np.float64)
            return pop.mean(axis=0), pop.std(axis=0)
        if reference == "batch":
            if len(X) < 2:
                raise ValueError("reference='batch' needs at least 2 architectures; use 'nearest' for fewer")
            return X.mean(axis=0), X.std(axis=0)
        check_is_fitted(self)
        if reference == "nearest":
            which, _ = self.nearest(X)
            return self.mean_[which], self.std_[which]
        if reference not in self.names_:
            raise UnknownNameError(
                f"unknown reference population {reference!r}; choose 'nearest', 'batch' or one of "
                f"{', '.join(self.names_)}"
            )
        i = self.names_.index(reference)
        return self.mean_[i], self.std_[i]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        names = input_features if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray([f"z__{n}" for n in names], dtype=object)
