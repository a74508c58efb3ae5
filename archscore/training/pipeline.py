"""The tracked training pipeline: load → (tune) → fit → evaluate → log → register → gate.

``train(config)`` is one MLflow run: the configuration as parameters, the package and data
versions as tags, the evaluation protocols' metrics, plots and tables as artefacts, and the model
logged from code (:mod:`archscore.models.mlflow_model`) and registered as a new version of
``config.name``. The promotion gate then moves the ``champion`` alias to the new version only if
it beats the current champion on the fixed evaluation split (both models scored on the same rows)
by ``config.gate_margin``; otherwise the version stays registered with the reason as tags.
``force=True`` promotes regardless and says so in the tags.

``retrain(labels)`` adds a user's measurements to the champion's own configuration (and to every
labels file the champion was trained with, fetched from its run) and trains again. The user's rows
are judged by cross-validation (``USER_FOLDS`` full fits, out-of-fold predictions, logged as
``user/<name>/cv_*`` metrics and the ``user_labels.csv`` artefact) and, when there are at least
``MIN_USER_ROWS``, they decide the gate; fewer are reported as too few to judge.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from archscore import metrics
from archscore.data.tasks import Rows, in_eval_split, load_task
from archscore.errors import ArchscoreError
from archscore.examples import NB201_CELL
from archscore.models.scoring import ScoringModel, percentile
from archscore.training.config import ConfigError, LabelFile, TrainConfig
from archscore.training.labels import load_labels

log = logging.getLogger(__name__)
MIN_EVAL_ROWS = 5
USER_FOLDS = 3
"""Folds of the cross-validation that judges a model on the user's own labels (each fold a full fit)."""
MIN_USER_ROWS = 10
"""User labels below this many rows are reported but too few to judge: the gate decides without them."""
BENCHMARK_TOLERANCE = 0.02
"""How much the benchmark gate metric may drop when the user's labels decide the gate."""
MODEL_CODE = Path(__file__).resolve().parent.parent / "models" / "mlflow_model.py"


@dataclass
class Dataset:
    """Training and fixed evaluation rows of every task of a configuration."""

    train: list[Rows]
    eval: list[Rows]

    def groups(self, train_only: bool = True) -> list[Rows]:
        """Training tasks; each one's reference population holds its training *and* evaluation graphs
        (architectures only — labels of evaluation rows are never used)."""
        by_task = {r.task: r for r in self.eval}
        return [
            replace(t, population=t.graphs + (by_task[t.task].graphs if t.task in by_task else [])) for t in self.train
        ]


@dataclass
class TrainResult:
    run_id: str
    model: ScoringModel
    metrics: dict[str, float]
    version: str | None = None
    promoted: bool = False
    reason: str = ""
    champion_before: str | None = None
    tracking_uri: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def load_dataset(config: TrainConfig, label_root: Path | None = None, say: Callable[[str], None] = log.info) -> Dataset:
    """Every task's rows: user labels first (they are checked before anything slow), then bundled tables."""
    train, held = [], []
    for lf in config.labels:  # every user row trains the model; they are judged by cross-validation
        path = Path(lf.path) if label_root is None or Path(lf.path).is_absolute() else label_root / lf.path
        rows = load_labels(path, lf.value_column, lf.name)
        train.append(rows)
        say(f"labels {rows.task}: {len(rows)} rows (judged by {min(USER_FOLDS, len(rows))}-fold cross-validation)")
    for task in config.task_list():
        say(f"loading task {task.name} …")
        t0 = time.perf_counter()
        tr, ev = load_task(task, config.eval_fraction, config.seed, config.eval_rows)
        train.append(tr)
        if len(ev) >= MIN_EVAL_ROWS:
            held.append(ev)
        say(f"task {task.name}: {len(tr)} training rows, {len(ev)} evaluation rows ({time.perf_counter() - t0:.1f} s)")
    return Dataset(train, held)


