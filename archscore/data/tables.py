"""Read the bundled tables into columns, and serve them as labelled architectures."""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from archscore.data.sources import SOURCES, Source, bundled_path
from archscore.errors import ArchscoreError, UnknownNameError

if TYPE_CHECKING:
    from archscore.data.cache import GraphCache
    from archscore.graph import ArchGraph

Column = np.ndarray | list[str]


@dataclass(frozen=True)
class Table:
    """Architectures of one bundled source with one target (or none), in table order.

    Attributes:
        source: The source's name (see ``archscore data list``).
        target: The target column, or ``None`` when only architectures were asked for.
        archs: Each architecture in the table's own encoding.
        cells: Canonical cell strings of archscore's search space ``space``, when the space is built.
        space: That search space (for a table mixing spaces, the one its ``search_space`` filter selects).
        dataset: The space's dataset the rows were measured on, when the load pinned it (a filter).
        y: The target per architecture (``nan`` where the table has no value), or ``None``.
        columns: Every column of the selected rows: numbers as float arrays, text as lists.
    """

    source: str
    target: str | None
    archs: list[str]
    cells: list[str] | None
    space: str | None
    y: np.ndarray | None
    columns: dict[str, Column] = field(repr=False)
    dataset: str | None = None

    def __len__(self) -> int:
        return len(self.archs)

    def graphs(self, dataset: str | None = None, cache: GraphCache | None = None) -> list[ArchGraph]:
        """The ArchGraph of every architecture, in table order, through the on-disk graph cache.

        ``dataset`` defaults to the table's own (when the load pinned one), else the space's first.

        Raises:
            ArchscoreError: The rows belong to no single search space (a table mixing spaces, not filtered).
        """
        if SOURCES[self.source].onnx_archive is not None:
            from archscore.data.archive import archive_graphs

            return archive_graphs(self.archs, cache=cache)
        if self.space is None or self.cells is None:
            column = SOURCES[self.source].space_column
            raise ArchscoreError(
                f"{self.source}: its rows mix search spaces; load one with {column}=… to get graphs"
                if column
                else f"{self.source}: its architectures are not in a search space archscore builds yet"
            )
        from archscore.data.cache import GraphCache

        return (cache or GraphCache()).graphs(self.space, self.cells, dataset or self.dataset)

    @property
    def targets(self) -> list[str]:
        """Numeric columns that can be a target."""
        return targets_of(self.source, self.columns)


def targets_of(source: str, columns: dict[str, Column]) -> list[str]:
    """The numeric columns of a source's table that can be a target (not its id columns)."""
    ids = SOURCES[source].id_columns
    return [k for k, v in columns.items() if isinstance(v, np.ndarray) and k not in ids]


def sources() -> dict[str, Source]:
    """Every bundled source by name."""
    return dict(SOURCES)


def _source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownNameError(f"unknown data source {name!r}; bundled: {', '.join(SOURCES)}") from None


@functools.cache
def data_version() -> str:
    """Digest of every bundled table (names and bytes): which data a trained model saw."""
    h = hashlib.blake2b(digest_size=8)
    root = resources.files("archscore.data").joinpath("bundled")

    def walk(entry, prefix: str) -> None:
        for child in sorted(entry.iterdir(), key=lambda e: e.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith((".csv.gz", ".md", ".zip")):
                h.update(f"{prefix}{child.name}".encode() + b"\0" + child.read_bytes())

    walk(root, "")
    return h.hexdigest()


def _read_csv(relative: str) -> tuple[list[str], list[list[str]]]:
    raw = bundled_path(relative).read_bytes()
    with gzip.open(io.BytesIO(raw), "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    return header, rows


def _number(text: str) -> float:
    """A table cell as a number (an empty cell is a missing value); ``ValueError`` if it is text."""
    return float(text) if text else math.nan


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]], text: Sequence[str]) -> dict[str, Column]:
    """Columns by name: a column whose every non-empty cell is a number becomes a float array."""
    cols: dict[str, Column] = {}
    for k, name in enumerate(header):
        values = [r[k] if k < len(r) else "" for r in rows]
        if name in text:
            cols[name] = values
            continue
        try:
            cols[name] = np.array([_number(v) for v in values], dtype=np.float64)
        except ValueError:
            cols[name] = values
    return cols


