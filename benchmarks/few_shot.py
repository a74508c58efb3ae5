"""Few-shot benchmark: how well each predictor × encoder ranks a space's architectures from n labels.

The protocol of DESIGN.md (:mod:`archscore.training.protocols`): train on n random labelled
architectures of one table, test on all the rest, over seeds; Kendall τ, Spearman ρ, MAE, RMSE,
precision@top-5 %, the 90 % interval's coverage and the Gaussian NLL, plus fit time and
predictions per second on this machine. Encoders are fitted on every architecture of the table
without its labels (unlabelled architectures of a space are free); predictors see only the n
labelled rows. Beside them: the zero-label baselines (#params and MACs of the ArchGraph, Spearman
and Kendall over the whole table) and the published numbers from DESIGN.md.

Latency (NB201's devices): per device, a predictor of log latency from n measurements, reported
as Spearman and the share within ±10 % (nn-Meter's measure). Two feature sets: the graph alone
(free statistics + WL), and the graph plus the architecture's measured latency on the *other*
devices of the table (with every setting of the same hardware removed, so no sibling batch size
leaks), in the spirit of HELP's transfer from known devices; at 10 measurements the latter uses a
Bayesian ridge over the other devices only.

Run: ``python benchmarks/few_shot.py`` (full; ``--quick`` for the reduced CI version); results go
to ``benchmarks/results/few_shot.json`` and ``few_shot.png``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _common
import numpy as np

from archscore import data, metrics
from archscore.data.tasks import Task
from archscore.encoders import make_encoder
from archscore.training.protocols import FEW_SHOT_SIZES, few_shot, summarise

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS_C10 = {78: 0.72, 156: 0.82, 469: 0.87}
PUBLISHED = {  # DESIGN.md, "Numbers to beat"
    "nb201/cifar10": {
        "kendall_tau": {78: 0.677, 156: 0.765, 469: 0.836},
        "source": "HyperNAS (τ @78/@156/@469); FlowerFormer + pretraining reaches 0.836 @156; "
        "GBDT on 13 zero-cost proxies τ 0.794 @400",
    },
}
ZERO_LABEL_PUBLISHED = {"nb201/cifar10": 0.715, "nb201/cifar100": 0.725, "nb201/imagenet16_120": 0.691}


def tasks() -> list[Task]:
    out = [Task(f"nb201/{d}", "nb201", f"{d}_val_acc", d) for d in ("cifar10", "cifar100", "imagenet16_120")]
    for space, naslib in (("nb101", "nasbench101"), ("nb301", "nasbench301")):
        where = {"search_space": naslib, "dataset": "cifar10"}
        out.append(Task(f"{space}/cifar10", "naslib_zc", "val_accuracy", "cifar10", where))
    for t in ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal", "autoencoder"):
        out.append(Task(f"tnb101_micro/{t}", "tnb101_micro", t, t))
    return out


def predictor(name: str, seed: int):
    from archscore import predictors

    if name == "gbdt":
        return predictors.GBDTRegressor(n_members=5, random_state=seed)
    if name == "mlp":
        return predictors.MLPEnsembleRegressor(random_state=seed)
    if name == "cluster":
        return predictors.ClusterEnsembleRegressor(random_state=seed)
    raise ValueError(name)


def features(task: Task, encoders: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, float]]:
    """Every requested encoding of the task's table, its target, and the zero-label baselines."""
    table = data.load(task.source, target=task.target, **task.where)
    graphs = table.graphs(task.dataset)
    X: dict[str, np.ndarray] = {}
    parts = sorted({p for name in encoders for p in name.split("+")}, key=["onehot", "stats", "wl"].index)
    for name in parts:
        t0 = time.perf_counter()
        X[name] = make_encoder(name).fit_transform(table.cells if name == "onehot" else graphs)
        print(f"  {task.name}: {name} {X[name].shape} in {time.perf_counter() - t0:.1f} s", flush=True)
    for name in encoders:  # a union is its parts side by side (FeatureUnion's own output)
        X.setdefault(name, np.hstack([X[p] for p in name.split("+")]))
    X = {name: X[name] for name in encoders}
    y = np.asarray(table.y, dtype=np.float64)
    ok = ~np.isnan(y)
    base = {}
    for stat, value in (("params", [g.total_params for g in graphs]), ("macs", [g.total_macs for g in graphs])):
        v = np.asarray(value, dtype=np.float64)[ok]
        base[f"{stat}_spearman"] = metrics.spearman_rho(y[ok], v)
        base[f"{stat}_kendall"] = metrics.kendall_tau(y[ok], v)
    return X, y, base


