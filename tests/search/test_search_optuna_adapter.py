"""The Optuna adapter: the study's results reach the surrogate, its proposals become the next trials."""

from __future__ import annotations

import pytest
from _search_helpers import OPTIMUM, SPACE, conv3x3, onehot_features, small_gbdt

from archscore.search import SearchConfigError, Surrogate
from archscore.search.optuna_adapter import CELL_ATTR, OptunaPreScreener, nb201_cell, nb201_params, suggest_cell

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial) -> float:
    return float(conv3x3([suggest_cell(trial)])[0])


def surrogate(**kw) -> Surrogate:
    return Surrogate(SPACE, small_gbdt(), strategy="bo-ts", features=onehot_features(), **kw)


def test_nb201_params_round_trip_every_edge() -> None:
    params = nb201_params(OPTIMUM)
    assert len(params) == 6 and set(params.values()) == {"nor_conv_3x3"}
    assert nb201_cell(params) == OPTIMUM


def test_enqueued_proposals_are_the_next_trials_and_their_results_are_told_back() -> None:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=12)
    pre = OptunaPreScreener(surrogate())
    cells = pre.enqueue(study, 5)
    assert pre.surrogate.n_told == 12  # every finished trial was told before asking
    study.optimize(objective, n_trials=5)
    ran = [t.user_attrs[CELL_ATTR] for t in study.trials[12:]]
    assert ran == cells  # the study evaluated exactly the proposals, in order
    assert pre.sync(study) == 5 and pre.surrogate.n_told == 17
    assert pre.sync(study) == 0  # nothing is told twice


def test_the_callback_makes_the_surrogate_lead_a_tpe_study_to_the_optimum() -> None:
    def run(with_surrogate: bool) -> list[str]:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
        callbacks = [OptunaPreScreener(surrogate(seed=1)).callback(n=10, n_startup=10)] if with_surrogate else []
        study.optimize(objective, n_trials=80, callbacks=callbacks)
        return [t.user_attrs[CELL_ATTR] for t in study.trials]

    assert OPTIMUM in run(True)
    assert OPTIMUM not in run(False)


def test_a_study_in_the_other_direction_is_refused() -> None:
    study = optuna.create_study(direction="minimize")
    with pytest.raises(SearchConfigError, match="directions"):
        OptunaPreScreener(surrogate()).enqueue(study, 3)