# -- evaluation -----------------------------------------------------------------------------------
def evaluate_model(
    model: ScoringModel, rows: list[Rows], reference: str = "nearest"
) -> tuple[dict[str, dict[str, float]], list[dict]]:
    """Per evaluation task: every metric; and the per-architecture table (true, predicted, std).

    ``reference="nearest"`` scores each architecture alone (as a user scoring one file would);
    ``"batch"`` standardises each task's rows against themselves (a user ranking a batch of
    candidates from a space the model never saw).
    """
    per_task: dict[str, dict[str, float]] = {}
    table: list[dict] = []
    for r in rows:
        if len(r) < MIN_EVAL_ROWS:
            continue
        mean, std = model.predict(r.graphs, return_std=True, reference=reference)
        truth = _truth(model.target_transform, r.y)
        per_task[r.task] = metrics.evaluate(truth, mean, std)
        table += _table_rows(r, truth, mean, std)
    return per_task, table


def _truth(target_transform: str, y: np.ndarray) -> np.ndarray:
    """What a model's predictions are compared with: percentiles within the rows, or the raw values."""
    return percentile(y) if target_transform == "percentile" else y


def _table_rows(r: Rows, truth: np.ndarray, mean: np.ndarray, std: np.ndarray) -> list[dict]:
    """One row per architecture for the evaluation tables (``evaluation.csv``, ``user_labels.csv``)."""
    return [
        {"task": r.task, "arch": c, "measured": float(y), "true": float(t), "mean": float(m), "std": float(s)}
        for c, y, t, m, s in zip(r.cells, r.y, truth, mean, std)
    ]


def summary(per_task: dict[str, dict[str, float]]) -> dict[str, float]:
    """Every metric averaged over tasks (``mean_<metric>``)."""
    if not per_task:
        return {}
    names = next(iter(per_task.values())).keys()
    return {f"mean_{k}": float(np.nanmean([m[k] for m in per_task.values()])) for k in names}


def gate_score(model: ScoringModel, rows: list[Rows], metric: str) -> float:
    per_task, _ = evaluate_model(model, rows)
    return summary(per_task).get(f"mean_{metric}", float("nan"))


def leave_one_space_out(config: TrainConfig, data: Dataset, say: Callable[[str], None]) -> dict[str, dict[str, float]]:
    """The zero-shot protocol on this configuration: per space, refit without it and score its evaluation rows.

    The held-out space has no population in the refitted model, so its rows are standardised as a
    batch (``reference="batch"``), as the zero-shot benchmark does.
    """
    groups = data.groups()
    out: dict[str, dict[str, float]] = {}
    for space in dict.fromkeys(g.task.split("/")[0] for g in groups):
        rest = [g for g in groups if g.task.split("/")[0] != space]
        held = [r for r in data.eval if r.task.split("/")[0] == space]
        if not rest or not held:
            continue
        say(f"leave-one-space-out: fitting without {space} …")
        model = _fresh(config).fit(rest)
        per_task, _ = evaluate_model(model, held, reference="batch")  # the space is unseen: rank its rows as a batch
        out.update(per_task)
        say(f"leave-one-space-out {space}: " + ", ".join(f"{k} τ={v['kendall_tau']:.3f}" for k, v in per_task.items()))
    return out


@dataclass
class UserJudgement:
    """How a configuration does on one labels file of the user's: out-of-fold predictions of every row."""

    rows: Rows
    mean: np.ndarray
    std: np.ndarray
    metrics: dict[str, float]

    @property
    def enough(self) -> bool:
        return len(self.rows) >= MIN_USER_ROWS


def judge_user_labels(config: TrainConfig, data: Dataset, say: Callable[[str], None] = log.info) -> list[UserJudgement]:
    """Each user labels task cross-validated: ``USER_FOLDS`` folds (fewer for tiny files), each fold's
    rows predicted by the configuration fitted on everything else (bundled tasks and the other folds;
    the fold's architectures stay in their task's population, their labels do not)."""
    user = {lf.name for lf in config.labels}
    every = data.groups()  # built once; each fold replaces only its user task
    out = []
    for k, rows in enumerate(data.train):
        if rows.task.removeprefix("user/") not in user or len(rows) < 2:
            continue
        folds = min(USER_FOLDS, len(rows))
        fold_of = np.random.default_rng(config.seed).permutation(len(rows)) % folds
        mean, std = np.empty(len(rows)), np.empty(len(rows))
        for f in range(folds):
            say(f"labels {rows.task}: cross-validation fit {f + 1} of {folds} …")
            keep = np.flatnonzero(fold_of != f)
            groups = list(every)
            own = rows.take(keep)
            # the fold's rows only; the task's population keeps every row's architecture
            groups[k] = replace(groups[k], cells=own.cells, graphs=own.graphs, y=own.y)
            held = np.flatnonzero(fold_of == f)
            mean[held], std[held] = _fresh(config).fit(groups).predict([rows.graphs[i] for i in held], return_std=True)
        judged = UserJudgement(rows, mean, std, metrics.evaluate(_truth(config.target_transform, rows.y), mean, std))
        out.append(judged)
        note = "" if judged.enough else f" — too few to judge (fewer than {MIN_USER_ROWS} rows)"
        say(f"labels {rows.task}: {folds}-fold τ {judged.metrics['kendall_tau']:.3f} on {len(rows)} rows{note}")
    return out


