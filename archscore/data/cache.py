"""An on-disk cache of canonical ArchGraphs for search-space cells.

Parsing one network takes milliseconds; a benchmark table has tens of thousands. The cache keeps
one file per (space, dataset) under a directory named after the *graph version*: a digest of the
parser and search-space code and the ONNX version, so any change that could change a graph starts
a fresh cache and the stale one is removed. Each file carries a checksum of its payload; a file
that does not verify (truncated, corrupted, from another version) is reported, deleted and
rebuilt, never used.

Location: ``$ARCHSCORE_CACHE_DIR``, else ``$XDG_CACHE_HOME/archscore``, else ``~/.cache/archscore``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import onnx

from archscore.graph import ArchGraph, Node

log = logging.getLogger(__name__)

MAGIC = b"archscore-graph-cache 1\n"
CHUNK = 256


@functools.cache
def graph_version() -> str:
    """Digest of everything a cached graph depends on: parser and space code, ONNX version."""
    h = hashlib.blake2b(digest_size=8)
    h.update(onnx.__version__.encode())
    for package in ("archscore.graph", "archscore.spaces"):
        for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".py"):
                h.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return h.hexdigest()


def default_root() -> Path:
    env = os.environ.get("ARCHSCORE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archscore"


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _build(stream: str, space: str, dataset: str, cells: Sequence[str]) -> _Chunk:
    """Build the graphs of ``cells`` in a worker, and encode them against the nodes this worker already sent.

    A worker's chunks reach the parent in the order it built them (tasks are taken in submission
    order), so per set the worker and the parent hold the same list of nodes: each chunk sends only
    nodes not sent before, and each graph as indices into that list. Less to pickle and unpickle,
    and the parent's graphs share equal nodes without hashing them again.
    """
    from archscore.spaces import get

    if _IN_WORKER:
        # Automatic collection is off in a worker: it walked everything that lives on (the nodes
        # sent, the spaces' memos) again and again, a tenth of the worker's time. The cycles a build
        # leaves (``ast.literal_eval`` makes some) are young: one pass over the youngest generation
        # per chunk frees them, and what survives it is never walked again.
        gc.collect(0)
    s = get(space)
    with _no_gc():
        graphs = [s.to_graph(c, dataset) for c in cells]
        key = (stream, space, dataset)
        index = _SENT.get(key)
        if index is None:  # a new set (or build): the sets come in order, so the earlier ones are done
            _SENT.clear()
            index = _SENT[key] = {}
        base = len(index)
        new: list[Node] = []
        metas: dict[str, int] = {}
        meta_list: list[dict] = []
        encoded = []
        for g in graphs:
            refs = []
            for n in g.nodes:
                i = index.get(n)
                if i is None:
                    i = index[n] = len(index)
                    new.append(n)
                refs.append(i)
            m = metas.get(text := _meta_key(g.meta))
            if m is None:
                m = metas[text] = len(meta_list)
                meta_list.append(dict(g.meta))
            encoded.append((tuple(refs), g.outputs, m))
    return _Chunk(os.getpid(), base, new, encoded, meta_list)


def _worker_start() -> None:
    """A build worker collects cyclic garbage itself, youngest generation only (see :func:`_build`)."""
    global _IN_WORKER
    _IN_WORKER = True
    gc.disable()


_IN_WORKER = False


_SENT: dict[tuple[str, str, str], dict[Node, int]] = {}
"""In a worker process: per (build stream, space, dataset), each node sent to the parent → its index."""


@dataclass
class _Chunk:
    """A worker's graphs of one chunk: new nodes, and each graph as (node indices, outputs, meta index)."""

    worker: int
    base: int
    """How many nodes this worker had sent for the set before this chunk."""
    nodes: list[Node]
    graphs: list[tuple[tuple[int, ...], tuple, int]]
    metas: list[dict]


