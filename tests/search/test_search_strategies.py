"""Each strategy does what it claims on NB201 with an objective whose optimum is known (3×3 convs per edge)."""

from __future__ import annotations

import numpy as np
import pytest
from _search_helpers import OPTIMUM, SPACE, all_cells, conv3x3, onehot_features, small_gbdt
from sklearn.linear_model import LinearRegression

from archscore.search import (
    BayesOpt,
    RegularizedEvolution,
    Surrogate,
    TableOracle,
    hypervolume_2d,
    make_strategy,
    non_dominated,
    run_search,
)
from archscore.spaces.nb201 import edge_ops


def search(strategy, budget: int, seed: int = 0, predictor=None, **kw) -> Surrogate:
    s = Surrogate(SPACE, predictor or small_gbdt(seed), strategy=strategy, features=onehot_features(), seed=seed, **kw)
    run_search(s, conv3x3, budget, batch_size=10)
    return s


def edits(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(edge_ops(a), edge_ops(b)))


@pytest.mark.parametrize("strategy", ["bo-ei", "bo-ucb", "bo-ts", "bo-mean"])
def test_each_bayesian_acquisition_finds_the_known_optimum_where_random_search_does_not(strategy) -> None:
    found = [OPTIMUM in search(strategy, 80, seed).cells for seed in (0, 1)]
    assert all(found)
    # random search with the same budget: 80 of 15,625 cells, the optimum is one of them by luck only
    assert not any(OPTIMUM in search("random", 80, seed).cells for seed in (0, 1))


def test_random_search_draws_uniformly_over_the_space() -> None:
    s = search("random", 300)
    counts = np.array([[ops.count(op) for op in ("none", "nor_conv_3x3")] for ops in map(edge_ops, s.cells)])
    assert counts.mean(axis=0) == pytest.approx([6 / 5, 6 / 5], abs=0.2)  # each op on a fifth of the edges


def test_evolution_children_are_one_mutation_from_an_earlier_result() -> None:
    s = search(RegularizedEvolution(population=10, sample=3), 60)
    for k in range(10, 60):
        child = s.cells[k]
        earlier = s.cells[: (k // 10) * 10]  # batches of 10: parents come from the results told before
        assert min(edits(child, p) for p in earlier) == 1


def test_surrogate_prescreening_makes_evolution_find_the_optimum_sooner() -> None:
    # a linear model is exact on one-hot features for this objective: each child is the best of 20 mutants
    screened = [search(RegularizedEvolution(prescreen=20), 200, seed, LinearRegression()).cells for seed in range(3)]
    plain = [search(RegularizedEvolution(), 200, seed, LinearRegression()).cells for seed in range(3)]
    assert all(OPTIMUM in cells for cells in screened)
    first = [cells.index(OPTIMUM) if OPTIMUM in cells else 200 for cells in plain]
    assert max(cells.index(OPTIMUM) for cells in screened) < min(first)


def test_bayes_opt_pool_mutates_the_incumbents_and_adds_random_cells() -> None:
    bo = BayesOpt(pool_size=100, n_parents=5, random_share=0.3, max_edits=2)
    s = Surrogate(SPACE, small_gbdt(), strategy=bo, features=onehot_features())
    batch = s.ask(20)
    s.tell(batch, conv3x3(batch))
    pool = bo.candidate_pool(s)
    parents = [s.cells[i] for i in np.argsort(-s.values[:, 0])[:5]]
    near = [c for c in pool if min(edits(c, p) for p in parents) <= 2]
    assert len(pool) >= 90 and len(near) >= 60
    assert not set(pool) & set(batch)


def test_bayes_opt_over_every_remaining_candidate_takes_the_predicted_best() -> None:
    s = Surrogate(
        SPACE, LinearRegression(), strategy=BayesOpt("mean", pool="all"), features=onehot_features(),
        candidates=all_cells(),
    )  # fmt: skip
    batch = s.ask(40)  # the initial design: enough random cells for a linear model to be exact
    s.tell(batch, conv3x3(batch))
    batch = s.ask(10)  # an exact model over the whole space: the optimum and the next best cells
    assert batch[0] == OPTIMUM
    rest = sorted(conv3x3([c for c in all_cells() if c not in s.cells]), reverse=True)
    np.testing.assert_allclose(sorted(conv3x3(batch), reverse=True), rest[:10])


def test_a_prior_chooses_the_initial_design() -> None:
    s = Surrogate(
        SPACE, small_gbdt(), strategy="bo-ts", features=onehot_features(), candidates=all_cells(), prior=conv3x3
    )
    batch = s.ask(10)
    assert batch[0] == OPTIMUM and conv3x3(batch).min() >= 5  # the prior's ten best-scored cells


def mo_search(oracle: TableOracle, strategy: str, seed: int) -> Surrogate:
    s = Surrogate(
        SPACE, small_gbdt(seed), strategy=make_strategy(strategy), features=onehot_features(),
        objectives=oracle.objectives, maximize=[True, False], candidates=oracle.cells, seed=seed,
    )  # fmt: skip
    run_search(s, oracle, 60, 10)
    return s


def test_two_objectives_give_a_pareto_front_of_accuracy_and_parameters() -> None:
    oracle = TableOracle("nb201", ["cifar10_val_acc", "params_M_cifar10"])
    s = mo_search(oracle, "bo-ucb", 0)
    front = s.pareto_front()
    assert len(front) >= 3
    values = np.array([v for _, v in front])
    assert (np.diff(values[:, 0]) <= 0).all() and (np.diff(values[:, 1]) <= 0).all()  # less accurate, smaller
    oriented = s.values * [1, -1]
    assert len(non_dominated(oriented)) == len(front)
    assert front[0][1][0] == s.values[:, 0].max() and front[-1][1][1] == s.values[:, 1].min()
    # the front spans both ends: cells far smaller than the median and among the most accurate
    assert values[:, 1].min() < np.median(oracle.Y[:, 1]) / 2
    assert values[:, 0].max() > np.quantile(oracle.Y[:, 0], 0.9)


def test_the_two_objective_search_dominates_more_than_random_search() -> None:
    oracle = TableOracle("nb201", ["cifar10_val_acc", "params_M_cifar10"])
    ref = np.array([oracle.Y[:, 0].min(), -oracle.Y[:, 1].max()])

    def hv(strategy: str) -> float:
        return float(np.mean([hypervolume_2d(mo_search(oracle, strategy, k).oriented, ref) for k in range(4)]))

    assert hv("bo-ucb") > hv("random")
