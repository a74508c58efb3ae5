"""Anything a user hands over → ArchGraphs: the one place that reads architectures.

- Files, folders and globs (:func:`expand_paths`, :func:`read_files`: parsed in killable worker
  processes, each file's graph or the reason it could not be read) — the CLI.
- Cells of a search space (:func:`read_cells`) — the CLI.
- Records naming an ONNX file, ONNX bytes (base64) or a space + cell (:func:`read_record`,
  :func:`read_records`) — the MLflow model (a DataFrame's rows), ``archscore retrain --labels`` (a
  CSV's rows) and the service (JSON items). Every record is read, and every bad one is reported
  with its row number before anything is scored or trained.
- ArchGraphs, paths, bytes or ``onnx.ModelProto`` in Python (:func:`as_graphs`) — the library.

What a server reads is bounded by :class:`Limits`: ONNX is parsed in a
:class:`~archscore.graph.bounded.ParsePool` (killed at its time limit, memory capped), and a record
that names a file path is refused (``paths=False``), so a client can never make a server open,
probe or score its files.
"""

from __future__ import annotations

import base64
import binascii
import csv
import glob
import hashlib
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from archscore.errors import ArchscoreError
from archscore.graph import ArchGraph, from_onnx
from archscore.graph.bounded import PARSE_MEMORY, PARSE_SECONDS, PARSE_SECONDS_FILE, ParsePool

ARCH_COLUMNS = ("onnx", "onnx_base64", "space")
"""A record names its architecture by one of these: an ONNX path, base64 ONNX bytes, or a space (+ cell)."""
MAX_REPORTED = 20


