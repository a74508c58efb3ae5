"""The model card written beside an exported model: what it learned from, how well it did, where it fails."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archscore.models.scoring import ScoringModel
    from archscore.training.config import TrainConfig


def _table(rows: dict[str, dict[str, float]], columns: tuple[str, ...]) -> list[str]:
    lines = ["| task | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for task, ms in rows.items():
        lines.append(f"| {task} | " + " | ".join(f"{ms.get(c, float('nan')):.3f}" for c in columns) + " |")
    return lines


def loso_rows(scores: dict[str, float]) -> dict[str, dict[str, float]]:
    """The leave-one-space-out metrics of a training run's scores (``loso/<task>/<metric>``), per task."""
    out: dict[str, dict[str, float]] = {}
    for k, v in scores.items():
        rest = k[len("loso/") :]
        if k.startswith("loso/") and not rest.startswith("mean_"):
            task, metric = rest.rsplit("/", 1)
            out.setdefault(task, {})[metric] = v
    return out


def model_card(model: ScoringModel, config: TrainConfig, scores: dict[str, float]) -> str:
    """Markdown: intended use, data, configuration, evaluation (fixed split and zero-shot), limits."""
    md = model.metadata
    held = md.get("evaluation", {})
    loso = loso_rows(scores)
    cols = ("kendall_tau", "spearman_rho", "precision_at_top5", "mae", "coverage90")
    lines = [
        f"# Model card: {config.name} ({model.target})",
        "",
        "## Intended use",
        "Zero-shot ranking of neural architectures by expected accuracy *within their own search space or",
        "candidate set*: the prediction is a percentile (0 = worst, 1 = best of a comparable population), with",
        "a std. Use it to pre-screen candidates before training them, or as the prior of a search loop;",
        "retrain it with your own measurements (`archscore retrain --labels FILE`) for your space and task.",
        "Real networks with an ImageNet-1K or CIFAR interface get their top-1 accuracy in % instead (below);",
        "not a predictor of latency.",
        "",
        "## Model",
        f"- encoder `{model.encoder}` (free statistics of the ArchGraph, and the same standardised against the",
        f"  nearest reference population), predictor `{model.predictor}` {model.predictor_params}, seed {model.seed}",
        f"- {model.n_train_} training rows; {len(model.population_names_)} reference populations; "
        f"out-of-distribution threshold {model.ood_threshold_:.2f} (RMS z-score to the nearest population)",
        f"- archscore {md.get('archscore.version', '?')}, bundled data {md.get('archscore.data_version', '?')}, "
        f"LightGBM {md.get('lightgbm.version', '?')}, scikit-learn {md.get('sklearn.version', '?')}",
        f"- MLflow run `{md.get('run_id', '?')}`",
        "",
        "## Data",
        "Training part of every task below (the bundled benchmark tables; at most "
        f"{config.max_rows} rows per task, {config.nbgraph_rows} per NAS-Bench-Graph dataset, seed {config.seed}):",
        "",
        ", ".join(f"`{t}`" for t in md.get("trained_on", [])),
        "",
        f"Evaluation: a fixed split by a hash of (task, architecture), {config.eval_fraction:.0%} of each task, "
        f"at most "
        f"{config.eval_rows} rows; never trained on.",
        "",
        "## Evaluation on the fixed split (in-distribution: every space seen in training)",
        "",
        *_table(held, cols),
        "",
        "Averages: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if k.startswith("mean_")),
    ]
    if loso:
        lines += [
            "",
            "## Zero-shot (leave one space out: refit without the space, its evaluation rows ranked as a batch)",
            "",
            *_table(loso, cols),
            "",
            "Averages: " + ", ".join(f"{k[5:]} {v:.3f}" for k, v in scores.items() if k.startswith("loso/mean_")),
        ]
    heads = getattr(model, "heads_", {})
    if heads:
        zoo = {f"zoo/{ds}": {k.rsplit("/", 1)[1]: v for k, v in scores.items() if k.startswith(f"zoo/{ds}/")}
               for ds in heads}  # fmt: skip
        lines += [
            "",
            "## Real networks (top-1 % of ImageNet-1K / CIFAR classifiers)",
            "",
            "A network whose interface is an ImageNet-1K classifier (3 × ≥96 px in, 1000 classes out), or a CIFAR",
            "one (32 px, 10/100 classes) far from every NAS population, is answered in top-1 % by a head trained on",
            "the bundled zoo of real networks ("
            + ", ".join(f"{ds}: {len(h.y_sorted_)} networks" for ds, h in heads.items())
            + "). Held out by design family inside",
            "the training rows (grouped cross-validation, the calibration of the interval):",
            "",
            *_table(zoo, ("kendall_tau", "spearman_rho", "mae", "coverage90")),
            "",
            "The leave-one-family-out protocol with its baselines is `benchmarks/zoo.py` (results beside it).",
        ]
    lines += [
        "",
        "## Limits",
        "- Targets are ranks within a task: scores of architectures from different spaces or datasets are not",
        "  comparable as accuracies; rank candidates of one setting against each other.",
        "- An architecture unlike every training population (flagged `ood`) gets a prediction from the nearest",
        "  population's scale; treat it as a weak prior.",
        "- Zero-shot quality varies by space (see the table above and `benchmarks/results/zero_shot.md`): strong on",
        "  NB201/NB101-like cell spaces, weak on TransNAS macro and several NAS-Bench-Graph datasets.",
        "- Accuracy only; latency needs measurements on the target device (see the few-shot latency benchmark).",
        "- Real-network accuracies are those their libraries' recipes reached; a network trained with a much",
        "  stronger or weaker recipe than its design family's will be off by that much. A real network flagged",
        "  `ood` is unlike every zoo network: measure a few of its kind and retrain.",
    ]
    return "\n".join(lines) + "\n"
