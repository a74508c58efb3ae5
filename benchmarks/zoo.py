"""Real networks: how well archscore predicts the accuracy of design families it never saw.

Protocol (DESIGN.md, "real networks, leave one family out"): the zoo of real labelled networks
(``archscore data list``: torchvision and pytorchcv, one row per source and network, the best
top-1 of its weights; SWAG weights pretrained on extra data left out). For each design family in
turn, the real-network head (:class:`archscore.models.realnet.AccuracyHead`) is trained on every
*other* family and predicts the held-out one; Kendall τ, Spearman ρ, MAE (accuracy points) and
90 % interval coverage are computed over all held-out predictions together. Beside it, on the
same rows: the parameter count, the MACs, and the shipped model's NAS-benchmark percentile (what
``archscore score`` answered for these networks before it had a real-network head). Across
sources: train on one source's networks, test on the other's (families shared, recipes not).

Encoders: the same protocol with the contrastively pretrained GNN embedding and the MiniLM text
embedding (each reduced to 16 principal components fitted on every zoo network, no labels), alone
and beside the design features; the default head uses a part only if it raises the held-out
family τ beyond the seed spread.

Run: ``python benchmarks/zoo.py`` (``--quick``: ImageNet only, one seed, no encoders, the CI
version); results in ``benchmarks/results/zoo.json`` / ``.md`` / ``.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common
import numpy as np

from archscore import metrics
from archscore.data.zoo import ZooRows, zoo_rows
from archscore.models import load_predictor
from archscore.models.realnet import AccuracyHead, design_features, family_folds

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2)
OUTER_FOLDS = 16
"""Folds of whole families (a LightGBM ensemble with its own grouped calibration is fitted per fold)."""


class _EmbeddedHead(AccuracyHead):
    """The head with other features: a lookup of precomputed blocks per graph (benchmark only)."""

    blocks: dict[int, np.ndarray]
    with_design = True

    def _features(self, graphs):
        extra = np.stack([self.blocks[id(g)] for g in graphs])
        return np.hstack([design_features(graphs), extra]) if self.with_design else extra


def _head(kind: str, seed: int, blocks=None) -> AccuracyHead:
    if kind == "design":
        return AccuracyHead(seed=seed)
    head = _EmbeddedHead(seed=seed)
    head.blocks, head.with_design = blocks, kind.startswith("design+")
    return head


def held_out(rows: ZooRows, groups: list[str], kind: str, seed: int, blocks=None) -> tuple[np.ndarray, np.ndarray]:
    """Predictions (mean, std) of every row by a head trained without the row's family.

    Families are dealt into at most :data:`OUTER_FOLDS` folds of whole families; each fold's
    families are held out together (with fewer families than that, one family per fold: plain
    leave-one-family-out). Holding several out at once trains on less and is the harder test.
    """
    mean, std = np.zeros(len(rows)), np.zeros(len(rows))
    for test in family_folds(np.asarray(groups), OUTER_FOLDS):
        train = rows.take(np.setdiff1d(np.arange(len(rows)), test))
        head = _head(kind, seed, blocks).fit(train.graphs, train.y, train.families, train.names)
        m, s = head.predict([rows.graphs[i] for i in test], return_std=True)
        mean[test], std[test] = m, s
    return mean, std


def _scores(y: np.ndarray, mean: np.ndarray, std: np.ndarray | None = None) -> dict[str, float]:
    out = {"kendall_tau": metrics.kendall_tau(y, mean), "spearman_rho": metrics.spearman_rho(y, mean)}
    if std is not None:
        out |= {"mae": metrics.mae(y, mean), "coverage90": metrics.coverage90(y, mean, std)}
    return out


def baselines(rows: ZooRows, model) -> dict[str, dict[str, float]]:
    params = np.array([g.total_params for g in rows.graphs], dtype=float)
    macs = np.array([g.total_macs for g in rows.graphs], dtype=float)
    nas = model.predict(rows.graphs)  # the within-space percentile: the answer before the head existed
    return {
        "#params": _scores(rows.y, params),
        "MACs": _scores(rows.y, macs),
        "NAS percentile model": _scores(rows.y, nas),
    }


def _mean_std(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for k in runs[0]:
        v = np.array([r[k] for r in runs])
        out[k], out[f"{k}_std"] = float(v.mean()), float(v.std())
    return out


def protocol(rows: ZooRows, groups: list[str], kind: str, seeds, blocks=None) -> tuple[dict, tuple]:
    runs, first = [], None
    for seed in seeds:
        mean, std = held_out(rows, groups, kind, seed, blocks)
        runs.append(_scores(rows.y, mean, std))
        first = first or (mean, std)
    return _mean_std(runs), first


def cross_source(dataset: str, train_source: str, test_source: str, seeds) -> dict[str, float]:
    train, test = zoo_rows(dataset, train_source), zoo_rows(dataset, test_source)
    runs = []
    for seed in seeds:
        head = AccuracyHead(seed=seed).fit(train.graphs, train.y, train.families, train.names)
        mean, std = head.predict(test.graphs, return_std=True)
        runs.append(_scores(test.y, mean, std))
    params = np.array([g.total_params for g in test.graphs], dtype=float)
    return {
        "n_train": len(train),
        "n_test": len(test),
        **_mean_std(runs),
        "params_tau": metrics.kendall_tau(test.y, params),
    }


def embeddings(rows_list: list[ZooRows]) -> dict[str, dict[int, np.ndarray]]:
    """GNN and text embeddings of every zoo graph, each reduced to 16 principal components (no labels)."""
    from sklearn.decomposition import PCA

    from archscore.encoders.gnn import GNNEncoder
    from archscore.encoders.text import TextEncoder

    graphs = [g for rows in rows_list for g in rows.graphs]
    out = {}
    for name, enc in (("gnn", GNNEncoder(pretrained="default")), ("text", TextEncoder())):
        t0 = time.perf_counter()
        E = enc.fit(graphs[:1]).transform(graphs)
        E = PCA(16, random_state=0).fit_transform(E)
        out[name] = {id(g): e for g, e in zip(graphs, E)}
        print(f"{name} embeddings of {len(graphs)} graphs: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def plot(path: Path, rows: ZooRows, mean: np.ndarray, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = sorted(set(rows.families))
    cmap = plt.get_cmap("tab20", len(fams))
    fig, ax = plt.subplots(figsize=(9, 8))
    for k, f in enumerate(fams):
        idx = [i for i, x in enumerate(rows.families) if x == f]
        ax.scatter(rows.y[idx], mean[idx], s=14, color=cmap(k), label=f, marker="os^vD"[k % 5])
    lo, hi = float(min(rows.y.min(), mean.min())) - 1, float(max(rows.y.max(), mean.max())) + 1
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
    ax.set(xlabel="measured top-1 (%)", ylabel="predicted top-1 (%), family held out", title=title)
    ax.legend(fontsize=6, ncol=3, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: dict) -> str:
    lines = []
    for ds, r in result["leave_one_family_out"].items():
        lines += [
            f"### {ds}: leave one family out ({r['rows']} networks, {r['families']} families held out in "
            f"{r['folds']} folds of whole families; the design head: mean ± std over {len(result['seeds'])} seeds, "
            "encoders: one seed)",
            "",
            "| predictor | Kendall τ | Spearman ρ | MAE (points) | 90 % coverage |",
            "|---|---|---|---|---|",
        ]
        for kind, s in r["heads"].items():
            lines.append(
                f"| head: {kind} | {s['kendall_tau']:.3f} ± {s['kendall_tau_std']:.3f} | "
                f"{s['spearman_rho']:.3f} ± {s['spearman_rho_std']:.3f} | {s['mae']:.2f} ± {s['mae_std']:.2f} | "
                f"{s['coverage90']:.3f} ± {s['coverage90_std']:.3f} |"
            )
        for name, s in r["baselines"].items():
            lines.append(f"| {name} | {s['kendall_tau']:.3f} | {s['spearman_rho']:.3f} | – | – |")
        lines.append("")
    if result["cross_source"]:
        lines += ["### Across sources (ImageNet-1K)", "",
                  "| train → test | rows | Kendall τ | Spearman ρ | MAE | 90 % coverage | #params τ |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for k, s in result["cross_source"].items():
            lines.append(
                f"| {k} | {s['n_train']} → {s['n_test']} | {s['kendall_tau']:.3f} ± {s['kendall_tau_std']:.3f} | "
                f"{s['spearman_rho']:.3f} | {s['mae']:.2f} | {s['coverage90']:.3f} | {s['params_tau']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="ImageNet, one seed, no encoders (the CI version)")
    parser.add_argument("--out", type=Path, default=RESULTS / "zoo.json")
    args = parser.parse_args(argv)
    seeds = SEEDS[:1] if args.quick else SEEDS
    datasets = ("imagenet1k",) if args.quick else ("imagenet1k", "cifar10", "cifar100")
    t0 = time.time()
    model = load_predictor("default")
    sets = {ds: zoo_rows(ds) for ds in datasets}
    blocks = {} if args.quick else embeddings(list(sets.values()))
    kinds = ["design"] + [k for b in blocks for k in (f"design+{b}", b)]
    kind_seeds = {k: seeds if k == "design" else seeds[:1] for k in kinds}  # encoders: one seed (2 cores)
    result = {"seeds": list(seeds), "leave_one_family_out": {}, "cross_source": {}, "per_network": {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for ds, rows in sets.items():
        heads, first = {}, None
        for kind in kinds:
            heads[kind], pred = protocol(rows, rows.families, kind, kind_seeds[kind], blocks.get(kind.split("+")[-1]))
            first = first or pred
            print(f"{ds} {kind}: τ {heads[kind]['kendall_tau']:.3f} MAE {heads[kind]['mae']:.2f} "
                  f"cover {heads[kind]['coverage90']:.3f} ({time.time() - t0:.0f} s)", file=sys.stderr)  # fmt: skip
        result["leave_one_family_out"][ds] = {
            "rows": len(rows), "families": len(set(rows.families)), "folds": min(OUTER_FOLDS, len(set(rows.families))),
            "heads": heads, "baselines": baselines(rows, model),
        }  # fmt: skip
        result["per_network"][ds] = [
            {"name": n, "family": f, "measured": float(y), "predicted": float(m), "std": float(s)}
            for n, f, y, m, s in zip(rows.names, rows.families, rows.y, *first)
        ]
        if not args.quick or ds == "imagenet1k":
            suffix = "" if ds == "imagenet1k" else f"_{ds}"
            plot(args.out.with_name(f"{args.out.stem}{suffix}.png"), rows, first[0],
                 f"{ds}: predicted top-1 with the family held out (seed {seeds[0]})")  # fmt: skip
    for a, b in (("pytorchcv", "torchvision"), ("torchvision", "pytorchcv")):
        result["cross_source"][f"{a} → {b}"] = cross_source("imagenet1k", a, b, seeds)
    result["seconds"] = round(time.time() - t0, 1)
    result["machine"] = _common.machine_info()
    result["versions"] = _common.versions()
    _common.write_results(args.out, result, markdown, lambda result, path: None)  # plots written above
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
