"""``archscore score`` and ``archscore demo``: predicted accuracy, ranked."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from archscore.cli._ui import TrackingUri, err, fail, out, parse_shapes, si
from archscore.errors import ArchscoreError
from archscore.graph.bounded import PARSE_SECONDS_FILE


def _read_files(
    paths: list[Path], workers: int | None, seconds: float, input_shapes: dict[str, tuple[int, ...]] | None = None
) -> list[object]:
    """:func:`~archscore.models.inputs.read_files` with a progress bar on long runs."""
    from rich.progress import Progress

    from archscore.models.inputs import read_files

    with Progress(console=err, transient=True, disable=len(paths) < 20) as progress:
        task = progress.add_task("parsing", total=len(paths))
        return read_files(paths, workers=workers, seconds=seconds, input_shapes=input_shapes,
                          done=lambda: progress.advance(task))  # fmt: skip


class Reference(str, Enum):
    nearest = "nearest"
    batch = "batch"


def score(
    paths: Annotated[list[str] | None, typer.Argument(help="ONNX files, folders, globs.", show_default=False)] = None,
    space: Annotated[str | None, typer.Option(help="Score cells of this search space (with --cell).")] = None,
    cell: Annotated[list[str] | None, typer.Option(help="A cell of --space (repeatable).")] = None,
    dataset: Annotated[str | None, typer.Option(help="The cells' input setting (with --space).")] = None,
    model: Annotated[str, typer.Option(help="'default', a model folder, NAME or models:/NAME@ALIAS.")] = "default",
    reference: Annotated[Reference, typer.Option(help="Population the size features are relative to.")] = (
        Reference.nearest
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    top: Annotated[int | None, typer.Option(min=1, help="Show only the best N.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Parsing processes (default: every core).")] = None,
    parse_seconds: Annotated[
        float, typer.Option(min=0.01, help="Time limit of parsing one file; a file past it is stopped and reported.")
    ] = PARSE_SECONDS_FILE,
    input_shape: Annotated[
        list[str] | None,
        typer.Option("--input-shape", help="Fix a symbolic input of the files: NAME=1,3,224,224 (repeatable)."),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Rank architectures by predicted accuracy, with std, MACs, params and an out-of-distribution flag."""
    from archscore.models import load_predictor
    from archscore.models.inputs import NoMatchError, expand_paths, read_cells
    from archscore.models.scoring import rank_order

    if (space is None) != (not cell):
        raise typer.BadParameter("--space and --cell go together")
    if not paths and not cell:
        raise typer.BadParameter("give ONNX files/folders/globs, or --space NAME --cell CELL")
    names: list[str] = []
    graphs: list[object] = []
    try:
        try:
            files = expand_paths(paths or [])
        except NoMatchError as exc:
            raise typer.BadParameter(str(exc)) from None
        names += [str(p) for p in files]
        graphs += _read_files(files, workers, parse_seconds, parse_shapes(input_shape or []) or None)
        if space is not None:
            for c, (_, graph) in zip(cell or [], read_cells(space, cell or [], dataset)):
                names.append(f"{space}:{c}")
                graphs.append(graph)
        predictor = load_predictor(model, tracking_uri=tracking_uri)
    except (ArchscoreError, ValueError) as exc:
        fail(exc)
    ok = [i for i, g in enumerate(graphs) if not isinstance(g, str)]
    failed = [(names[i], graphs[i]) for i, g in enumerate(graphs) if isinstance(g, str)]
    if reference is Reference.batch and len(ok) < 2:
        fail(ArchscoreError("--reference batch needs at least 2 architectures"))
    rows = predictor.score([graphs[i] for i in ok], reference=reference.value) if ok else []
    ranked = [{"name": names[ok[i]], **rows[i]} for i in rank_order(rows)]
    for rank, r in enumerate(ranked, start=1):
        r["rank"] = rank
    shown = ranked[:top] if top else ranked
    if as_json:
        import json

        typer.echo(json.dumps({"target": predictor.target, "results": shown,
                               "errors": [{"name": n, "error": e} for n, e in failed]}, indent=1))  # fmt: skip
    elif as_csv:
        import csv
        import sys

        fields = ["rank", "name", "mean", "std", "interval_low", "interval_high", "target", "population",
                  "percentile", "macs", "params", "nearest", "distance", "ood"]  # fmt: skip
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**r, "interval_low": r["interval"][0], "interval_high": r["interval"][1]} for r in shown)
    elif shown:  # every file failed: the errors alone, no empty table above them
        table = Table(title=escape(f"predicted accuracy (model: {model})"))
        columns = (("#", "right"), ("architecture", "left"), ("predicted", "right"), ("90 % interval", "right"),
                   ("for", "left"), ("MACs", "right"), ("params", "right"), ("", "left"))  # fmt: skip
        for col, justify in columns:
            table.add_column(col, justify=justify, overflow="fold", no_wrap=col == "")  # type: ignore[arg-type]
        short = {r["name"]: Path(r["name"]).name if Path(r["name"]).suffix == ".onnx" else r["name"] for r in shown}
        if len(set(short.values())) < len(short):  # two files of one name in different folders: keep paths
            short = {r["name"]: r["name"] for r in shown}
        for r in shown:
            flag = "[yellow]OOD[/yellow]" if r["ood"] else ""
            cells = (short[r["name"]], *_predicted(r))
            table.add_row(str(r["rank"]), *map(escape, cells), si(r["macs"]), si(r["params"]), flag)
        out.print(table)
        _explain(shown)
    for name, error in failed:
        line = error if error.startswith(name) else f"{name}: {error}"  # the parser's message may name the file
        err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(2 if not ok else 1)


