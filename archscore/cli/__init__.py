"""The ``archscore`` command: thin commands over the library, one module per group.

``describe`` and ``data`` (:mod:`.describe`), ``score`` and ``demo`` (:mod:`.score`), ``serve``
(:mod:`.serve`), ``train``, ``retrain``, ``models`` and ``pretrain-gnn`` (:mod:`.train`), ``search``
(:mod:`.search`); :mod:`._ui` holds what they share (consoles, errors, progress lines, help text).
"""

from __future__ import annotations

from typing import Annotated

import typer

from archscore import __version__
from archscore.cli import describe, score, search, serve, train
from archscore.cli._ui import out, plain_metavars

app = typer.Typer(help="archscore: performance prediction for neural architectures.", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"archscore {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """archscore: performance prediction for neural architectures."""


# the order of the help's command list
app.command()(describe.describe)
app.add_typer(describe.data_app, name="data")
app.command("pretrain-gnn")(train.pretrain_gnn)
app.command()(train.train)
app.command()(train.retrain)
app.add_typer(train.models_app, name="models")
app.command()(score.score)
app.command()(score.demo)
app.command()(serve.serve)
app.command("search", help=search.search_command.__doc__)(search.search_command)


def command():
    """The click command behind :data:`app`, with plain help (what the console script runs)."""
    cmd = typer.main.get_command(app)
    plain_metavars(cmd)
    return cmd


def run() -> None:  # console-script entry point
    command()()
