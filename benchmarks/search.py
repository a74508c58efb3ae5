"""Search benchmark: how many queries each strategy needs to find NAS-Bench-201's best architecture.

The oracle is the bundled NB201 table (validation accuracy on CIFAR-10, CIFAR-100 and
ImageNet16-120): every strategy — random search, regularised evolution, evolution with surrogate
pre-screening, BANANAS-style Bayesian optimisation with EI, UCB and Thompson acquisition, and the
same with archscore's zero-shot prior — runs through the same :class:`archscore.search.Surrogate`
ask/tell loop (:func:`archscore.search.run_search`), in batches of ``--batch-size`` queries (the
predictor is refitted once per batch), over ``--seeds`` seeds. Reported per strategy: queries until
the global best architecture is evaluated (median over seeds; runs that never find it within the
budget count as "more than the budget"), best-so-far validation accuracy after 20/50/100/200
queries, and the wall-clock time of one search step (refit + proposal) on this machine.

Features: free statistics + WL of every cell, computed once per dataset (encoders fitted on the
whole space without labels) and shared with the worker processes. The zero-shot prior
("bo-ei+prior") is a ScoringModel trained on the bundled zero-shot tasks *without* any NB201 task,
scoring NB201 cells against the whole space (``reference="batch"``); it is an extra feature and
chooses the initial design.

Run: ``python benchmarks/search.py`` (full; ``--quick`` for the reduced CI run: CIFAR-10, few seeds,
budget 60); results go to ``benchmarks/results/search.json``/``.md``/``.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import _common
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ("cifar10", "cifar100", "imagenet16_120")
STRATEGIES = ("random", "evolution", "evolution+surrogate", "bo-ei", "bo-ucb", "bo-ts", "bo-mean", "bo-ei+prior")
QUICK_STRATEGIES = ("random", "evolution", "evolution+surrogate", "bo-ei", "bo-ts")
CHECKPOINTS = (20, 50, 100, 200)
TARGET_MEDIAN_QUERIES_C10 = 50
PUBLISHED = {
    "queries_to_optimum_c10": "64–80 (predictor-guided methods, NB201-CIFAR-10)",
    "bananas_naslib_val_acc_c10_at_200": 91.35,
}

_SHARED: dict[str, dict] = {}  # per worker: dataset → cells, features, values, prior scores


def _init(shared: dict) -> None:
    _SHARED.update(shared)


def prepare(dataset: str, with_prior: bool, prior_model) -> dict:
    """Cells, stats+WL features, validation accuracy and (optionally) zero-shot prior scores of NB201."""
    from archscore.search import CellFeatures, TableOracle
    from archscore.spaces import get

    t0 = time.perf_counter()
    oracle = TableOracle("nb201", f"{dataset}_val_acc")
    space = get("nb201")
    feats = CellFeatures(space, dataset=dataset).precompute(oracle.cells)
    X = feats.transform(oracle.cells).astype(np.float32)
    out = {"cells": oracle.cells, "X": X, "y": oracle.Y[:, 0], "prior": None}
    if with_prior:
        from archscore.data.cache import GraphCache

        graphs = GraphCache().graphs("nb201", oracle.cells, dataset)
        out["prior"] = np.asarray(prior_model.predict(graphs, reference="batch"), dtype=np.float64)
    print(f"  {dataset}: {X.shape[1]} features for {len(X)} cells in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def run_one(job: tuple) -> dict:
    """One search: (dataset, strategy, seed, budget, batch size) → its curve and costs."""
    from archscore.search import CellFeatures, ScorePrior, Surrogate, run_search
    from archscore.spaces import get

    dataset, strategy, seed, budget, batch_size = job
    d = _SHARED[dataset]
    cells, y = d["cells"], d["y"]
    space = get("nb201")
    value = dict(zip(cells, y.tolist()))
    best = float(y.max())
    optimum = {c for c, v in value.items() if v == best}
    prior = None
    name = strategy
    if strategy.endswith("+prior"):
        name = strategy.removesuffix("+prior")
        prior = ScorePrior(cells, d["prior"])
    surrogate = Surrogate(
        space,
        strategy=name,
        features=CellFeatures.from_matrix(space, cells, d["X"]),
        candidates=cells,
        prior=prior,
        seed=seed,
    )
    t0 = time.perf_counter()
    result = run_search(
        surrogate,
        lambda batch: [value[c] for c in batch],
        budget,
        batch_size,
        stop=lambda batch: any(c in optimum for c in batch),
    )
    seconds = time.perf_counter() - t0
    curve = result.best_so_far.tolist()
    if len(curve) < budget:  # stopped at the optimum: best-so-far stays there
        curve += [curve[-1]] * (budget - len(curve))
    steps = result.step_seconds
    model_steps = [t for t, st in zip(steps, surrogate.steps) if st.fit_seconds > 0] or steps
    return {
        "dataset": dataset,
        "strategy": strategy,
        "seed": seed,
        "queries_to_optimum": result.found_at,
        "best_so_far": {str(k): round(curve[k - 1], 4) for k in CHECKPOINTS if k <= budget},
        "curve": [round(v, 4) for v in curve],
        "step_seconds_median": round(float(np.median(model_steps)), 4) if steps else 0.0,
        "step_seconds_max": round(float(np.max(steps)), 4) if steps else 0.0,
        "seconds": round(seconds, 2),
    }


def _median_queries(found: list[int | None], budget: int) -> float | None:
    """Median queries to the optimum, a run that never found it counting as more than the budget (None if
    the median itself is such a run)."""
    q = sorted(float(f) if f is not None else np.inf for f in found)
    m = float(np.median(q))
    return None if not np.isfinite(m) else m


def summarise(runs: list[dict], budget: int) -> dict:
    out: dict[str, dict] = {}
    for key in dict.fromkeys((r["dataset"], r["strategy"]) for r in runs):
        group = [r for r in runs if (r["dataset"], r["strategy"]) == key]
        found = [r["queries_to_optimum"] for r in group]
        hits = [f for f in found if f is not None]
        entry = {
            "seeds": len(group),
            "median_queries_to_optimum": _median_queries(found, budget),
            "found_within_budget": f"{len(hits)}/{len(group)}",
            "queries_to_optimum_quartiles": [
                None if not np.isfinite(v) else float(v)
                for v in np.percentile([f if f is not None else np.inf for f in found], [25, 75], method="nearest")
            ],
            "step_seconds_median": round(float(np.median([r["step_seconds_median"] for r in group])), 4),
        }
        for k in CHECKPOINTS:
            vals = [r["best_so_far"][str(k)] for r in group if str(k) in r["best_so_far"]]
            if vals:
                entry[f"best_at_{k}"] = [round(float(np.mean(vals)), 3), round(float(np.std(vals)), 3)]
        out[f"{key[0]}/{key[1]}"] = entry
    return out


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        f"NAS-Bench-201, validation accuracy as the oracle; {len(s['seeds'])} seeds, budget {s['budget']} queries, "
        f"batches of {s['batch_size']} (one refit per batch). Queries to the global optimum: median over seeds "
        f'("> {s["budget"]}" when most runs did not find it), quartiles, runs that found it; best-so-far '
        "validation accuracy: mean ± std over seeds; step: median seconds of one refit + proposal on "
        f"{result['machine']['usable_cpus']} cores.\n",
    ]
    checkpoints = [k for k in CHECKPOINTS if k <= s["budget"]]
    for dataset in s["datasets"]:
        rows = {k.split("/", 1)[1]: v for k, v in result["summary"].items() if k.startswith(dataset + "/")}
        if not rows:
            continue
        optimum = result["optimum"][dataset]
        lines.append(f"\n{dataset} (optimum {optimum:.2f} %):\n")
        lines.append(
            "| strategy | median queries to optimum | quartiles | found | "
            + " | ".join(f"best @{k}" for k in checkpoints)
            + " | step s |"
        )
        lines.append("|---" * (4 + len(checkpoints) + 1) + "|")
        for name, v in rows.items():
            med = v["median_queries_to_optimum"]
            q = [f"> {s['budget']}" if x is None else f"{x:.0f}" for x in v["queries_to_optimum_quartiles"]]
            lines.append(
                f"| {name} | {'> ' + str(s['budget']) if med is None else f'{med:.0f}'} | {q[0]}–{q[1]} | "
                f"{v['found_within_budget']} | "
                + " | ".join(f"{v[f'best_at_{k}'][0]:.2f} ± {v[f'best_at_{k}'][1]:.2f}" for k in checkpoints)
                + f" | {v['step_seconds_median']:.2f} |"
            )
    t = result.get("target")
    if t:
        lines.append(
            f"\nTarget: median ≤ {t['median_queries']} queries to the CIFAR-10 optimum; best strategy "
            f"{t['best_strategy']} with {t['best_median']}: {'met' if t['met'] else 'not met'}."
        )
    lines.append(
        f"\nPublished: {PUBLISHED['queries_to_optimum_c10']} queries to the optimum; BANANAS (NASLib) "
        f"{PUBLISHED['bananas_naslib_val_acc_c10_at_200']} % validation accuracy after 200 queries on CIFAR-10."
    )
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in result["settings"]["datasets"] if any(r["dataset"] == d for r in result["runs"])]
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        optimum = result["optimum"][dataset]
        for name in dict.fromkeys(r["strategy"] for r in result["runs"] if r["dataset"] == dataset):
            curves = np.array([r["curve"] for r in result["runs"] if (r["dataset"], r["strategy"]) == (dataset, name)])
            regret = np.maximum(optimum - curves, 1e-3)
            ax.plot(np.arange(1, regret.shape[1] + 1), np.median(regret, axis=0), label=name)
        ax.set_yscale("log")
        ax.set_xlabel("queries")
        ax.set_ylabel("optimum − best so far (val. acc. %, median)")
        ax.set_title(f"NB201 {dataset}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced CI run: CIFAR-10, 3 seeds, budget 60")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--strategies", default=None, help="comma-separated (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "search.json")
    parser.add_argument("--table-only", action="store_true", help="render .md and .png from an existing results file")
    args = parser.parse_args(argv)
    if args.table_only:
        result = json.loads(args.out.read_text())
        args.out.with_suffix(".md").write_text(markdown(result))
        plot(result, args.out.with_suffix(".png"))
        return 0

    datasets = ["cifar10"] if args.quick else args.datasets.split(",")
    seeds = list(range(3 if args.quick else args.seeds))
    budget = 60 if args.quick else args.budget
    strategies = args.strategies.split(",") if args.strategies else list(QUICK_STRATEGIES if args.quick else STRATEGIES)
    bad = [s for s in strategies if s.removesuffix("+prior") not in _known()]
    if bad:
        parser.error(f"unknown strategies {bad}; choose from {', '.join(STRATEGIES)}")

    t_start = time.perf_counter()
    prior_model = None
    with_prior = any(s.endswith("+prior") for s in strategies)
    if with_prior:
        from archscore.search.prior import zero_shot_model

        t0 = time.perf_counter()
        prior_model = zero_shot_model(["nb201"], max_rows=1000, seed=0)
        print(f"zero-shot prior (no NB201 labels) trained in {time.perf_counter() - t0:.0f} s", flush=True)
    shared = {d: prepare(d, with_prior, prior_model) for d in datasets}
    optimum = {d: float(shared[d]["y"].max()) for d in datasets}

    # Strategies in the inner loop: a partial result has every strategy on the first seeds.
    jobs = [(d, s, seed, budget, args.batch_size) for d in datasets for seed in seeds for s in strategies]
    partial = args.out.with_suffix(".partial.json")
    runs: list[dict] = []
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(shared,)) as pool:
        futures = [pool.submit(run_one, job) for job in jobs]
        for i, fut in enumerate(as_completed(futures), 1):
            r = fut.result()
            runs.append(r)
            print(
                f"  [{i}/{len(jobs)}] {r['dataset']} {r['strategy']} seed {r['seed']}: optimum after "
                f"{r['queries_to_optimum'] or '>' + str(budget)} queries, best@{min(budget, 200)} "
                f"{r['curve'][-1]:.2f}, step {r['step_seconds_median']:.2f} s ({r['seconds']:.0f} s)",
                flush=True,
            )
            if i % 10 == 0 or i == len(jobs):
                partial.parent.mkdir(parents=True, exist_ok=True)
                partial.write_text(json.dumps({"runs": runs, "summary": summarise(runs, budget)}, indent=1) + "\n")
    runs.sort(key=lambda r: (datasets.index(r["dataset"]), strategies.index(r["strategy"]), r["seed"]))
    summary = summarise(runs, budget)
    total = time.perf_counter() - t_start
    c10 = {k.split("/", 1)[1]: v for k, v in summary.items() if k.startswith("cifar10/")}
    target = None
    if c10:
        ranked = sorted(
            (v["median_queries_to_optimum"] if v["median_queries_to_optimum"] is not None else np.inf, k)
            for k, v in c10.items()
        )
        best_median, best_name = ranked[0]
        target = {
            "median_queries": TARGET_MEDIAN_QUERIES_C10,
            "best_strategy": best_name,
            "best_median": None if not np.isfinite(best_median) else best_median,
            "met": bool(best_median <= TARGET_MEDIAN_QUERIES_C10),
        }
    result = {
        "settings": {
            "command": "python benchmarks/search.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "datasets": datasets,
            "strategies": strategies,
            "seeds": seeds,
            "budget": budget,
            "batch_size": args.batch_size,
            "predictor": "GBDTRegressor(n_members=5, n_estimators=200) on stats+WL features",
            "protocol": "oracle = bundled NB201 validation accuracy; a run stops once the global optimum is "
            "evaluated (best-so-far is then constant)",
            "seconds": round(total, 1),
        },
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "published": PUBLISHED,
        "optimum": optimum,
        "target": target,
        "summary": summary,
        "runs": runs,
    }
    _common.write_results(args.out, result, markdown, plot)
    partial.unlink(missing_ok=True)
    print(f"done in {total:.0f} s; target: {target}")
    return 0


def _known() -> list[str]:
    from archscore.search import STRATEGIES as KNOWN

    return list(KNOWN)


if __name__ == "__main__":
    raise SystemExit(main())
