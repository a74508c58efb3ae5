"""A training configuration: what a model learns from, how it is built, and how it is judged.

Written as TOML (``archscore train --config FILE``) or JSON (what a run logs as ``config.json``);
``archscore train`` flags override single fields. Every field is checked before data is loaded:

.. code-block:: toml

    name = "archscore"                 # registered model name
    target = "accuracy_percentile"     # name of the predicted quantity
    target_transform = "percentile"    # "percentile" within each task, or "none"
    encoder = "stats+z"                # stats · z · gnn · text, joined by +
    predictor = "gbdt"                 # gbdt · mlp · cluster
    seed = 0
    tasks = "zero_shot"                # every labelled accuracy table; or [[tasks]] tables
    max_rows = 2000                    # training rows per task (a seeded sample)
    nbgraph_rows = 500                 # … per NAS-Bench-Graph dataset
    eval_fraction = 0.2                # the fixed evaluation split (hash of task and cell)
    eval_rows = 1000                   # evaluation rows per task at most
    leave_one_space_out = false        # also the zero-shot protocol (one refit per space)
    gate_metric = "kendall_tau"        # mean over evaluation tasks
    gate_margin = 0.005                # a new model must beat the champion by this much
    optuna_trials = 0                  # predictor hyperparameter search (nested runs)
    optuna_timeout = 60.0              # … within this many seconds
    real_networks = ["imagenet1k"]     # zoo datasets with a real-network accuracy head (top-1 %)

    [predictor_params]
    n_members = 5
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from archscore.data.tasks import Task, zero_shot_tasks
from archscore.errors import ArchscoreError, UnknownNameError
from archscore.models.realnet import DATASETS as REAL_NETWORK_DATASETS
from archscore.models.scoring import PREDICTORS, TRANSFORMS, make_predictor, parse_parts

GATE_METRICS = ("kendall_tau", "spearman_rho", "precision_at_top5")


class ConfigError(ArchscoreError, ValueError):
    """A training configuration that cannot be used; the message names the field."""


@dataclass
class LabelFile:
    """A user's labels file included in training (``archscore retrain --labels``)."""

    path: str
    name: str
    value_column: str = "value"
    sha256: str | None = None


