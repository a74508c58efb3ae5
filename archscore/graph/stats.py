"""Free statistics of an architecture (FBNetV3's "free" features): no training, no labels.

Every graph gets the same named statistics, in the order of :data:`STAT_NAMES`, so they stack into
a feature matrix directly.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import TYPE_CHECKING

from archscore.graph.node import CONST, numel

if TYPE_CHECKING:
    from archscore.graph.archgraph import ArchGraph
from archscore.graph.ops import VOCABULARY

MAX_STAGES = 5
COMPUTE = frozenset({"conv", "dwconv", "conv_transpose", "linear", "matmul", "attention", "lstm", "gru", "rnn"})
MERGES = frozenset({"add", "sub", "mul", "div", "max", "min", "concat", "where"})
_STRUCTURAL = frozenset({"input", "layout"})
_MAC_GROUPS = {
    "conv": ("conv", "dwconv", "conv_transpose"),
    "linear": ("linear", "matmul"),
    "attention": ("attention",),
    "recurrent": ("lstm", "gru", "rnn"),
}

STAT_NAMES: tuple[str, ...] = (
    "macs", "params", "nodes", "edges", "depth", "compute_depth", "activation_elements",
    "peak_activation_elements", "input_channels", "input_height", "input_width", "input_elements",
    "num_stages", *(f"width_stage_{k}" for k in range(1, MAX_STAGES + 1)), "min_width", "max_width",
    "branch_points", "max_fan_out", "merges", "skip_connections", "longest_skip",
    "conv_k1", "conv_k3", "conv_k5", "conv_k7_plus", "mean_kernel", "compute_macs_share_conv",
    "compute_macs_share_linear", "compute_macs_share_attention", "compute_macs_share_recurrent",
    *(f"count_{op}" for op in VOCABULARY if op != "input"),
    "effective_macs", "effective_params", "effective_nodes", "effective_compute_nodes", "effective_depth",
    "effective_compute_depth", "effective_conv_k1", "effective_conv_k3_plus", "effective_pools", "effective_merges",
    "dead_nodes",
)  # fmt: skip
"""The ``effective_*`` statistics count only the computation that reaches the output: a node whose
input is all zeros (a NAS cell's ``none`` edge, and whatever reads only such edges) computes
nothing that depends on the input, and a node whose output is only multiplied by zero contributes
nothing; ``dead_nodes`` counts the rest. Two cells that differ only in dead edges are the same network."""
_POOLS = frozenset({"max_pool", "avg_pool", "lp_pool", "global_avg_pool", "global_max_pool"})


@functools.lru_cache(maxsize=4096)
def _numel(shape: tuple[int, ...] | None) -> int:
    return max(numel(shape), 0)


def stats(graph: ArchGraph) -> dict[str, float]:
    """Named free statistics of ``graph``; keys are exactly :data:`STAT_NAMES`, in that order.

    Computed once per graph object and kept on it (an ArchGraph is immutable): a served model
    asked again about a graph it holds (the service keeps recently parsed uploads) and the
    encoders, heads and distance that all read the statistics of one graph pay for them once.
    """
    known = graph.__dict__.get(_MEMO)
    if known is None:
        known = _compute(graph)
        object.__setattr__(graph, _MEMO, known)
    return dict(known)


_MEMO = "_stats_memo"
"""Attribute an ArchGraph keeps its statistics under (not pickled: see ``ArchGraph.__getstate__``)."""


def _compute(graph: ArchGraph) -> dict[str, float]:
    nodes = graph.nodes
    n = len(nodes)
    out: dict[str, float] = dict.fromkeys(STAT_NAMES, 0.0)
    out["macs"] = float(graph.total_macs)
    out["params"] = float(graph.total_params)
    counts = Counter(x.op for x in nodes)
    out["nodes"] = float(n - sum(counts[op] for op in _STRUCTURAL))

    preds: list[list[int]] = []  # distinct producers each node reads, ascending
    fan_out = [0] * n
    last_use = list(range(n))
    depth = [0] * n  # longest path counting non-structural nodes
    cdepth = [0] * n  # longest path counting only nodes with multiply-accumulates
    edges = 0
    for i, x in enumerate(nodes):
        ins = x.inputs
        if len(ins) == 1:
            ps = [ins[0][0]] if ins[0][0] != CONST else []
        else:
            ps = sorted({s for s, _ in ins if s != CONST})
        preds.append(ps)
        edges += len(ps)
        for p in ps:
            fan_out[p] += 1
            last_use[p] = i
        if len(ps) == 1:
            d, c = depth[ps[0]], cdepth[ps[0]]
        elif ps:
            d, c = max([depth[p] for p in ps]), max([cdepth[p] for p in ps])
        else:
            d = c = 0
        depth[i] = d + (x.op not in _STRUCTURAL)
        cdepth[i] = c + (x.op in COMPUTE)
    for s, _ in graph.outputs:
        last_use[s] = n
    out["edges"] = float(edges)
    out["depth"] = float(max(depth, default=0))
    out["compute_depth"] = float(max(cdepth, default=0))

    sizes = [_numel(x.outputs[0]) if len(x.outputs) == 1 else sum(_numel(s) for s in x.outputs) for x in nodes]
    out["activation_elements"] = float(sum(sz for x, sz in zip(nodes, sizes) if x.op != "input"))
    live = peak = 0
    frees: dict[int, int] = {}
    for i, sz in enumerate(sizes):
        live += sz
        peak = max(peak, live)
        frees[last_use[i]] = frees.get(last_use[i], 0) + sz
        live -= frees.pop(i, 0)
    out["peak_activation_elements"] = float(peak)

    first = next((x for x in nodes if x.op == "input"), None)
    if first is not None and first.shape:
        shape = first.shape
        out["input_elements"] = float(_numel(shape))
        if len(shape) >= 2:
            out["input_channels"] = float(max(shape[1], 0))
        if len(shape) == 4:
            out["input_height"], out["input_width"] = float(max(shape[2], 0)), float(max(shape[3], 0))

    widths: dict[tuple[int, ...], int] = {}
    kernels: list[int] = []
    for x in nodes:
        if x.op in ("conv", "dwconv", "conv_transpose") and x.shape and len(x.shape) >= 3:
            res = tuple(x.shape[2:])
            widths[res] = max(widths.get(res, 0), x.shape[1])
            k = max(x.attr("kernel", (1,)))  # type: ignore[type-var, arg-type]
            kernels.append(int(k))
    ordered = sorted(widths.items(), key=lambda kv: -_numel(kv[0]))
    out["num_stages"] = float(len(ordered))
    for k, (_, w) in enumerate(ordered[:MAX_STAGES], start=1):
        out[f"width_stage_{k}"] = float(w)
    if widths:
        out["min_width"], out["max_width"] = float(min(widths.values())), float(max(widths.values()))
    if kernels:
        out["conv_k1"] = float(sum(k == 1 for k in kernels))
        out["conv_k3"] = float(sum(k == 3 for k in kernels))
        out["conv_k5"] = float(sum(k == 5 for k in kernels))
        out["conv_k7_plus"] = float(sum(k >= 7 for k in kernels))
        out["mean_kernel"] = sum(kernels) / len(kernels)

    out["branch_points"] = float(sum(f > 1 for f in fan_out))
    out["max_fan_out"] = float(max(fan_out, default=0))
    for i, x in enumerate(nodes):
        if x.op in MERGES and len(preds[i]) >= 2:
            out["merges"] += 1
            spans = [depth[i] - 1 - depth[p] for p in preds[i]]
            if max(spans) > min(spans):
                out["skip_connections"] += 1
                out["longest_skip"] = max(out["longest_skip"], float(max(spans) - min(spans)))

    macs_by_op: Counter[str] = Counter()
    for x in nodes:
        if x.macs:
            macs_by_op[x.op] += x.macs
    compute_macs = sum(macs_by_op.values()) or 1
    for name, ops in _MAC_GROUPS.items():
        out[f"compute_macs_share_{name}"] = sum(macs_by_op[op] for op in ops) / compute_macs
    for op, count in counts.items():
        if op != "input":
            out[f"count_{op}"] = float(count)
    _effective(graph, preds, out)
    return out


def producers(graph: ArchGraph) -> list[list[int]]:
    """The distinct nodes each node reads (constants excluded), ascending."""
    return [sorted({s for s, _ in x.inputs if s != CONST}) for x in graph.nodes]


def useful_nodes(graph: ArchGraph, preds: list[list[int]] | None = None) -> list[bool]:
    """Per node: does it compute something that depends on the input and reaches an output?

    A node whose inputs are all zeros (a NAS cell's ``none`` edge, and whatever reads only such
    edges) is not informative; an informative node whose every path to an output passes through a
    ``zero`` is not useful either. Two cells that differ only in such nodes are the same network.
    """
    nodes = graph.nodes
    preds = producers(graph) if preds is None else preds
    n = len(nodes)
    informative = [False] * n
    for i, x in enumerate(nodes):
        informative[i] = x.op == "input" or (x.op != "zero" and any(informative[p] for p in preds[i]))
    useful = [False] * n
    for s, _ in graph.outputs:
        useful[s] = informative[s]
    for i in range(n - 1, -1, -1):
        if useful[i] and nodes[i].op != "zero":
            for p in preds[i]:
                if informative[p]:
                    useful[p] = True
    return useful


def _effective(graph: ArchGraph, preds: list[list[int]], out: dict[str, float]) -> None:
    """The ``effective_*`` statistics: computation of the :func:`useful_nodes` only."""
    nodes = graph.nodes
    n = len(nodes)
    useful = useful_nodes(graph, preds)
    depth = [0] * n
    cdepth = [0] * n
    for i, x in enumerate(nodes):
        if not useful[i]:
            continue
        live = [p for p in preds[i] if useful[p]]
        depth[i] = max([depth[p] for p in live], default=0) + (x.op not in _STRUCTURAL)
        cdepth[i] = max([cdepth[p] for p in live], default=0) + (x.op in COMPUTE)
        if x.op in _STRUCTURAL:
            continue
        out["effective_nodes"] += 1
        out["effective_macs"] += x.macs
        out["effective_params"] += x.params
        out["effective_compute_nodes"] += x.op in COMPUTE
        if x.op in ("conv", "dwconv", "conv_transpose"):
            k = max(x.attr("kernel", (1,)))  # type: ignore[type-var, arg-type]
            out["effective_conv_k1" if k == 1 else "effective_conv_k3_plus"] += 1
        out["effective_pools"] += x.op in _POOLS
        out["effective_merges"] += x.op in MERGES and sum(useful[p] for p in preds[i]) >= 2
    out["effective_depth"] = float(max(depth, default=0))
    out["effective_compute_depth"] = float(max(cdepth, default=0))
    out["dead_nodes"] = float(sum(1 for i, x in enumerate(nodes) if not useful[i] and x.op not in _STRUCTURAL))
