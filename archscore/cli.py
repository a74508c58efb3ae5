"""The ``archscore`` command."""

from __future__ import annotations

import contextlib
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archscore import __version__
from archscore.errors import ArchscoreError
from archscore.graph.bounded import PARSE_SECONDS_FILE

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
            graph = read_files([model], workers=1, input_shapes=_parse_shapes(input_shape or []) or None)[0]  # type: ignore[list-item]
            title = model.name  # type: ignore[union-attr]
    except ArchscoreError as exc:
        _fail(exc)
    if isinstance(graph, str):
        _fail(ArchscoreError(graph))
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


def _fail(exc: Exception) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(2) from None


data_app = typer.Typer(help="The benchmark tables bundled with archscore.", no_args_is_help=True)
app.add_typer(data_app, name="data")


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
        _fail(exc)
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
            _fail(exc)
    seconds = time.perf_counter() - start
    out.print(f"{total:,} graphs of {len(sets)} (space, dataset) set(s) ready in {seconds:.1f} s: {cache.folder}")


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every cached graph (they are rebuilt on the next use)."""
    from archscore.data.cache import GraphCache

    cache = GraphCache()
    freed = cache.clear()
    out.print(f"removed {freed / 1e6:.1f} MB from {cache.root}", highlight=False)


@app.command("pretrain-gnn")
def pretrain_gnn(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the weights (.npz).")],
    sources: Annotated[
        str | None, typer.Option(help="Comma-separated bundled sources to sample (default: one per search space).")
    ] = None,
    per_source: Annotated[int, typer.Option(min=2, help="Architectures drawn from each source.")] = 400,
    epochs: Annotated[int, typer.Option(min=1, help="Contrastive training epochs.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the sample, the augmentations and the weights.")] = 0,
) -> None:
    """Pretrain the graph encoder contrastively on unlabelled architectures of the bundled spaces.

    The defaults reproduce the weights shipped with archscore (GNNEncoder(pretrained="default"));
    use the result with GNNEncoder(pretrained=PATH).
    """
    from archscore.encoders.gnn import pretrain

    if out.is_dir():
        _fail(ValueError(f"--out {out} is a directory; give a file name such as {out / 'gnn.npz'}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    names = [s.strip() for s in sources.split(",") if s.strip()] if sources else None
    try:
        encoder = pretrain(names, max_graphs_per_source=per_source, epochs=epochs, seed=seed, out=out)
    except (ArchscoreError, ValueError, ImportError) as exc:
        _fail(exc)
    curve = encoder.loss_curve_
    err.print(f"contrastive loss {curve[0]:.3f} → {curve[-1]:.3f} over {len(curve)} epochs", highlight=False)
    typer.echo(str(out))


TrackingUri = Annotated[
    str | None, typer.Option("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else SQLite).")
]


def _train_config(config: str, overrides: dict) -> object:
    from archscore.data.tasks import zero_shot_tasks
    from archscore.models import DEFAULT_CONFIG
    from archscore.training.config import TrainConfig

    base = TrainConfig.read(DEFAULT_CONFIG if config == "default" else Path(config)) if config else TrainConfig()
    d = base.to_dict()
    names = overrides.pop("task_names", None)
    d.update({k: v for k, v in overrides.items() if v is not None})
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        every = {t.name: t for t in zero_shot_tasks(d["max_rows"], d["nbgraph_rows"])}
        unknown = [n for n in wanted if n not in every]
        if unknown:
            raise typer.BadParameter(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(every)}")
        d["tasks"] = [every[n].to_dict() for n in wanted]
    return TrainConfig.from_dict(d).check()


def _report(result) -> None:
    table = Table(title=f"run {result.run_id}", show_header=False)
    table.add_row("store", escape(result.tracking_uri))
    table.add_row("registered", f"version {result.version}")
    decision = "[green]promoted[/green] " if result.promoted else "[yellow]kept[/yellow] "
    table.add_row("champion", decision + escape(result.reason))
    for k, v in result.metrics.items():
        if k.startswith(("mean_", "loso/mean_")) or k in ("fit_seconds", "n_train"):
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    out.print(table)


@app.command()
def train(
    config: Annotated[
        str | None, typer.Option(help="Configuration file (.toml/.json), or 'default' for the shipped model's.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Registered model name.")] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated zero-shot task names (default: all).")] = None,
    encoder: Annotated[str | None, typer.Option(help="Encoder parts joined by + (stats, z, gnn, text).")] = None,
    predictor: Annotated[str | None, typer.Option(help="gbdt, mlp or cluster.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the sample and the predictor.")] = None,
    max_rows: Annotated[int | None, typer.Option(help="Training rows per task.")] = None,
    nbgraph_rows: Annotated[int | None, typer.Option(help="Training rows per NAS-Bench-Graph dataset.")] = None,
    eval_rows: Annotated[int | None, typer.Option(help="Evaluation rows per task at most.")] = None,
    gate_margin: Annotated[float | None, typer.Option(help="How much a new model must beat the champion by.")] = None,
    optuna_trials: Annotated[int | None, typer.Option(help="Hyperparameter search trials (0: none).")] = None,
    optuna_timeout: Annotated[float | None, typer.Option(help="Hyperparameter search budget, seconds.")] = None,
    leave_one_space_out: Annotated[
        bool | None, typer.Option("--leave-one-space-out/--no-leave-one-space-out", help="Also the zero-shot protocol.")
    ] = None,
    tracking_uri: TrackingUri = None,
    force: Annotated[bool, typer.Option(help="Promote to champion even if the gate says no (recorded).")] = False,
    export: Annotated[Path | None, typer.Option(help="Also write the model folder and its card here.")] = None,
) -> None:
    """Train a predictor on the bundled benchmark tables as a tracked MLflow run, register it, and gate it."""
    from archscore.training.pipeline import train as run_training

    overrides = {"name": name, "encoder": encoder, "predictor": predictor, "seed": seed, "max_rows": max_rows,
                     "nbgraph_rows": nbgraph_rows, "eval_rows": eval_rows, "gate_margin": gate_margin,
                     "optuna_trials": optuna_trials, "optuna_timeout": optuna_timeout,
                     "leave_one_space_out": leave_one_space_out, "task_names": tasks}  # fmt: skip
    try:
        cfg = _train_config(config, overrides)
        with _working():
            result = run_training(cfg, tracking_uri=tracking_uri, force=force, export=export, say=_say)
    except (ArchscoreError, ValueError) as exc:
        _fail(exc)
    _report(result)


@app.command()
def retrain(
    labels: Annotated[Path, typer.Option(help="CSV or Parquet: onnx / onnx_base64 / space+cell columns, and values.")],
    value_column: Annotated[str, typer.Option(help="The column of measured values.")] = "value",
    name: Annotated[str, typer.Option(help="Registered model to retrain (from its champion).")] = "archscore",
    label_name: Annotated[str | None, typer.Option(help="Name of this labels set (default: the file's stem).")] = None,
    tracking_uri: TrackingUri = None,
    force: Annotated[bool, typer.Option(help="Promote to champion even if the gate says no (recorded).")] = False,
) -> None:
    """Add your own measurements to the champion's training data, retrain, and gate the result."""
    from archscore.training.pipeline import retrain as run_retrain

    try:
        with _working():
            result = run_retrain(labels, value_column=value_column, name=name, label_name=label_name,
                                 tracking_uri=tracking_uri, force=force, say=_say)  # fmt: skip
    except (ArchscoreError, ValueError) as exc:
        _fail(exc)
    _report(result)