@dataclass
class TrainConfig:
    name: str = "archscore"
    target: str = "accuracy_percentile"
    target_transform: str = "percentile"
    encoder: str = "stats+z"
    predictor: str = "gbdt"
    predictor_params: dict[str, Any] = field(default_factory=lambda: {"n_members": 5})
    seed: int = 0
    tasks: str | list[Task] = "zero_shot"
    max_rows: int | None = 2000
    nbgraph_rows: int | None = 500
    labels: list[LabelFile] = field(default_factory=list)
    eval_fraction: float = 0.2
    eval_rows: int | None = 1000
    leave_one_space_out: bool = False
    gate_metric: str = "kendall_tau"
    gate_margin: float = 0.005
    optuna_trials: int = 0
    optuna_timeout: float = 60.0
    real_networks: list[str] = field(default_factory=list)
    """Datasets of the bundled zoo of real networks (``imagenet1k``, ``cifar10``, ``cifar100``) the
    model learns top-1 accuracy for (see :mod:`archscore.models.realnet`); empty: percentiles only."""
    experiment: str = "archscore"

    def task_list(self) -> list[Task]:
        """The bundled tasks this configuration trains on (a preset expanded)."""
        if isinstance(self.tasks, str):
            return zero_shot_tasks(self.max_rows, self.nbgraph_rows)
        return list(self.tasks)

    def check(self) -> TrainConfig:
        """Raise :class:`ConfigError` naming the first field that cannot work."""
        try:
            parse_parts(self.encoder)
            if self.predictor not in PREDICTORS:
                raise UnknownNameError(f"unknown predictor {self.predictor!r}; choose one of {', '.join(PREDICTORS)}")
            make_predictor(self.predictor, self.predictor_params, self.seed)
        except UnknownNameError as e:
            raise ConfigError(str(e)) from None
        if self.target_transform not in TRANSFORMS:
            raise ConfigError(f"target_transform {self.target_transform!r}: choose one of {', '.join(TRANSFORMS)}")
        if isinstance(self.tasks, str) and self.tasks != "zero_shot":
            raise ConfigError(f"tasks = {self.tasks!r}: give 'zero_shot' or a list of [[tasks]] tables")
        if not self.task_list() and not self.labels:
            raise ConfigError("nothing to train on: no tasks and no labels")
        if len(self.task_list()) > 1 and self.target_transform == "none":
            raise ConfigError("several tasks need target_transform = 'percentile' (their units differ)")
        if self.gate_metric not in GATE_METRICS:
            raise ConfigError(f"gate_metric {self.gate_metric!r}: choose one of {', '.join(GATE_METRICS)}")
        if not 0 < self.eval_fraction < 1:
            raise ConfigError(f"eval_fraction must be in (0, 1), got {self.eval_fraction}")
        if self.gate_margin < 0 or self.optuna_trials < 0 or self.optuna_timeout <= 0:
            raise ConfigError("gate_margin and optuna_trials must be ≥ 0 and optuna_timeout > 0")
        bad = [d for d in self.real_networks if d not in REAL_NETWORK_DATASETS]
        if bad:
            raise ConfigError(f"real_networks {bad}: choose from {', '.join(REAL_NETWORK_DATASETS)}")
        for limit in ("max_rows", "nbgraph_rows", "eval_rows"):
            value = getattr(self, limit)
            if value is not None and value < 2:
                raise ConfigError(f"{limit} must be at least 2 (or absent for all rows), got {value}")
        return self

    # -- reading and writing ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = self.tasks if isinstance(self.tasks, str) else [t.to_dict() for t in self.tasks]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ConfigError(f"unknown configuration key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
        d = dict(d)
        try:
            if not isinstance(d.get("tasks", "zero_shot"), str):
                d["tasks"] = [Task.from_dict(t) for t in d["tasks"]]
            d["labels"] = [LabelFile(**lf) for lf in d.get("labels", [])]
            config = cls(**d)
        except (TypeError, UnknownNameError) as e:
            raise ConfigError(f"configuration: {e}") from None
        return config

    @classmethod
    def compose(
        cls, source: str | Path | None, overrides: dict[str, Any], task_names: str | None = None
    ) -> TrainConfig:
        """A checked configuration: ``source`` (a file, ``"default"`` for the shipped model's, or
        ``None`` for the defaults) with the ``overrides`` that are not ``None`` on top, and
        ``task_names`` (comma-separated bundled task names) replacing its tasks.

        Raises:
            UnknownNameError: A task name that is not a bundled task (the message lists them).
            ConfigError: Anything else wrong with the result.
        """
        from archscore.models import DEFAULT_CONFIG

        base = cls.read(DEFAULT_CONFIG if source == "default" else Path(source)) if source else cls()
        d = base.to_dict()
        d.update({k: v for k, v in overrides.items() if v is not None})
        if task_names:
            wanted = [n.strip() for n in task_names.split(",") if n.strip()]
            every = {t.name: t for t in zero_shot_tasks(d["max_rows"], d["nbgraph_rows"])}
            unknown = [n for n in wanted if n not in every]
            if unknown:
                raise UnknownNameError(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(every)}")
            d["tasks"] = [every[n].to_dict() for n in wanted]
        return cls.from_dict(d).check()

    @classmethod
    def read(cls, path: str | Path) -> TrainConfig:
        """A configuration from a ``.toml`` or ``.json`` file."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"configuration file {str(path)!r} does not exist")
        text = path.read_text()
        try:
            if path.suffix == ".json":
                d = json.loads(text)
            else:
                if sys.version_info >= (3, 11):
                    import tomllib
                else:  # pragma: no cover
                    import tomli as tomllib
                d = tomllib.loads(text)
        except ValueError as e:
            raise ConfigError(f"{path}: {e}") from None
        return cls.from_dict(d)
