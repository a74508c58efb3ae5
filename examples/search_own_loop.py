"""Plug archscore's surrogate into your own search loop: ask for cells, evaluate them your way, tell the results.

Here "your way" is a look-up in the bundled NAS-Bench-201 table (CIFAR-10 validation accuracy), so
the example runs in about a minute on a laptop; in a real search ``evaluate`` would train each
network (``space.to_torch(cell)``) or measure it on a device. The second half searches two
objectives at once (accuracy up, parameters down) and prints the Pareto front.

Run: ``python examples/search_own_loop.py``
"""

from __future__ import annotations

from archscore.search import Surrogate, TableOracle
from archscore.spaces import get

BUDGET = 60
BATCH = 10


def main() -> None:
    space = get("nb201")
    table = TableOracle(space, ["cifar10_val_acc", "params_M_cifar10"])
    accuracy = dict(zip(table.cells, table.Y[:, 0]))
    params = dict(zip(table.cells, table.Y[:, 1]))

    def evaluate(cell: str) -> float:
        """Your evaluation: train the network and return its validation accuracy (here: the table's)."""
        return float(accuracy[cell])

    # One objective: BANANAS-style Bayesian optimisation with Thompson sampling (GBDT ensemble, stats+WL features).
    surrogate = Surrogate(space, strategy="bo-ts", candidates=table.cells, seed=0)
    while surrogate.n_told < BUDGET:
        cells = surrogate.ask(BATCH)  # refits happen in tell(); ask only proposes
        surrogate.tell(cells, [evaluate(c) for c in cells])
        cell, best = surrogate.best()
        print(f"{surrogate.n_told:4d} evaluated, best so far {best:.2f} %  {cell}")
    print(f"table optimum: {table.Y[:, 0].max():.2f} %\n")

    # Two objectives: accuracy (maximised) and parameters in millions (minimised).
    mo = Surrogate(
        space,
        strategy="bo-ucb",
        objectives=["val_acc", "params_M"],
        maximize=[True, False],
        candidates=table.cells,
        seed=0,
    )
    while mo.n_told < BUDGET:
        cells = mo.ask(BATCH)
        mo.tell(cells, [[evaluate(c), params[c]] for c in cells])
    print("Pareto front (accuracy %, params M):")
    for cell, (acc, size) in mo.pareto_front():
        print(f"  {acc:6.2f}  {size:6.3f}  {cell}")


if __name__ == "__main__":
    main()