def _predicted(r: dict) -> tuple[str, str, str]:
    """The predicted value, its 90 % interval and what it is for, as table cells."""
    lo, hi = r["interval"]
    if r["target"].endswith("_top1"):
        return (
            f"{r['mean']:.1f} % ± {r['std']:.1f}",
            f"{lo:.1f}–{hi:.1f} %",
            f"{r['target'].removesuffix('_top1')} top-1",
        )
    return f"{r['mean']:.3f} ± {r['std']:.3f}", f"{lo:.2f}–{hi:.2f}", f"{r['population']} percentile"


def _explain(rows: list[dict]) -> None:
    """What the scales and flags of a printed table mean, and what a user can do about OOD rows."""
    if len({r["target"] for r in rows}) > 1:
        out.print("Ranked by percentile within each row's own population: top-1 % and NAS percentiles differ in scale.")
    elif len({r["population"] for r in rows}) > 1:
        out.print(
            f"Percentiles within {len({r['population'] for r in rows})} different populations (column 'for'): "
            "rows of one population compare directly, across populations only roughly.",
            highlight=False,
        )
    for r in rows:
        for warning in r.get("warnings", ()):
            line = escape(f"{r['name']}: {warning}")
            err.print(f"[yellow]warning:[/yellow] {line}", highlight=False, soft_wrap=True)
    if any(r["ood"] for r in rows):
        out.print(
            "OOD: unlike everything the model learned from; treat that prediction as a weak prior. Measure a few "
            "such networks and run `archscore retrain --labels your.csv` to teach the model your kind.",
            highlight=False,
        )


DEMO_NETWORKS = ("resnet50", "mobilenet_v3_large", "efficientnet_b0", "vit_b_16", "convnext_tiny", "regnet_y_8gf")


def demo() -> None:
    """Score the bundled example networks and a few NAS-Bench-201 cells with the shipped model."""
    from archscore import data
    from archscore.examples import example_path, examples
    from archscore.models import load_predictor
    from archscore.spaces import get

    predictor = load_predictor("default")
    rows = predictor.score([example_path(e) for e in examples()])
    table = Table(title="bundled example networks: predicted accuracy")
    for col in ("network", "predicted", "90 % interval", "for", "MACs", "params", ""):
        table.add_column(col, overflow="fold", no_wrap=col in ("network", ""))
    for name, r in zip(examples(), rows):
        table.add_row(name, *_predicted(r), si(r["macs"]), si(r["params"]), "OOD" if r["ood"] else "")
    out.print(table)
    _explain(rows)
    from archscore.data.zoo import zoo_rows

    real = zoo_rows("imagenet1k", "torchvision", models=DEMO_NETWORKS)
    picks = list(range(len(real)))
    scored = predictor.score([real.graphs[i] for i in picks])
    table = Table(title="real ImageNet networks of torchvision (from the bundled zoo: in the model's training data)")
    for col in ("network", "predicted top-1 %", "90 % interval", "measured top-1 %", "MACs", "params"):
        table.add_column(col, overflow="fold", no_wrap=col == "network")  # (a min_width makes rich crop the table)
    for i, r in sorted(zip(picks, scored), key=lambda p: -p[1]["mean"]):
        lo, hi = r["interval"]
        table.add_row(real.names[i].split(":", 1)[1], f"{r['mean']:.1f}", f"{lo:.1f}–{hi:.1f}",
                      f"{real.y[i]:.1f}", si(r["macs"]), si(r["params"]))  # fmt: skip
    out.print(table)
    t = data.load("nb201", target="cifar10_val_acc")
    order = sorted(range(len(t.y)), key=lambda i: t.y[i])
    picks = [order[int(q * (len(order) - 1))] for q in (0.02, 0.25, 0.5, 0.75, 0.999)]
    nb201 = get("nb201")
    scored = predictor.score([nb201.to_graph(t.cells[i]) for i in picks])
    table = Table(title="NAS-Bench-201 cells: predicted vs the benchmark's measured CIFAR-10 accuracy")
    for col in ("cell", "predicted", "measured val. acc. %"):
        table.add_column(col, overflow="fold")  # a cell string in full, over several lines if need be
    for i, r in sorted(zip(picks, scored), key=lambda p: -p[1]["mean"]):
        table.add_row(t.cells[i], f"{r['mean']:.3f} ± {r['std']:.3f}", f"{t.y[i]:.2f}")
    out.print(table)
    out.print("Score your own: archscore score model.onnx  ·  serve: archscore serve  ·  see README", highlight=False)
