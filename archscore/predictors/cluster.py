"""A cluster-weighted ensemble: families of architectures get their own experts.

In the spirit of GENNAPE's cluster-weighted ensemble: architectures come in families (cell
spaces, macro backbones, one search space against another) whose accuracy follows different
trends, and one regressor fitted on all of them averages the trends away where a simple expert
per family would follow each. :class:`ClusterEnsembleRegressor` clusters the (standardised,
PCA-reduced) features with fuzzy c-means, trains one head per cluster on that cluster's share of
the rows plus one global head on all of them, and predicts the membership-weighted mix.

Fuzzy rather than hard clusters: an architecture between two families gets a blend of both
experts instead of a jump at a cluster border, and the soft memberships say how much each
training row belongs to each expert.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted, validate_data

_TINY = np.finfo(np.float64).tiny
_DRAWS_PER_WEIGHT = 2
"""A cluster head's weighted bootstrap draws this many rows per unit of membership (see the class)."""


# -- fuzzy c-means -------------------------------------------------------------------------------
def _squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``(n, k)`` squared Euclidean distances, one center at a time.

    Differences rather than ``|x|² - 2x·c + |c|²``: exact (a point at a center is at 0, not at a
    rounding error that may be negative) and row by row the same whatever the batch.
    """
    return np.stack([((X - c) ** 2).sum(axis=1) for c in centers], axis=1)


def memberships(X, centers, m: float = 2.0) -> np.ndarray:
    """Fuzzy c-means memberships of the rows of ``X`` in ``centers``, shape ``(n, k)``; rows sum to 1.

    ``u_ij ∝ d_ij^(-2/(m-1))``, the standard fuzzy c-means update, computed in the log domain so
    that neither a point exactly at a center (``d = 0``: membership 1 there, shared equally when
    centers coincide) nor a fuzziness ``m`` close to 1 (near-hard clusters) divides by zero or
    overflows.
    """
    if not m > 1:
        raise ValueError(f"the fuzziness m must be greater than 1, got {m}")
    X = np.asarray(X, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    logits = -np.log(np.maximum(_squared_distances(X, centers), _TINY)) / (m - 1)
    logits -= logits.max(axis=1, keepdims=True)
    u = np.exp(logits)
    return u / u.sum(axis=1, keepdims=True)


def _init_centers(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each next center drawn with probability ∝ squared distance to the nearest chosen one.

    Random initial memberships, the textbook start, put every center near the grand mean first
    and then have to pull them apart; spread-out seeds find well-separated families at once.
    """
    chosen = [int(rng.integers(len(X)))]
    nearest = ((X - X[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = nearest.sum()
        # Fewer distinct points than centers (e.g. a constant X): any point will do.
        i = int(rng.choice(len(X), p=nearest / total)) if total > 0 else int(rng.integers(len(X)))
        chosen.append(i)
        nearest = np.minimum(nearest, ((X - X[i]) ** 2).sum(axis=1))
    return X[chosen].copy()


def fuzzy_cmeans(
    X,
    n_clusters: int,
    m: float = 2.0,
    max_iter: int = 100,
    tol: float = 1e-5,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuzzy c-means (Bezdek): ``(centers, memberships)``, shapes ``(k, d)`` and ``(n, k)``.

    Alternates the memberships of :func:`memberships` and the centers ``Σ u_ij^m x_i / Σ u_ij^m``
    from k-means++ seeds until no membership moves by more than ``tol`` (or ``max_iter`` rounds).
    ``k`` is ``n_clusters`` clipped to the number of rows. Points are taken as given: standardise
    them first when the columns have different units.

    Args:
        X: ``(n, d)`` points.
        n_clusters: Clusters wanted.
        m: Fuzziness, > 1 (near 1: hard clusters; 2: the usual choice; larger: softer).
        max_iter, tol: Stopping rule.
        rng: A generator or a seed (seeds the k-means++ start).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"fuzzy_cmeans needs a non-empty 2-d array, got shape {X.shape}")
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    if not m > 1:
        raise ValueError(f"the fuzziness m must be greater than 1, got {m}")
    rng = np.random.default_rng(rng)
    centers = _init_centers(X, min(int(n_clusters), len(X)), rng)
    u = memberships(X, centers, m)
    for _ in range(max_iter):
        w = u**m
        mass = w.sum(axis=0)
        # A center no point belongs to at all (possible only with m near 1) stays where it is.
        moved = mass > 0
        centers[moved] = (w[:, moved].T @ X) / mass[moved, None]
        new = memberships(X, centers, m)
        shift = np.abs(new - u).max()
        u = new
        if shift < tol:
            break
    return centers, u


# -- the regressor -------------------------------------------------------------------------------
def _scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and stds, with a std of 1 where a column is constant (up to rounding)."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    constant = std <= 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean))
    return mean, np.where(constant, 1.0, std)


def _returns_std(estimator) -> bool:
    """Whether ``estimator.predict`` takes ``return_std`` (archscore ensembles, GPs, BayesianRidge)."""
    try:
        return "return_std" in inspect.signature(estimator.predict).parameters
    except (TypeError, ValueError):  # pragma: no cover - a predict without a signature
        return False


def _head_predict(head, X: np.ndarray, return_std: bool) -> tuple[np.ndarray, np.ndarray]:
    """A head's mean and variance (0 for a head without a std of its own)."""
    if return_std and _returns_std(head):
        mean, std = head.predict(X, return_std=True)
        return np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64) ** 2
    mean = np.asarray(head.predict(X), dtype=np.float64)
    return mean, np.zeros_like(mean)


def _mixture(weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of a mixture: weights ``(n, H)``, head means and variances ``(H, n)``.

    The law of total variance: ``Σ w·(var_j + (μ_j - μ)²)``, each head's own variance plus the
    heads' disagreement.
    """
    w = weights.T
    mean = (w * means).sum(axis=0)
    return mean, (w * (variances + (means - mean) ** 2)).sum(axis=0)


def _calibrate(y: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> tuple[float, float]:
    """``(std_scale, noise_std)`` from out-of-bag rows: ``std² = std_scale²·var + noise_std²`` covers 90 % of them.

    ``weights`` are the rows' memberships ``(n, k)``; ``means``/``variances`` the cluster heads'
    predictions ``(k, n)``, NaN where a head trained on the row. (The global head trained on every
    row, so it has none out of bag: the calibration judges the cluster heads' mix.) A row counts
    when the heads that did not see it carry at least half its membership; its out-of-bag
    prediction is the mix of those heads, their weights renormalised. Renormalising over
    whichever heads are left would judge a family-A row that only the family-B head left out by
    that head alone: a residual the real mix never makes.

    As in :class:`~archscore.predictors._ensemble.OutOfBag`, the noise σ is the smallest with 90 %
    of those residuals inside ``±Z90·sqrt(var + σ²)``. Unlike a plain ensemble's spread, the
    mixture variance can also be too wide: heads with a std of their own each already include
    their noise, and the spread of the heads around the mix counts their disagreement although
    the mix errs less than the average head. When the residuals already fit with σ = 0, the
    variance is shrunk instead: ``std_scale`` < 1 is the largest factor that still keeps 90 % of
    them inside. With fewer than 2 such rows: ``(1, 0)``.
    """
    from archscore.metrics import Z90

    unseen = ~np.isnan(means.T)  # (n, H)
    w = np.where(unseen, weights, 0.0)
    share = w.sum(axis=1)
    rows = (share >= 0.5 * weights.sum(axis=1)) & (share > 0)
    if rows.sum() < 2:
        return 1.0, 0.0
    w = w[rows] / share[rows, None]
    mean, var = _mixture(w, np.nan_to_num(means[:, rows]), np.nan_to_num(variances[:, rows]))
    need = (y[rows] - mean) ** 2 / Z90**2  # the std² each row needs
    noise2 = np.quantile(need - var, 0.9)
    if noise2 > 0:
        return 1.0, float(np.sqrt(noise2))
    scale2 = np.quantile(need / np.maximum(var, _TINY), 0.9)
    return float(np.sqrt(min(scale2, 1.0))), 0.0


class ClusterEnsembleRegressor(RegressorMixin, BaseEstimator):
    """One head per fuzzy cluster of architectures plus a global head, mixed by membership; with a std.

    Fitting:

    1. The features are standardised (constant columns left at 0) and, when wider than
       ``n_components``, projected on their first ``n_components`` principal components: encodings
       can have thousands of columns, and distances in that many dimensions say little.
    2. Fuzzy c-means (:func:`fuzzy_cmeans`) finds ``n_clusters`` centers and each row's
       memberships (clipped to the number of rows).
    3. The global head, a clone of ``head``, trains on every row.
    4. Each cluster head, another clone, trains on a *weighted bootstrap* of the rows (raw
       features, not the projection): row ``i`` drawn with probability ``∝ w_i``, its membership
       floored at ``min_weight`` (so every family stays faintly present and no expert is blind
       outside its own cluster), ``2·Σ_i w_i`` draws capped at ``n``. The rows it leaves out are
       out of bag for the calibration below.

    Why resampling and not ``sample_weight``: it keeps any regressor usable as a head
    (:class:`~archscore.predictors.GBDTRegressor` takes no weights) and leaves rows out of bag.
    Why twice the effective size: with ``Σ w`` draws (a plain bootstrap of the cluster) 37 % of
    the cluster is left out, and a head that bootstraps again, as archscore's ensembles do, sees
    only 40 % of it per member; with ``n`` draws (each row of a k-th of the data k times) only
    ``e^-k`` is left out, too few rows to calibrate on. Twice leaves ``e^-2`` = 14 % out. On
    synthetic data (families with opposite trends, and a smooth function without families;
    60 and 300 rows) this was the most accurate choice whose 90 % interval held 85-92 %.

    Predicting: the mixture weights of a row are ``global_weight`` for the global head and
    ``(1 - global_weight)·u_j`` for cluster ``j``'s head (``u``: its memberships). The mean is the
    weighted mean of the heads' predictions and the variance that of a mixture: each head's own
    variance (when its ``predict`` takes ``return_std``) plus the weighted spread of the heads
    around the mean. That variance is calibrated on the rows the cluster heads left out (see
    :func:`_calibrate`; the global head has none):
    ``std² = std_scale_²·var + noise_std_²``, with a noise term added when it is too narrow, as in
    :mod:`archscore.predictors._ensemble`, or a factor ``std_scale_`` < 1 when it is too wide. The
    heads are not equal members, so ``predict`` is the weighted mix and not the plain mean of
    :meth:`predict_members`; this class does not use ``EnsembleMixin``.

    The global head is a safety net: where the clusters are not families with trends of their
    own, each cluster head has learnt from a k-th of the data only, and the global head keeps
    the mix close to what one head on all rows would say.

    Args:
        head: The regressor cloned for every head (default ``GBDTRegressor(n_members=4)``). When it
            takes a ``random_state``, each clone gets its own seed drawn from ``random_state``.
        n_clusters: Clusters (experts besides the global head).
        fuzziness: The fuzzy c-means exponent ``m`` > 1 (near 1: hard clusters; larger: softer).
            The default is below the textbook 2: memberships fall off as ``d^(-2/(m-1))``, and
            with ``m = 2`` a row of one family still gives ~15 % of its weight to another
            family's expert once a few noise columns add to every distance.
        n_components: Principal components the clustering works in (``None``: all features);
            clipped to the number of features and of rows.
        min_weight: Floor of a row's sampling weight for a cluster head, in [0, 1].
        global_weight: The global head's share of every prediction, in [0, 1]
            (``None``: ``1 / (k + 1)``, a head like any other).
        random_state: Seed of the clustering and of every head.

    Attributes:
        heads_: The global head, then one head per cluster.
        centers_: ``(k, c)`` cluster centers in the ``c``-dimensional projected space.
        mean_, scale_: The standardisation of the features.
        pca_: The fitted projection, or ``None`` when the clustering uses every feature.
        std_scale_, noise_std_: The calibration of the std (one of them is 1 or 0).
    """

    def __init__(
        self,
        head=None,
        n_clusters: int = 3,
        fuzziness: float = 1.5,
        n_components: int | None = 16,
        min_weight: float = 0.05,
        global_weight: float | None = None,
        random_state: int | None = None,
    ) -> None:
        self.head = head
        self.n_clusters = n_clusters
        self.fuzziness = fuzziness
        self.n_components = n_components
        self.min_weight = min_weight
        self.global_weight = global_weight
        self.random_state = random_state

    def _check_params(self) -> None:
        if not isinstance(self.n_clusters, Integral) or self.n_clusters < 1:
            raise ValueError(f"n_clusters must be an integer of at least 1, got {self.n_clusters!r}")
        if not isinstance(self.fuzziness, Real) or not self.fuzziness > 1:
            raise ValueError(f"fuzziness must be greater than 1, got {self.fuzziness!r}")
        if self.n_components is not None and (not isinstance(self.n_components, Integral) or self.n_components < 1):
            raise ValueError(f"n_components must be a positive integer or None, got {self.n_components!r}")
        if not 0 <= self.min_weight <= 1:
            raise ValueError(f"min_weight must be in [0, 1], got {self.min_weight!r}")
        if self.global_weight is not None and not 0 <= self.global_weight <= 1:
            raise ValueError(f"global_weight must be in [0, 1] or None, got {self.global_weight!r}")

    def _new_head(self, seed: int):
        if self.head is None:
            from archscore.predictors.gbdt import GBDTRegressor

            model = GBDTRegressor(n_members=4)
        else:
            model = clone(self.head)
        if "random_state" in model.get_params():
            model.set_params(random_state=seed)
        return model

    def fit(self, X, y) -> ClusterEnsembleRegressor:
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        self._check_params()
        rng = np.random.default_rng(self.random_state)
        n = len(y)

        self.mean_, self.scale_ = _scale(X)
        Z = (X - self.mean_) / self.scale_
        components = X.shape[1] if self.n_components is None else min(self.n_components, X.shape[1], n)
        self.pca_ = None
        if components < X.shape[1] and np.abs(Z).max() > 0:  # an all-constant X has nothing to project
            self.pca_ = PCA(n_components=components, random_state=int(rng.integers(2**31 - 1))).fit(Z)
        P = self._project(Z)
        self.centers_, _ = fuzzy_cmeans(P, self.n_clusters, m=self.fuzziness, rng=int(rng.integers(2**31 - 1)))
        u = memberships(P, self.centers_, self.fuzziness)

        self.heads_ = [self._new_head(int(rng.integers(2**31 - 1))).fit(X, y)]  # the global head: every row
        draw = np.maximum(u, self.min_weight)
        draw[:, draw.sum(axis=0) == 0] = 1.0  # no row in a cluster at all (min_weight 0, m near 1): draw uniformly
        means = np.full((draw.shape[1], n), np.nan)
        variances = np.full_like(means, np.nan)
        for j, w in enumerate(draw.T):
            seed = int(rng.integers(2**31 - 1))
            size = min(n, max(1, round(_DRAWS_PER_WEIGHT * w.sum())))
            rows = rng.choice(n, size=size, p=w / w.sum())
            head = self._new_head(seed).fit(X[rows], y[rows])
            self.heads_.append(head)
            unseen = np.setdiff1d(np.arange(n), rows)
            if unseen.size:
                means[j, unseen], variances[j, unseen] = _head_predict(head, X[unseen], return_std=True)
        self.std_scale_, self.noise_std_ = _calibrate(y, u, means, variances)
        return self

    def _project(self, Z: np.ndarray) -> np.ndarray:
        return Z if self.pca_ is None else self.pca_.transform(Z)

    def _validate(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float64)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_

    def _weights(self, u: np.ndarray) -> np.ndarray:
        """Mixture weights ``(n, k + 1)``: the global head's share, then the clusters' by membership."""
        g = 1.0 / (u.shape[1] + 1) if self.global_weight is None else float(self.global_weight)
        return np.column_stack([np.full(len(u), g), (1.0 - g) * u])

    def memberships(self, X) -> np.ndarray:
        """Each row's fuzzy membership in each cluster, shape ``(n_samples, k)``; rows sum to 1."""
        return memberships(self._project(self._standardise(self._validate(X))), self.centers_, self.fuzziness)

    def distance_to_clusters(self, X) -> np.ndarray:
        """Each row's distance to its nearest cluster center, in standardised feature units, shape ``(n_samples,)``.

        The full distance in the standardised feature space: the distance within the principal
        subspace plus (Pythagoras) the row's distance from that subspace, so an architecture
        unlike the training ones in a direction the components do not span is still far. Compare
        with ``distance_to_clusters(X_train)`` to flag architectures out of the training
        distribution.
        """
        Z = self._standardise(self._validate(X))
        P = self._project(Z)
        off = 0.0
        if self.pca_ is not None:
            off = ((Z - self.pca_.inverse_transform(P)) ** 2).sum(axis=1)
        return np.sqrt(_squared_distances(P, self.centers_).min(axis=1) + off)

    def predict_members(self, X) -> np.ndarray:
        """Each head's raw prediction, shape ``(k + 1, n_samples)``: the global head first, then one per cluster.

        These are not equal members: :meth:`predict` mixes them with membership weights.
        """
        X = self._validate(X)
        return np.stack([np.asarray(h.predict(X), dtype=np.float64) for h in self.heads_])

    def predict(self, X, return_std: bool = False):
        """The membership-weighted mix of the heads, and with ``return_std=True`` the mixture's std.

        ``std² = std_scale_²·Σ w_j·(var_j + (μ_j - μ)²) + noise_std_²``, with ``var_j`` a head's own
        variance (0 for a head whose ``predict`` takes no ``return_std``).
        """
        X = self._validate(X)
        weights = self._weights(memberships(self._project(self._standardise(X)), self.centers_, self.fuzziness))
        heads = [_head_predict(h, X, return_std) for h in self.heads_]
        mean, var = _mixture(weights, np.stack([m for m, _ in heads]), np.stack([v for _, v in heads]))
        if not return_std:
            return mean
        return mean, np.sqrt(self.std_scale_**2 * var + self.noise_std_**2)
