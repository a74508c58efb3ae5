"""Text encoder: which text all-MiniLM-L6-v2 should read of an ArchGraph, what it knows, and what it costs.

The lossless text of a full NB201 network is ~5,500 tokens and the model reads 256. Per
``TextEncoder`` strategy (``summary``: :func:`archscore.encoders.text.describe`; ``chunks``: the
lossless text in window-sized chunks, embeddings averaged; ``truncate``: its first 254 tokens):

* ``graphs_per_s``  ``TextEncoder(strategy, n_jobs=-1).transform(graphs)`` on this machine with a
  cold embedding cache, wall time (``time.perf_counter``), model load excluded; each strategy runs
  in a fresh process, one after the other.
* ``tokens_mean`` / ``tokens_max`` of the text each strategy starts from (``describe()`` or the
  lossless text, ``[CLS]``/``[SEP]`` included) and ``truncated_share``: the share of graphs whose
  text lost a part: descriptions cut at ``max_chars`` (summary), texts longer than the window
  (truncate) or than ``max_chunks`` windows (chunks).
* ``kendall_tau``  a ``RidgeCV`` fitted on 200 random labelled embeddings, tested on all the other
  sampled graphs; mean and std over 5 random splits. ``kendall_tau_gbdt``: ``GBDTRegressor`` on
  the first split only (it takes ~10 s per fit on 384 features).
* ``duplicate_share``  1 − distinct embeddings / distinct architectures (distinct lossless texts):
  architectures the encoding cannot tell apart.
* ``peak_rss_mb``  ``resource.getrusage`` peak resident memory of the process that ran the strategy.

NB201-CIFAR-10 (``cifar10_val_acc``): ``--n`` random cells (seed 0) for ``summary`` and
``truncate``; ``chunks`` costs ``max_chunks`` forward passes per graph, so it runs on the first
``--n-chunks`` of them, and all three are also compared on that subset with the same splits. On
the summary's process: re-encoding the same graphs through the in-memory cache and, from a fresh
encoder, through the on-disk cache; and the fine-tuned head (``finetune_epochs``) trained on each
split's 200 labels, its features scored by the same ridge. TransNAS-Bench-101 macro
(``class_scene``): ``summary`` and ``truncate`` on ``--n-macro`` cells. Token counts of the other
bundled spaces come from the tokenizer alone.

Run: ``python benchmarks/text_encoder.py`` (``--help``); results go to
``benchmarks/results/text_encoder.json``. Set ``ARCHSCORE_CACHE_DIR`` to a warm graph cache.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _common
import numpy as np

from archscore.encoders.text import WINDOW

RESULTS = Path(__file__).resolve().parent / "results" / "text_encoder.json"
TRAIN = 200
SPLITS = 5
FINETUNE = {"finetune_epochs": 100, "head_dim": 64}


def sample(source: str, target: str, n: int, seed: int = 0) -> tuple[list, np.ndarray]:
    """``n`` random graphs of a bundled table with their target (rows without one left out)."""
    from archscore import data

    table = data.load(source, target=target)
    graphs = table.graphs()
    rows = np.flatnonzero(np.isfinite(table.y))
    rows = np.random.default_rng(seed).choice(rows, min(n, rows.size), replace=False)
    return [graphs[i] for i in rows], table.y[rows]


def token_stats(texts: list[str], room: int = WINDOW) -> dict[str, float]:
    """Tokens per text (special tokens included) and the share of texts longer than ``room`` tokens."""
    from archscore.encoders.text import default_model_path, load_model

    tokenizer, _ = load_model(str(default_model_path()))
    counts = np.array(  # 100 at a time: the token ids of thousands of lossless texts take gigabytes
        [
            len(ids)
            for k in range(0, len(texts), 100)
            for ids in tokenizer(texts[k : k + 100], verbose=False)["input_ids"]
        ]
    )
    return {
        "tokens_mean": round(float(counts.mean()), 1),
        "tokens_max": int(counts.max()),
        "truncated_share": round(float((counts > room).mean()), 4),
    }


def cut_share(descriptions: list[str]) -> float:
    """The share of :func:`describe` outputs cut at ``max_chars`` (they end in ``…``)."""
    return round(float(np.mean([d.endswith("…") for d in descriptions])), 4)


def run_strategy(strategy: str, source: str, target: str, n: int, max_chunks: int, extras: bool) -> dict:
    """One strategy in this (fresh) process: embeddings, speed, token counts, peak memory; with
    ``extras`` also the caches and the fine-tuned head (needs the on-disk cache of this run)."""
    from archscore.encoders.text import TextEncoder

    graphs, y = sample(source, target, n)
    texts = [g.to_text() for g in graphs]
    encoder = TextEncoder(strategy=strategy, max_chunks=max_chunks, n_jobs=-1)
    out: dict = {"strategy": strategy, "graphs": len(graphs)}
    if strategy == "summary":
        described = encoder.texts(graphs)
        out.update(token_stats(described), truncated_share=cut_share(described))
    else:
        room = WINDOW if strategy == "truncate" else (WINDOW - 2) * max_chunks + 2
        out.update(token_stats(texts, room))
    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["ARCHSCORE_CACHE_DIR"] = cache_dir  # the graphs are loaded: only embeddings go here
        encoder.set_params(disk_cache=extras).fit(graphs[:1])
        t0 = time.perf_counter()
        X = encoder.transform(graphs)
        out["seconds"] = round(time.perf_counter() - t0, 2)
        out["graphs_per_s"] = round(len(graphs) / out["seconds"], 2)
        if extras:
            t0 = time.perf_counter()
            again = encoder.transform(graphs)
            out["memory_cache_graphs_per_s"] = round(len(graphs) / (time.perf_counter() - t0), 1)
            t0 = time.perf_counter()
            fresh = TextEncoder(strategy=strategy, disk_cache=True).fit(graphs[:1]).transform(graphs)
            out["disk_cache_graphs_per_s"] = round(len(graphs) / (time.perf_counter() - t0), 1)
            assert np.array_equal(again, X) and np.array_equal(fresh, X), "a cache changed an embedding"
            heads = []
            for train, _ in splits(len(graphs)):
                tuned = TextEncoder(strategy=strategy, disk_cache=True, random_state=0, **FINETUNE)
                heads.append(tuned.fit([graphs[i] for i in train], y[train]).transform(graphs))
            out["_heads"] = heads
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["_X"], out["_y"], out["_texts"] = X, y, texts
    return out


def splits(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``SPLITS`` random (train, test) splits with ``TRAIN`` training rows (seeds 0…)."""
    out = []
    for seed in range(SPLITS):
        order = np.random.default_rng(seed).permutation(n)
        out.append((order[:TRAIN], order[TRAIN:]))
    return out


