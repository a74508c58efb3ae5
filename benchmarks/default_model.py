"""Build the default model shipped with archscore, and measure it.

Runs the tracked training pipeline on the shipped configuration (``archscore/models/default.toml``:
every labelled accuracy table of the bundled data, ``stats+z`` encoder, GBDT ensemble on
within-task percentiles, the zero-shot configuration that won the encoder benchmark) against a
throw-away SQLite store, exports the model and its card to ``archscore/models/default/``, and
writes the figures: the fixed evaluation split per task, the leave-one-space-out (zero-shot)
protocol, training time, model size, and scoring speed of the shipped model.

Run: ``python benchmarks/default_model.py`` (``--quick`` for the reduced CI version: two tasks, no
export); results go to ``benchmarks/results/default_model.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common

from archscore.data.tasks import load_task
from archscore.models import DEFAULT_CONFIG, DEFAULT_MODEL, ScoringModel
from archscore.training.card import loso_rows
from archscore.training.config import TrainConfig
from archscore.training.pipeline import train

RESULTS = Path(__file__).resolve().parent / "results"


def scoring_speed(model: ScoringModel, n: int = 2000) -> dict[str, float]:
    """Architectures scored per second by the model alone (graphs already parsed), single and batched."""
    rows, _ = load_task(next(t for t in TrainConfig().task_list() if t.name == "nb201/cifar10"), 0.2, 1, 10)
    graphs = rows.graphs[:n]
    t0 = time.perf_counter()
    model.predict(graphs, return_std=True)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for g in graphs[:200]:
        model.predict([g], return_std=True)
    single = (time.perf_counter() - t0) / 200
    return {"batch_of": len(graphs), "per_second_batched": len(graphs) / batched, "ms_per_single_call": 1e3 * single}


def markdown(result: dict) -> str:
    cols = ("kendall_tau", "spearman_rho", "precision_at_top5", "coverage90")
    lines = [
        f"Default model (`{result['config']['encoder']}` × `{result['config']['predictor']}`, "
        f"{result['n_train']:,} training rows, {result['size_mb']:.1f} MB, trained in {result['train_seconds']:.0f} s)",
        "",
        "| task | fixed split τ | ρ | P@top-5 % | 90 % coverage | zero-shot τ (space held out) | ρ |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, ms in result["evaluation"].items():
        z = result["leave_one_space_out"].get(task, {})
        row = [f"{ms[c]:.3f}" for c in cols] + [f"{z.get(c, float('nan')):.3f}" for c in cols[:2]]
        lines.append(f"| {task} | " + " | ".join(row) + " |")
    m, z = result["mean"], result["loso_mean"]
    means = [m[f"mean_{c}"] for c in cols] + [z.get(f"mean_{c}", float("nan")) for c in cols[:2]]
    lines.append("| **mean** | " + " | ".join(f"{v:.3f}" for v in means) + " |")
    if result.get("real_networks"):
        lines += [
            "",
            "Real-network heads (top-1 %), held out by design family inside the zoo (the calibration folds):",
            "",
            "| zoo dataset | networks | Kendall τ | Spearman ρ | MAE (points) | 90 % coverage |",
            "|---|---|---|---|---|---|",
        ]
        for ds, ms in result["real_networks"].items():
            lines.append(f"| {ds} | {result['real_network_rows'][ds]} | {ms['kendall_tau']:.3f} | "
                         f"{ms['spearman_rho']:.3f} | {ms['mae']:.2f} | {ms['coverage90']:.3f} |")  # fmt: skip
    s = result["scoring"]
    lines += [
        "",
        f"Scoring (graphs already parsed): {s['per_second_batched']:,.0f} architectures/s in a batch of "
        f"{s['batch_of']}, {s['ms_per_single_call']:.2f} ms for a single architecture.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two small tasks, no export (the CI version)")
    parser.add_argument("--out", type=Path, default=RESULTS / "default_model.json")
    parser.add_argument("--export", type=Path, default=DEFAULT_MODEL, help="where the model and its card go")
    args = parser.parse_args(argv)

    config = TrainConfig.read(DEFAULT_CONFIG)
    if args.quick:
        tasks = [t for t in TrainConfig(max_rows=60).task_list() if t.name in ("nb201/cifar10", "nb101/cifar10")]
        config = TrainConfig.from_dict({**config.to_dict(), "tasks": [t.to_dict() for t in tasks], "eval_rows": 60,
                                        "real_networks": ["cifar10"]})  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="archscore-default-") as tmp:
        export = Path(tmp) / "model" if args.quick else args.export
        t0 = time.perf_counter()
        result = train(config, tracking_uri=f"sqlite:///{tmp}/mlflow.db", export=export, say=print)
        seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in export.iterdir())
        model = ScoringModel.load(export)
    scores = result.metrics
    out = {
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "config": config.to_dict(),
        "train_seconds": seconds,
        "fit_seconds": scores["fit_seconds"],
        "n_train": model.n_train_,
        "size_mb": size / 1e6,
        "evaluation": model.metadata["evaluation"],
        "mean": {k: v for k, v in scores.items() if k.startswith("mean_")},
        "leave_one_space_out": loso_rows(scores),
        "loso_mean": {k[len("loso/") :]: v for k, v in scores.items() if k.startswith("loso/mean_")},
        "real_networks": {
            ds: {k.rsplit("/", 1)[1]: v for k, v in scores.items() if k.startswith(f"zoo/{ds}/")}
            for ds in getattr(model, "heads_", {})
        },
        "real_network_rows": {ds: len(h.y_sorted_) for ds, h in getattr(model, "heads_", {}).items()},
        "scoring": scoring_speed(model),
    }
    _common.write_results(args.out, out, markdown, lambda result, path: None)
    print(markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
