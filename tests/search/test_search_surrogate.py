"""The ask/tell API of the Surrogate: what ask proposes, what tell records and refits, what predict returns."""

from __future__ import annotations

import numpy as np
import pytest
from _search_helpers import SPACE, all_cells, conv3x3, onehot_features, small_gbdt

from archscore.search import SearchConfigError, Surrogate


def make(strategy: str = "bo-ts", **kw) -> Surrogate:
    return Surrogate(SPACE, small_gbdt(), strategy=strategy, features=onehot_features(), seed=kw.pop("seed", 0), **kw)


def test_ask_proposes_n_distinct_canonical_cells_and_never_repeats_a_pending_one() -> None:
    s = make()
    first = s.ask(7)
    second = s.ask(7)
    assert len(first) == 7 and len(set(first)) == 7
    assert all(SPACE.canonical(c) == c for c in first + second)
    assert not set(first) & set(second)  # pending cells are not proposed again


def test_tell_records_the_results_and_refits_the_predictor() -> None:
    s = make()
    assert not s.fitted
    batch = s.ask(10)
    s.tell(batch, conv3x3(batch))
    assert s.fitted and s.n_told == 10 and s.cells == batch
    np.testing.assert_allclose(s.values[:, 0], conv3x3(batch))
    cell, value = s.best()
    assert value == conv3x3(batch).max() and cell in batch
    # a told cell is never proposed again
    assert not set(s.ask(20)) & set(batch)


def test_tell_accepts_any_spelling_of_a_cell_and_stores_the_canonical_one() -> None:
    s = make()
    s.tell(["433000"], [1.0])  # NASLib's op code of an NB201 cell
    assert s.cells == [SPACE.canonical("433000")]


def test_predict_after_tell_ranks_cells_like_the_objective() -> None:
    s = make()
    for _ in range(4):
        batch = s.ask(10)
        s.tell(batch, conv3x3(batch))
    probe = list(all_cells()[::997])
    mean, std = s.predict(probe)
    assert mean.shape == std.shape == (len(probe),) and (std > 0).all()
    assert np.corrcoef(mean, conv3x3(probe))[0, 1] > 0.8


def test_a_model_led_search_improves_on_its_initial_design() -> None:
    s = make("bo-ei")
    batch = s.ask(10)
    s.tell(batch, conv3x3(batch))
    initial = s.best()[1]
    for _ in range(3):
        batch = s.ask(10)
        s.tell(batch, conv3x3(batch))
    assert s.best()[1] > initial


def test_the_search_can_be_confined_to_candidates_and_stops_when_they_run_out() -> None:
    pool = list(all_cells()[:15])
    s = make("bo-ucb", candidates=pool)
    seen = []
    for _ in range(3):
        batch = s.ask(10)
        assert set(batch) <= set(pool)
        if batch:
            s.tell(batch, conv3x3(batch))
        seen += batch
    assert sorted(seen) == sorted(pool)  # every candidate once, then nothing more


def test_steps_record_the_refit_and_proposal_seconds() -> None:
    s = make()
    for _ in range(2):
        batch = s.ask(10)
        s.tell(batch, conv3x3(batch))
    s.ask(10)
    assert len(s.steps) == 3 and s.steps[-1].fit_seconds > 0  # the refit after the last tell
    assert (s.step_seconds() > 0).all()


def test_same_seed_same_search() -> None:
    def run(seed: int) -> list[str]:
        s = make(seed=seed)
        for _ in range(2):
            batch = s.ask(10)
            s.tell(batch, conv3x3(batch))
        return s.cells + s.ask(10)

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize("values", [[1.0, 2.0], [[1.0, 2.0]] * 3, [float("nan"), 1.0, 2.0]])
def test_tell_refuses_values_that_do_not_match_the_cells(values) -> None:
    s = make()
    batch = s.ask(3)
    with pytest.raises(SearchConfigError, match="tell"):
        s.tell(batch, values)


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_ask_refuses_a_batch_of_no_cells(n) -> None:
    with pytest.raises(SearchConfigError, match="n ≥ 1"):
        make().ask(n)
