"""A user's own measurements (CSV or Parquet) as a labelled task, checked before any training starts.

A labels file has one row per architecture: ``onnx`` (a path, relative to the file's folder),
``onnx_base64``, or ``space`` + ``cell`` (+ ``dataset``); and the measured value (column ``value``
unless told otherwise). Every row is read first; a file with missing columns, architectures that
cannot be read or values that are not finite numbers is refused with every bad row named.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from archscore.data.tasks import Rows
from archscore.errors import ArchscoreError
from archscore.models.inputs import ARCH_COLUMNS, RecordError, read_records, read_table

MIN_ROWS = 4


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError
    x = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    if not math.isfinite(x):
        raise ValueError
    return x


def load_labels(path: str | Path, value_column: str = "value", name: str | None = None) -> Rows:
    """The file's rows as a task named ``user/<name or file stem>``; ``RecordError`` naming bad rows."""
    path = Path(path)
    rows = read_table(path)
    task = f"user/{name or path.stem}"
    if not rows:
        raise ArchscoreError(f"{path}: no rows")
    columns = set(rows[0])
    missing = []
    if not columns & set(ARCH_COLUMNS):
        missing.append(f"an architecture column ({' or '.join(ARCH_COLUMNS)})")
    if value_column not in columns:
        missing.append(f"the value column {value_column!r}")
    if missing:
        raise ArchscoreError(
            f"{path}: missing {' and '.join(missing)}; the file has columns {', '.join(sorted(columns))}"
        )
    values, problems = [], []
    for i, record in enumerate(rows, start=1):
        try:
            values.append(_number(record.get(value_column)))
        except (TypeError, ValueError):
            problems.append((i, f"{value_column} {record.get(value_column)!r} is not a finite number"))
    try:
        archs = read_records(rows, str(path), base=path.parent)
    except RecordError as e:
        problems += e.problems
    if problems:
        raise RecordError(f"{path}", sorted(problems))
    if len(values) < MIN_ROWS:
        raise ArchscoreError(f"{path}: {len(values)} labelled row(s); retraining needs at least {MIN_ROWS}")
    return Rows(task, [a.id for a in archs], [a.graph for a in archs], np.asarray(values, dtype=np.float64))