def fit_heads(model: ScoringModel, datasets: list[str], say: Callable[[str], None] = log.info) -> ScoringModel:
    """Fit the model's real-network accuracy heads on the bundled zoo (one per dataset)."""
    from archscore.data.zoo import zoo_rows

    sets = {}
    for ds in datasets:
        rows = zoo_rows(ds)
        sets[ds] = (rows.graphs, rows.y, rows.families, rows.names)
        say(f"real networks {ds}: {len(rows)} labelled networks, {len(set(rows.families))} families")
    say(f"fitting the real-network heads ({', '.join(datasets)}) …")
    return model.fit_heads(sets)


def _fresh(config: TrainConfig, params: dict | None = None) -> ScoringModel:
    return ScoringModel(
        target=config.target,
        encoder=config.encoder,
        predictor=config.predictor,
        predictor_params=params if params is not None else config.predictor_params,
        target_transform=config.target_transform,
        seed=config.seed,
    )


# -- hyperparameter search ------------------------------------------------------------------------
GBDT_SPACE = {
    "n_estimators": ("int", 100, 600),
    "learning_rate": ("log", 0.01, 0.2),
    "num_leaves": ("int", 7, 63),
    "min_child_samples": ("int", 2, 30),
    "colsample_bytree": ("float", 0.5, 1.0),
    "reg_lambda": ("log", 1e-3, 10.0),
}


def tune(config: TrainConfig, data: Dataset, mlflow, say: Callable[[str], None]) -> dict[str, Any]:
    """Optuna (TPE) over the GBDT's settings within ``optuna_timeout`` s; each trial a nested MLflow run.

    Trials are judged on an inner split of the *training* rows (hashed like the evaluation split,
    with another salt), so the fixed evaluation split stays unseen until the final model.
    """
    from archscore.models.registry import owner_tags

    if config.predictor != "gbdt":
        raise ConfigError(f"optuna_trials: the search space is defined for predictor 'gbdt', not {config.predictor!r}")
    import optuna

    inner_train, inner_eval = [], []
    for g in data.groups():
        is_eval = in_eval_split("inner/" + g.task, [str(i) for i in range(len(g))], 0.25)  # by position
        inner_train.append(g.take(np.flatnonzero(~is_eval)))
        inner_eval.append(g.take(np.flatnonzero(is_eval)))

    def objective(trial) -> float:
        params = dict(config.predictor_params)
        for key, (kind, lo, hi) in GBDT_SPACE.items():
            if kind == "int":
                params[key] = trial.suggest_int(key, lo, hi)
            else:
                params[key] = trial.suggest_float(key, lo, hi, log=kind == "log")
        say(f"optuna trial {trial.number + 1} of {config.optuna_trials} …")
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True, tags=owner_tags()):
            mlflow.log_params(params)
            score = gate_score(_fresh(config, params).fit(inner_train), inner_eval, config.gate_metric)
            mlflow.log_metric(f"inner_mean_{config.gate_metric}", score)
        say(f"optuna trial {trial.number}: {config.gate_metric} {score:.4f}")
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.enqueue_trial({k: v for k, v in config.predictor_params.items() if k in GBDT_SPACE})  # the baseline
    study.optimize(objective, n_trials=config.optuna_trials, timeout=config.optuna_timeout)
    ran = len(study.trials)
    mlflow.log_metric("optuna_trials_run", ran)
    mlflow.log_metric(f"optuna_best_inner_{config.gate_metric}", study.best_value)
    if ran < config.optuna_trials:
        note = (f"{ran} of {config.optuna_trials} trials ran within the budget of {config.optuna_timeout:g} s "
                "(raise --optuna-timeout for the rest)")  # fmt: skip
        mlflow.set_tag("archscore.optuna_stopped", note)
        say(f"optuna: {note}")
    say(f"optuna: best inner {config.gate_metric} {study.best_value:.4f} (trial {study.best_trial.number})")
    return {**config.predictor_params, **study.best_params}


