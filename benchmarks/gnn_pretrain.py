"""GNN encoder: contrastive pretraining of the shipped weights, and the encoder's inference speed.

Issue targets: ``pretrain()`` with its defaults finishes in under 10 minutes on 2 cores; the
pretrained encoder embeds NB201-sized graphs at 500 graphs/s or more.

What is run and timed (``time.perf_counter``):

* ``pretrain``  ``archscore.encoders.gnn.pretrain(seed=…, out=weights)`` with every other argument
  at its default: the balanced sample of every bundled search space (graphs from the on-disk graph
  cache; set ``ARCHSCORE_CACHE_DIR`` to reuse a warm one, a cold cache adds its build time), the
  contrastive training, saving the weights. One pass; the loss curve is recorded.
* ``transform`` the pretrained encoder embedding 2,000 NB201 (CIFAR-10) graphs: node features and
  the forward pass, after a warm-up call; the best of ``--repeats`` passes, and the node-feature
  part alone.
* peak resident memory of the process (``resource.getrusage``).

Run: ``python benchmarks/gnn_pretrain.py`` (``--help``); it rewrites the shipped weights
(``archscore/encoders/weights/gnn_pretrained.npz``) and writes ``benchmarks/results/gnn_pretrain.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import _common

from archscore import data
from archscore.encoders import gnn

RESULTS = Path(__file__).resolve().parent / "results" / "gnn_pretrain.json"
PRETRAIN_TARGET_S = 600.0
TRANSFORM_TARGET = 500.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", type=Path, default=gnn.DEFAULT_WEIGHTS, help="where pretrain() saves")
    parser.add_argument("--transform-graphs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    encoder = gnn.pretrain(seed=args.seed, out=args.weights)
    pretrain_s = time.perf_counter() - t0
    _, _, meta = gnn.load_weights(args.weights)
    curve = encoder.loss_curve_
    print(f"pretrain: {pretrain_s:.1f} s, loss {curve[0]:.3f} → {curve[-1]:.3f}", flush=True)

    graphs = data.load("nb201").graphs("cifar10")[: args.transform_graphs]
    encoder.transform(graphs[:10])
    passes, feature_passes = [], []
    for _ in range(args.repeats):
        t1 = time.perf_counter()
        encoder.transform(graphs)
        passes.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        for g in graphs:
            gnn.node_features(g)
        feature_passes.append(time.perf_counter() - t2)
    rate = len(graphs) / min(passes)
    print(f"transform: {rate:.0f} graphs/s on {len(graphs)} NB201 graphs", flush=True)

    result = {
        "settings": {
            "command": "python benchmarks/gnn_pretrain.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "pretrain_call": f"archscore.encoders.gnn.pretrain(seed={args.seed}, out={str(args.weights)!r})",
            "pretrain_meta": {k: v for k, v in meta.items() if k != "loss_curve"},  # what pretrain() saved
            "feature_version": gnn.FEATURE_VERSION,
            "torch_threads": encoder.n_jobs,
        },
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "pretrain": {
            "seconds": round(pretrain_s, 1),
            "graphs": sum(meta["sources"].values()),
            "loss_first_epoch": round(curve[0], 4),
            "loss_last_epoch": round(curve[-1], 4),
            "loss_curve": [round(v, 4) for v in curve],
            "weights_file": str(args.weights),
            "weights_bytes": args.weights.stat().st_size,
        },
        "transform": {
            "graphs": len(graphs),
            "mean_nodes": round(sum(len(g) for g in graphs) / len(graphs), 1),
            "graphs_per_second": round(rate),
            "node_features_graphs_per_second": round(len(graphs) / min(feature_passes)),
            "seconds_per_pass": [round(s, 3) for s in passes],
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {
            "pretrain_under_s": PRETRAIN_TARGET_S,
            "pretrain_met": pretrain_s <= PRETRAIN_TARGET_S,
            "transform_graphs_per_second_at_least": TRANSFORM_TARGET,
            "transform_met": rate >= TRANSFORM_TARGET,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"targets: {result['targets']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
