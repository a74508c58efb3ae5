"""Surrogate-driven architecture search: ask/tell over any search space and any predictor.

>>> from archscore.search import Surrogate, TableOracle, run_search
>>> oracle = TableOracle("nb201", "cifar10_val_acc")
>>> s = Surrogate("nb201", strategy="bo-ts", candidates=oracle.cells)   # doctest: +SKIP
>>> result = run_search(s, oracle, budget=100, batch_size=10)        # doctest: +SKIP

Strategies (:mod:`archscore.search.strategies`): random search, regularised evolution (with
surrogate pre-screening of offspring), and BANANAS-style Bayesian optimisation with EI, UCB or
Thompson acquisition. Several objectives give a Pareto front (:meth:`Surrogate.pareto_front`).
The Optuna adapter lives in :mod:`archscore.search.optuna_adapter`.
"""

from archscore.search.acquisition import ACQUISITIONS
from archscore.search.features import CellFeatures
from archscore.search.oracle import SearchResult, TableOracle, check_budget, run_search
from archscore.search.pareto import hypervolume_2d, non_dominated, pareto_ranks
from archscore.search.prior import ScorePrior, zero_shot_prior
from archscore.search.strategies import (
    STRATEGIES,
    BayesOpt,
    RandomSearch,
    RegularizedEvolution,
    Strategy,
    make_strategy,
)
from archscore.search.surrogate import SearchConfigError, Surrogate, default_predictor

__all__ = [
    "ACQUISITIONS",
    "STRATEGIES",
    "BayesOpt",
    "CellFeatures",
    "RandomSearch",
    "RegularizedEvolution",
    "ScorePrior",
    "SearchConfigError",
    "SearchResult",
    "Strategy",
    "Surrogate",
    "TableOracle",
    "check_budget",
    "default_predictor",
    "hypervolume_2d",
    "make_strategy",
    "non_dominated",
    "pareto_ranks",
    "run_search",
    "zero_shot_prior",
]
