"""Graph cache: building the ArchGraphs of every bundled benchmark architecture from scratch, and loading them warm.

Issue targets: building the cache for everything bundled, from scratch, in under 5 minutes on 2
cores; loading a warm cache of all NAS-Bench-201 graphs in under 2 seconds.

What is timed (``time.perf_counter``):

* ``build``  ``GraphCache(empty folder, workers).build(bundled_sets())``, what ``archscore data
  cache build`` runs: every distinct cell of every space in the bundled tables (labelled and
  unlabeled, NAS-Bench-Suite-Zero rows included), per (space, dataset) its labels were measured
  on, built with ``onnx.helper``, read and canonicalised by one pool of worker processes, stored
  one shard per set. One pass (it is minutes long). The sets are built in order; a set's
  ``build_seconds`` is the time from the previous set's shard to its own.
* ``warm``   a fresh ``GraphCache`` on the same folder returning all graphs of one (space,
  dataset), repeated; the median is reported (the first read includes the file's page-in).

With ``--stages N`` it instead times, in one process (``time.process_time``, cyclic GC paused as in
the build's workers), N cells of every set through the three stages of a build, as
``SearchSpace.to_graph`` runs them: the network (the ``onnx.helper`` builder's record), reading it
on the parser's trusted path (``Network.raw_graph``: constants, parameters, ONNX shape inference
node by node) and the canonical form; and projects each stage onto the whole set at ``--workers``
processes. It answers how far the build could get if a stage cost nothing; it leaves out what the
build adds around ``to_graph`` (sending graphs to the parent, storing the shards).

Run: ``python benchmarks/graph_cache.py`` (``--help``); results go to
``benchmarks/results/graph_cache.json`` (``graph_cache_stages.json`` with ``--stages``).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common

from archscore.data.cache import GraphCache, bundled_sets, graph_version
from archscore.graph.canonical import canonicalize
from archscore.spaces import SPACES, get

RESULTS = Path(__file__).resolve().parent / "results" / "graph_cache.json"
STAGES = ("network", "read", "canonical")
BUILD_TARGET_S = 300.0
WARM_TARGET_S = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="build processes (default 2)")
    parser.add_argument("--limit", type=int, default=None, help="cells per space (default: all; for a quick run)")
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--stages", type=int, default=0, metavar="N", help="time the stages on N cells per set instead")
    parser.add_argument("--out", type=Path, default=None, help="result file (default: benchmarks/results/…)")
    args = parser.parse_args(argv)
    command = "python benchmarks/graph_cache.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.stages:
        return stages(args, command)
    args.out = args.out or RESULTS

    everything = bundled_sets()
    if args.limit:
        everything = {key: cells[: args.limit] for key, cells in everything.items()}
    finished: dict[tuple[str, str], float] = {}
    sets = []
    with tempfile.TemporaryDirectory(prefix="archscore-cache-bench-") as folder:
        cache = GraphCache(folder, workers=args.workers)
        t0 = time.perf_counter()

        def progress(space: str, dataset: str, done: int, missing: int) -> None:
            if done == missing:
                finished[space, dataset] = time.perf_counter() - t0
                print(f"{space}/{dataset}: {missing:,} graphs stored at {finished[space, dataset]:.1f} s", flush=True)

        built = cache.build(everything, progress=progress)
        total_s = time.perf_counter() - t0
        assert built == sum(len(cells) for cells in everything.values())
        previous = 0.0
        for (name, dataset), cells in everything.items():
            warm = []
            for _ in range(args.warm_repeats):
                t1 = time.perf_counter()
                graphs = GraphCache(folder).graphs(name, cells, dataset)
                warm.append(time.perf_counter() - t1)
            seconds = finished[name, dataset] - previous  # the sets are built in order, one pool for all
            previous = finished[name, dataset]
            row = {
                "space": name,
                "dataset": dataset,
                "graphs": len(graphs),
                "stored_at_s": round(finished[name, dataset], 3),
                "build_seconds": round(seconds, 3),
                "build_ms_per_graph_wall": round(seconds / len(graphs) * 1000, 3),
                "warm_seconds_median": round(statistics.median(warm), 4),
                "warm_seconds_min_max": [round(min(warm), 4), round(max(warm), 4)],
                "file_mb": round(cache.path(name, dataset).stat().st_size / 1e6, 2),
                "mean_nodes": round(sum(len(g) for g in graphs) / len(graphs), 1),
            }
            sets.append(row)
            print(
                f"{name}/{dataset}: {len(graphs):,} graphs in {seconds:.1f} s ({row['build_ms_per_graph_wall']} ms "
                f"each), warm load {row['warm_seconds_median']:.3f} s, {row['file_mb']} MB",
                flush=True,
            )
        total_graphs = sum(r["graphs"] for r in sets)
    nb201_warm = max((r["warm_seconds_median"] for r in sets if r["space"] == "nb201"), default=None)
    result = {
        "settings": {
            "workers": args.workers,
            "limit": args.limit,
            "warm_repeats": args.warm_repeats,
            "graph_version": graph_version(),
            "command": command,
            "spaces_built": list(SPACES),
            "sets": "every distinct cell of the bundled tables per (space, dataset) its labels were measured on "
            "(see bundled_sets)",
        },
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "sets": sets,
        "total": {"graphs": total_graphs, "build_seconds": round(total_s, 1)},
        "targets": {
            "build_everything_under_s": BUILD_TARGET_S,
            "build_met": total_s <= BUILD_TARGET_S,
            "warm_nb201_under_s": WARM_TARGET_S,
            "warm_met": nb201_warm is not None and nb201_warm <= WARM_TARGET_S,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"total: {total_graphs:,} graphs in {total_s:.1f} s; targets: {result['targets']}")
    return 0


def stages(args: argparse.Namespace, command: str) -> int:
    """CPU time per graph of each build stage, and each stage projected onto every set."""
    rows = []
    projected = dict.fromkeys(STAGES, 0.0)
    for (name, dataset), cells in bundled_sets().items():
        space = get(name)
        sample = cells[:: max(1, len(cells) // args.stages)][: args.stages]
        spent = dict.fromkeys(STAGES, 0.0)
        gc.disable()
        for cell in sample:  # the steps of SearchSpace.to_graph (Network.graph), one by one
            t0 = time.process_time()
            network = space.network(cell, dataset)
            t1 = time.process_time()
            raw = network.raw_graph(space.data_inputs(cell))
            t2 = time.process_time()
            canonicalize(raw)
            t3 = time.process_time()
            for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2)):
                spent[stage] += seconds
        gc.enable()
        ms = {stage: round(spent[stage] / len(sample) * 1000, 3) for stage in STAGES}
        for stage in STAGES:
            projected[stage] += ms[stage] / 1000 * len(cells) / args.workers
        rows.append({"space": name, "dataset": dataset, "graphs": len(cells), "cells_timed": len(sample), "cpu_ms": ms})
        print(f"{name}/{dataset}: " + ", ".join(f"{k} {v} ms" for k, v in ms.items()), flush=True)
    result = {
        "settings": {
            "stages_cells_per_set": args.stages,
            "workers_projected": args.workers,
            "command": command,
        },
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "sets": rows,
        "projected_seconds": {stage: round(v, 1) for stage, v in projected.items()},
        "projected_total_seconds": round(sum(projected.values()), 1),
    }
    out = args.out or RESULTS.with_name("graph_cache_stages.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"projected onto every set at {args.workers} processes: {result['projected_seconds']} "
          f"(total {result['projected_total_seconds']} s; target {BUILD_TARGET_S:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