models_app = typer.Typer(help="Registered models: versions, champions, imports.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("import")
def models_import(
    folder: Annotated[str, typer.Argument(help="A saved model folder, or 'default' for the shipped model.")],
    name: Annotated[str, typer.Option(help="Registered model name.")] = "archscore",
    tracking_uri: TrackingUri = None,
    force: Annotated[bool, typer.Option(help="Make it the champion even if the model has one.")] = False,
) -> None:
    """Register a saved model (e.g. the shipped default) so `mlflow models serve` and retraining can use it."""
    from archscore.training.pipeline import import_model

    try:
        result = import_model(folder, name, tracking_uri=tracking_uri, force=force, say=_say)
    except (ArchscoreError, ValueError) as exc:
        _fail(exc)
    _report(result)


@models_app.command("uri")
def models_uri(tracking_uri: TrackingUri = None) -> None:
    """Print the MLflow store archscore uses, for mlflow's own commands:
    MLFLOW_TRACKING_URI=$(archscore models uri) mlflow models serve -m models:/archscore@champion"""
    from archscore.models import registry

    typer.echo(registry.tracking_uri(tracking_uri))


@models_app.command("list")
def models_list(
    name: Annotated[str, typer.Argument(help="Registered model name.")] = "archscore",
    tracking_uri: TrackingUri = None,
) -> None:
    """List a registered model's versions: which is champion, and each gate decision with its reason."""
    from archscore.models import registry

    try:
        _, uri = registry.connect(tracking_uri)
        found = registry.versions(name)
    except (ArchscoreError, ValueError) as exc:
        _fail(exc)
    table = Table(title=escape(f"{name} in {uri}"))
    for col in ("version", "aliases", "decision", "score", "reason", "run"):
        table.add_column(col)
    for v in found:
        row = (v.version, ",".join(v.aliases), v.gate.get("decision", "?"), v.gate.get("new_score", "?"),
               v.gate.get("reason", ""), v.run_id)  # fmt: skip
        table.add_row(*map(escape, row))
    out.print(table)


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


@app.command()
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
        graphs += _read_files(files, workers, parse_seconds, _parse_shapes(input_shape or []) or None)
        if space is not None:
            for c, (_, graph) in zip(cell or [], read_cells(space, cell or [], dataset)):
                names.append(f"{space}:{c}")
                graphs.append(graph)
        predictor = load_predictor(model, tracking_uri=tracking_uri)
    except (ArchscoreError, ValueError) as exc:
        _fail(exc)
    ok = [i for i, g in enumerate(graphs) if not isinstance(g, str)]
    failed = [(names[i], graphs[i]) for i, g in enumerate(graphs) if isinstance(g, str)]
    if reference is Reference.batch and len(ok) < 2:
        _fail(ArchscoreError("--reference batch needs at least 2 architectures"))
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
            table.add_row(str(r["rank"]), *map(escape, cells), _si(r["macs"]), _si(r["params"]), flag)
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


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"


DEMO_NETWORKS = ("resnet50", "mobilenet_v3_large", "efficientnet_b0", "vit_b_16", "convnext_tiny", "regnet_y_8gf")


@app.command()
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
        table.add_row(name, *_predicted(r), _si(r["macs"]), _si(r["params"]), "OOD" if r["ood"] else "")
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
                      f"{real.y[i]:.1f}", _si(r["macs"]), _si(r["params"]))  # fmt: skip
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


