"""``archscore describe`` and ``archscore data``: what an architecture is, what data is bundled."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from archscore.cli._ui import err, fail, out, parse_shapes
from archscore.errors import ArchscoreError


class Format(str, Enum):
    text = "text"
    json = "json"
    stats = "stats"


def describe(
    model: Annotated[Path | None, typer.Argument(help="ONNX file to describe.", show_default=False)] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="What to print.")] = Format.stats,
    example: Annotated[str | None, typer.Option(help="Describe a bundled example model instead.")] = None,
    input_shape: Annotated[
        list[str] | None, typer.Option("--input-shape", help="Fix a symbolic input: NAME=1,3,224,224 (repeatable).")
    ] = None,
    space: Annotated[str | None, typer.Option(help="Describe a cell of this search space (e.g. nb201).")] = None,
    cell: Annotated[str | None, typer.Option(help="The cell, with --space (e.g. an NB201 arch string).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Input setting of the cell's network (with --space).")] = None,
) -> None:
    """Parse an ONNX model (or a search-space cell's network) into archscore's canonical graph and print it."""
    from archscore.examples import example_path, examples
    from archscore.models.inputs import read_cells, read_files

    given = sum(x is not None for x in (model, example, space))
    if given != 1 or (space is None) != (cell is None):
        raise typer.BadParameter("give one of: an ONNX file, --example NAME, or --space NAME --cell CELL")
    if example is not None:
        if example not in examples():
            raise typer.BadParameter(f"unknown example {example!r}; choose from {', '.join(examples())}")
        model = example_path(example)
    try:
        if space is not None:
            canonical, graph = read_cells(space, [cell], dataset)[0]  # type: ignore[list-item]
            title = f"{space} {canonical}"
        else:
            graph = read_files([model], workers=1, input_shapes=parse_shapes(input_shape or []) or None)[0]  # type: ignore[list-item]
            title = model.name  # type: ignore[union-attr]
    except ArchscoreError as exc:
        fail(exc)
    if isinstance(graph, str):
        fail(ArchscoreError(graph))
    if fmt is Format.text:
        out.print(graph.to_text(), markup=False, highlight=False, soft_wrap=True)
    elif fmt is Format.json:
        out.print_json(graph.to_json())
    else:
        stats = graph.stats()
        # the title counts what the table's "nodes" counts: operations, not the inputs and layout nodes
        structural = len(graph) - int(stats["nodes"])
        table = Table(title=escape(f"{title}: {stats['nodes']:,.0f} nodes (+{structural} inputs/layout)"))
        table.add_column("statistic")
        table.add_column("value", justify="right")
        for key, value in stats.items():
            if value or not key.startswith("count_"):
                table.add_row(key, f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}")
        out.print(table)


data_app = typer.Typer(help="The benchmark tables bundled with archscore.", no_args_is_help=True)


@data_app.command("list")
def data_list() -> None:
    """List every bundled table: rows, search space, targets, size and licence."""
    from archscore import data
    from archscore.data.tables import bundled_path

    table = Table(title="bundled benchmark data (no download needed)", show_lines=False)
    for col, justify in (("source", "left"), ("rows", "right"), ("space", "left"), ("targets", "left")):
        table.add_column(col, justify=justify, overflow="fold", no_wrap=col == "source")  # type: ignore[arg-type]
    table.add_column("size", justify="right")
    table.add_column("licence")
    for name, src in data.sources().items():
        columns = data.read_source(name)  # the columns only: no cell is canonicalised to count rows
        targets = data.targets_of(name, columns)
        rows = len(next(iter(columns.values())))
        shown = ", ".join(targets[:2]) + (f" (+{len(targets) - 2})" if len(targets) > 2 else "")
        size = sum(len(bundled_path(f).read_bytes()) for f in (*src.files, *filter(None, [src.onnx_archive])))
        licences = ", ".join(dict.fromkeys(re.findall(r"Apache-2\.0|MIT|BSD", src.licence)))
        table.add_row(
            name,
            f"{rows:,}",
            src.space or ("real networks" if src.onnx_archive else "-"),
            shown or "(unlabeled)",
            f"{size / 1e6:.2f} MB",
            licences,
        )
    out.print(table)
    out.print("Sources and licence texts: archscore/data/bundled/LICENSES.md", highlight=False)


cache_app = typer.Typer(
    help="The on-disk cache of parsed architecture graphs (built on first use; see `info`).", no_args_is_help=True
)
data_app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info() -> None:
    """Where the graph cache is, its version, and what it holds."""
    from archscore.data.cache import GraphCache, graph_version

    cache = GraphCache()
    shards = cache.shards()
    out.print(f"graph cache: {cache.folder}  (version {graph_version()}; set ARCHSCORE_CACHE_DIR to move it)")
    if not shards:
        out.print("empty: graphs are built the first time a table's graphs are asked for, or by `archscore data "
                  "cache build`")  # fmt: skip
        return
    table = Table()
    for col, justify in (("space", "left"), ("dataset", "left"), ("size", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for space, dataset, size in shards:
        table.add_row(space, dataset, f"{size / 1e6:.1f} MB")
    out.print(table)
    out.print(f"{len(shards)} shard(s), {sum(s for *_, s in shards) / 1e6:.1f} MB", highlight=False)


@cache_app.command("build")
def cache_build(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Bundled sources (default: all; see `archscore data list`).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Build processes (default: every core).")] = None,
) -> None:
    """Build the graphs of every architecture in the bundled tables, for every dataset they were measured on.

    Training and scoring build what they need on first use; this builds it ahead of time. Graphs
    already cached are kept.
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from archscore.data.cache import GraphCache, bundled_sets

    try:
        sets = bundled_sets(sources or None)
    except ArchscoreError as exc:
        fail(exc)
    cache = GraphCache(workers=workers)
    start = time.perf_counter()
    total = sum(len(cells) for cells in sets.values())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        bars: dict[tuple[str, str], TaskID] = {}

        def shown(space: str, dataset: str, done: int, missing: int) -> None:
            if (space, dataset) not in bars:
                bars[space, dataset] = progress.add_task(f"{space}/{dataset}", total=missing)
            progress.update(bars[space, dataset], completed=done, total=missing)

        try:
            cache.build(sets, progress=shown)
        except ArchscoreError as exc:
            fail(exc)
    seconds = time.perf_counter() - start
    out.print(f"{total:,} graphs of {len(sets)} (space, dataset) set(s) ready in {seconds:.1f} s: {cache.folder}")


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every cached graph (they are rebuilt on the next use)."""
    from archscore.data.cache import GraphCache

    cache = GraphCache()
    freed = cache.clear()
    out.print(f"removed {freed / 1e6:.1f} MB from {cache.root}", highlight=False)