class _Received:
    """The parent's side of the workers' node streams, for one build."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, str, str], list[Node]] = {}
        self.shared: dict[Node, Node] = {}  # equal nodes from different workers: one object
        self.metas: dict[str, dict] = {}

    def graphs(self, space: str, dataset: str, chunk: _Chunk) -> list[ArchGraph]:
        key = (chunk.worker, space, dataset)
        nodes = self.nodes.setdefault(key, [])
        if len(nodes) != chunk.base:
            raise RuntimeError(f"graph cache: worker {chunk.worker} is out of step ({len(nodes)} ≠ {chunk.base} nodes)")
        shared = self.shared
        nodes.extend([shared.setdefault(n, n) for n in chunk.nodes])
        metas = [self.metas.setdefault(_meta_key(m), m) for m in chunk.metas]
        node = nodes.__getitem__
        return [ArchGraph.trusted(tuple(map(node, refs)), outputs, metas[m]) for refs, outputs, m in chunk.graphs]

    def done(self, space: str, dataset: str) -> None:
        for key in [k for k in self.nodes if k[1:] == (space, dataset)]:
            del self.nodes[key]
        self.shared.clear()


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Cyclic garbage collection paused: building and loading graphs allocates millions of small objects.

    Each allocation burst would otherwise trigger collections that walk every live object (a fifth
    of a build's time); what the burst leaves unreachable is collected once it ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class GraphCache:
    """ArchGraphs of search-space cells, built once and kept on disk.

    :meth:`graphs` returns the graphs of some cells of one (space, dataset), building what is
    missing; :meth:`build` fills many sets ahead of time (``archscore data cache build``). Both hand
    chunks of cells to a pool of worker processes, which send back each graph as indices into the
    nodes they sent before (see :func:`_build`).

    Args:
        root: Cache folder (default :func:`default_root`); graphs go to ``root/graphs-<version>/``.
        workers: Processes used to build missing graphs (default: every available core).
    """

    def __init__(self, root: str | os.PathLike | None = None, workers: int | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.folder = self.root / f"graphs-{graph_version()}"
        self.workers = max(1, workers or _available_cores())

    def path(self, space: str, dataset: str) -> Path:
        return self.folder / f"{space}-{dataset}.pkl"

    # -- reading and writing one shard ---------------------------------------------------------
    def read(self, space: str, dataset: str) -> dict[str, ArchGraph]:
        """The cached graphs of one (space, dataset); empty if absent. A file that fails its check is removed."""
        path = self.path(space, dataset)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return {}
        head = len(MAGIC) + 65
        ok = len(data) > head and data.startswith(MAGIC)
        if ok:
            digest, payload = data[len(MAGIC) : head - 1], data[head:]
            ok = hashlib.blake2b(payload, digest_size=32).hexdigest().encode() == digest
        if ok:
            try:
                with _no_gc():
                    graphs = pickle.loads(payload)
                ok = isinstance(graphs, dict)
            except Exception:  # a payload that verifies but does not load: treat as corrupted
                ok = False
        if not ok:
            log.warning("archscore: graph cache file %s is corrupted; it is removed and rebuilt", path)
            path.unlink(missing_ok=True)
            return {}
        return graphs

    def write(
        self, space: str, dataset: str, graphs: dict[str, ArchGraph], *, share: bool = True
    ) -> dict[str, ArchGraph]:
        """Store one shard atomically (a reader sees the old file or the new one, never a part).

        Returns the stored graphs, with equal nodes shared (see :func:`_shared`) unless ``share``
        is false (the caller's graphs share them already).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        self._prune_stale()
        if share:
            graphs = _shared(graphs)
        payload = pickle.dumps(graphs, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.blake2b(payload, digest_size=32).hexdigest().encode()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + digest + b"\n" + payload)
            os.replace(tmp, self.path(space, dataset))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return graphs

    def shards(self) -> list[tuple[str, str, int]]:
        """(space, dataset, bytes) of every shard of the current graph version on disk."""
        out = []
        for path in sorted(self.folder.glob("*.pkl")) if self.folder.is_dir() else []:
            space, _, dataset = path.stem.partition("-")
            out.append((space, dataset, path.stat().st_size))
        return out

    def clear(self) -> int:
        """Remove every cached graph, of every version; returns the bytes freed."""
        freed = 0
        for old in self.root.glob("graphs-*"):
            if old.is_dir():
                freed += sum(f.stat().st_size for f in old.rglob("*") if f.is_file())
                shutil.rmtree(old, ignore_errors=True)
        return freed

    def _prune_stale(self) -> None:
        for old in self.root.glob("graphs-*"):
            if old != self.folder and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)

    # -- building ------------------------------------------------------------------------------
    def graphs(
        self,
        space: str,
        cells: Sequence[str],
        dataset: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[ArchGraph]:
        """ArchGraphs of ``cells`` (canonicalised first), building and storing the missing ones."""
        shown = None if progress is None else lambda _space, _dataset, done, total: progress(done, total)
        (job,) = self._fill([(space, dataset, cells)], shown, keep=True)
        return [job.graphs[c] for c in job.cells]

    def build(
        self,
        sets: Mapping[tuple[str, str], Sequence[str]],
        progress: Callable[[str, str, int, int], None] | None = None,
    ) -> int:
        """Build and store the missing graphs of several (space, dataset) sets; returns how many were built.

        One pool of worker processes serves every set, so the workers never wait between sets and
        keep what they learned of a space (ONNX inference of its layers, its cells); each shard is
        written as soon as its last graph arrives. ``progress(space, dataset, done, missing)``
        follows each set; once ``done == missing`` the set is stored. Every cell is checked before
        anything is built: a bad one raises :class:`~archscore.errors.InvalidCellError` and nothing
        is stored.
        """
        from archscore.spaces import get

        merged: dict[tuple[str, str], list[str]] = {}  # one job per shard: ("nb201", None) is ("nb201", "cifar10")
        for (space, dataset), cells in sets.items():
            merged.setdefault((space, get(space).dataset(dataset)), []).extend(cells)
        jobs = self._fill([(space, dataset, cells) for (space, dataset), cells in merged.items()], progress, keep=False)
        return sum(job.missing for job in jobs)

    def _fill(
        self,
        sets: Sequence[tuple[str, str, Sequence[str]]],
        progress: Callable[[str, str, int, int], None] | None,
        *,
        keep: bool,
    ) -> list[_Job]:
        from archscore.spaces import get

        jobs: list[_Job] = []
        for space, dataset, cells in sets:  # every cell checked (and canonicalised) before any work starts
            s = get(space)
            dataset = s.dataset(dataset)
            cached = self.read(space, dataset)
            cells = [c if c in cached else s.canonical(c) for c in cells]  # a stored key is canonical already
            missing = list(dict.fromkeys(c for c in cells if c not in cached))
            jobs.append(_Job(space, dataset, cells, cached, missing))
        tasks = [(job, job.todo[i : i + CHUNK]) for job in jobs for i in range(0, job.missing, CHUNK)]
        parallel = self.workers > 1 and len(tasks) > 1
        stream, received = uuid.uuid4().hex, _Received()
        workers = min(self.workers, len(tasks))
        with ProcessPoolExecutor(workers, initializer=_worker_start) if parallel else contextlib.nullcontext() as pool:
            args = (
                [stream] * len(tasks), [job.space for job, _ in tasks], [job.dataset for job, _ in tasks],
                [chunk for _, chunk in tasks],
            )  # fmt: skip
            results = pool.map(_build, *args) if pool is not None else map(_build, *args)
            for (job, chunk), built in zip(tasks, results):  # in order: the sets complete one after another
                job.graphs.update(zip(chunk, received.graphs(job.space, job.dataset, built)))
                job.done += len(chunk)
                if job.done == job.missing:
                    received.done(job.space, job.dataset)
                    # graphs built in this stream share their nodes already; stored ones only among themselves
                    job.graphs = self.write(job.space, job.dataset, job.graphs, share=job.missing < len(job.graphs))
                if progress:  # a set reported complete is stored
                    progress(job.space, job.dataset, job.done, job.missing)
                if job.done == job.missing and not keep:
                    job.graphs = {}
        if not parallel:
            _SENT.clear()  # built in this process: the stream's record is not needed any more
        return jobs


@dataclass
class _Job:
    """One (space, dataset) set of a build: its cells, the graphs at hand, and the cells to build."""

    space: str
    dataset: str
    cells: list[str]
    graphs: dict[str, ArchGraph]
    todo: list[str]
    done: int = 0
    """Graphs back from the workers."""

    @property
    def missing(self) -> int:
        return len(self.todo)


def bundled_sets(sources: Sequence[str] | None = None) -> dict[tuple[str, str], list[str]]:
    """Every distinct cell of the bundled tables, per (space, dataset) its labels were measured on.

    A source pinned to one setting (HAT's per-task files, FBNet's CIFAR-100 latencies, the unlabeled
    pools) needs that dataset only; a row with labels for several settings (NB201's three datasets,
    TransNAS-Bench's seven tasks) needs every dataset of its space; NAS-Bench-Suite-Zero rows need the
    dataset of their row. ``sources`` limits this to some bundled sources (default: all).
    """
    from archscore import data
    from archscore.errors import UnknownNameError
    from archscore.spaces import SPACES, get

    names = list(data.SOURCES) if sources is None else list(dict.fromkeys(sources))
    unknown = [n for n in names if n not in data.SOURCES]
    if unknown:
        raise UnknownNameError(f"unknown source(s) {', '.join(unknown)}; bundled: {', '.join(data.SOURCES)}")
    sets: dict[tuple[str, str], dict[str, None]] = {}
    for name in names:
        source = data.SOURCES[name]
        if "dataset" in source.groups:  # rows of several datasets (and spaces): one load per group
            cols = data.read_source(name)
            keys = [k for k in (source.space_column, "dataset") if k]
            for values in sorted(set(zip(*(cols[k] for k in keys)))):
                t = data.load(name, **dict(zip(keys, values)))
                if t.space is not None and t.dataset is not None:
                    sets.setdefault((t.space, t.dataset), {}).update(dict.fromkeys(t.cells or []))
            continue
        if source.space is None or source.space not in SPACES:
            continue
        t = data.load(name)
        for dataset in [t.dataset] if t.dataset else get(source.space).datasets:
            sets.setdefault((source.space, dataset), {}).update(dict.fromkeys(t.cells or []))
    order = list(SPACES)
    return {key: list(cells) for key, cells in sorted(sets.items(), key=lambda kv: order.index(kv[0][0]))}


def _meta_key(meta: Mapping[str, object]) -> str:
    """Graphs with equal metadata share one dict of it (in a worker's chunk, a build, a stored shard)."""
    return repr(sorted(meta.items()))


def _shared(graphs: dict[str, ArchGraph]) -> dict[str, ArchGraph]:
    """The same graphs with equal nodes (and equal metadata) as one object each.

    Graphs of one space repeat most of their nodes (stem, reduction blocks, head, cells with the
    same op on an edge); pickling shared objects once makes the file several times smaller and
    loading it several times faster. Nodes are immutable, so sharing them is safe.
    """
    nodes: dict[Node, Node] = {}
    seen: dict[int, Node] = {}  # id → shared node: an object met again (graphs come shared in part) is not rehashed
    metas: dict[str, dict] = {}
    out: dict[str, ArchGraph] = {}
    for cell, g in graphs.items():
        shared = []
        for n in g.nodes:
            same = seen.get(id(n))
            if same is None:
                same = seen[id(n)] = nodes.setdefault(n, n)
            shared.append(same)
        meta = metas.setdefault(_meta_key(g.meta), dict(g.meta))
        out[cell] = ArchGraph.trusted(tuple(shared), g.outputs, meta)
    return out