@app.command()
def serve(
    model: Annotated[
        str, typer.Option(help="'default', a model folder, or models:/NAME@ALIAS (followed).")
    ] = "default",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    poll_seconds: Annotated[float, typer.Option(help="How often to check a followed alias (0: never).")] = 10.0,
    tracking_uri: TrackingUri = None,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key of the admin endpoints (unset: open).")
    ] = "ARCHSCORE_API_KEY",
    max_architectures: Annotated[int, typer.Option(min=1, help="Architectures per request.")] = 64,
    max_request_mb: Annotated[float, typer.Option(min=0.001, help="Request size limit, MB.")] = 32.0,
    max_nodes: Annotated[int, typer.Option(min=1, help="ONNX nodes per architecture.")] = 50_000,
    parse_seconds: Annotated[
        float, typer.Option(min=0.01, help="Parse time limit of one request (all its architectures); killed at it.")
    ] = 10.0,
    parse_workers: Annotated[int, typer.Option(min=1, help="Parser processes per server process.")] = 2,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    workers: Annotated[int, typer.Option(min=1, help="Server processes (one per core scales parsing).")] = 1,
) -> None:
    """Serve the model over HTTP: POST /v1/score, GET /v1/models, /healthz, /readyz, /docs."""
    import json
    import os

    try:
        import uvicorn

        from archscore.service import ServedModel
        from archscore.service.app import SERVE_ENV
    except ImportError as exc:
        _fail(ArchscoreError(f"the service needs its extra: pip install 'archscore[serve]' ({exc})"))
    try:
        ServedModel(model, tracking_uri).refresh()  # fail here, with a message, rather than inside a worker
    except (ArchscoreError, ValueError) as exc:
        _fail(exc)
    limits = {
        "max_request_bytes": int(max_request_mb * 2**20),
        "max_architectures": max_architectures,
        "max_nodes": max_nodes,
        "parse_seconds": parse_seconds,
        "parse_workers": parse_workers,
    }
    config = {"model": model, "tracking_uri": tracking_uri, "poll_seconds": poll_seconds}
    config.update({"api_key_env": api_key_env, "limits": limits, "log_level": log_level})
    os.environ[SERVE_ENV] = json.dumps(config)
    err.print(
        f"archscore serving {model} on http://{host}:{port} ({workers} worker(s)); docs at /docs", highlight=False
    )
    # log_config=None: uvicorn's own lines go through the app's JSON logging; the protocol drops
    # clients whose request headers do not arrive in time (slow-loris); a worker's start (loading
    # the model, starting its parsers) may take longer than uvicorn's 5 s on a busy machine, and
    # parsing never blocks a worker's loop, so the supervisor waits 30 s before replacing one
    uvicorn.run("archscore.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, log_config=None, timeout_worker_healthcheck=30,
                http="archscore.service.protocol:HeaderDeadlineProtocol")  # fmt: skip


