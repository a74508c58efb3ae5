"""An ensemble of small MLPs (PyTorch) over architecture features, trained to rank as well as to fit.

Architecture search acts on the *order* of candidates, not on their exact scores, so each member
minimises the MSE on the standardised target plus ``ranking_weight`` times a pairwise logistic
ranking loss (as in ReNAS): for every pair in a minibatch
whose targets differ, ``softplus(-(p_i - p_j)·sign(y_i - y_j))``. The MSE keeps predictions on
the target's scale (users read the values); the ranking term spends capacity on the order where
the MSE would spend it on a few large residuals.

As in :mod:`archscore.predictors.gbdt`, ``n_members`` networks each train on a bootstrap sample
with their own seed; their spread plus an out-of-bag calibrated noise term is the std (see
:mod:`archscore.predictors._ensemble`).

PyTorch is needed to *fit* only (it is an optional extra). The fitted weights are kept as NumPy
arrays and the forward pass at prediction time is NumPy: a fitted model pickles, clones and
predicts without torch, and its pickle does not depend on the torch version.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from archscore._torch import pairwise_ranking_loss, torch_threads
from archscore.predictors._ensemble import EnsembleMixin, OutOfBag, bootstrap_rows

_ACTIVATIONS = ("relu", "silu")


def _import_torch():
    try:
        import torch
    except ImportError as err:
        raise ImportError('MLPEnsembleRegressor needs PyTorch to fit: pip install "archscore[torch]"') from err
    return torch


def _scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std along axis 0, with a std of 1 where a column is constant (up to rounding)."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    constant = std <= 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean))
    return mean, np.where(constant, 1.0, std)


class MLPEnsembleRegressor(EnsembleMixin, RegressorMixin, BaseEstimator):
    """An ensemble of MLPs on bootstrap samples, trained with MSE plus a ranking loss; ``predict(X, return_std=True)``.

    Inputs and target are standardised inside (mean and std of the training rows; constant
    columns are left at 0), so the learning rate and the weight of the ranking term mean the same
    on any feature set and any target unit; predictions are returned in the target's units.

    All members train at once as one batched network (weights stacked on a leading member axis):
    their parameters are disjoint and Adam is element-wise, so this is the same as training them
    one after another, at a fraction of the Python overhead. Each member still has its own seed
    (initial weights, minibatch order, dropout masks), drawn from ``random_state``.

    Args:
        n_members: Networks in the ensemble.
        hidden_sizes: Width of each hidden layer (``()`` gives a linear model).
        activation: ``"relu"`` or ``"silu"``.
        dropout: Dropout rate after each hidden layer during training (0 disables it).
        ranking_weight: Weight of the pairwise ranking loss next to the MSE (0: plain regression).
        epochs: Passes over each member's training rows.
        batch_size: Rows per Adam step; ``None`` (or at least the number of rows) is full-batch.
            The ranking loss compares all pairs within a batch, so its cost grows with its square
            (full-batch on 1000 rows is several times slower than batches of 128).
        learning_rate: Adam's step size.
        weight_decay: Adam's L2 penalty.
        bootstrap: Train each member on a bootstrap sample (else all rows, seeds only).
        random_state: Seed of the whole ensemble (members get seeds drawn from it). The same seed
            and ``n_jobs`` give identical predictions.
        n_jobs: torch threads while fitting (set for the duration of ``fit``, then restored);
            ``-1`` uses all cores.

    Attributes:
        coefs_: Per layer, the members' weights, shape ``(n_members, fan_in, fan_out)``.
        intercepts_: Per layer, the members' biases, shape ``(n_members, 1, fan_out)``.
        noise_std_: The out-of-bag calibrated noise term, in the target's units.
    """

    def __init__(
        self,
        n_members: int = 5,
        hidden_sizes: tuple[int, ...] = (128, 128),
        activation: str = "relu",
        dropout: float = 0.0,
        ranking_weight: float = 1.0,
        epochs: int = 150,
        batch_size: int | None = 128,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        bootstrap: bool = True,
        random_state: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.n_members = n_members
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.ranking_weight = ranking_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_params(self) -> tuple[int, ...]:
        if self.n_members < 1:
            raise ValueError(f"n_members must be at least 1, got {self.n_members}")
        sizes = (self.hidden_sizes,) if isinstance(self.hidden_sizes, int) else tuple(self.hidden_sizes)
        if any(int(h) != h or h < 1 for h in sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {self.activation!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.ranking_weight < 0:
            raise ValueError(f"ranking_weight must be non-negative, got {self.ranking_weight}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 or None, got {self.batch_size}")
        return tuple(int(h) for h in sizes)

    def fit(self, X, y) -> MLPEnsembleRegressor:
        """Train the members (torch needed), then calibrate ``noise_std_`` on their out-of-bag rows."""
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        y = y.astype(np.float64)  # validate_data keeps integer targets as they are
        hidden = self._check_params()
        torch = _import_torch()

        self.x_mean_, self.x_scale_ = _scale(X)
        y_mean, y_scale = _scale(y[:, None])
        self.y_mean_, self.y_scale_ = float(y_mean[0]), float(y_scale[0])
        Xs = (X - self.x_mean_) / self.x_scale_
        ys = (y - self.y_mean_) / self.y_scale_

        rng = np.random.default_rng(self.random_state)
        seeds, rows, unseen = [], [], []
        for _ in range(self.n_members):
            seeds.append(int(rng.integers(2**31 - 1)))
            member_rows, member_unseen = bootstrap_rows(rng, len(y), self.bootstrap)
            rows.append(member_rows)
            unseen.append(member_unseen)

        with torch_threads(torch, self.n_jobs):
            weights = self._train(torch, Xs, ys, np.stack(rows), seeds, hidden)
        self.coefs_ = [w.astype(np.float64) for w, _ in weights]
        self.intercepts_ = [b.astype(np.float64) for _, b in weights]

        members = self._forward(Xs) * self.y_scale_ + self.y_mean_
        oob = OutOfBag(len(y))
        for member, rows_out in zip(members, unseen):
            if rows_out.size:
                oob.add(rows_out, member[rows_out])
        self.noise_std_ = oob.noise_std(y)
        return self

    def _train(self, torch, Xs, ys, rows, seeds, hidden) -> list[tuple[np.ndarray, np.ndarray]]:
        """Train all members at once; returns per layer the stacked (weights, biases) as NumPy."""
        n = rows.shape[1]
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        orders = [np.random.default_rng(seed) for seed in seeds]
        params = []
        sizes = [Xs.shape[1], *hidden, 1]
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1 / math.sqrt(fan_in)  # torch.nn.Linear's default initialisation
            for shape in ((fan_in, fan_out), (1, fan_out)):
                values = [(torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * bound for g in generators]
                params.append(torch.stack(values).requires_grad_())
        activation = torch.relu if self.activation == "relu" else torch.nn.functional.silu
        optimizer = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay, fused=True)
        X_t = torch.from_numpy(Xs.astype(np.float32))
        y_t = torch.from_numpy(ys.astype(np.float32))
        batch = n if self.batch_size is None else min(self.batch_size, n)
        keep = 1 - self.dropout

        for _ in range(self.epochs):
            order = torch.from_numpy(np.stack([r[o.permutation(n)] for r, o in zip(rows, orders)]))
            for start in range(0, n, batch):
                index = order[:, start : start + batch]  # (n_members, b): each member its own rows
                h = X_t[index]
                for layer in range(0, len(params), 2):
                    h = torch.baddbmm(params[layer + 1], h, params[layer])
                    if layer + 2 < len(params):
                        h = activation(h)
                        if self.dropout:
                            masks = [torch.rand(h.shape[1:], generator=g) < keep for g in generators]
                            h = h * torch.stack(masks) / keep
                pred, target = h.squeeze(-1), y_t[index]
                loss = ((pred - target) ** 2).mean(dim=1)
                if self.ranking_weight:
                    loss = loss + self.ranking_weight * pairwise_ranking_loss(pred, target)
                optimizer.zero_grad(set_to_none=True)
                loss.sum().backward()  # members share no parameter: the sum trains each on its own loss
                optimizer.step()
        arrays = [p.detach().numpy().copy() for p in params]
        return list(zip(arrays[::2], arrays[1::2]))

    def _forward(self, Xs: np.ndarray) -> np.ndarray:
        """The members' standardised predictions for standardised rows, shape ``(n_members, n_samples)``."""
        h = Xs
        last = len(self.coefs_) - 1
        for layer, (w, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            h = h @ w + b  # (n, d) @ (m, d, k) broadcasts to (m, n, k)
            if layer < last:
                h = np.maximum(h, 0.0) if self.activation == "relu" else h * expit(h)
        return h[..., 0]

    def predict_members(self, X) -> np.ndarray:
        """Each member's prediction, shape ``(n_members, n_samples)``, in the target's units."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        members = self._forward((X - self.x_mean_) / self.x_scale_)
        return members * self.y_scale_ + self.y_mean_