# -- artefacts ------------------------------------------------------------------------------------
def _write_table(path: Path, table: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["task", "arch", "measured", "true", "mean", "std"])
        writer.writeheader()
        writer.writerows(table)


def _plots(folder: Path, table: list[dict]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plots")
        return []
    from scipy.stats import rankdata

    tasks = list(dict.fromkeys(r["task"] for r in table))
    out = []
    for kind in ("scatter", "rank"):
        fig, ax = plt.subplots(figsize=(6, 6))
        for t in tasks:
            rows = [r for r in table if r["task"] == t]
            x = np.array([r["true"] for r in rows])
            y = np.array([r["mean"] for r in rows])
            if kind == "rank":
                x, y = rankdata(x) / len(x), rankdata(y) / len(y)
            ax.scatter(x, y, s=4, alpha=0.5, label=t)
        ax.plot([0, 1], [0, 1], "k--", lw=0.8) if kind == "rank" else None
        ax.set_xlabel("true rank (fraction)" if kind == "rank" else "true target")
        ax.set_ylabel("predicted rank (fraction)" if kind == "rank" else "predicted mean")
        ax.set_title(f"archscore evaluation split: predicted vs true ({kind})")
        ax.legend(fontsize=6, markerscale=2)
        path = folder / f"{kind}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(fig)
        out.append(path)
    return out


def _tags(config: TrainConfig, force: bool) -> dict[str, str]:
    import lightgbm
    import sklearn

    from archscore import __version__
    from archscore.data import data_version

    return {
        "archscore.version": __version__,
        "archscore.data_version": data_version(),
        "lightgbm.version": lightgbm.__version__,
        "sklearn.version": sklearn.__version__,
        "archscore.force": str(force).lower(),
        "archscore.labels": ",".join(lf.name for lf in config.labels),
    }


def _params(config: TrainConfig) -> dict[str, Any]:
    d = config.to_dict()
    tasks = config.task_list()
    flat = {k: v for k, v in d.items() if k not in ("tasks", "labels", "predictor_params")}
    flat["tasks"] = config.tasks if isinstance(config.tasks, str) else f"{len(tasks)} tasks"
    flat["task_names"] = ",".join(t.name for t in tasks)[:500]
    flat.update({f"predictor.{k}": v for k, v in config.predictor_params.items()})
    flat["labels"] = ",".join(lf.name for lf in config.labels)
    return flat


def log_model(mlflow, model: ScoringModel, folder: Path):
    """Save ``model`` under ``folder`` and log it as an MLflow pyfunc from code; returns the ModelInfo."""
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from archscore import __version__

    model_dir = model.save(folder / "scoring_model")
    inputs = Schema([ColSpec("string", c, required=False) for c in ("onnx", "onnx_base64", "space", "cell", "dataset")])
    outputs = Schema(
        [
            ColSpec("string", "id"),
            ColSpec("double", "mean"),
            ColSpec("double", "std"),
            ColSpec("string", "nearest"),
            ColSpec("double", "distance"),
            ColSpec("boolean", "ood"),
        ]
    )
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(MODEL_CODE),
        artifacts={"model": str(model_dir)},
        signature=ModelSignature(inputs=inputs, outputs=outputs),
        input_example=pd.DataFrame([{"space": "nb201", "cell": NB201_CELL}]),
        pip_requirements=[f"archscore=={__version__}", f"mlflow=={mlflow.__version__}"],
    )