def _run(args: tuple) -> dict:
    task, enc, pred, X, y, sizes, seeds = args
    t0 = time.perf_counter()
    runs = few_shot(X, y, lambda s: predictor(pred, s), sizes, seeds)
    table = summarise(runs)
    print(
        f"  {task}: {enc} × {pred}: "
        + ", ".join(f"τ@{n} {m['kendall_tau'][0]:.3f}±{m['kendall_tau'][1]:.3f}" for n, m in table.items())
        + f" ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    return {
        "task": task, "encoder": enc, "predictor": pred,
        "summary": {str(n): {k: [round(v[0], 4), round(v[1], 4)] for k, v in m.items()} for n, m in table.items()},
        "runs": [r.row() for r in runs],
    }  # fmt: skip


# -- latency ---------------------------------------------------------------------------------------
def _hardware(column: str) -> str:
    """The hardware of an NB201 latency column, without its batch size (``titanx_256`` → ``titanx``)."""
    return re.sub(r"_(1|32|256)$", "", column.removeprefix("latency_"))


_LATENCY: dict[str, object] = {}  # each latency worker's copy of the features and measurements


def _latency_init(Xg: np.ndarray, lat: dict[str, np.ndarray]) -> None:
    _LATENCY.update(Xg=Xg, lat=lat)


def latency(
    sizes: list[int], seeds: list[int], devices: list[str] | None, workers: int, Xg: np.ndarray | None = None
) -> list[dict]:
    """Per device, the latency predictors from n measurements; ``Xg``: the stats+wl encoding of the NB201
    table's CIFAR-10 networks when the accuracy part already computed it (the same rows, the same fit)."""
    table = data.load("nb201", target="cifar10_val_acc")
    columns = [c for c in table.targets if c.startswith("latency_")]
    lat = {c: np.asarray(table.columns[c], dtype=np.float64) for c in columns}
    if Xg is None:
        Xg = make_encoder("stats+wl").fit_transform(table.graphs("cifar10"))
    Xg = Xg.astype(np.float32)
    # The graph features (15,625 rows × thousands of WL columns) go to each worker once, not once per job.
    jobs = [(device, fs, sizes, seeds) for device in devices or columns for fs in LATENCY_FEATURES]
    with ProcessPoolExecutor(workers, initializer=_latency_init, initargs=(Xg, lat)) as pool:
        return list(pool.map(_latency_run, jobs))


LATENCY_FEATURES = ("graph", "graph+other_devices", "other_devices")