class RecordError(ArchscoreError, ValueError):
    """Records that cannot be read; ``problems`` lists ``(row, message)`` for every bad row."""

    def __init__(self, what: str, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        lines = [f"row {row}: {msg}" for row, msg in problems[:MAX_REPORTED]]
        more = len(problems) - MAX_REPORTED
        if more > 0:
            lines.append(f"… and {more} more row(s)")
        super().__init__(f"{what}: {len(problems)} bad row(s)\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Limits:
    """What one request to a server (the HTTP service, the served MLflow model) may ask for."""

    max_request_bytes: int = 32 * 2**20
    max_architectures: int = 64
    max_nodes: int = 50_000
    """ONNX nodes per architecture, counted through model-local functions and subgraphs."""
    parse_seconds: float = PARSE_SECONDS
    """Parsing time of one request (all its architectures together); the parse is killed at it."""
    parse_workers: int = 2
    """Parser processes per server process."""
    parse_memory: int = PARSE_MEMORY
    """Heap a parser process may hold, in bytes."""
    parse_cache_nodes: int = 200_000
    """Graphs of recently parsed uploads kept (in nodes), so the same bytes sent again are not parsed again."""
    body_seconds: float = 30.0
    """Time a request body may take to arrive (slow clients are refused with 408)."""

    def parser(self) -> ParsePool:
        """A parse pool applying these limits (its processes start on first use)."""
        return ParsePool(
            self.parse_workers,
            seconds=self.parse_seconds,
            memory=self.parse_memory,
            max_nodes=self.max_nodes,
            max_bytes=self.max_request_bytes,
            cache_nodes=self.parse_cache_nodes,
        )


@dataclass(frozen=True)
class Arch:
    """One architecture read from a record: its graph and a stable id (canonical cell or ONNX digest)."""

    id: str
    graph: ArchGraph


def onnx_id(raw: bytes) -> str:
    """The id of an ONNX model: a digest of its bytes (the same file always gets the same id)."""
    return "onnx:" + hashlib.sha256(raw).hexdigest()[:16]


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


DIRECT_BUILD = 64
"""Up to this many cells of one space are built directly; more go through the on-disk graph cache."""


def _check_record(record: Mapping[str, object], base: Path | None, paths: bool = True) -> tuple[str, object]:
    """What a record names, checked: ``("cell", (space, dataset, canonical))`` or ``("onnx", bytes)``.

    With ``paths=False`` a record naming a file is refused before anything is looked up.
    """
    onnx_path, b64, space = (_text(record.get(k)) for k in ARCH_COLUMNS)
    columns = ARCH_COLUMNS if paths else ARCH_COLUMNS[1:]
    if onnx_path and not paths:
        raise ValueError("'onnx' (a file path) is not accepted here: send the file's bytes as 'onnx_base64'")
    given = [k for k, v in zip(ARCH_COLUMNS, (onnx_path, b64, space)) if v]
    if len(given) != 1:
        raise ValueError(
            f"name the architecture by exactly one of {', '.join(columns)} (given: {', '.join(given) or 'none'})"
        )
    if space:
        from archscore.spaces import get

        cell = _text(record.get("cell"))
        if not cell:
            raise ValueError(f"space {space!r} needs a cell")
        s = get(space)
        return "cell", (space, s.dataset(_text(record.get("dataset")) or None), s.canonical(cell))
    if b64:
        try:
            return "onnx", base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("onnx_base64 is not valid base64") from None
    path = Path(onnx_path)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ValueError(f"ONNX file {str(path)!r} does not exist")
    return "onnx", path.read_bytes()


def _cell_graphs(space: str, dataset: str, cells: list[str]) -> list[ArchGraph]:
    if len(cells) <= DIRECT_BUILD:
        from archscore.spaces import get

        s = get(space)
        return [s.to_graph(c, dataset) for c in cells]
    from archscore.data.cache import GraphCache

    return GraphCache().graphs(space, cells, dataset)


def _onnx_arch(raw: bytes, parser: ParsePool | None, seconds: float | None) -> Arch:
    return Arch(onnx_id(raw), from_onnx(raw) if parser is None else parser.parse(raw, seconds=seconds))


def read_record(
    record: Mapping[str, object],
    base: Path | None = None,
    *,
    paths: bool = True,
    parser: ParsePool | None = None,
    seconds: float | None = None,
) -> Arch:
    """One record's architecture; raises what reading it raised (``InvalidModelError``, ``ModelLimitError``,
    ``InvalidCellError``, ``ValueError`` …), each naming the problem.

    ONNX is parsed by ``parser`` (within ``seconds``, default: the pool's limit) when one is given.
    """
    kind, value = _check_record(record, base, paths)
    if kind == "cell":
        space, dataset, cell = value  # type: ignore[misc]
        return Arch(f"{space}:{dataset}:{cell}", _cell_graphs(space, dataset, [cell])[0])
    return _onnx_arch(value, parser, seconds)  # type: ignore[arg-type]


def read_records(
    records: Sequence[Mapping[str, object]],
    what: str,
    base: Path | None = None,
    *,
    paths: bool = True,
    parser: ParsePool | None = None,
) -> list[Arch]:
    """Every record's architecture; a :class:`RecordError` listing every bad row (1-based) otherwise.

    Keys of a record: ``onnx`` (a path, relative to ``base``; refused with ``paths=False``),
    ``onnx_base64``, or ``space`` + ``cell`` (and optionally ``dataset``). Cells of one space are
    built together; ONNX goes through ``parser`` when one is given (each row within its time limit).
    """
    out: list[Arch | None] = [None] * len(records)
    problems: list[tuple[int, str]] = []
    cells: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for i, record in enumerate(records):
        try:
            kind, value = _check_record(record, base, paths)
            if kind == "cell":
                space, dataset, cell = value  # type: ignore[misc]
                cells.setdefault((space, dataset), []).append((i, cell))
            else:
                out[i] = _onnx_arch(value, parser, None)  # type: ignore[arg-type]
        except (ArchscoreError, ValueError, KeyError) as e:
            problems.append((i + 1, str(e)))
    for (space, dataset), items in cells.items():
        graphs = _cell_graphs(space, dataset, [c for _, c in items])
        for (i, cell), g in zip(items, graphs):
            out[i] = Arch(f"{space}:{dataset}:{cell}", g)
    if problems:
        raise RecordError(what, sorted(problems))
    return out  # type: ignore[return-value]


def read_table(path: str | Path) -> list[dict[str, object]]:
    """Rows of a CSV or Parquet file as dicts (the file's own columns)."""
    path = Path(path)
    if not path.is_file():
        raise ArchscoreError(f"labels file {str(path)!r} does not exist")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ArchscoreError("reading Parquet needs pyarrow: pip install 'archscore[train]'") from None
        try:
            return pq.read_table(path).to_pylist()
        except Exception as e:  # pyarrow raises several types for a file that is not Parquet
            raise ArchscoreError(f"{path}: not a readable Parquet file ({e})") from None
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise ArchscoreError(f"{path}: not a readable CSV file ({e})") from None


# -- files, folders, globs, cells, Python objects ----------------------------------------------------
class NoMatchError(ArchscoreError, ValueError):
    """A glob that matches no file."""


def expand_paths(patterns: Sequence[str]) -> list[Path]:
    """ONNX files from paths, folders (every ``.onnx`` below them) and globs (``**`` recursive), each
    once, in the order given. A missing plain path is kept (reading it reports it beside the others);
    an empty folder or a glob matching nothing is an error naming it."""
    found: list[Path] = []
    for p in patterns:
        path = Path(p)
        if path.is_dir():
            inside = sorted(path.rglob("*.onnx"))
            if not inside:
                raise ArchscoreError(f"{p}: no .onnx file in this folder (or below it)")
            found += inside
        elif not path.exists() and any(ch in p for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(p, recursive=True))
            if not matches:
                raise NoMatchError(f"{p!r} matches no file")
            found += [m for m in matches if m.is_file()]
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def error_message(exc: Exception) -> str:
    """An error as a user reads it: archscore's own errors by their message, others with their kind."""
    if isinstance(exc, ArchscoreError):
        return str(exc)
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"no such file: {exc.filename}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror.lower()}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or type(exc).__name__


def read_files(
    paths: Sequence[Path],
    *,
    workers: int | None = None,
    seconds: float = PARSE_SECONDS_FILE,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    done: Callable[[], None] | None = None,
) -> list[ArchGraph | str]:
    """Each file's ArchGraph, or the message saying why it could not be read. Files are parsed in
    worker processes (as many as cores, or ``workers``), each parse stopped at ``seconds``: no file
    can hang the caller. ``done`` is called after each file (a progress bar)."""
    from concurrent.futures import ThreadPoolExecutor

    if not paths:
        return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = max(1, min(workers or cores, len(paths)))

    def one(pool: ParsePool, path: Path) -> ArchGraph | str:
        try:
            return pool.parse(path, input_shapes=input_shapes)
        except (ArchscoreError, ValueError, OSError) as exc:
            return error_message(exc)
        finally:
            if done is not None:
                done()

    with ParsePool(n, seconds=seconds) as pool, ThreadPoolExecutor(n) as threads:
        return list(threads.map(lambda p: one(pool, p), paths))


def read_cells(space: str, cells: Sequence[str], dataset: str | None = None) -> list[tuple[str, ArchGraph | str]]:
    """Each cell of ``space`` as (its canonical form, its network's ArchGraph), or (the cell as
    given, the message saying why it is not a cell of the space). An unknown space raises."""
    from archscore.spaces import get

    s = get(space)
    out: list[tuple[str, ArchGraph | str]] = []
    for c in cells:
        try:
            canonical = s.canonical(c)
            out.append((canonical, s.to_graph(canonical, dataset)))
        except (ArchscoreError, ValueError) as exc:
            out.append((c, error_message(exc)))
    return out


def as_graphs(archs: object) -> list[ArchGraph]:
    """ArchGraphs from an ArchGraph, ONNX path, bytes or ``onnx.ModelProto``, or a sequence of them
    (parsed in this process, with the static limits of :func:`~archscore.graph.from_onnx`)."""
    if isinstance(archs, (str, bytes, os.PathLike, ArchGraph)):
        archs = [archs]
    return [a if isinstance(a, ArchGraph) else from_onnx(a) for a in archs]  # type: ignore[union-attr]
