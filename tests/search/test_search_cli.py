"""``archscore search`` (the function the CLI registers): a real search on the bundled NB201 table."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from archscore.cli.search import search_command

app = typer.Typer()
app.command()(search_command)


def test_the_search_command_prints_the_best_so_far_curve_and_the_best_cell() -> None:
    result = CliRunner().invoke(app, ["--budget", "20", "--strategy", "random", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "best so far" in result.output and "best: " in result.output and "table optimum: 91.570" in result.output
    rows = re.findall(r"│\s+(\d+) │\s+(\S+) │\s+(\S+) │", result.output)
    assert [int(r[0]) for r in rows] == [10, 20]
    assert all(re.fullmatch(r"\d+\.\d{3}", v) for r in rows for v in r[1:]), rows  # one format per column
    assert "|nor_conv" in result.output or "|skip" in result.output or "|avg" in result.output


def test_the_search_command_refuses_a_zero_budget_and_an_unknown_objective() -> None:
    result = CliRunner().invoke(app, ["--budget", "0"])
    assert result.exit_code == 2 and "budget must be at least 1" in result.output
    result = CliRunner().invoke(app, ["--objective", "top1_on_mars", "--budget", "10"])
    assert result.exit_code == 2 and "no data for objective" in result.output