try:  # the search command's options live beside the search code
    from archscore.search.cli import search_command as _search_command

    app.command("search", help=_search_command.__doc__)(_search_command)
except ImportError:  # pragma: no cover
    pass


def _say(message: str) -> None:
    """A training's progress line; one ending in "…" is a step starting: shown live (with its elapsed
    time) under the finished steps while a :func:`_working` block runs, never left behind."""
    live = _LIVE.get("progress")
    if message.endswith("…") and live is not None:
        live.update(_LIVE["task"], description=message)
        live.reset(_LIVE["task"])
        return
    err.print(message, highlight=False, markup=False)


_LIVE: dict[str, object] = {}


@contextlib.contextmanager
def _working():
    """A spinner with the current step and its elapsed time on stderr (for steps of seconds to minutes)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True) as progress:  # fmt: skip
        _LIVE.update(progress=progress, task=progress.add_task("starting …", total=None))
        try:
            yield
        finally:
            _LIVE.clear()


def _plain_metavars(command) -> None:
    """Help shows plain value names (TEXT, INTEGER, nearest|batch; nothing for a flag) instead of the
    Python types recent typer prints (``<list[str]>``, ``<bool>``). Set on this command's own parameter
    objects (typer's classes are untouched)."""
    from typing import get_args, get_origin

    names = {str: "TEXT", int: "INTEGER", float: "NUMBER", Path: "PATH"}

    def plain(param):
        described = getattr(param, "type_descriptor", None)
        if param.metavar is not None or described is None:
            return param
        if getattr(param, "is_flag", False):
            label = ""
        elif described.is_choice:
            label = "|".join(str(getattr(c, "value", c)) for c in described.choices or ())
        else:
            kind = described.annotation
            many = get_origin(kind) is list
            kind = get_args(kind)[0] if many else kind
            label = names.get(kind, "VALUE") + (" ..." if many else "")
        if isinstance(param, typer.core.TyperArgument):
            param.display_type_rich = lambda ctx: label  # its name column stays the argument's name
        else:
            param.metavar = label
        return param

    for param in command.params:
        plain(param)
    make_help = command.get_help_option
    command.get_help_option = lambda ctx: plain(make_help(ctx))
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def command():
    """The click command behind :data:`app`, with plain help (what the console script runs)."""
    cmd = typer.main.get_command(app)
    _plain_metavars(cmd)
    return cmd


def run() -> None:  # console-script entry point
    command()()


if __name__ == "__main__":  # pragma: no cover
    run()