def ridge_tau(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Kendall τ on ``test`` of a RidgeCV fitted on ``train``."""
    from scipy.stats import kendalltau
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=np.logspace(-4, 3, 15)).fit(X[train], y[train])
    return float(kendalltau(model.predict(X[test]), y[test])[0])


def mean_std(values: list[float]) -> list[float]:
    return [round(float(np.mean(values)), 4), round(float(np.std(values)), 4)]


def kendall(X: np.ndarray, y: np.ndarray, gbdt: bool = False) -> dict[str, object]:
    """Held-out Kendall τ of a RidgeCV over the splits (and of a GBDT on the first split)."""
    from scipy.stats import kendalltau

    taus = [ridge_tau(X, y, train, test) for train, test in splits(len(y))]
    out: dict[str, object] = {"kendall_tau": mean_std(taus)}
    if gbdt:
        from archscore.predictors import GBDTRegressor

        train, test = splits(len(y))[0]
        model = GBDTRegressor(random_state=0).fit(X[train], y[train])
        out["kendall_tau_gbdt_split0"] = round(float(kendalltau(model.predict(X[test]), y[test])[0]), 4)
    return out


def duplicates(X: np.ndarray, texts: list[str]) -> dict[str, object]:
    architectures = len(set(texts))
    embeddings = len(np.unique(X, axis=0))
    return {
        "distinct_architectures": architectures,
        "distinct_embeddings": embeddings,
        "duplicate_share": round(1 - embeddings / architectures, 4),
    }


def other_spaces(n: int) -> dict[str, dict]:
    """Tokens of the summary and of the lossless text on other bundled spaces (tokenizer only)."""
    from archscore import data
    from archscore.encoders.text import describe

    out = {}
    for source in ("tnb101_micro", "nb101_pool", "nb301_pool"):
        graphs = data.load(source).graphs()
        rows = np.random.default_rng(0).choice(len(graphs), min(n, len(graphs)), replace=False)
        chosen = [graphs[i] for i in rows]
        summaries = [describe(g) for g in chosen]
        lossless = [g.to_text() for g in chosen]
        out[source] = {
            "graphs": len(chosen),
            "distinct_architectures": len(set(lossless)),
            "summary": {
                **token_stats(summaries),
                "truncated_share": cut_share(summaries),
                "distinct_descriptions": len(set(summaries)),
            },
            "lossless": token_stats(lossless),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="NB201 cells for summary and truncate")
    parser.add_argument("--n-chunks", type=int, default=400, help="NB201 cells for chunks (a prefix of the --n)")
    parser.add_argument("--max-chunks", type=int, default=8)
    parser.add_argument("--n-macro", type=int, default=400, help="TransNAS-Bench-101 macro cells")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    t_start = time.perf_counter()

    jobs = [
        ("nb201", "summary", "nb201", "cifar10_val_acc", args.n, True),
        ("nb201", "truncate", "nb201", "cifar10_val_acc", args.n, False),
        ("nb201", "chunks", "nb201", "cifar10_val_acc", args.n_chunks, False),
        ("tnb101_macro", "summary", "tnb101_macro", "class_scene", args.n_macro, False),
        ("tnb101_macro", "truncate", "tnb101_macro", "class_scene", args.n_macro, False),
    ]
    runs: dict[tuple[str, str], dict] = {}
    for name, strategy, source, target, n, extras in jobs:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs[name, strategy] = pool.submit(
                run_strategy, strategy, source, target, n, args.max_chunks, extras
            ).result()
        print(f"{name}/{strategy}: {runs[name, strategy]['graphs_per_s']} graphs/s", flush=True)

    results: dict[str, dict] = {"nb201_cifar10": {}, "nb201_cifar10_chunks_subset": {}, "tnb101_macro_class_scene": {}}
    subset = args.n_chunks
    for (name, strategy), run in runs.items():
        X, y, texts = run.pop("_X"), run.pop("_y"), run.pop("_texts")
        heads = run.pop("_heads", None)
        table = "tnb101_macro_class_scene" if name == "tnb101_macro" else "nb201_cifar10"
        if strategy == "chunks":
            table = "nb201_cifar10_chunks_subset"
        row = {**run, **kendall(X, y, gbdt=table == "nb201_cifar10"), **duplicates(X, texts)}
        if strategy == "chunks":
            row["max_chunks"] = args.max_chunks
        if heads is not None:
            tuned = [ridge_tau(H, y, train, test) for H, (train, test) in zip(heads, splits(len(y)))]
            row["finetuned_head"] = {**FINETUNE, "kendall_tau": mean_std(tuned)}
        results[table][strategy] = row
        if name == "nb201" and strategy != "chunks":  # the same graphs as chunks' (a prefix of the sample)
            results["nb201_cifar10_chunks_subset"][strategy] = {
                "graphs": subset,
                **kendall(X[:subset], y[:subset]),
                **duplicates(X[:subset], texts[:subset]),
            }

    result = {
        "settings": {
            "command": "python benchmarks/text_encoder.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "train_labels": TRAIN,
            "splits": SPLITS,
            "n": args.n,
            "n_chunks": args.n_chunks,
            "max_chunks": args.max_chunks,
            "n_macro": args.n_macro,
            "seconds": None,
        },
        "machine": _common.machine_info(),
        "versions": {**_common.versions(), **text_versions()},
        "results": results,
        "other_spaces_tokens": other_spaces(300),
    }
    result["settings"]["seconds"] = round(time.perf_counter() - t_start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["results"], indent=1))
    print(f"done in {result['settings']['seconds']} s")
    return 0


def text_versions() -> dict[str, str]:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


if __name__ == "__main__":
    raise SystemExit(main())
