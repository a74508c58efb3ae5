"""Let archscore's surrogate pre-screen an Optuna study: its proposals are enqueued as the next trials.

The objective suggests an NB201 cell with :func:`archscore.search.optuna_adapter.suggest_cell` (one
categorical choice per edge) and "trains" it by a look-up in the bundled table (CIFAR-10 validation
accuracy), so the example runs in about a minute; replace ``train`` with your own training. The
same study is run twice with the same budget: with Optuna's TPE sampler alone, and with the
surrogate enqueueing a batch of proposals whenever the queue is empty (after 10 TPE trials, every
other batch left to TPE).

Run: ``python examples/search_optuna.py`` (needs ``pip install "archscore[train]"`` for Optuna)
"""

from __future__ import annotations

import optuna

from archscore.search import Surrogate, TableOracle
from archscore.search.optuna_adapter import OptunaPreScreener, suggest_cell

TRIALS = 60


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = TableOracle("nb201", "cifar10_val_acc")
    accuracy = dict(zip(table.cells, table.Y[:, 0]))

    def train(cell: str) -> float:
        return float(accuracy[cell])  # your training run here

    def objective(trial: optuna.Trial) -> float:
        return train(suggest_cell(trial))

    tpe = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    tpe.optimize(objective, n_trials=TRIALS)

    screened = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    pre = OptunaPreScreener(Surrogate("nb201", strategy="bo-ts", candidates=table.cells, seed=0))
    screened.optimize(objective, n_trials=TRIALS, callbacks=[pre.callback(n=10, n_startup=10, sampler_trials=10)])

    from_surrogate = sum(t.user_attrs.get("archscore_source") == "surrogate" for t in screened.trials)
    print(f"table optimum:                {table.Y[:, 0].max():.2f} %")
    print(f"TPE alone, {TRIALS} trials:         {tpe.best_value:.2f} %")
    print(f"TPE + archscore, {TRIALS} trials:   {screened.best_value:.2f} % ({from_surrogate} from the surrogate)")
    print(f"best cell: {screened.best_trial.user_attrs['archscore_cell']}")


if __name__ == "__main__":
    main()