# -- the pipeline ---------------------------------------------------------------------------------
def train(
    config: TrainConfig,
    *,
    tracking_uri: str | None = None,
    force: bool = False,
    export: str | Path | None = None,
    label_root: Path | None = None,
    run_name: str | None = None,
    say: Callable[[str], None] = log.info,
) -> TrainResult:
    """Train, evaluate, log, register and gate one model (see the module docstring)."""
    from archscore.models import registry

    config.check()
    data = load_dataset(config, label_root, say)  # bad labels are refused here, before any fitting
    mlflow, uri = registry.connect(tracking_uri, config.experiment)
    registry.fail_stale_runs(config.experiment, say)
    with mlflow.start_run(run_name=run_name) as run, tempfile.TemporaryDirectory(prefix="archscore-run-") as tmp:
        folder = Path(tmp)
        mlflow.set_tags(_tags(config, force) | registry.owner_tags())
        mlflow.log_params(_params(config))
        kept = []
        for lf in config.labels:  # the user's measurements travel with the run: a later retrain needs them
            src = Path(lf.path) if label_root is None or Path(lf.path).is_absolute() else label_root / lf.path
            copy = folder / "labels" / f"{lf.name}{src.suffix}"
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(src, copy)
            mlflow.log_artifact(str(copy), artifact_path="labels")
            kept.append(replace(lf, path=f"labels/{copy.name}"))
        params = config.predictor_params
        if config.optuna_trials:
            params = tune(config, data, mlflow, say)
            mlflow.log_params({f"tuned.{k}": v for k, v in params.items()})
        used = replace(config, predictor_params=params, labels=kept)
        (folder / "config.json").write_text(used.to_json())
        mlflow.log_artifact(str(folder / "config.json"))

        t0 = time.perf_counter()
        say(f"fitting {used.encoder} × {used.predictor} on {sum(len(r) for r in data.train):,} rows …")
        model = _fresh(used).fit(data.groups())
        if used.real_networks:
            fit_heads(model, used.real_networks, say)
        fit_seconds = time.perf_counter() - t0
        per_task, table = evaluate_model(model, data.eval)
        scores = {**summary(per_task), "fit_seconds": fit_seconds, "n_train": model.n_train_}
        for ds, head in getattr(model, "heads_", {}).items():  # held out by family inside the zoo
            scores.update(
                {f"zoo/{ds}/{k}": v for k, v in metrics.evaluate(head.cv_y_, head.cv_mean_, head.cv_std_).items()}
            )
        for task, ms in per_task.items():
            scores.update({f"{task}/{k}": v for k, v in ms.items()})
        if config.leave_one_space_out:
            loso = leave_one_space_out(used, data, say)
            scores.update({f"loso/{task}/{k}": v for task, ms in loso.items() for k, v in ms.items()})
            scores.update({f"loso/{k}": v for k, v in summary(loso).items()})
        judged = judge_user_labels(used, data, say) if used.labels else []
        for j in judged:
            scores.update({f"{j.rows.task}/cv_{k}": v for k, v in j.metrics.items()})
            scores[f"{j.rows.task}/n_rows"] = len(j.rows)
        mlflow.log_metrics({k: float(v) for k, v in scores.items() if np.isfinite(v)})
        _write_table(folder / "evaluation.csv", table)
        mlflow.log_artifact(str(folder / "evaluation.csv"))
        if judged:  # the user's rows with their out-of-fold predictions
            own = [_table_rows(j.rows, _truth(used.target_transform, j.rows.y), j.mean, j.std) for j in judged]
            _write_table(folder / "user_labels.csv", [row for rows in own for row in rows])
            mlflow.log_artifact(str(folder / "user_labels.csv"))
        for p in _plots(folder, table):
            mlflow.log_artifact(str(p), artifact_path="plots")
        say(f"evaluation: mean {config.gate_metric} {scores.get('mean_' + config.gate_metric, float('nan')):.4f}")

        model.metadata.update(
            {
                "run_id": run.info.run_id,
                "trained_on": [g.task for g in data.train],
                "evaluation": per_task,
                **{k: v for k, v in _tags(config, force).items() if "version" in k},
            }
        )
        info = log_model(mlflow, model, folder)
        result = TrainResult(run.info.run_id, model, scores, tracking_uri=uri)
        if export is not None:
            export_model(model, Path(export), config=used, scores=scores)
        _register_and_gate(mlflow, registry, uri, used, info, data, force, result, say, judged)
    return result


