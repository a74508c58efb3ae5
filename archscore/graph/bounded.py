"""Parse ONNX with bounded time and memory: each parse runs in a worker process that is killed at its limit.

ONNX shape inference is C++ that holds the GIL and cannot be interrupted, so a thread running it
cannot be stopped and a server's event loop stops answering while it runs. The static limits of
:func:`archscore.graph.from_onnx` (bytes, nodes counted through functions and subgraphs, rank,
dimensions) refuse the known expensive shapes of input up front; this pool is the guarantee for
the rest: a parse that runs past its time is killed with its process (the pool replaces it), and a
worker's memory is capped, so one upload can never hold a core or the memory of a server.

The CLI, the HTTP service and the MLflow model all parse through a :class:`ParsePool`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from archscore import errors
from archscore.errors import ArchscoreError, InvalidModelError, ModelLimitError
from archscore.graph.archgraph import ArchGraph
from archscore.graph.parse import MAX_FILE_BYTES, MAX_NODES, ModelSource

PARSE_SECONDS = 10.0
"""Default time one parse may take before its worker is killed (a server's request)."""
PARSE_SECONDS_FILE = 60.0
"""Time one of a user's own files may take to parse (the CLI; real networks of 10^5 nodes take a few
seconds)."""
PARSE_MEMORY = 2**30
"""Default memory (bytes of heap, ``RLIMIT_DATA``) a parse worker may hold."""
START_SECONDS = 120.0
"""Time a new parse worker may take to start (import the parser); not counted in a parse's limit."""


class ParseTimeoutError(ModelLimitError):
    """Parsing an input took longer than its time limit; the work was stopped."""


def _serve(memory: int) -> None:
    """A parse worker (``python -m archscore.graph.bounded MEMORY``): answers each (src, options) read from
    stdin with ("ok", graph) or ("error", error type name, message) on stdout."""
    import resource

    from archscore.graph import from_onnx

    inbox = Connection(os.dup(0), writable=False)
    outbox = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the answers
    if memory:
        with contextlib.suppress(ValueError, OSError):  # a lower hard limit is already set: keep it
            resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    outbox.send(("ready",))
    while True:
        try:
            src, options = inbox.recv()
        except (EOFError, OSError):  # the pool is gone
            return
        try:
            answer: tuple = ("ok", from_onnx(src, **options))
        except MemoryError:
            answer = ("error", "ModelLimitError", f"parsing needs more than the limit of {memory / 2**20:,.0f} MiB")
        except ArchscoreError as e:
            answer = ("error", type(e).__name__, str(e))
        except Exception as e:  # a bug or an onnx error we do not classify: the input is refused, named
            answer = ("error", "InvalidModelError", f"{type(e).__name__}: {e}")
        try:
            outbox.send(answer)
        except OSError:
            return


class _Worker:
    """One worker process and its two pipe ends (a plain subprocess: no ``__main__`` re-import, any host)."""

    def __init__(self, memory: int) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the folder holding the archscore package
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "archscore.graph.bounded", str(memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.outbox = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.inbox = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()

        self.ready = False

    def wait_ready(self, seconds: float) -> bool:
        """Wait (up to ``seconds``) until the worker has imported the parser; False if it has not."""
        if not self.ready and self.inbox.poll(seconds):
            self.ready = self.inbox.recv() == ("ready",)
        return self.ready

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        self.outbox.close()
        self.inbox.close()


class ParsePool:
    """Parses ONNX in up to ``workers`` processes; each parse is killed at ``seconds``.

    Thread-safe: call :meth:`parse` from many threads (the service calls it from a thread per
    request). Workers start on first use (or at :meth:`start`) and are reused.

    Args:
        workers: Parses running at once.
        seconds: Default time limit of one parse (``parse(..., seconds=)`` overrides it).
        memory: Heap a worker may hold (bytes); 0 for no cap.
        max_nodes, max_bytes: The static limits :func:`~archscore.graph.from_onnx` applies.
        cache_nodes: Keep the graphs of recently parsed bytes (up to this many nodes in all, least
            recently used first out), so the same file sent again is not parsed again: a search
            loop or a retrying client re-sends the same architectures. ``0``: no cache.
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        seconds: float = PARSE_SECONDS,
        memory: int = PARSE_MEMORY,
        max_nodes: int = MAX_NODES,
        max_bytes: int = MAX_FILE_BYTES,
        cache_nodes: int = 0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers, self.seconds, self.memory = workers, seconds, memory
        self.max_nodes, self.max_bytes = max_nodes, max_bytes
        self._slots = threading.BoundedSemaphore(workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self.cache_nodes = cache_nodes
        self._cache: OrderedDict[bytes, ArchGraph] = OrderedDict()
        self._cached_nodes = 0

    def start(self) -> ParsePool:
        """Start every worker now, so the first requests do not wait for one."""
        started = [self._take() for _ in range(self.workers)]
        for w in started:
            if w.wait_ready(START_SECONDS):
                self._give(w)
            else:
                w.kill()
        return self

    def parse(
        self,
        src: ModelSource,
        *,
        seconds: float | None = None,
        input_shapes: Mapping[str, Sequence[int]] | None = None,
    ) -> ArchGraph:
        """The canonical graph of ``src`` (a path or bytes), or the error parsing raised.

        Raises:
            ParseTimeoutError: The parse (or the wait for a free worker) took longer than ``seconds``.
            archscore.errors.InvalidModelError: As :func:`~archscore.graph.from_onnx` raises it.
        """
        limit = self.seconds if seconds is None else seconds
        deadline = time.monotonic() + limit
        if isinstance(src, (bytearray, memoryview)):
            src = bytes(src)
        elif isinstance(src, os.PathLike):
            src = os.fspath(src)
        if not isinstance(src, (bytes, str)):
            raise TypeError(f"expected a path or bytes, got {type(src).__name__}")
        options = {"max_nodes": self.max_nodes, "max_bytes": self.max_bytes, "input_shapes": input_shapes}
        key = None
        if self.cache_nodes and isinstance(src, bytes):
            key = hashlib.sha256(src + repr(sorted((input_shapes or {}).items())).encode()).digest()
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return hit
        if not self._slots.acquire(timeout=max(limit, 0.0)):
            raise ParseTimeoutError(f"no parser was free within the limit of {limit:g} s (the server is busy)")
        try:
            worker = self._take()
            try:
                waited = time.monotonic()
                if not worker.wait_ready(START_SECONDS):
                    raise EOFError("the parser process did not start")
                deadline += time.monotonic() - waited  # a new worker's start is not the input's time
                worker.outbox.send((src, options))
                ready = worker.inbox.poll(max(deadline - time.monotonic(), 0.0))
                answer = worker.inbox.recv() if ready else None
            except (EOFError, OSError):
                worker.kill()
                self._replace()
                raise InvalidModelError(
                    f"the parser process died on this input (memory limit {self.memory / 2**20:,.0f} MiB?)"
                ) from None
            if answer is None:
                worker.kill()
                self._replace()
                raise ParseTimeoutError(f"parsing took longer than the limit of {limit:g} s and was stopped")
            self._give(worker)
        finally:
            self._slots.release()
        if answer[0] == "ok":
            if key is not None:
                self._remember(key, answer[1])
            return answer[1]
        kind = getattr(errors, answer[1], None)
        if not (isinstance(kind, type) and issubclass(kind, ArchscoreError)):
            kind = InvalidModelError
        raise kind(answer[2])

    def _remember(self, key: bytes, graph: ArchGraph) -> None:
        with self._lock:
            if key in self._cache or len(graph) > self.cache_nodes:
                return
            self._cache[key] = graph
            self._cached_nodes += len(graph)
            while self._cached_nodes > self.cache_nodes:
                _, old = self._cache.popitem(last=False)
                self._cached_nodes -= len(old)

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                w = self._idle.pop()
                if w.alive():
                    return w
                w.kill()
        return _Worker(self.memory)

    def _replace(self) -> None:
        """Start a worker for the killed one in the background, so the next parse does not wait for it."""
        threading.Thread(target=lambda: self._give(_Worker(self.memory)), daemon=True).start()

    def _give(self, worker: _Worker) -> None:
        with self._lock:
            keep = len(self._idle) < self.workers
            if keep:
                self._idle.append(worker)
        if not keep:
            worker.kill()

    def close(self) -> None:
        """Stop the idle workers. The pool stays usable (workers start again on demand); a worker still
        parsing exits when this process does (its input pipe closes)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.kill()

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else PARSE_MEMORY)
