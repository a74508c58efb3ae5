"""Small real training configurations shared by the pipeline and store tests."""

from __future__ import annotations

from archscore.data.tasks import zero_shot_tasks
from archscore.training.config import TrainConfig

TASKS = ("nb201/cifar10", "nb101/cifar10")


def small(name: str = "t", rows: int = 120, eval_rows: int = 80, **kw) -> TrainConfig:
    """A real configuration on two spaces, small enough for a test (a few seconds)."""
    tasks = [t for t in zero_shot_tasks(rows, rows) if t.name in TASKS]
    params = kw.pop("predictor_params", {"n_members": 3, "n_estimators": 150})
    return TrainConfig(name=name, tasks=tasks, eval_rows=eval_rows, predictor_params=params, **kw).check()


def weak(name: str = "t", eval_rows: int = 80) -> TrainConfig:
    """Clearly worse on the same evaluation split: a dozen rows, one booster of three two-leaf trees."""
    params = {"n_members": 1, "n_estimators": 3, "num_leaves": 2}
    return small(name, rows=12, eval_rows=eval_rows, predictor_params=params)