def _register_and_gate(mlflow, registry, uri, config, info, data, force, result, say, judged=()) -> None:
    """Register the new version and decide whether it becomes champion.

    Without user labels (or with too few to judge), the benchmark gate: the new version's mean
    ``gate_metric`` on the fixed evaluation split must beat the champion's by ``gate_margin``.
    With user labels to judge, the user's measurements decide: the new version's cross-validated
    metric on them must beat the champion's (which never trained on them, unless an earlier
    version of the same file) by ``gate_margin``, and its benchmark metric may not drop by more
    than ``BENCHMARK_TOLERANCE``.
    """
    metric = config.gate_metric
    user = [j for j in judged if j.enough]
    few = [j for j in judged if not j.enough]
    with registry.registry_lock(uri):
        current = registry.champion(config.name)
        new_score = result.metrics.get(f"mean_{metric}", float("nan"))
        gate = {"metric": f"mean_{metric}", "margin": config.gate_margin, "new_score": f"{new_score:.6f}",
                "forced": str(force).lower()}  # fmt: skip
        if user:
            new_user = float(np.mean([j.metrics[metric] for j in user]))
            gate.update({"user_labels": ",".join(j.rows.task for j in user),
                         "user_rows": sum(len(j.rows) for j in user),
                         "user_new_score": f"{new_user:.6f}"})  # fmt: skip
        if current is None:
            promote, reason = True, "first version of this model: promoted"
        else:
            result.champion_before = str(current.version)
            try:
                champion = registry.load_registered(f"models:/{config.name}/{current.version}")
                old_score = gate_score(champion, data.eval, metric)
            except ArchscoreError as e:
                champion, old_score, note = None, float("-inf"), f" (champion v{current.version} unloadable: {e})"
            else:
                note = ""
            gate["champion_version"] = current.version
            gate["champion_score"] = f"{old_score:.6f}"
            bench = (f"benchmark mean {metric} {new_score:.4f} vs champion v{current.version}'s {old_score:.4f}"
                     f"{note}")  # fmt: skip
            if user and champion is not None:
                old_user, seen = _champion_on(champion, user, metric)
                gate["user_champion_score"] = f"{old_user:.6f}"
                mlflow.log_metric(f"user/champion_{metric}", old_user)
                user_better = new_user >= old_user + config.gate_margin
                bench_ok = new_score >= old_score - BENCHMARK_TOLERANCE
                better = user_better and bench_ok
                rows = sum(len(j.rows) for j in user)
                reason = (
                    f"on your labels ({rows} rows, {USER_FOLDS}-fold cross-validated) {metric} {new_user:.4f} "
                    f"{'beats' if user_better else 'does not beat'} champion v{current.version}'s {old_user:.4f}"
                    f"{' (it trained on these rows)' if seen else ''} by the margin {config.gate_margin}; "
                    f"{bench} ({'within' if bench_ok else 'beyond'} the tolerance {BENCHMARK_TOLERANCE})"
                )
            else:
                better = new_score >= old_score + config.gate_margin
                verdict = "beats" if better else "does not beat"
                reason = (
                    f"mean {metric} {new_score:.4f} {verdict} champion v{current.version} "
                    f"({old_score:.4f}) by the margin {config.gate_margin}{note}"
                )
            promote = better or force
            if force and not better:
                reason += "; promoted anyway (--force)"
        if few:
            warning = (
                f"your labels {', '.join(f'{j.rows.task} ({len(j.rows)} rows)' for j in few)} are too few to judge "
                f"(at least {MIN_USER_ROWS} rows each): they trained the model, the benchmark tasks decided the gate"
            )
            reason += f"; {warning}"
            gate["user_warning"] = warning
            say(f"warning: {warning}")
        gate["decision"] = "promoted" if promote else "rejected"
        gate["reason"] = reason
        version = registry.register_gated(info.model_uri, config.name, gate, promote)
        result.version = version
        result.promoted, result.reason = promote, reason
        mlflow.set_tags(registry.gate_tags(gate) | {"registered_version": str(version)})
    say(f"registered {config.name} v{version}: {reason}")


def _champion_on(champion: ScoringModel, judged: list[UserJudgement], metric: str) -> tuple[float, bool]:
    """The champion's mean ``metric`` on the user's rows, and whether it trained on any of these files."""
    seen = set(champion.metadata.get("trained_on", ()))
    scores = []
    for j in judged:
        mean, std = champion.predict(j.rows.graphs, return_std=True)
        scores.append(metrics.evaluate(_truth(champion.target_transform, j.rows.y), mean, std)[metric])
    return float(np.mean(scores)), any(j.rows.task in seen for j in judged)


