"""``archscore search``: a surrogate-driven search on a bundled benchmark table, printed as it goes.

The bundled table of the space is the oracle (every evaluation is a look-up of a measured value).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from archscore.cli._ui import err, fail, out
from archscore.errors import ArchscoreError


def search_command(
    space: Annotated[str, typer.Option(help="Search space with a bundled table (the oracle), e.g. nb201.")] = "nb201",
    budget: Annotated[int, typer.Option(help="Evaluations (table look-ups) in all.")] = 100,
    objective: Annotated[
        str, typer.Option(help="Table column to optimise, or a short name completed by --dataset (val_acc).")
    ] = "val_acc",
    strategy: Annotated[
        str, typer.Option(help="random, evolution, evolution+surrogate, bo-ei, bo-ucb, bo-ts or bo-mean.")
    ] = "bo-ts",
    seed: Annotated[int, typer.Option(help="Seed of the search.")] = 0,
    dataset: Annotated[str | None, typer.Option(help="The space's dataset (default: its first).")] = None,
) -> None:
    """Search a space for its best architecture with a learned surrogate; the bundled table is the oracle."""
    from archscore.search.oracle import TableOracle, check_budget, is_minimised, run_search
    from archscore.search.surrogate import Surrogate
    from archscore.spaces import get

    batch_size = 10
    try:
        check_budget(budget, batch_size)
        s = get(space)
        dataset = s.dataset(dataset)
        oracle = TableOracle(s, objective, dataset)
        column = oracle.objectives[0]
        maximize = not is_minimised(column)
        surrogate = Surrogate(
            s, strategy=strategy, objectives=[column], maximize=maximize, dataset=dataset,
            candidates=oracle.cells, seed=seed,
        )  # fmt: skip
    except ArchscoreError as exc:
        fail(exc)
    optimum_cells, optimum = oracle.optimum(0, maximize)
    found: list[int] = []

    table = Table(title=f"{strategy} on {space} / {column} ({'max' if maximize else 'min'}imised), seed {seed}")
    for col in ("evaluations", "best so far", "gap to optimum", "step s"):
        table.add_column(col, justify="right")
    table.add_column("best cell", overflow="fold")

    def report(sur: Surrogate, batch: list[str]) -> None:
        if not found and set(batch) & set(optimum_cells):
            hits = [i for i, c in enumerate(sur.cells) if c in optimum_cells]
            found.append(hits[0] + 1)
        cell, value = sur.best()
        step = sur.step_seconds()[-1] if sur.steps else 0.0
        table.add_row(f"{sur.n_told}", _value(value), _value(abs(optimum - value)), f"{step:.2f}", cell)
        progress.update(task, completed=sur.n_told, best=_value(value))

    best = TextColumn("best so far {task.fields[best]}")
    columns = (TextColumn("searching"), BarColumn(), MofNCompleteColumn(), best, TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("search", total=budget, best="–")
        result = run_search(surrogate, oracle, budget, batch_size, callback=report)
    out.print(table)
    cell, value = surrogate.best()
    out.print(f"best: {_value(value)}  {cell}", highlight=False)
    where = f"found after {found[0]} evaluations" if found else f"not found in {len(result.cells)} evaluations"
    out.print(f"table optimum: {_value(optimum)} ({where})", highlight=False)


def _value(x: float) -> str:
    """Objective values and gaps in one format (fixed decimals, so a column lines up)."""
    return f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.2e}"
