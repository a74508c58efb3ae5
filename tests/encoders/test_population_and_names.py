"""The z part (statistics standardised against a population) and encoders by name."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from archscore.encoders import PopulationEncoder
from archscore.errors import UnknownNameError


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    small = rng.normal(0.0, 1.0, size=(50, 4))
    large = rng.normal(10.0, 2.0, size=(60, 4))
    return small, large


def test_each_row_is_standardised_against_its_own_population(rows) -> None:
    small, large = rows
    enc = PopulationEncoder().fit(np.vstack([small, large]), groups=["small"] * 50 + ["large"] * 60)
    assert enc.names_ == ["small", "large"]
    which, distance = enc.nearest(np.vstack([small, large]))
    assert (which[:50] == 0).all() and (which[50:] == 1).all()
    assert distance.max() < 3  # within a few stds of its own population
    z = enc.transform(large)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-9)
    far = enc.nearest(np.full((1, 4), 1e3))[1]
    assert far[0] > 100  # the out-of-distribution signal


def test_batch_named_and_given_references(rows) -> None:
    small, large = rows
    enc = PopulationEncoder().set_populations(["small", "large"], [small, large])
    np.testing.assert_allclose(enc.standardise(large, "small"), (large - small.mean(0)) / small.std(0))
    np.testing.assert_allclose(enc.standardise(large, "batch"), (large - large.mean(0)) / large.std(0))
    np.testing.assert_allclose(enc.standardise(large, small), enc.standardise(large, "small"))
    with pytest.raises(UnknownNameError, match="unknown reference population 'medium'"):
        enc.standardise(large, "medium")
    with pytest.raises(ValueError, match="at least 2"):
        enc.standardise(large[:1], "batch")
    assert clone(enc).get_params() == {"reference": "nearest"}


def test_encoders_by_name_compose_side_by_side() -> None:
    from sklearn.pipeline import FeatureUnion

    from archscore.encoders import StatsEncoder, WLEncoder, make_encoder

    union = make_encoder("stats+wl")
    assert isinstance(union, FeatureUnion) and [type(e) for _, e in union.transformer_list] == [StatsEncoder, WLEncoder]
    assert make_encoder("wl", iterations=1).iterations == 1
    with pytest.raises(UnknownNameError, match="unknown encoder"):
        make_encoder("stats+z")
