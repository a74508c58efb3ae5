"""Labelled tasks: which bundled table a model learns from, and the fixed split it is judged on.

A :class:`Task` names a bundled source's target on one dataset (``archscore data list``). Its rows
split into a training part and an evaluation part by a hash of (task, cell), not by a seed: an
architecture is in the evaluation part of its task for every configuration, sample size and run.
So no model ever trains on a row another model is judged on, and the promotion gate compares a
new model and the champion on rows neither has seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from archscore.errors import UnknownNameError

NAS_BENCH_GRAPH = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")


@dataclass(frozen=True)
class Task:
    """One labelled table: a bundled source's target, on one dataset, optionally filtered and sampled.

    Attributes:
        name: ``"<space>/<dataset or task>"``; also the name of its reference population.
        source: The bundled source (``archscore data list``).
        target: The source's target column.
        dataset: The input setting the networks are built for (the space's dataset).
        where: Column filters of the source (``{"search_space": "nasbench101"}``).
        max_rows: At most this many training rows (a seeded sample); ``None`` for all.
    """

    name: str
    source: str
    target: str
    dataset: str
    where: dict = field(default_factory=dict)
    max_rows: int | None = None

    @property
    def space(self) -> str:
        return self.name.split("/")[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        known = {"name", "source", "target", "dataset", "where", "max_rows"}
        bad = sorted(set(d) - known)
        missing = sorted({"name", "source", "target", "dataset"} - set(d))
        if bad or missing:
            raise UnknownNameError(
                f"task {d.get('name', d)!r}: "
                + (f"unknown key(s) {', '.join(bad)}; " if bad else "")
                + (f"missing {', '.join(missing)}; " if missing else "")
                + f"a task has {', '.join(sorted(known))}"
            )
        return cls(**{**d, "where": dict(d.get("where") or {})})


def zero_shot_tasks(max_rows: int | None = None, nbgraph_rows: int | None = 500) -> list[Task]:
    """Every labelled accuracy task of the bundled data: the zero-shot benchmark's and the default model's.

    NB201 on its three datasets, NB101 and NB301 (NAS-Bench-Suite-Zero rows), TransNAS-Bench micro
    and macro on their classification tasks, NAS-Bench-Graph on its nine datasets (``nbgraph_rows``
    each).
    """
    out = [
        Task(f"nb201/{d}", "nb201", f"{d}_val_acc", d, {}, max_rows) for d in ("cifar10", "cifar100", "imagenet16_120")
    ]
    for space, naslib in (("nb101", "nasbench101"), ("nb301", "nasbench301")):
        where = {"search_space": naslib, "dataset": "cifar10"}
        out.append(Task(f"{space}/cifar10", "naslib_zc", "val_accuracy", "cifar10", where, max_rows))
    for space in ("tnb101_micro", "tnb101_macro"):
        out += [Task(f"{space}/{t}", space, t, t, {}, max_rows) for t in ("class_scene", "class_object")]
    out += [Task(f"nbgraph/{d}", "nbgraph", "valid_perf", d, {"dataset": d}, nbgraph_rows) for d in NAS_BENCH_GRAPH]
    return out


def in_eval_split(task: str, cells: list[str], fraction: float) -> np.ndarray:
    """Which cells belong to ``task``'s evaluation part: a fixed hash of (task, cell) below ``fraction``."""
    if not 0 < fraction < 1:
        raise ValueError(f"the evaluation fraction must be in (0, 1), got {fraction}")
    u = [int.from_bytes(hashlib.blake2b(f"{task}\0{c}".encode(), digest_size=8).digest(), "big") / 2**64 for c in cells]
    return np.asarray(u) < fraction


@dataclass
class Rows:
    """Labelled rows of one task: cells (or architecture ids), their graphs and targets — what every
    model is fitted on (:meth:`archscore.models.ScoringModel.fit` takes a list of them).

    ``population`` are the graphs the task's reference statistics come from (default: ``graphs``);
    unlabelled architectures of the same space (or the task's evaluation rows) belong there too.
    """

    task: str
    cells: list[str]
    graphs: list
    y: np.ndarray
    population: list | None = None

    def take(self, rows: np.ndarray) -> Rows:
        """The rows at ``rows``; the population stays the task's."""
        return Rows(self.task, [self.cells[i] for i in rows], [self.graphs[i] for i in rows], self.y[rows],
                    self.population)  # fmt: skip

    def __len__(self) -> int:
        return len(self.cells)


def load_task(task: Task, eval_fraction: float, seed: int, eval_rows: int | None = 1000) -> tuple[Rows, Rows]:
    """The task's training rows (a ``seed``-ed sample of ``max_rows``) and its fixed evaluation rows.

    Evaluation rows are capped at ``eval_rows`` by a sample with a fixed seed (not ``seed``), so
    every run of the same task is judged on the same rows.
    """
    from archscore import data
    from archscore.data.cache import GraphCache

    table = data.load(task.source, target=task.target, **task.where)
    if table.cells is None or table.space is None:
        raise UnknownNameError(f"task {task.name!r}: source {task.source!r} has no search space archscore builds")
    labelled = np.flatnonzero(~np.isnan(table.y))
    cells = [table.cells[i] for i in labelled]
    is_eval = in_eval_split(task.name, cells, eval_fraction)
    train_idx, eval_idx = labelled[~is_eval], labelled[is_eval]
    if task.max_rows is not None and len(train_idx) > task.max_rows:
        train_idx = np.sort(np.random.default_rng(seed).choice(train_idx, task.max_rows, replace=False))
    if eval_rows is not None and len(eval_idx) > eval_rows:
        eval_idx = np.sort(np.random.default_rng(20261201).choice(eval_idx, eval_rows, replace=False))
    rows = np.concatenate([train_idx, eval_idx])
    chosen = [table.cells[i] for i in rows]
    graphs = GraphCache().graphs(table.space, chosen, table.dataset or task.dataset)
    every = Rows(task.name, chosen, graphs, table.y[rows])
    n = len(train_idx)
    return every.take(np.arange(n)), every.take(np.arange(n, len(rows)))
