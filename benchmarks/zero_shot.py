"""Zero-shot benchmark: score every architecture of a search space archscore was never trained on.

Leave one space out: for each space (NB201 with its three datasets, NB101, NB301, TransNAS micro
and macro on their classification tasks, NAS-Bench-Graph on its graph datasets), a predictor is
trained on the labelled rows of every *other* space and scores the architectures of the held-out
one (all of them, or a seeded sample of ``--max-rows`` per table: the text encoder embeds ~30
graphs a second on 2 cores); Spearman ρ and Kendall τ are computed within each held-out task. Targets differ in scale
between tasks (accuracy in %, a fraction, ROC-AUC), so every training target is replaced by its
rank within its own task (a percentile in (0, 1)); nothing is ever compared across tasks.

Encoders (:mod:`archscore.encoders`), composable: ``stats`` (the free statistics on a log scale),
``z`` (the same statistics standardised within each task's table, which needs no labels: an
architecture's size *relative to its space* is what transfers), ``gnn`` (the contrastively
pretrained graph network shipped with archscore) and ``text`` (all-MiniLM-L6-v2 embeddings of
the ArchGraph's description). The predictor is the GBDT ensemble on the concatenation.

Also measured:

* the classic transfer: trained on NB101's labelled rows only, scored on all of NB201-CIFAR-10;
* baselines: #params and MACs of the ArchGraph, and the NAS-Bench-Suite-Zero zero-cost proxies on
  the rows that have them (the predictor is scored on the same rows beside them);
* negative transfer: for the best encoder, each held-out space scored again with one more space
  left out of training (does adding a space ever hurt by more than seed noise?);
* encoding speed (graphs per second) and peak memory per encoder.

Run: ``python benchmarks/zero_shot.py`` (``--quick`` for the reduced CI version); results go to
``benchmarks/results/zero_shot.json``, ``.md`` (the README's tables) and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common
import numpy as np
from scipy.stats import rankdata

from archscore import data, metrics
from archscore.data.cache import GraphCache
from archscore.data.tasks import Task, zero_shot_tasks
from archscore.errors import UnknownNameError

RESULTS = Path(__file__).resolve().parent / "results"
ZERO_COST = ("synflow", "jacov", "nwot", "snip", "grasp", "fisher", "grad_norm", "epe_nas", "zen", "l2_norm", "plain")
PUBLISHED_NB101_TO_NB201 = {
    "GENNAPE": 0.815,
    "FLAN (two GNNs averaged)": 0.849,
    "ONNX-Net": 0.747,
    "note": "Spearman on NB201-CIFAR-10 after training on NB101; all used far more NB101 labels "
    "(thousands to the full 423k table) than the 500 labelled NB101 rows bundled here",
}
TARGET_NB201_C10 = 0.85


@dataclass
class Loaded:
    task: Task
    graphs: list
    y: np.ndarray
    rank: np.ndarray  # the target as a percentile within the task
    cells: list[str]
    features: dict[str, np.ndarray] = field(default_factory=dict)


NASLIB_SPACES = {"nb201": "nasbench201", "nb101": "nasbench101", "nb301": "nasbench301",
                 "tnb101_micro": "transbench101_micro", "tnb101_macro": "transbench101_macro"}  # fmt: skip
NASLIB_DATASETS = {"imagenet16_120": "ImageNet16-120"}


def zero_cost_table(task: Task) -> data.Table | None:
    """The NAS-Bench-Suite-Zero rows (zero-cost proxies) of a task's space and dataset, if any."""
    if task.space not in NASLIB_SPACES:
        return None
    dataset = NASLIB_DATASETS.get(task.dataset, task.dataset)
    try:
        return data.load("naslib_zc", search_space=NASLIB_SPACES[task.space], dataset=dataset)
    except UnknownNameError:
        return None


