"""``archscore train``, ``retrain``, ``models`` and ``pretrain-gnn``: tracked training and the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from archscore.cli._ui import TrackingUri, err, fail, out, say, working
from archscore.errors import ArchscoreError


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
        fail(ValueError(f"--out {out} is a directory; give a file name such as {out / 'gnn.npz'}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    names = [s.strip() for s in sources.split(",") if s.strip()] if sources else None
    try:
        encoder = pretrain(names, max_graphs_per_source=per_source, epochs=epochs, seed=seed, out=out)
    except (ArchscoreError, ValueError, ImportError) as exc:
        fail(exc)
    curve = encoder.loss_curve_
    err.print(f"contrastive loss {curve[0]:.3f} → {curve[-1]:.3f} over {len(curve)} epochs", highlight=False)
    typer.echo(str(out))


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
    from archscore.errors import UnknownNameError
    from archscore.training.config import TrainConfig
    from archscore.training.pipeline import train as run_training

    overrides = {"name": name, "encoder": encoder, "predictor": predictor, "seed": seed, "max_rows": max_rows,
                 "nbgraph_rows": nbgraph_rows, "eval_rows": eval_rows, "gate_margin": gate_margin,
                 "optuna_trials": optuna_trials, "optuna_timeout": optuna_timeout,
                 "leave_one_space_out": leave_one_space_out}  # fmt: skip
    try:
        try:
            cfg = TrainConfig.compose(config, overrides, tasks)
        except UnknownNameError as exc:  # a usage error, as typer reports a bad option value
            raise typer.BadParameter(str(exc)) from None
        with working():
            result = run_training(cfg, tracking_uri=tracking_uri, force=force, export=export, say=say)
    except (ArchscoreError, ValueError) as exc:
        fail(exc)
    _report(result)


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
        with working():
            result = run_retrain(labels, value_column=value_column, name=name, label_name=label_name,
                                 tracking_uri=tracking_uri, force=force, say=say)  # fmt: skip
    except (ArchscoreError, ValueError) as exc:
        fail(exc)
    _report(result)


models_app = typer.Typer(help="Registered models: versions, champions, imports.", no_args_is_help=True)


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
        result = import_model(folder, name, tracking_uri=tracking_uri, force=force, say=say)
    except (ArchscoreError, ValueError) as exc:
        fail(exc)
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
        fail(exc)
    table = Table(title=escape(f"{name} in {uri}"))
    for col in ("version", "aliases", "decision", "score", "reason", "run"):
        table.add_column(col)
    for v in found:
        row = (v.version, ",".join(v.aliases), v.gate.get("decision", "?"), v.gate.get("new_score", "?"),
               v.gate.get("reason", ""), v.run_id)  # fmt: skip
        table.add_row(*map(escape, row))
    out.print(table)
