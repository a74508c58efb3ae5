"""A graph neural network encoder of the ArchGraph, pretrained contrastively (in the spirit of GENNAPE).

Each node of an :class:`~archscore.graph.ArchGraph` becomes a feature vector (:func:`node_features`):
its op, its kernel/stride/dilation/groups, its output shape, MACs and parameters on log scales, and
whether it computes something that reaches the output. A few GIN message-passing layers (PyTorch
Geometric) run along the data flow (``direction="forward"``) or along it and against it
(``"both"``); mean, max and (signed-log) sum pooling of the node states, projected to ``out_dim``,
is the architecture's embedding.

The encoder learns without labels, like every archscore encoder: ``fit`` trains it with a
contrastive loss (NT-Xent / InfoNCE, as in SimCLR; GENNAPE pretrains its graph encoder
contrastively too). Each graph of a minibatch is seen twice, under two random augmentations that
keep the network's identity — the whole network made uniformly wider/narrower or fed a
larger/smaller input (shapes, MACs and parameters rescaled accordingly), small multiplicative noise
on those numbers, and some nodes' attributes hidden — but never a change of ops or topology; the
loss pulls the two views together and pushes the other graphs of the batch away. What separates
networks in the embedding is therefore their structure, not a few percent of width.

:func:`pretrain` trains one encoder on a balanced sample of every bundled search space; its weights
ship with the package (:data:`DEFAULT_WEIGHTS`), and ``GNNEncoder(pretrained="default")`` uses them
without any training. PyTorch and PyTorch Geometric are optional (``pip install "archscore[gnn]"``):
the package imports without them, and the fitted weights are kept as NumPy arrays, so an encoder
pickles and clones like any scikit-learn estimator.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from archscore._torch import torch_threads
from archscore.encoders._base import check_graphs
from archscore.graph import ArchGraph, Node
from archscore.graph.archgraph import CONST
from archscore.graph.ops import OP_INDEX, VOCABULARY
from archscore.graph.stats import useful_nodes

FEATURE_VERSION = 1
"""Version of the node featurisation; weights saved under another version are refused."""

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "gnn_pretrained.npz"
"""The weights :func:`pretrain` produced with its defaults, shipped with the package."""

DEFAULT_SOURCES: tuple[str, ...] = (
    "nb201", "nb101_pool", "nb301_pool", "tnb101_micro", "tnb101_macro", "fbnet", "ofa_mbv3",
    "hat_wmt14ende_cpu_xeon", "nbgraph",
)  # fmt: skip
"""One bundled source per search space that archscore builds graphs for (the unlabelled pools for
NB101 and NB301, one HAT task so that transformers are not eight times over-represented)."""

DIRECTIONS = ("forward", "both")

# Continuous node features: name → the fixed divisor of its log value, chosen so that the column
# stays within about [0, 1] on real networks (the weights are shared across spaces, so no scaling
# is fitted to any one of them).
_LOG_SCALES: dict[str, float] = {
    "log_numel": 16.0,
    "log_channels": 8.0,
    "log_spatial": 12.0,
    "log_last_dim": 8.0,
    "log_macs": 20.0,
    "log_params": 16.0,
}
_ATTRS = ("kernel", "stride", "dilation", "groups")
FEATURE_NAMES: tuple[str, ...] = (
    *(f"op={op}" for op in VOCABULARY),
    *(f"log_{a}" for a in _ATTRS),
    "rank",
    "unknown_shape",
    *_LOG_SCALES,
    "useful",
    "graph_output",
)
"""Columns of :func:`node_features`: the op one-hot, then attributes, shape, cost and flags."""
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_MASKABLE = slice(_COL["log_kernel"], _COL["log_params"] + 1)
"""The columns attribute dropout hides: everything but the op and the two flags."""


def _import_torch():
    """``(torch, torch_geometric.nn)``; an ImportError that says what to install if they are missing."""
    try:
        import torch
        import torch_geometric.nn as pyg_nn
    except ImportError as err:
        raise ImportError('GNNEncoder needs PyTorch and PyTorch Geometric: pip install "archscore[gnn]"') from err
    return torch, pyg_nn


# -- node features (NumPy) ---------------------------------------------------------------------------
def _log_max(value: object) -> float:
    """Natural log of the largest entry of an int or tuple attribute (0 when absent or below 1)."""
    if value is None or isinstance(value, (str, bool)):
        return 0.0
    values = value if isinstance(value, tuple) else (value,)
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return math.log(max(numbers)) if numbers and max(numbers) > 1 else 0.0


@functools.lru_cache(maxsize=1 << 16)
def _node_row(node: Node) -> np.ndarray:
    """The features of a node that depend on the node alone (cached: graphs of a space share nodes)."""
    row = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    row[OP_INDEX[node.op]] = 1.0
    for a in _ATTRS:
        row[_COL[f"log_{a}"]] = _log_max(node.attr(a))
    shape = node.shape
    if shape is None:
        row[_COL["unknown_shape"]] = 1.0
    else:
        known = [max(d, 1) for d in shape]
        row[_COL["unknown_shape"]] = float(any(d < 0 for d in shape))
        row[_COL["rank"]] = len(shape) / 4
        values = {
            "log_numel": math.prod(known),
            "log_channels": known[1] if len(known) >= 2 else 0,
            "log_spatial": math.prod(known[2:]) if len(known) >= 3 else 0,
            "log_last_dim": known[-1] if known else 0,
        }
        for name, v in values.items():
            row[_COL[name]] = math.log1p(v) / _LOG_SCALES[name]
    # MACs and parameters are counts (non-negative): log1p is their signed log.
    row[_COL["log_macs"]] = math.log1p(max(node.macs, 0)) / _LOG_SCALES["log_macs"]
    row[_COL["log_params"]] = math.log1p(max(node.params, 0)) / _LOG_SCALES["log_params"]
    row.flags.writeable = False
    return row


def node_features(graph: ArchGraph) -> tuple[np.ndarray, np.ndarray]:
    """Node feature matrix and data-flow edges of ``graph``.

    Returns:
        ``x``: float32 ``[n_nodes, len(FEATURE_NAMES)]``, one row per node in the graph's order
        (see :data:`FEATURE_NAMES`: op one-hot; log of kernel, stride, dilation and groups; rank/4
        and an unknown-shape flag; logs of the output's element count, channels (dim 1), spatial
        size (dims 2…), last dim, of the MACs and of the parameters, each divided by a fixed
        constant; whether the node is useful (:func:`~archscore.graph.stats.useful_nodes`); whether
        it is a graph output). ``edge_index``: int64 ``[2, n_edges]``, one ``(producer, consumer)``
        column per tensor read, constants dropped.
    """
    nodes = graph.nodes
    if not nodes:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32), np.zeros((2, 0), dtype=np.int64)
    x = np.stack([_node_row(n) for n in nodes])
    reads = [[s for s, _ in n.inputs if s != CONST] for n in nodes]  # with repeats: x*x reads x twice
    x[:, _COL["useful"]] = useful_nodes(graph, reads)  # repeats do not change which nodes are useful
    x[[s for s, _ in graph.outputs], _COL["graph_output"]] = 1.0
    sources = np.fromiter(itertools.chain.from_iterable(reads), dtype=np.int64)
    targets = np.repeat(np.arange(len(nodes), dtype=np.int64), [len(r) for r in reads])
    return x, np.stack([sources, targets])


def augment(
    x: np.ndarray,
    rng: np.random.Generator,
    batch: np.ndarray | None = None,
    scale: float = 0.3,
    mask: float = 0.1,
    noise: float = 0.05,
) -> np.ndarray:
    """A random view of node features that keeps each network's identity (a new array).

    Per graph (``batch`` gives each row's graph; ``None``: one graph), the network is made
    uniformly wider by a factor ``w`` and fed an input larger by ``r`` (both log-uniform in
    ``[1/(1+scale), 1+scale]``): element counts scale by ``r²·w`` on feature maps (rank ≥ 4),
    channels by ``w``, spatial sizes by ``r²``, MACs by ``r²·w²`` and parameters by ``w²``. Each
    non-zero continuous value then gets multiplicative log-normal noise of std ``noise``, and each
    node's attributes, shape and costs are hidden (zeroed) with probability ``mask``. Ops, the
    useful/output flags and the topology are never changed.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    n = len(out)
    if n == 0:
        return out
    batch = np.zeros(n, dtype=np.int64) if batch is None else np.asarray(batch)
    n_graphs = int(batch.max()) + 1
    bound = math.log1p(scale)
    log_r = rng.uniform(-bound, bound, n_graphs)[batch]
    log_w = rng.uniform(-bound, bound, n_graphs)[batch]
    feature_map = out[:, _COL["rank"]] >= 1.0
    log_r2 = np.where(feature_map, 2 * log_r, 0.0)
    factors = {
        "log_numel": log_r2 + log_w,
        "log_channels": log_w,
        "log_spatial": log_r2,
        "log_last_dim": np.where(feature_map, log_r, log_w),
        "log_macs": log_r2 + 2 * log_w,
        "log_params": 2 * log_w,
    }
    for name, log_factor in factors.items():
        j, s = _COL[name], _LOG_SCALES[name]
        value = np.expm1(out[:, j].astype(np.float64) * s)
        jitter = rng.normal(0.0, noise, n) if noise else 0.0
        out[:, j] = np.log1p(value * np.exp(log_factor + jitter)) / s
    if mask:
        out[rng.random(n) < mask, _MASKABLE] = 0.0
    return out


def collate(features: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One disjoint union of graphs: stacked ``x``, offset ``edge_index`` and the ``batch`` vector."""
    sizes = np.array([len(x) for x, _ in features], dtype=np.int64)
    offsets = np.cumsum(sizes) - sizes
    x = np.concatenate([x for x, _ in features]) if features else np.zeros((0, len(FEATURE_NAMES)), np.float32)
    edges = [e + o for (_, e), o in zip(features, offsets)]
    edge_index = np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), dtype=np.int64)
    return x, edge_index, np.repeat(np.arange(len(features)), sizes)


# -- the torch module --------------------------------------------------------------------------------
@functools.cache
def _module_class():
    """The GNN module class (defined on first use, so that torch is imported only when needed)."""
    torch, pyg_nn = _import_torch()
    nn = torch.nn

    class ArchGNN(nn.Module):
        """GIN layers with residuals and layer norm → mean ‖ max ‖ signed-log sum pooling → linear."""

        def __init__(self, in_dim: int, hidden: int, layers: int, out_dim: int, direction: str) -> None:
            super().__init__()
            self.embed = nn.Linear(in_dim, hidden)

            def gin() -> nn.Module:
                return pyg_nn.GINConv(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)))

            self.forward_convs = nn.ModuleList(gin() for _ in range(layers))
            self.backward_convs = nn.ModuleList(gin() for _ in range(layers)) if direction == "both" else None
            self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
            self.readout = nn.Linear(3 * hidden, out_dim)

        def forward(self, x, edge_index, batch, n_graphs: int):
            h = self.embed(x)
            reverse = edge_index.flip(0) if self.backward_convs is not None else None
            for k, norm in enumerate(self.norms):
                message = self.forward_convs[k](h, edge_index)
                if self.backward_convs is not None:
                    message = message + self.backward_convs[k](h, reverse)
                h = norm(h + torch.relu(message))
            total = pyg_nn.global_add_pool(h, batch, n_graphs)
            pooled = [
                pyg_nn.global_mean_pool(h, batch, n_graphs),
                pyg_nn.global_max_pool(h, batch, n_graphs),
                torch.sign(total) * torch.log1p(total.abs()),  # sizes differ a hundredfold across spaces
            ]
            return self.readout(torch.cat(pooled, dim=1))

    return ArchGNN


def _build_module(config: dict[str, Any], state: dict[str, np.ndarray] | None = None):
    """A module of ``config``'s architecture, with ``state`` loaded when given, in eval mode."""
    torch, _ = _import_torch()
    module = _module_class()(
        config["in_dim"], config["hidden"], config["layers"], config["out_dim"], config["direction"]
    )
    if state is not None:
        module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return module.eval()


def nt_xent(z1, z2, temperature: float):
    """NT-Xent (InfoNCE over 2N views): row i of ``z1`` must pick row i of ``z2`` among all other views.

    ``z1``/``z2`` are the two views' projections, ``[N, d]`` torch tensors; every other view in the
    batch (of the same or the other graph set) is a negative. Chance level is ``log(2N - 1)``.
    """
    torch, _ = _import_torch()
    f = torch.nn.functional
    z = f.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return f.cross_entropy(logits, target)


# -- saving and loading weights ----------------------------------------------------------------------
_CONFIG_KEYS = ("in_dim", "hidden", "layers", "out_dim", "direction", "feature_version")


def save_weights(
    path: str | os.PathLike, config: dict[str, Any], state: dict[str, np.ndarray], meta: dict[str, Any] | None = None
) -> None:
    """Write a module's ``config`` (what rebuilds it), its ``state`` and JSON ``meta`` to an ``.npz`` file."""
    arrays = {f"state/{k}": np.asarray(v, dtype=np.float32) for k, v in state.items()}
    arrays["config"] = np.array(json.dumps({k: config[k] for k in _CONFIG_KEYS}))
    arrays["meta"] = np.array(json.dumps(meta or {}))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object: np.savez would otherwise append ".npz" to other names
        np.savez_compressed(f, **arrays)


def load_weights(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """``(config, state, meta)`` from a file :func:`save_weights` wrote.

    Raises:
        ValueError: No such file, not a GNN weights file, or weights of another feature version.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"GNN weights file {str(path)!r} does not exist (pretrained= takes 'default' or a path)")
    try:
        with np.load(path, allow_pickle=False) as data:
            config = json.loads(str(data["config"]))
            meta = json.loads(str(data["meta"]))
            state = {k.removeprefix("state/"): data[k] for k in data.files if k.startswith("state/")}
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{str(path)!r} is not a GNN weights file written by GNNEncoder.save: {err}") from err
    missing = [k for k in _CONFIG_KEYS if k not in config]
    if missing or not state:
        raise ValueError(f"{str(path)!r} is not a GNN weights file: no {missing or 'weights'}")
    if config["feature_version"] != FEATURE_VERSION:
        raise ValueError(
            f"{str(path)!r} holds weights for node features version {config['feature_version']}, "
            f"this archscore computes version {FEATURE_VERSION}; pretrain again"
        )
    return config, state, meta


# -- the estimator -----------------------------------------------------------------------------------
class GNNEncoder(TransformerMixin, BaseEstimator):
    """ArchGraphs → embeddings of a graph neural network, pretrained contrastively without labels.

    Args:
        hidden_channels: Width of the node states (PyTorch Geometric's name).
        num_layers: Message-passing (GIN) layers; a node sees ``num_layers`` steps along the data flow.
        out_dim: Embedding size (the number of output columns).
        direction: ``"forward"``: messages follow the data flow (producer → consumer); ``"both"``:
            also against it, with separate weights, so a node also sees what consumes it.
        epochs: Passes over the training graphs in ``fit``.
        batch_size: Graphs per contrastive step (each seen twice; the rest of the batch are the
            negatives). An epoch's graphs are split into equal batches of at least this many (all
            of them if fewer), so the losses of a curve are comparable.
        learning_rate: AdamW learning rate.
        temperature: NT-Xent temperature.
        aug_scale: Uniform width/resolution change of an augmented view, up to a factor ``1 + aug_scale``.
        aug_mask: Probability that a node's attributes, shape and costs are hidden in a view.
        aug_noise: Std of the log-normal noise on a view's continuous features.
        max_train_graphs: ``fit`` trains on at most this many distinct graphs (a random subset);
            ``None``: all of them.
        pretrained: ``None``: ``fit`` pretrains on the graphs it is given (unlabelled; ``y`` is
            ignored). ``"default"``: use the weights shipped with archscore (:data:`DEFAULT_WEIGHTS`);
            a path: weights from that file (:meth:`save`). With weights, ``fit`` trains nothing and
            the architecture (``hidden_channels``, ``num_layers``, ``out_dim``, ``direction``) is the
            file's.
        random_state: Seed of the initial weights, minibatch order and augmentations; the same seed
            and ``n_jobs`` give identical embeddings.
        n_jobs: torch threads in ``fit`` and ``transform`` (set for the call, then restored);
            ``-1`` uses every core.

    Attributes:
        state_: The module's weights, as float32 NumPy arrays by parameter name.
        config_: What rebuilds the module (the weight file's keys): feature count, ``hidden``
            (``hidden_channels``), ``layers`` (``num_layers``), ``out_dim``,
            ``direction``, feature version.
        loss_curve_: Mean contrastive loss per epoch of the pretraining (of the file's training,
            when loaded and recorded there).
        n_features_out_: ``out_dim``.
    """

    def __init__(
        self,
        hidden_channels: int = 64,
        num_layers: int = 4,
        out_dim: int = 64,
        direction: str = "forward",
        epochs: int = 20,
        batch_size: int = 128,
        learning_rate: float = 2e-3,
        temperature: float = 0.2,
        aug_scale: float = 0.3,
        aug_mask: float = 0.1,
        aug_noise: float = 0.05,
        max_train_graphs: int | None = 2000,
        pretrained: str | os.PathLike | None = None,
        random_state: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.out_dim = out_dim
        self.direction = direction
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.temperature = temperature
        self.aug_scale = aug_scale
        self.aug_mask = aug_mask
        self.aug_noise = aug_noise
        self.max_train_graphs = max_train_graphs
        self.pretrained = pretrained
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("hidden_channels", "num_layers", "out_dim", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be at least 2 (the other graphs are the negatives), got {self.batch_size}"
            )
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if not (self.learning_rate > 0 and self.temperature > 0):
            raise ValueError(
                f"learning_rate and temperature must be positive, got {self.learning_rate} and {self.temperature}"
            )
        if self.aug_scale < 0 or self.aug_noise < 0 or not 0 <= self.aug_mask < 1:
            raise ValueError("aug_scale and aug_noise must be >= 0 and aug_mask in [0, 1)")
        if self.max_train_graphs is not None and self.max_train_graphs < 2:
            raise ValueError(f"max_train_graphs must be at least 2 or None, got {self.max_train_graphs}")

    def fit(self, archs, y=None) -> GNNEncoder:
        """Pretrain on ``archs`` (``pretrained=None``), or load the weights ``pretrained`` names.

        ``y`` is ignored: the training is self-supervised. Equal graphs are trained on once (a
        duplicate in a batch would be a negative that is the same network).

        Raises:
            TypeError: ``archs`` is not a sequence of ArchGraphs.
            ValueError: No graphs (or fewer than 2 distinct ones to pretrain on), a bad
                parameter, or a ``pretrained`` path that is not a weights file.
        """
        graphs = check_graphs(archs, type(self).__name__)
        if not graphs:
            raise ValueError("GNNEncoder.fit needs at least one graph")
        if self.pretrained is not None:
            path = DEFAULT_WEIGHTS if str(self.pretrained) == "default" else Path(self.pretrained)
            config, state, meta = load_weights(path)
            self._set_fitted(config, state, meta.get("loss_curve", []))
            return self
        self._check_params()
        distinct = list(dict.fromkeys(graphs))
        if len(distinct) < 2:
            raise ValueError(
                "GNNEncoder.fit needs at least 2 distinct graphs to pretrain (they are each other's negatives)"
            )
        rng = np.random.default_rng(self.random_state)
        if self.max_train_graphs is not None and len(distinct) > self.max_train_graphs:
            keep = np.sort(rng.choice(len(distinct), self.max_train_graphs, replace=False))
            distinct = [distinct[i] for i in keep]
        features = [node_features(g) for g in distinct]
        config = {
            "in_dim": len(FEATURE_NAMES),
            "hidden": int(self.hidden_channels),
            "layers": int(self.num_layers),
            "out_dim": int(self.out_dim),
            "direction": self.direction,
            "feature_version": FEATURE_VERSION,
        }
        torch, _ = _import_torch()
        with torch_threads(torch, self.n_jobs), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**31 - 1)))
            state, curve = self._pretrain(torch, config, features, rng)
        self._set_fitted(config, state, curve)
        return self

    def _pretrain(self, torch, config, features, rng) -> tuple[dict[str, np.ndarray], list[float]]:
        """Contrastive training; returns the weights and the mean loss of each epoch."""
        nn = torch.nn
        module = _build_module(config).train()
        d = config["out_dim"]
        head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))  # SimCLR's projection head, discarded
        params = [*module.parameters(), *head.parameters()]
        optimizer = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=1e-4)
        n = len(features)
        n_batches = max(1, n // self.batch_size)  # equal batches of at least batch_size (or all) graphs
        aug = {"scale": self.aug_scale, "mask": self.aug_mask, "noise": self.aug_noise}
        curve = []
        for _ in range(self.epochs):
            total = 0.0
            for rows in np.array_split(rng.permutation(n), n_batches):
                x, edge_index, batch = collate([features[i] for i in rows])
                views = [augment(x, rng, batch, **aug) for _ in range(2)]
                x2 = torch.from_numpy(np.concatenate(views))
                e2 = torch.from_numpy(np.concatenate([edge_index, edge_index + len(x)], axis=1))
                b2 = torch.from_numpy(np.concatenate([batch, batch + len(rows)]))
                z = head(module(x2, e2, b2, 2 * len(rows)))
                loss = nt_xent(z[: len(rows)], z[len(rows) :], self.temperature)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(rows)
            curve.append(total / n)
        return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}, curve

    def _set_fitted(self, config: dict[str, Any], state: dict[str, np.ndarray], curve: Sequence[float]) -> None:
        self.config_ = dict(config)
        self.state_ = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
        self.loss_curve_ = [float(v) for v in curve]
        self.n_features_out_ = int(config["out_dim"])
        self.__dict__.pop("_module", None)

    # -- embedding ----------------------------------------------------------------------------------
    def transform(self, archs) -> np.ndarray:
        """Embeddings ``[n, out_dim]`` (float64) of ArchGraphs; deterministic, in batches."""
        check_is_fitted(self)
        graphs = check_graphs(archs, type(self).__name__)
        return self.transform_features(node_features(g) for g in graphs)

    def transform_features(
        self, features: Iterable[tuple[np.ndarray, np.ndarray]], max_nodes: int = 4096
    ) -> np.ndarray:
        """Embeddings of graphs given as :func:`node_features` output (e.g. precomputed or augmented).

        Graphs are embedded in batches of about ``max_nodes`` nodes. A graph's embedding must not
        depend on which graphs share its batch, but BLAS picks other kernels (other summation
        orders) for other matrix sizes; so the forward pass runs in float64 and the result is
        rounded to float32, which absorbs those last-bit differences.
        """
        check_is_fitted(self)
        torch, _ = _import_torch()
        module = self.__dict__.get("_module")
        if module is None:
            module = self._module = _build_module(self.config_, self.state_).double()
        out: list[np.ndarray] = []
        with torch_threads(torch, self.n_jobs), torch.inference_mode():
            for chunk in _chunks(features, max_nodes):
                x, edge_index, batch = collate(chunk)
                x64 = torch.from_numpy(x.astype(np.float64))
                z = module(x64, torch.from_numpy(edge_index), torch.from_numpy(batch), len(chunk))
                out.append(z.numpy().astype(np.float32).astype(np.float64))
        return np.concatenate(out) if out else np.zeros((0, self.n_features_out_))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray([f"gnn__{i}" for i in range(self.n_features_out_)], dtype=object)

    # -- persistence --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
        """Write the fitted weights, what rebuilds the module and ``meta`` (plus the loss curve) to ``path``."""
        check_is_fitted(self)
        save_weights(path, self.config_, self.state_, {"loss_curve": self.loss_curve_, **(meta or {})})
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, **params: Any) -> GNNEncoder:
        """A fitted encoder with the weights of ``path`` (``"default"``: the shipped ones); no ``fit`` needed.

        ``params`` set the other estimator parameters (e.g. ``n_jobs``).
        """
        file = DEFAULT_WEIGHTS if str(path) == "default" else Path(path)
        config, state, meta = load_weights(file)
        arch = {"hidden_channels": config["hidden"], "num_layers": config["layers"], "out_dim": config["out_dim"],
                "direction": config["direction"]}  # fmt: skip
        encoder = cls(**{**params, **arch, "pretrained": str(path)})
        encoder._set_fitted(config, state, meta.get("loss_curve", []))
        return encoder

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_module", None)  # the torch module is rebuilt from state_ on first use
        return state


def _chunks(
    features: Iterable[tuple[np.ndarray, np.ndarray]], max_nodes: int
) -> Iterator[list[tuple[np.ndarray, np.ndarray]]]:
    """Consecutive groups of graphs of at most ``max_nodes`` nodes (a bigger graph alone)."""
    chunk: list[tuple[np.ndarray, np.ndarray]] = []
    nodes = 0
    for item in features:
        if chunk and nodes + len(item[0]) > max_nodes:
            yield chunk
            chunk, nodes = [], 0
        chunk.append(item)
        nodes += len(item[0])
    if chunk:
        yield chunk


# -- pretraining on the bundled spaces ---------------------------------------------------------------
def sample_graphs(
    sources: Sequence[str] | None = None, max_graphs_per_source: int = 400, seed: int = 0
) -> dict[str, list[ArchGraph]]:
    """Up to ``max_graphs_per_source`` distinct architectures of each source, as graphs, by source.

    Architectures are drawn at random (under ``seed``) from the source's distinct cells; for a
    table not pinned to one input setting, the draws are spread evenly over the space's datasets
    (NB201's three, TransNAS-Bench's seven tasks, NAS-Bench-Graph's nine graphs), so the encoder
    sees each space at several input sizes. Graphs come from the on-disk graph cache.
    """
    from archscore import data
    from archscore.data.cache import GraphCache
    from archscore.spaces import get

    cache = GraphCache()
    chosen: dict[str, list[ArchGraph]] = {}
    rng = np.random.default_rng(seed)
    for name in DEFAULT_SOURCES if sources is None else sources:
        table = data.load(name)
        if table.cells is None or table.space is None:
            raise ValueError(f"source {name!r} has no search space with graphs; choose among {DEFAULT_SOURCES}")
        cells = list(dict.fromkeys(table.cells))
        picked = [cells[i] for i in rng.permutation(len(cells))[:max_graphs_per_source]]
        datasets = [table.dataset] if table.dataset else list(get(table.space).datasets)
        chosen[name] = [
            g for k, d in enumerate(datasets) for g in cache.graphs(table.space, picked[k :: len(datasets)], d)
        ]
    return chosen


def pretrain(
    sources: Sequence[str] | None = None,
    max_graphs_per_source: int = 400,
    epochs: int = 20,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    **params: Any,
) -> GNNEncoder:
    """Pretrain one encoder on a balanced sample of every bundled search space; save it to ``out``.

    With the defaults this produces :data:`DEFAULT_WEIGHTS` (``pretrain(out=DEFAULT_WEIGHTS)``).

    Args:
        sources: Bundled sources to sample (default :data:`DEFAULT_SOURCES`: one per space).
        max_graphs_per_source: Distinct architectures drawn from each source.
        epochs: Contrastive training epochs.
        seed: Seed of the sample, the initial weights and the training.
        out: Where to save the weights (``None``: not saved).
        params: Other :class:`GNNEncoder` parameters (``hidden_channels``, ``batch_size``, ``n_jobs`` …).
    """
    start = time.perf_counter()
    by_source = sample_graphs(sources, max_graphs_per_source, seed)
    graphs = [g for gs in by_source.values() for g in gs]
    encoder = GNNEncoder(**{**params, "epochs": epochs, "random_state": seed, "max_train_graphs": None})
    encoder.fit(graphs)
    if out is not None:
        meta = {
            "sources": {k: len(v) for k, v in by_source.items()},
            "epochs": epochs,
            "seed": seed,
            "params": {k: v for k, v in encoder.get_params().items() if k != "pretrained"},
            "seconds": round(time.perf_counter() - start, 1),
        }
        encoder.save(out, meta)
    return encoder