def _latency_run(job: tuple) -> dict:
    from sklearn.linear_model import BayesianRidge

    from archscore.predictors.gbdt import GBDTRegressor
    from archscore.predictors.log_target import LogTargetRegressor
    from archscore.training.protocols import few_shot_split

    device, fs, sizes, seeds = job
    lat: dict[str, np.ndarray] = _LATENCY["lat"]  # type: ignore[assignment]
    y = lat[device]
    others = [c for c in lat if _hardware(c) != _hardware(device)]
    ref = np.log(np.column_stack([lat[c] for c in others]))
    ok = ~np.isnan(y) & np.isfinite(ref).all(axis=1) & (y > 0)
    Xg: np.ndarray = _LATENCY["Xg"]  # type: ignore[assignment]
    if fs == "graph":
        X = Xg[ok]
    elif fs == "graph+other_devices":
        X = np.hstack([Xg[ok], ref[ok]])
    else:
        X = ref[ok]
    y = y[ok]
    out: dict = {"device": device, "features": fs, "by_n": {}}
    for n in sizes:
        if fs != "other_devices" and n < 50:
            continue  # trees from a handful of rows: not a method anyone would use
        rho, within = [], []
        for seed in seeds:
            tr, te = few_shot_split(len(y), n, seed)
            if fs == "other_devices":
                model = LogTargetRegressor(BayesianRidge()).fit(X[tr], y[tr])
            else:
                model = LogTargetRegressor(GBDTRegressor(n_members=5), random_state=seed).fit(X[tr], y[tr])
            p = model.predict(X[te])
            rho.append(metrics.spearman_rho(y[te], p))
            within.append(metrics.within_percent(y[te], p, 10))
        out["by_n"][str(n)] = {
            "spearman_rho": [round(float(np.mean(rho)), 4), round(float(np.std(rho)), 4)],
            "within_10pct": [round(float(np.mean(within)), 4), round(float(np.std(within)), 4)],
        }
    print(f"  latency {device} [{fs}]: " + ", ".join(
        f"@{n} ρ {v['spearman_rho'][0]:.3f} ±10% {v['within_10pct'][0]:.2f}" for n, v in out["by_n"].items()
    ), flush=True)  # fmt: skip
    return out


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["few_shot"] if r["task"] == "nb201/cifar10"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        ns = sorted(int(n) for n in r["summary"])
        mean = [r["summary"][str(n)]["kendall_tau"][0] for n in ns]
        std = [r["summary"][str(n)]["kendall_tau"][1] for n in ns]
        ax.errorbar(ns, mean, yerr=std, marker="o", capsize=3, label=f"{r['encoder']} × {r['predictor']}")
    pub = PUBLISHED["nb201/cifar10"]["kendall_tau"]
    ax.plot(list(pub), list(pub.values()), "k*--", ms=10, label="published best (HyperNAS)")
    ax.plot(list(TARGETS_C10), list(TARGETS_C10.values()), "rx:", ms=9, label="archscore target")
    ax.set_xscale("log")
    ax.set_xlabel("labelled architectures (n)")
    ax.set_ylabel("Kendall τ on all the rest")
    ax.set_title("NAS-Bench-201 CIFAR-10, few-shot (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _cell(m: dict, key: str, fmt: str = ".3f") -> str:
    mean, std = m[key]
    return f"{mean:{fmt}} ± {std:{fmt}}"


def markdown(result: dict) -> str:
    """The README's tables, rendered from a results file (so the README quotes only script output)."""
    out: list[str] = []
    rows = result["few_shot"]
    c10 = [r for r in rows if r["task"] == "nb201/cifar10"]
    sizes = sorted({int(n) for r in c10 for n in r["summary"]})
    # Ranking quality at 469 labels and calibration at 156 (or the largest n a reduced run has).
    top, cal = (str(max([n for n in sizes if n <= k] or sizes)) for k in (469, 156))
    out.append("NAS-Bench-201 CIFAR-10, Kendall τ on all the other architectures (mean ± std over seeds):\n")
    out.append(
        "| encoder × predictor | "
        + " | ".join(f"τ @{n}" for n in sizes)
        + f" | P@top-5 % @{top} | 90 % cover @{cal} | fit s @{top} | preds/s @{top} |"
    )
    out.append("|---" * (len(sizes) + 5) + "|")
    for r in c10:
        s = r["summary"]
        pps = [x["predictions_per_second"] for x in r["runs"] if x["n_train"] == int(top)]
        out.append(
            f"| {r['encoder']} × {r['predictor']} | "
            + " | ".join(_cell(s[str(n)], "kendall_tau") for n in sizes)
            + f" | {_cell(s[top], 'precision_at_top5', '.2f')} | {_cell(s[cal], 'coverage90', '.2f')}"
            + f" | {s[top]['fit_seconds'][0]:.2f} | {np.median(pps):,.0f} |"
        )
    pub = PUBLISHED["nb201/cifar10"]["kendall_tau"]
    out.append("| published best | " + " | ".join(str(pub.get(n, "")) for n in sizes) + " | | | | |")
    out.append(
        "| archscore target | " + " | ".join(str(TARGETS_C10.get(n, "")) for n in sizes) + " | ≥ 0.5 | 0.85–0.95 | | |"
    )
    out.append(f"\nPublished: {PUBLISHED['nb201/cifar10']['source']}.\n")
    others = [r for r in rows if r["task"] != "nb201/cifar10"]
    if others:
        out.append("Other tables, Kendall τ (mean over seeds; n only up to half the table):\n")
        out.append("| task | encoder × predictor | " + " | ".join(f"@{n}" for n in sizes) + f" | 90 % cover @{cal} |")
        out.append("|---" * (len(sizes) + 3) + "|")
        for r in others:
            s = r["summary"]
            out.append(
                f"| {r['task']} | {r['encoder']} × {r['predictor']} | "
                + " | ".join(f"{s[str(n)]['kendall_tau'][0]:.3f}" if str(n) in s else "–" for n in sizes)
                + f" | {s[cal]['coverage90'][0]:.2f} |"
            )
    out.append("\nZero labels: #params and MACs of the ArchGraph as the score (over the whole table):\n")
    out.append("| task | params Spearman | params Kendall | MACs Spearman | MACs Kendall | published params Spearman |")
    out.append("|---|---|---|---|---|---|")
    for task, b in result["zero_label"].items():
        pub_p = result.get("zero_label_published_spearman_params", {}).get(task, "")
        out.append(
            f"| {task} | {b['params_spearman']:.3f} | {b['params_kendall']:.3f} | {b['macs_spearman']:.3f}"
            f" | {b['macs_kendall']:.3f} | {pub_p} |"
        )
    lat = result.get("latency") or []
    if lat:
        out.append(
            "\nLatency on the NB201 devices, per device from n measurements (mean over seeds; "
            f"{len({r['device'] for r in lat})} device settings):\n"
        )
        out.append(
            "| features | n | median Spearman | worst device (Spearman) | devices ≥ 0.95 | "
            "median within ±10 % | devices ≥ 90 % within ±10 % |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for fs in dict.fromkeys(r["features"] for r in lat):
            group = [r for r in lat if r["features"] == fs]
            for n in sorted({int(k) for r in group for k in r["by_n"]}):
                vals = [
                    (r["by_n"][str(n)]["spearman_rho"][0], r["by_n"][str(n)]["within_10pct"][0], r["device"])
                    for r in group
                    if str(n) in r["by_n"]
                ]
                rho = np.array([v[0] for v in vals])
                within = np.array([v[1] for v in vals])
                worst = min(vals)
                out.append(
                    f"| {fs} | {n} | {np.median(rho):.3f} | {worst[2].removeprefix('latency_')} ({worst[0]:.3f})"
                    f" | {int((rho >= 0.95).sum())}/{len(vals)} | {np.median(within):.2f}"
                    f" | {int((within >= 0.9).sum())}/{len(vals)} |"
                )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the reduced CI run: NB201-C10, one seed, small n")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tasks", default=None, help="comma-separated task names (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-latency", action="store_true", help="accuracy tables only (e.g. re-running a few tasks)")
    parser.add_argument("--out", type=Path, default=RESULTS / "few_shot.json")
    parser.add_argument(
        "--resume", action="store_true", help="keep the finished rows of an interrupted run (its .partial.json)"
    )
    parser.add_argument(
        "--table-only", action="store_true", help="render the README tables (.md) from an existing results file"
    )
    args = parser.parse_args(argv)
    if args.table_only:
        args.out.with_suffix(".md").write_text(markdown(json.loads(args.out.read_text())))
        return 0

    seeds = list(range(1 if args.quick else args.seeds))
    sizes = [20, 78] if args.quick else list(FEW_SHOT_SIZES)
    chosen = tasks()
    if args.quick:
        chosen = chosen[:1]
    if args.tasks:
        wanted = args.tasks.split(",")
        chosen = [t for t in tasks() if t.name in wanted]
    # The full grid on NB201-CIFAR-10; elsewhere the baseline and the best encoder with every predictor.
    full = [(e, p) for e in ("onehot", "stats", "wl", "stats+wl") for p in ("gbdt", "mlp", "cluster")]
    # Elsewhere the cluster ensemble is left out: on NB201-C10 it is the slowest and does not rank
    # better than a single GBDT (these tables have no families for experts to specialise in).
    reduced = [("onehot", "gbdt"), ("stats+wl", "gbdt"), ("stats+wl", "mlp")]
    if args.quick:
        full = [("onehot", "gbdt"), ("stats+wl", "gbdt"), ("stats+wl", "mlp"), ("stats+wl", "cluster")]

    t_start = time.perf_counter()
    partial = args.out.with_suffix(".partial.json")
    results: list[dict] = []
    baselines: dict = {}
    if args.resume and partial.exists():
        kept = json.loads(partial.read_text())
        baselines = kept["zero_label"]
        results = [r for r in kept["few_shot"] if len(r["runs"]) == len(seeds) * len(r["summary"])]
        print(f"resuming: {len(results)} finished rows kept from {partial}", flush=True)
    done = {(r["task"], r["encoder"], r["predictor"]) for r in results}
    jobs = []
    nb201_graph_features = None  # reused by the latency part
    for task in chosen:
        grid = full if task.name == "nb201/cifar10" else reduced
        todo = [(e, p) for e, p in grid if (task.name, e, p) not in done]
        if not todo and task.name in baselines:
            continue
        X, y, baselines[task.name] = features(task, sorted({e for e, _ in todo or grid}))
        if task.name == "nb201/cifar10" and "stats+wl" in X:
            nb201_graph_features = X["stats+wl"]
        task_sizes = [n for n in sizes if n <= len(y) // 2]  # keep at least half the table as the test set
        jobs += [(task.name, e, p, X[e], y, task_sizes, seeds) for e, p in todo]
    with ProcessPoolExecutor(args.workers) as pool:
        for r in pool.map(_run, jobs):
            results.append(r)
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps({"few_shot": results, "zero_label": baselines}, indent=1) + "\n")
    devices = ["latency_pixel3", "latency_titanx_1"] if args.quick else None
    lat = [] if args.no_latency else latency([10, 100], seeds, devices, args.workers, nb201_graph_features)
    total = time.perf_counter() - t_start
    c10 = {(r["encoder"], r["predictor"]): r["summary"] for r in results if r["task"] == "nb201/cifar10"}
    best = {
        n: max((s[str(n)]["kendall_tau"][0], f"{e} × {p}") for (e, p), s in c10.items() if str(n) in s)
        for n in TARGETS_C10
        if any(str(n) in s for s in c10.values())
    }
    result = {
        "settings": {
            "command": "python benchmarks/few_shot.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "seeds": seeds,
            "sizes": sizes,
            "tasks": [t.name for t in chosen],
            "protocol": "train on n random labelled rows, test on all the rest (archscore.training.protocols); "
            "encoders fitted on the whole table without labels; n only up to half the table",
            "seconds": round(total, 1),
        },
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "published": PUBLISHED,
        "zero_label_published_spearman_params": ZERO_LABEL_PUBLISHED,
        "zero_label": baselines,
        "few_shot": results,
        "latency": lat,
        "targets": {
            "nb201_c10_kendall": {
                str(n): {"target": t, "best": best.get(n), "met": n in best and best[n][0] >= t}
                for n, t in TARGETS_C10.items()
            },
        },
    }
    _common.write_results(args.out, result, markdown, plot)
    args.out.with_suffix(".partial.json").unlink(missing_ok=True)
    print(f"done in {total:.0f} s; NB201-C10 targets: {result['targets']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
