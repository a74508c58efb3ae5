"""The contract every archscore predictor and encoder keeps, as checks anyone can run.

A search loop, the service and the training pipeline treat every predictor alike, so each must
answer in the same shapes, give a std that is a std, be reproducible under a seed, and survive
``clone`` and ``pickle`` (MLflow logging and worker processes rely on both). Run
:func:`check_predictor` / :func:`check_encoder` on a new component, or parametrize a test over
:func:`predictor_checks` / :func:`encoder_checks` to see each check pass or fail on its own::

    @pytest.mark.parametrize("check", predictor_checks(), ids=lambda c: c.__name__)
    def test_contract(check):
        check(MyPredictor(random_state=0))

Each check raises ``AssertionError`` naming what broke.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.base import clone


def synthetic_regression(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small regression a predictor must learn: five features in [-1, 1], a linear and a wavy
    part, noise std 0.3 — the data the contract checks and the predictor tests use."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 5))
    return X, 3 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.3 * rng.normal(size=n)


def _fitted(estimator, X, y):
    model = clone(estimator)
    returned = model.fit(X, y)
    assert returned is model, f"{type(model).__name__}.fit must return self"
    return model


def check_predict_shapes(estimator, X=None, y=None) -> None:
    """``predict`` gives one finite value per row; ``return_std=True`` gives ``(mean, std)`` with std ≥ 0."""
    X, y = (X, y) if X is not None else synthetic_regression()
    model = _fitted(estimator, X, y)
    mean = np.asarray(model.predict(X[:7]))
    assert mean.shape == (7,), f"predict returned shape {mean.shape} for 7 rows"
    out = model.predict(X[:7], return_std=True)
    assert isinstance(out, tuple) and len(out) == 2, "predict(X, return_std=True) must return (mean, std)"
    m, s = (np.asarray(v) for v in out)
    assert m.shape == s.shape == (7,), f"mean/std shapes {m.shape}/{s.shape} for 7 rows"
    assert np.isfinite(m).all() and np.isfinite(s).all(), "mean and std must be finite"
    assert (s >= 0).all(), "std must be non-negative"
    assert np.allclose(m, mean), "the mean with return_std=True must equal predict(X)"


def check_members(estimator, X=None, y=None) -> None:
    """An ensemble's ``predict_members`` gives ``(n_members, n_rows)`` finite predictions."""
    X, y = (X, y) if X is not None else synthetic_regression()
    model = _fitted(estimator, X, y)
    if not hasattr(model, "predict_members"):
        return
    members = np.asarray(model.predict_members(X[:5]))
    assert members.ndim == 2 and members.shape[1] == 5, f"predict_members shape {members.shape} for 5 rows"
    assert members.shape[0] >= 1 and np.isfinite(members).all()


def check_seeded(estimator, X=None, y=None) -> None:
    """Two fits under the same ``random_state`` predict the same; the parameter exists."""
    X, y = (X, y) if X is not None else synthetic_regression()
    assert "random_state" in estimator.get_params(), f"{type(estimator).__name__} takes no random_state"
    a = _fitted(estimator, X, y).predict(X, return_std=True)
    b = _fitted(estimator, X, y).predict(X, return_std=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), "same seed, different predictions"


def check_round_trip(estimator, X=None, y=None) -> None:
    """A fitted model predicts the same after ``pickle``; ``clone`` keeps the parameters."""
    X, y = (X, y) if X is not None else synthetic_regression()
    model = _fitted(estimator, X, y)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(model.predict(X), again.predict(X)), "pickling changed the predictions"
    assert repr(clone(model).get_params()) == repr(model.get_params()), "clone changed the parameters"


def predictor_checks() -> list[Callable[..., None]]:
    """Every predictor check, for ``pytest.mark.parametrize``."""
    return [check_predict_shapes, check_members, check_seeded, check_round_trip]


def check_predictor(estimator, X=None, y=None) -> None:
    """Run every predictor check."""
    for check in predictor_checks():
        check(estimator, X, y)


# -- encoders ------------------------------------------------------------------------------------
def check_encoding_shapes(encoder, archs: Sequence[object]) -> None:
    """``fit_transform`` gives one finite row per architecture, as wide as ``get_feature_names_out``."""
    enc = clone(encoder)
    X = np.asarray(enc.fit_transform(list(archs)))
    assert X.shape[0] == len(archs), f"{X.shape[0]} rows for {len(archs)} architectures"
    assert X.ndim == 2 and np.isfinite(X).all(), "the encoding must be a finite matrix"
    names = enc.get_feature_names_out()
    assert len(names) == X.shape[1], f"{len(names)} feature names for {X.shape[1]} columns"
    assert np.array_equal(enc.transform(list(archs)[:3]), X[:3]), "transform of a subset must give the same rows"


def check_encoder_round_trip(encoder, archs: Sequence[object]) -> None:
    """A fitted encoder encodes the same after ``pickle`` and after a same-parameter refit."""
    archs = list(archs)
    enc = clone(encoder).fit(archs)
    X = enc.transform(archs)
    assert np.array_equal(pickle.loads(pickle.dumps(enc)).transform(archs), X), "pickling changed the encoding"
    assert np.array_equal(clone(encoder).fit(archs).transform(archs), X), "refitting changed the encoding"


def encoder_checks() -> list[Callable[..., None]]:
    """Every encoder check, for ``pytest.mark.parametrize``."""
    return [check_encoding_shapes, check_encoder_round_trip]


def check_encoder(encoder, archs: Sequence[object]) -> None:
    """Run every encoder check on ``archs`` (at least 3 architectures)."""
    for check in encoder_checks():
        check(encoder, archs)