def load(task: Task, seed: int = 0) -> Loaded:
    """A task's labelled rows: all, or a seeded sample of ``max_rows`` plus every row with zero-cost proxies."""
    table = data.load(task.source, target=task.target, **task.where)
    rows = np.flatnonzero(~np.isnan(table.y))
    if task.max_rows is not None and len(rows) > task.max_rows:
        zc = zero_cost_table(task)
        proxied = set(zc.cells or ()) if zc is not None else set()
        sample = set(np.random.default_rng(seed).choice(rows, task.max_rows, replace=False).tolist())
        rows = np.array([i for i in rows if i in sample or table.cells[i] in proxied])
    cells = [table.cells[i] for i in rows]
    graphs = GraphCache().graphs(table.space, cells, table.dataset or task.dataset)
    y = table.y[rows]
    return Loaded(task, graphs, y, (rankdata(y) - 0.5) / len(y), cells)


# -- encoders ----------------------------------------------------------------------------------------
def encode(tables: list[Loaded], parts: list[str]) -> dict[str, dict]:
    """Each requested encoder part for every table, in place; returns its speed and memory."""
    from archscore.encoders import StatsEncoder

    speed: dict[str, dict] = {}
    everything = [g for t in tables for g in t.graphs]
    for part in parts:
        if part == "z":
            continue  # derived from stats below
        t0 = time.perf_counter()
        if part == "stats":
            enc = StatsEncoder(drop_constant=False).fit(everything[:1])
        elif part == "gnn":
            from archscore.encoders.gnn import GNNEncoder

            enc = GNNEncoder(pretrained="default").fit(everything[:1])
        elif part == "text":
            from archscore.encoders.text import TextEncoder

            enc = TextEncoder(disk_cache=True).fit(everything[:1])
        else:
            raise ValueError(f"unknown encoder part {part!r}")
        for t in tables:
            t.features[part] = enc.transform(t.graphs)
        seconds = time.perf_counter() - t0
        speed[part] = {
            "graphs": len(everything),
            "seconds": round(seconds, 1),
            "graphs_per_second": round(len(everything) / seconds, 1),
            "peak_rss_mb_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        print(f"  encoded {len(everything)} graphs with {part} in {seconds:.0f} s", flush=True)
    if "z" in parts:
        for t in tables:
            s = t.features["stats"]
            t.features["z"] = (s - s.mean(axis=0)) / np.where(s.std(axis=0) > 0, s.std(axis=0), 1.0)
    return speed


def matrix(t: Loaded, encoder: str) -> np.ndarray:
    return np.hstack([t.features[p] for p in encoder.split("+")])


# -- training and scoring ------------------------------------------------------------------------------
def fit(train: list[Loaded], encoder: str, seed: int, per_task: int):
    """A GBDT ensemble on the within-task percentiles of ``train``, at most ``per_task`` rows each."""
    from archscore.predictors import GBDTRegressor

    rng = np.random.default_rng(seed)
    Xs, ys = [], []
    for t in train:
        rows = np.arange(len(t.y))
        if len(rows) > per_task:
            rows = rng.choice(rows, per_task, replace=False)
        Xs.append(matrix(t, encoder)[rows])
        ys.append(t.rank[rows])
    return GBDTRegressor(n_members=5, random_state=seed).fit(np.vstack(Xs), np.concatenate(ys))


def score(model, t: Loaded, encoder: str) -> dict[str, float]:
    p = model.predict(matrix(t, encoder))
    return {"spearman_rho": metrics.spearman_rho(t.y, p), "kendall_tau": metrics.kendall_tau(t.y, p)}


def leave_one_space_out(tables: list[Loaded], encoder: str, seeds: list[int], per_task: int, drop=()) -> dict:
    """Per held-out task: Spearman/Kendall mean and std over seeds, trained on every other space."""
    out: dict[str, dict] = {}
    for space in dict.fromkeys(t.task.space for t in tables):
        train = [t for t in tables if t.task.space != space and t.task.space not in drop]
        held = [t for t in tables if t.task.space == space]
        if not train:
            continue
        runs: dict[str, list[dict]] = {t.task.name: [] for t in held}
        for seed in seeds:
            model = fit(train, encoder, seed, per_task)
            for t in held:
                runs[t.task.name].append(score(model, t, encoder))
        for name, rs in runs.items():
            out[name] = {
                k: [round(float(np.mean([r[k] for r in rs])), 4), round(float(np.std([r[k] for r in rs])), 4)]
                for k in rs[0]
            }
    return out


def baselines(tables: list[Loaded]) -> dict[str, dict]:
    out = {}
    for t in tables:
        params = np.array([g.total_params for g in t.graphs], dtype=np.float64)
        macs = np.array([g.total_macs for g in t.graphs], dtype=np.float64)
        out[t.task.name] = {
            "params_spearman": metrics.spearman_rho(t.y, params),
            "macs_spearman": metrics.spearman_rho(t.y, macs),
        }
    return out


def zero_cost(tables: list[Loaded], encoder: str, seeds: list[int], per_task: int) -> dict[str, dict]:
    """Zero-cost proxies (NAS-Bench-Suite-Zero) against the predictor on the same rows."""
    out: dict[str, dict] = {}
    for t in tables:
        zc = zero_cost_table(t.task)
        if zc is None:
            continue
        index = {c: i for i, c in enumerate(t.cells)}
        pairs = [(i, index[c]) for i, c in enumerate(zc.cells) if c in index]
        if len(pairs) < 50:
            continue
        zi, ti = map(np.array, zip(*pairs))
        y = t.y[ti]
        row = {"rows": len(pairs)}
        for proxy in ZERO_COST:
            v = np.asarray(zc.columns[proxy], dtype=np.float64)[zi]
            ok = np.isfinite(v)
            row[proxy] = metrics.spearman_rho(y[ok], v[ok]) if ok.sum() > 50 else None
        train = [u for u in tables if u.task.space != t.task.space]
        rho = []
        for seed in seeds:
            model = fit(train, encoder, seed, per_task)
            rho.append(metrics.spearman_rho(y, model.predict(matrix(t, encoder)[ti])))
        row[f"archscore ({encoder})"] = float(np.mean(rho))
        out[t.task.name] = row
    return out


def markdown(result: dict) -> str:
    """The README's tables from a results file."""
    out: list[str] = []
    encs = list(result["leave_one_space_out"])
    names = list(result["leave_one_space_out"][encs[0]])
    out.append("Leave one space out, Spearman ρ within each held-out task (mean over seeds):\n")
    out.append("| held-out task | #params | MACs | " + " | ".join(encs) + " |")
    out.append("|---" * (len(encs) + 3) + "|")
    for name in names:
        b = result["baselines"][name]
        cells = [f"{result['leave_one_space_out'][e][name]['spearman_rho'][0]:.3f}" for e in encs]
        out.append(f"| {name} | {b['params_spearman']:.3f} | {b['macs_spearman']:.3f} | " + " | ".join(cells) + " |")
    t = result["nb101_to_nb201_c10"]
    out.append("\nTrained on NB101's labelled rows only, scored on all of NB201-CIFAR-10 (Spearman ρ):\n")
    out.append("| " + " | ".join(t) + " | " + " | ".join(k for k in PUBLISHED_NB101_TO_NB201 if k != "note") + " |")
    out.append("|---" * (len(t) + len(PUBLISHED_NB101_TO_NB201) - 1) + "|")
    out.append(
        "| "
        + " | ".join(f"{v['spearman_rho'][0]:.3f}" for v in t.values())
        + " | "
        + " | ".join(str(v) for k, v in PUBLISHED_NB101_TO_NB201.items() if k != "note")
        + " |"
    )
    out.append(f"\n{PUBLISHED_NB101_TO_NB201['note']}.\n")
    zc = result["zero_cost"]
    if zc:
        ours = next(k for k in next(iter(zc.values())) if k.startswith("archscore"))
        out.append(f"Zero-cost proxies vs {ours}, Spearman ρ on the NAS-Bench-Suite-Zero rows:\n")
        out.append("| task | rows | " + ours + " | best proxy | " + " | ".join(ZERO_COST[:5]) + " |")
        out.append("|---" * 9 + "|")
        for name, row in zc.items():
            proxies = {p: row[p] for p in ZERO_COST if row.get(p) is not None}
            best = max(proxies, key=lambda p: proxies[p]) if proxies else "–"
            out.append(
                f"| {name} | {row['rows']} | {row[ours]:.3f} | {best} ({proxies.get(best, float('nan')):.3f}) | "
                + " | ".join("–" if row.get(p) is None else f"{row[p]:.3f}" for p in ZERO_COST[:5])
                + " |"
            )
    neg = result.get("negative_transfer")
    if neg:
        out.append(f"\nNegative transfer ({neg['encoder']}): change in held-out Spearman when one more space is "
                   "left out of training (positive = that space hurt); noise = 2 × the seed std:\n")  # fmt: skip
        spaces = list(neg["delta"])
        out.append("| held-out task | " + " | ".join(f"without {s}" for s in spaces) + " | noise |")
        out.append("|---" * (len(spaces) + 2) + "|")
        for name in names:
            vals = [neg["delta"][s].get(name) for s in spaces]
            out.append(
                f"| {name} | "
                + " | ".join("–" if v is None else f"{v:+.3f}" for v in vals)
                + f" | {neg['noise'][name]:.3f} |"
            )
    out.append("\nEncoding speed on this machine (all graphs of the benchmark):\n")
    out.append("| encoder | graphs | graphs/s | peak RSS so far (MB) |")
    out.append("|---|---|---|---|")
    for part, s in result["encoding"].items():
        out.append(f"| {part} | {s['graphs']:,} | {s['graphs_per_second']:,.0f} | {s['peak_rss_mb_so_far']:,} |")
    return "\n".join(out) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    encs = list(result["leave_one_space_out"])
    names = list(result["leave_one_space_out"][encs[0]])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / (len(encs) + 1)
    x = np.arange(len(names))
    ax.bar(x, [result["baselines"][n]["params_spearman"] for n in names], width, label="#params", color="grey")
    for i, e in enumerate(encs, start=1):
        vals = [result["leave_one_space_out"][e][n]["spearman_rho"][0] for n in names]
        ax.bar(x + i * width, vals, width, label=e)
    ax.set_xticks(x + 0.4 - width / 2, names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("Spearman ρ within the held-out task")
    ax.set_title("Zero-shot: leave one search space out")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the reduced CI run: stats encoders, one seed, few rows")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--encoders", default="stats,stats+z,gnn,gnn+stats+z,text,text+stats+z")
    parser.add_argument("--per-task", type=int, default=3000, help="training rows drawn from each task")
    parser.add_argument(
        "--max-rows", type=int, default=2000, help="architectures scored per task (a seeded sample; 0: all)"
    )
    parser.add_argument("--nbgraph-rows", type=int, default=500, help="architectures per NAS-Bench-Graph dataset")
    parser.add_argument("--out", type=Path, default=RESULTS / "zero_shot.json")
    parser.add_argument("--table-only", action="store_true", help="render the .md tables from an existing result")
    args = parser.parse_args(argv)
    if args.table_only:
        args.out.with_suffix(".md").write_text(markdown(json.loads(args.out.read_text())))
        return 0

    t_start = time.perf_counter()
    seeds = list(range(1 if args.quick else args.seeds))
    encoders = ["stats", "stats+z"] if args.quick else args.encoders.split(",")
    chosen = zero_shot_tasks(args.max_rows or None, 300 if args.quick else args.nbgraph_rows)
    if args.quick:  # one task per space, and few NAS-Bench-Graph rows
        chosen = [t for t in chosen if t.name in ("nb201/cifar10", "nb101/cifar10", "tnb101_micro/class_scene",
                                                  "tnb101_macro/class_scene", "nbgraph/cora")]  # fmt: skip
    tables = []
    for task in chosen:
        t0 = time.perf_counter()
        tables.append(load(task))
        print(f"  loaded {task.name}: {len(tables[-1].y)} rows in {time.perf_counter() - t0:.0f} s", flush=True)
    parts = list(dict.fromkeys(p for e in encoders for p in e.split("+")))
    if "z" in parts and "stats" not in parts:
        parts.insert(0, "stats")
    speed = encode(tables, parts)

    loso = {}
    for enc in encoders:
        t0 = time.perf_counter()
        loso[enc] = leave_one_space_out(tables, enc, seeds, args.per_task)
        print(
            f"  {enc}: "
            + ", ".join(f"{k} {v['spearman_rho'][0]:.3f}" for k, v in loso[enc].items())
            + f" ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    nb101 = [t for t in tables if t.task.space == "nb101"]
    c10 = next(t for t in tables if t.task.name == "nb201/cifar10")
    transfer = {}
    for enc in encoders:
        rs = [score(fit(nb101, enc, seed, args.per_task), c10, enc) for seed in seeds]
        transfer[enc] = {k: [round(float(np.mean([r[k] for r in rs])), 4), round(float(np.std([r[k] for r in rs])), 4)]
                         for k in rs[0]}  # fmt: skip
    print(f"  NB101 → NB201-C10: {transfer}", flush=True)

    # The encoder with the best mean held-out Spearman carries the proxy comparison and the ablation.
    best = max(encoders, key=lambda e: np.mean([v["spearman_rho"][0] for v in loso[e].values()]))
    zc = zero_cost(tables, best, seeds, args.per_task)
    spaces = list(dict.fromkeys(t.task.space for t in tables))
    delta: dict[str, dict[str, float]] = {}
    for s in spaces:
        without = leave_one_space_out(tables, best, seeds[:1], args.per_task, drop=(s,))
        delta[s] = {
            name: round(v["spearman_rho"][0] - loso[best][name]["spearman_rho"][0], 4)
            for name, v in without.items()
            if not name.startswith(s + "/")
        }
    noise = {name: round(max(2 * v["spearman_rho"][1], 0.01), 4) for name, v in loso[best].items()}
    total = time.perf_counter() - t_start
    nb201_c10 = loso[best]["nb201/cifar10"]["spearman_rho"][0]
    base = baselines(tables)
    result = {
        "settings": {
            "command": "python benchmarks/zero_shot.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "seeds": seeds,
            "encoders": encoders,
            "tasks": {t.task.name: len(t.y) for t in tables},
            "per_task_training_rows": args.per_task,
            "max_rows_per_task": args.max_rows,
            "nbgraph_rows_per_dataset": args.nbgraph_rows,
            "protocol": "train on every other space (targets as within-task percentiles), score every row of "
            "the held-out space; GBDTRegressor(n_members=5); each table a seeded sample of at most max_rows "
            "architectures (nbgraph_rows per NAS-Bench-Graph dataset), the same sample for every encoder",
            "seconds": round(total, 1),
        },
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "encoding": speed,
        "baselines": base,
        "leave_one_space_out": loso,
        "nb101_to_nb201_c10": transfer,
        "published_nb101_to_nb201_c10": PUBLISHED_NB101_TO_NB201,
        "zero_cost": zc,
        "negative_transfer": {"encoder": best, "delta": delta, "noise": noise},
        "targets": {
            "nb201_c10_spearman": {"target": TARGET_NB201_C10, "best": [nb201_c10, best],
                                   "met": nb201_c10 >= TARGET_NB201_C10},
            "beats_params_and_macs": {
                name: v["spearman_rho"][0] > max(base[name]["params_spearman"], base[name]["macs_spearman"])
                for name, v in loso[best].items()
            },
        },
    }  # fmt: skip
    _common.write_results(args.out, result, markdown, plot)
    print(f"done in {total:.0f} s; targets: {result['targets']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