@functools.cache
def read_source(name: str) -> dict[str, Column]:
    """All columns of a source (several files joined on the source's key), read once per process."""
    src = _source(name)
    merged: dict[str, Column] = {}
    order: list[str] | None = None
    for relative in src.files:
        header, rows = _read_csv(relative)
        header = [src.rename.get(relative, {}).get(h, h) for h in header]
        cols = _columns(header, rows, src.text_columns)
        if src.key is None:
            merged.update(cols)
            continue
        keys = [str(int(v)) if isinstance(v, float) else v for v in cols[src.key]]
        if order is None:
            order = keys
            merged.update(cols)
            continue
        position = {k: i for i, k in enumerate(keys)}
        missing = [k for k in order if k not in position]
        if missing:
            raise RuntimeError(f"bundled table {relative} lacks {len(missing)} keys of {src.files[0]}")
        take = np.array([position[k] for k in order])
        for col, values in cols.items():
            if col in merged:
                continue  # the key and columns repeated across files (arch_str) keep the first file's
            merged[col] = values[take] if isinstance(values, np.ndarray) else [values[i] for i in take]
    return merged


def load(source: str, /, target: str | None = None, **where: str) -> Table:
    """Architectures of a bundled ``source`` with their ``target`` values.

    Args:
        source: A bundled source (``archscore data list`` prints them), e.g. ``"nb201"``.
        target: A numeric column of the source, e.g. ``"cifar10_val_acc"`` or ``"latency_pixel3"``;
            ``None`` for architectures only.
        where: Filters on the source's text columns, e.g. ``search_space="nasbench201",
            dataset="cifar10"`` for ``naslib_zc`` (``source="torchvision"`` for ``zoo``: ``source`` is
            positional-only, so a column may share its name).

    Raises:
        UnknownNameError: The source, target or a filter is not in the table; the message lists
            what is.
    """
    src = _source(source)
    cols = read_source(source)
    numeric = targets_of(source, cols)
    if target is not None and target not in numeric:
        raise UnknownNameError(f"{source} has no target {target!r}; targets: {', '.join(numeric)}")
    n = len(next(iter(cols.values())))
    keep = np.ones(n, dtype=bool)
    for name, value in where.items():
        if name not in src.groups:
            raise UnknownNameError(
                f"{source} cannot be filtered on {name!r}; filters: {', '.join(src.groups) or 'none'}"
            )
        column = cols[name]
        valid = sorted(set(column))  # type: ignore[arg-type]
        if value not in valid:
            raise UnknownNameError(f"{source}: {name}={value!r} matches nothing; values: {', '.join(valid)}")
        keep &= np.array([v == value for v in column])
    index = np.flatnonzero(keep)
    selected: dict[str, Column] = {
        k: v[index] if isinstance(v, np.ndarray) else [v[i] for i in index] for k, v in cols.items()
    }
    archs = _arch_strings(src, selected, len(index))
    space_name, dataset = _space_of(src, where)
    cells = None
    if space_name is not None:
        from archscore.spaces import get

        space = get(space_name)
        cells = [space.canonical(a) for a in archs]
        if dataset is not None and dataset not in space.datasets:
            dataset = None  # measured on a setting the space does not build (yet)
    y = None if target is None else np.asarray(selected[target], dtype=np.float64)
    return Table(source, target, archs, cells, space_name, y, selected, dataset)


def _space_of(src: Source, where: dict[str, str]) -> tuple[str | None, str | None]:
    """The built search space of the selected rows (and their dataset, if a filter pins it)."""
    from archscore.spaces import SPACES

    space = src.space
    if src.space_column is not None:
        space = src.spaces.get(where.get(src.space_column, ""))
    if space not in SPACES:
        return None, None
    dataset = where.get("dataset", src.dataset)
    return space, None if dataset is None else src.datasets.get(dataset, dataset)


def _arch_strings(src: Source, cols: dict[str, Column], n: int) -> list[str]:
    if len(src.arch_columns) == 1:
        column = cols[src.arch_columns[0]]
        return [_text(v) for v in column]
    parts = [[f"{name}={_text(v)}" for v in cols[name]] for name in src.arch_columns]
    return ["; ".join(p[i] for p in parts) for i in range(n)]


def _text(v: object) -> str:
    if isinstance(v, float):  # numpy floats too: their repr is "np.float64(…)" under numpy 2
        return str(int(v)) if v.is_integer() else repr(float(v))
    return str(v)
