"""The ``archscore`` command."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from archscore import __version__
from archscore.errors import ArchscoreError

app = typer.Typer(help="archscore: performance prediction for neural architectures.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


class Format(str, Enum):
    text = "text"
    json = "json"
    stats = "stats"


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


def _parse_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.partition("=")
        try:
            if not sep:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.replace("x", ",").split(","))
        except ValueError:
            raise typer.BadParameter(f"{item!r}: expected NAME=D0,D1,... (e.g. x=1,3,224,224)") from None
    return shapes


@app.command()
def describe(
    model: Annotated[Path | None, typer.Argument(help="ONNX file to describe.", show_default=False)] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="What to print.")] = Format.stats,
    example: Annotated[str | None, typer.Option(help="Describe a bundled example model instead.")] = None,
    input_shape: Annotated[
        list[str] | None, typer.Option("--input-shape", help="Fix a symbolic input: NAME=1,3,224,224 (repeatable).")
    ] = None,
) -> None:
    """Parse an ONNX model into archscore's canonical graph and print it."""
    from archscore.examples import example_path, examples
    from archscore.graph import from_onnx

    if (model is None) == (example is None):
        raise typer.BadParameter("give either an ONNX file or --example NAME")
    if example is not None:
        if example not in examples():
            raise typer.BadParameter(f"unknown example {example!r}; choose from {', '.join(examples())}")
        model = example_path(example)
    try:
        graph = from_onnx(model, input_shapes=_parse_shapes(input_shape or []) or None)  # type: ignore[arg-type]
    except ArchscoreError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True, markup=True, highlight=False)
        raise typer.Exit(2) from None
    if fmt is Format.text:
        out.print(graph.to_text(), markup=False, highlight=False, soft_wrap=True)
    elif fmt is Format.json:
        out.print_json(graph.to_json())
    else:
        table = Table(title=f"{model.name}: {len(graph)} nodes", show_header=True)
        table.add_column("statistic")
        table.add_column("value", justify="right")
        for key, value in graph.stats().items():
            if value or not key.startswith("count_"):
                table.add_row(key, f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}")
        out.print(table)


def run() -> None:  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
