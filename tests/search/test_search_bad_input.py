"""Bad search input fails before anything is evaluated, with an ArchscoreError/ValueError naming the problem."""

from __future__ import annotations

import pytest
from _search_helpers import SPACE, conv3x3, onehot_features, small_gbdt
from sklearn.linear_model import LinearRegression

from archscore.errors import ArchscoreError
from archscore.search import SearchConfigError, Surrogate, TableOracle, run_search


class Counting:
    """An evaluation function that records every call (none may happen on bad input)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, cells):
        self.calls += 1
        return conv3x3(cells)


@pytest.mark.parametrize("budget", [0, -5])
def test_a_budget_of_zero_is_refused_before_the_search_starts(budget) -> None:
    s = Surrogate(SPACE, small_gbdt(), features=onehot_features())
    evaluate = Counting()
    with pytest.raises(SearchConfigError, match="budget must be at least 1") as info:
        run_search(s, evaluate, budget)
    assert isinstance(info.value, ArchscoreError) and isinstance(info.value, ValueError)
    assert evaluate.calls == 0 and s.n_told == 0 and not s.steps


def test_an_objective_the_space_has_no_data_for_names_it_and_lists_the_ones_there_are() -> None:
    with pytest.raises(SearchConfigError, match=r"no data for objective.*'top1_on_mars'.*cifar10_val_acc"):
        TableOracle("nb201", "top1_on_mars")
    with pytest.raises(SearchConfigError, match="on dataset 'cifar100'"):
        TableOracle("nb201", "zen_score", dataset="cifar100")


def test_a_space_whose_table_has_latency_only_refuses_accuracy_and_lists_its_devices() -> None:
    with pytest.raises(SearchConfigError, match=r"ofa_mbv3 space has no data for objective.*'accuracy'.*titan_rtx_1"):
        TableOracle("ofa_mbv3", "accuracy")


@pytest.mark.parametrize("strategy", ["bo-ei", "bo-ucb"])
def test_an_acquisition_that_needs_a_std_refuses_a_predictor_without_one(strategy) -> None:
    with pytest.raises(SearchConfigError, match=rf"acquisition '{strategy[3:]}' needs .*LinearRegression.*return_std"):
        Surrogate(SPACE, LinearRegression(), strategy=strategy)


def test_thompson_sampling_refuses_a_point_predictor() -> None:
    with pytest.raises(SearchConfigError, match=r"'thompson' needs an ensemble's members .*LinearRegression"):
        Surrogate(SPACE, LinearRegression(), strategy="bo-ts")


def test_a_point_predictor_is_fine_where_no_std_is_needed() -> None:
    for strategy in ("bo-mean", "evolution+surrogate", "random", "evolution"):
        Surrogate(SPACE, LinearRegression(), strategy=strategy, features=onehot_features())


def test_unknown_strategy_and_mismatched_objectives_are_named() -> None:
    with pytest.raises(ArchscoreError, match=r"unknown search strategy 'bananas'.*bo-ts"):
        Surrogate(SPACE, strategy="bananas")
    with pytest.raises(SearchConfigError, match="maximize has 1 entries for 2 objectives"):
        Surrogate(SPACE, objectives=["acc", "params"], maximize=[True])
    with pytest.raises(ArchscoreError, match="nb201"):
        Surrogate(SPACE, candidates=["not a cell"])
    with pytest.raises(ArchscoreError, match="unknown search space"):
        Surrogate("nb999")