def retrain(
    labels: str | Path,
    *,
    value_column: str = "value",
    name: str = "archscore",
    label_name: str | None = None,
    tracking_uri: str | None = None,
    force: bool = False,
    say: Callable[[str], None] = log.info,
) -> TrainResult:
    """Add ``labels`` to the champion's configuration and train again through the gate."""
    from archscore.models import registry

    labels = Path(labels)
    load_labels(labels, value_column, label_name)  # refuse a bad file before touching the store
    mlflow, uri = registry.connect(tracking_uri)
    current = registry.champion(name)
    if current is None:
        raise ArchscoreError(f"no champion of model {name!r} in {uri}: train one first (archscore train)")
    config = TrainConfig.from_dict(registry.run_config(current.run_id))
    tmp = Path(tempfile.mkdtemp(prefix="archscore-labels-"))
    try:
        earlier = []
        for lf in config.labels:  # earlier measurements, from the champion's own run
            local = mlflow.artifacts.download_artifacts(run_id=current.run_id, artifact_path=lf.path, dst_path=str(tmp))
            earlier.append(replace(lf, path=local))
        digest = hashlib.sha256(labels.read_bytes()).hexdigest()
        new = LabelFile(str(labels.resolve()), label_name or labels.stem, value_column, digest)
        earlier = [lf for lf in earlier if lf.name != new.name]  # a file of the same name is replaced
        config = replace(config, labels=[*earlier, new])
        say(f"retraining from champion v{current.version} with {len(config.labels)} labels file(s)")
        return train(config, tracking_uri=uri, force=force, run_name=f"retrain-{new.name}", say=say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def import_model(
    folder: str | Path,
    name: str,
    *,
    tracking_uri: str | None = None,
    force: bool = False,
    say: Callable[[str], None] = log.info,
) -> TrainResult:
    """Register a saved model folder (``"default"``: the shipped model) as a new version of ``name``.

    No evaluation data comes with a folder, so there is no gate: the version becomes champion when
    ``name`` has none yet, or with ``force``; otherwise it is registered beside the champion.
    """
    from archscore.models import DEFAULT_MODEL, registry

    folder = DEFAULT_MODEL if str(folder) == "default" else Path(folder)
    model = ScoringModel.load(folder)
    mlflow, uri = registry.connect(tracking_uri)
    with mlflow.start_run(run_name=f"import-{folder.name}") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"archscore.imported_from": str(folder), "archscore.force": str(force).lower()})
        mlflow.log_params({f"model.{k}": v for k, v in model.config().items() if k != "predictor_params"})
        if (folder / "MODEL_CARD.md").is_file():
            mlflow.log_artifact(str(folder / "MODEL_CARD.md"))
        info = log_model(mlflow, model, Path(tmp))
        result = TrainResult(run.info.run_id, model, {}, tracking_uri=uri)
        with registry.registry_lock(uri):
            current = registry.champion(name)
            promote = current is None or force
            reason = (
                "first version of this model: promoted"
                if current is None
                else f"imported; champion v{current.version} kept (no evaluation data to gate on; --force promotes)"
                if not force
                else f"imported and promoted over v{current.version} (--force)"
            )
            gate = {"decision": "promoted" if promote else "rejected", "reason": reason, "forced": str(force).lower()}
            version = registry.register_gated(info.model_uri, name, gate, promote)
        result.version, result.promoted, result.reason = version, promote, reason
    say(f"registered {name} v{version}: {reason}")
    return result


def export_model(model: ScoringModel, folder: Path, config: TrainConfig, scores: dict[str, float]) -> Path:
    """Write the model folder and its model card (``MODEL_CARD.md``) to ``folder``."""
    from archscore.training.card import model_card

    if folder.exists() and any(folder.iterdir()) and not (folder / "model.json").is_file():
        raise ArchscoreError(f"{folder} exists and is not an archscore model folder: not overwriting it")
    if folder.exists():
        shutil.rmtree(folder)
    model.save(folder)
    (folder / "MODEL_CARD.md").write_text(model_card(model, config, scores))
    return folder
