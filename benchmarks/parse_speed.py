"""Parse speed: archscore's ONNX → ArchGraph (+ text, stats) next to bare ONNX load + shape inference.

Issue requirement: graphs parsed + canonicalised + described per second, on NAS-Bench-201-sized
networks and on a ResNet-50-sized one, on 2 cores, next to the time of ``onnx.load`` + shape
inference alone on the same files. Target: the whole of our parse costs at most 2× that floor.

What is timed, per ONNX file on disk (``time.perf_counter``, single process, after a warm-up pass;
each repeat runs every method on every file, in a seeded random order per file):

* ``onnx_load``       ``onnx.load(path)`` alone (information: the cost of reading the file).
* ``floor``           ``onnx.load(path)`` + ``onnx.shape_inference.infer_shapes(model)`` with the
                      default flags (``check_type=False, strict_mode=False, data_prop=False``).
* ``floor_data_prop`` the same with ``data_prop=True`` (for reference; archscore runs ONNX inference
  with ``data_prop=False`` and resolves shape arithmetic itself, see ``archscore.graph.parse``).
* ``from_onnx``       ``archscore.graph.from_onnx(path)``: parse + canonicalise.
* ``ours``            ``from_onnx(path)`` then ``.to_text()`` and ``.stats()``: the whole of our parse.

A set's time per graph is the median over repeats of (sum over the set's files) / (number of
files). The target is checked against the faster of the two floors. Results go to
``benchmarks/results/parse_speed.json`` and ``benchmarks/results/parse_speed.png``; the ONNX
files are written to a temporary directory (or ``--cache-dir``) and never committed.

Run: ``python benchmarks/parse_speed.py`` (``--help`` for options) after
``pip install -c constraints.txt -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import _common
import numpy as np
import onnx
import torch
from onnx import shape_inference
from torch import nn

from archscore.graph import ArchGraph, from_onnx
from archscore.graph.canonical import canonicalize
from archscore.graph.parse import read_graph
from archscore.spaces.nb201 import EDGES as NB201_EDGES
from archscore.spaces.nb201 import OPS as NB201_OPS
from archscore.spaces.nb201 import arch_string
from archscore.spaces.nb201_torch import NB201Network
from archscore.testing import zoo

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TARGET_RATIO = 2.0
METHODS = ("onnx_load", "floor", "floor_data_prop", "from_onnx", "ours")
LABELS = {
    "onnx_load": "onnx.load\nalone",
    "floor": "floor\nload+infer",
    "floor_data_prop": "floor\n(data_prop)",
    "from_onnx": "from_onnx\nalone",
    "ours": "ours: from_onnx\n+text+stats",
}


# --------------------------------------------------------------------------------------------
# NAS-Bench-201 cells; the network is archscore.spaces.nb201_torch's reference module
# --------------------------------------------------------------------------------------------
def sample_cells(n: int, seed: int) -> list[tuple[str, ...]]:
    """``n`` distinct random NB201 cells (of the 5⁶ = 15,625), seeded."""
    rng = random.Random(seed)
    seen: dict[tuple[str, ...], None] = {}
    while len(seen) < min(n, len(NB201_OPS) ** 6):
        seen.setdefault(tuple(rng.choice(NB201_OPS) for _ in NB201_EDGES))
    return list(seen)


def _trained_like(module: nn.Module, seed: int) -> nn.Module:
    """Random weights and BatchNorm statistics like a trained network (``zoo.trained_like``)."""
    torch.manual_seed(seed)
    return zoo.trained_like(module).eval()


# --------------------------------------------------------------------------------------------
# building the ONNX files
# --------------------------------------------------------------------------------------------
def _write(path: Path, build: Callable[[], bytes], rebuild: bool) -> Path:
    if rebuild or not path.is_file():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(build())
        tmp.replace(path)
    return path


def build_files(folder: Path, cells: int, seed: int, rebuild: bool) -> dict[str, list[tuple[str, Path]]]:
    """Export the NB201 sample and the zoo's ResNet-50 (legacy exporter, weights embedded)."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = f"torch{torch.__version__.split('+')[0]}"
    sets: dict[str, list[tuple[str, Path]]] = {"nb201": [], "resnet50": []}
    t0 = time.perf_counter()
    for k, ops in enumerate(sample_cells(cells, seed)):
        name = arch_string(ops)
        path = folder / f"nb201_{tag}_{'-'.join(str(NB201_OPS.index(o)) for o in ops)}.onnx"

        def export_nb201(ops: tuple[str, ...] = ops, k: int = k) -> bytes:
            return zoo.export(_trained_like(NB201Network(ops), seed + k), torch.randn(1, 3, 32, 32), "legacy")

        sets["nb201"].append((name, _write(path, export_nb201, rebuild)))
    print(f"  NB201: {len(sets['nb201'])} files ready ({time.perf_counter() - t0:.1f} s)", flush=True)
    t0 = time.perf_counter()

    def export_resnet50() -> bytes:
        module, x = zoo.build("resnet50")
        return zoo.export(module, x, "legacy")

    sets["resnet50"].append(("resnet50", _write(folder / f"resnet50_{tag}.onnx", export_resnet50, rebuild)))
    print(f"  ResNet-50: file ready ({time.perf_counter() - t0:.1f} s)", flush=True)
    return sets


# --------------------------------------------------------------------------------------------
# the measured operations; each returns {segment: seconds}
# --------------------------------------------------------------------------------------------
def run_onnx_load(path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    onnx.load(str(path))
    return {"onnx_load": time.perf_counter() - t0}


def _run_floor(path: Path, data_prop: bool) -> dict[str, float]:
    t0 = time.perf_counter()
    model = onnx.load(str(path))
    t1 = time.perf_counter()
    shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=data_prop)
    t2 = time.perf_counter()
    return {"load": t1 - t0, "infer": t2 - t1, "total": t2 - t0}


def run_floor(path: Path) -> dict[str, float]:
    return _run_floor(path, data_prop=False)


def run_floor_data_prop(path: Path) -> dict[str, float]:
    return _run_floor(path, data_prop=True)


def run_from_onnx(path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    from_onnx(path)
    return {"total": time.perf_counter() - t0}


def run_ours(path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    g = from_onnx(path)
    t1 = time.perf_counter()
    g.to_text()
    t2 = time.perf_counter()
    g.stats()
    t3 = time.perf_counter()
    return {"from_onnx": t1 - t0, "to_text": t2 - t1, "stats": t3 - t2, "total": t3 - t0}


def run_breakdown(path: Path) -> dict[str, float]:
    """``from_onnx`` split into its two stages (``from_onnx`` is exactly read_graph + canonicalize)."""
    t0 = time.perf_counter()
    raw = read_graph(path)
    t1 = time.perf_counter()
    canonicalize(raw)
    t2 = time.perf_counter()
    return {"read_graph": t1 - t0, "canonicalize": t2 - t1}


RUNS: dict[str, Callable[[Path], dict[str, float]]] = {
    "onnx_load": run_onnx_load,
    "floor": run_floor,
    "floor_data_prop": run_floor_data_prop,
    "from_onnx": run_from_onnx,
    "ours": run_ours,
    "breakdown": run_breakdown,
}


def measure(paths: Sequence[Path], repeats: int, warmup: int) -> dict[str, list[dict[str, float]]]:
    """Per method, one dict per repeat of per-segment milliseconds per graph (mean over files).

    Methods are interleaved file by file (every method runs on a file before the next file), in a
    fresh random order each time (seeded), so slow drift of the machine's speed and the heap state
    one method leaves to the next hit all methods alike.
    """
    names = list(RUNS)
    rng = random.Random(1234)
    for _ in range(warmup):
        for p in paths:
            for name in names:
                RUNS[name](p)
    per_repeat: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(repeats):
        gc.collect()
        sums: dict[str, dict[str, float]] = {name: {} for name in names}
        for p in paths:
            rng.shuffle(names)
            for name in names:
                for seg, sec in RUNS[name](p).items():
                    sums[name][seg] = sums[name].get(seg, 0.0) + sec
        for name in names:
            per_repeat[name].append({seg: 1000.0 * sec / len(paths) for seg, sec in sums[name].items()})
    return per_repeat


def paired_ratios(per_repeat: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Ratios of methods measured in the same repeat: median, min and max over repeats."""
    floor = [rep["total"] for rep in per_repeat["floor"]]
    floor_dp = [rep["total"] for rep in per_repeat["floor_data_prop"]]
    ours = [rep["total"] for rep in per_repeat["ours"]]
    pairs = {
        "ours/floor": [o / f for o, f in zip(ours, floor)],
        "ours/floor_data_prop": [o / f for o, f in zip(ours, floor_dp)],
        "ours/faster_floor": [o / min(f, d) for o, f, d in zip(ours, floor, floor_dp)],
    }
    return {
        k: {"median": round(statistics.median(v), 3), "min": round(min(v), 3), "max": round(max(v), 3)}
        for k, v in pairs.items()
    }


def summarise(per_repeat: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Median, min and max over repeats of every method's segments (ms per graph)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, reps in per_repeat.items():
        out[name] = {}
        for seg in reps[0]:
            vals = [rep[seg] for rep in reps]
            out[name][seg] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
    return out


def profile(paths: Sequence[Path], passes: int, top: int = 15) -> dict[str, list[str]]:
    """cProfile of ``ours`` over ``paths`` (``passes`` times): top functions by cumulative and own time."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(passes):
        for p in paths:
            g = from_onnx(p)
            g.to_text()
            g.stats()
    prof.disable()
    tables: dict[str, list[str]] = {}
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key)
        stats.print_stats(top if key == "cumulative" else 10)
        lines = buf.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        head = [line.strip() for line in lines[:start] if "function calls" in line]
        tables[key] = head + [line.rstrip() for line in lines[start:] if line.strip()]
    return tables


# --------------------------------------------------------------------------------------------
# machine info, report, chart
# --------------------------------------------------------------------------------------------
def machine_info() -> dict[str, object]:
    return {
        **_common.machine_info(),
        "torch_num_threads": torch.get_num_threads(),
        "process": "single process; onnx shape inference and archscore are single-threaded",
    }


def versions() -> dict[str, object]:
    return {**_common.versions(), "torch": torch.__version__}


def describe_set(files: Sequence[tuple[str, Path]]) -> dict[str, object]:
    sizes = [p.stat().st_size for _, p in files]
    onnx_nodes, arch_nodes = [], []
    for _, p in files:
        onnx_nodes.append(len(onnx.load(str(p), load_external_data=False).graph.node))
        g: ArchGraph = from_onnx(p)
        arch_nodes.append(len(g))
    return {
        "files": len(files),
        "file_mb_mean": round(statistics.mean(sizes) / 2**20, 2),
        "file_mb_range": [round(min(sizes) / 2**20, 2), round(max(sizes) / 2**20, 2)],
        "onnx_nodes_mean": round(statistics.mean(onnx_nodes), 1),
        "onnx_nodes_range": [min(onnx_nodes), max(onnx_nodes)],
        "archgraph_nodes_mean": round(statistics.mean(arch_nodes), 1),
        "archgraph_nodes_range": [min(arch_nodes), max(arch_nodes)],
    }


def set_result(files: Sequence[tuple[str, Path]], summary: dict[str, dict[str, dict[str, float]]]) -> dict:
    ms = {
        "onnx_load": summary["onnx_load"]["onnx_load"]["median"],
        "floor": summary["floor"]["total"]["median"],
        "floor_data_prop": summary["floor_data_prop"]["total"]["median"],
        "from_onnx": summary["from_onnx"]["total"]["median"],
        "ours": summary["ours"]["total"]["median"],
    }
    floor_min = min(ms["floor"], ms["floor_data_prop"])
    ratio = {
        "ours/floor": ms["ours"] / ms["floor"],
        "ours/floor_data_prop": ms["ours"] / ms["floor_data_prop"],
        "from_onnx/floor": ms["from_onnx"] / ms["floor"],
        "ours/faster_floor": ms["ours"] / floor_min,
        "ours/onnx_load": ms["ours"] / ms["onnx_load"],
    }
    return {
        **describe_set(files),
        "ms_per_graph": {k: round(v, 3) for k, v in ms.items()},
        "graphs_per_second": {k: round(1000.0 / v, 2) for k, v in ms.items()},
        "ratio": {k: round(v, 3) for k, v in ratio.items()},
        "target_met": ratio["ours/faster_floor"] <= TARGET_RATIO,
        "segments_ms_per_graph": {
            name: {seg: {k: round(v, 3) for k, v in d.items()} for seg, d in segs.items()}
            for name, segs in summary.items()
        },
    }


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = result["sets"]
    fig, axes = plt.subplots(1, len(sets), figsize=(6.2 * len(sets), 4.8))
    colors = {
        "onnx_load": "#c7c7c7",
        "floor": "#7f7f7f",
        "floor_data_prop": "#555555",
        "from_onnx": "#6baed6",
        "ours": "#2171b5",
    }
    for ax, (name, res) in zip(np.atleast_1d(axes), sets.items()):
        ms = res["ms_per_graph"]
        seg = res["segments_ms_per_graph"]
        lo = [ms[m] - _seg_min(seg, m) for m in METHODS]
        hi = [_seg_max(seg, m) - ms[m] for m in METHODS]
        bars = ax.bar(
            range(len(METHODS)), [ms[m] for m in METHODS], color=[colors[m] for m in METHODS], yerr=[lo, hi], capsize=3
        )
        for bar, m in zip(bars, METHODS):
            ax.annotate(
                f"{ms[m]:.1f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 2),
                textcoords="offset points",
            )
        floor = min(ms["floor"], ms["floor_data_prop"])
        ax.axhline(TARGET_RATIO * floor, color="#d62728", ls="--", lw=1)
        ax.annotate(
            f"target: {TARGET_RATIO:g}× faster floor",
            (len(METHODS) - 0.5, TARGET_RATIO * floor),
            ha="right",
            va="bottom",
            fontsize=8,
            color="#d62728",
        )
        ax.set_xticks(range(len(METHODS)), [LABELS[m] for m in METHODS], fontsize=8)
        ax.set_ylabel("ms per graph (median; bars: min–max over repeats)")
        title = "NAS-Bench-201 cells" if name == "nb201" else "ResNet-50 (224×224)"
        ax.set_title(
            f"{title}: {res['files']} file(s), {res['file_mb_mean']} MB, {res['onnx_nodes_mean']:g} ONNX nodes\n"
            f"ours/floor = {res['ratio']['ours/floor']:.2f}, ours/floor(data_prop) = "
            f"{res['ratio']['ours/floor_data_prop']:.2f}",
            fontsize=9,
        )
        ax.set_ylim(0, max(TARGET_RATIO * floor, *(_seg_max(seg, m) for m in METHODS)) * 1.15)
    m = result["machine"]
    fig.suptitle(
        f"archscore parse speed — {m['cpu']}, {m['usable_cpus']} usable CPU(s), single process, "
        f"onnx {result['versions']['onnx']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _seg_key(method: str) -> str:
    return "onnx_load" if method == "onnx_load" else "total"


def _seg_min(seg: dict, method: str) -> float:
    return seg[method][_seg_key(method)]["min"]


def _seg_max(seg: dict, method: str) -> float:
    return seg[method][_seg_key(method)]["max"]


def print_set(name: str, res: dict) -> None:
    ms, gps, ratio = res["ms_per_graph"], res["graphs_per_second"], res["ratio"]
    print(
        f"\n== {name}: {res['files']} file(s), {res['file_mb_mean']} MB mean, "
        f"{res['onnx_nodes_mean']:g} ONNX nodes → {res['archgraph_nodes_mean']:g} ArchGraph nodes"
    )
    for m in METHODS:
        print(f"  {m:<16} {ms[m]:9.3f} ms/graph  {gps[m]:9.2f} graphs/s")
    seg = res["segments_ms_per_graph"]
    print(
        "  breakdown (ms/graph): "
        + ", ".join(f"{k} {seg['breakdown'][k]['median']:.3f}" for k in ("read_graph", "canonicalize"))
        + ", "
        + ", ".join(f"{k} {seg['ours'][k]['median']:.3f}" for k in ("to_text", "stats"))
        + f"; floor = load {seg['floor']['load']['median']:.3f} + infer {seg['floor']['infer']['median']:.3f}"
    )
    print("  ratios of medians: " + ", ".join(f"{k} {v:.2f}" for k, v in ratio.items()))
    paired = res.get("paired_ratio_over_repeats", {})
    print(
        "  paired ratios (median [min–max] over repeats): "
        + ", ".join(f"{k} {v['median']:.2f} [{v['min']:.2f}–{v['max']:.2f}]" for k, v in paired.items())
    )
    print(f"  target (ours ≤ {TARGET_RATIO:g}× faster floor): {'MET' if res['target_met'] else 'NOT MET'}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30, help="timed repeats per method and file (default 30)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up passes (default 1)")
    ap.add_argument("--cells", type=int, default=20, help="number of random NB201 cells (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the NB201 cell sample (default 0)")
    ap.add_argument("--profile-passes", type=int, default=3, help="passes over each set under cProfile (default 3)")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="keep the ONNX files here between runs (default: a temporary directory)",
    )
    ap.add_argument("--rebuild", action="store_true", help="re-export ONNX files even if cached")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="archscore-parse-speed-") as tmp:
        folder = args.cache_dir or Path(tmp)
        print(f"building ONNX files in {folder}", flush=True)
        versions_at_start = versions()
        files = build_files(folder, args.cells, args.seed, args.rebuild)
        gc.collect()
        gc.freeze()  # torch's objects (exports only) out of the collector's way, as in a process without torch
        result: dict = {
            "benchmark": "parse_speed",
            "command": "python benchmarks/parse_speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine_info(),
            "versions": versions_at_start,
            "settings": {
                "repeats": args.repeats,
                "warmup_passes": args.warmup,
                "nb201_cells": args.cells,
                "nb201_seed": args.seed,
                "timer": "time.perf_counter; gc.collect() before (outside) every method's pass over a set, gc.freeze() "
                "after the exports; files in the OS page cache after warm-up",
                "statistic": "per set: median over repeats of (sum of per-file times) / files; min/max over repeats; "
                "methods interleaved file by file in a seeded random order; paired_ratio_over_repeats: ours/floor "
                "within each repeat, median/min/max over repeats",
                "floor": "onnx.load(path) + onnx.shape_inference.infer_shapes(model, check_type=False, "
                "strict_mode=False, data_prop=False) — the default flags",
                "floor_data_prop": "the same with data_prop=True (for reference; archscore uses data_prop=False)",
                "from_onnx": "archscore.graph.from_onnx(path)",
                "ours": "archscore.graph.from_onnx(path), then .to_text() and .stats()",
                "target": f"ours ≤ {TARGET_RATIO:g} × min(floor, floor_data_prop), on every set",
                "exports": "torch.onnx.export(..., dynamo=False) via archscore.testing.zoo.export(how='legacy'), "
                "weights embedded; NB201 input 1×3×32×32, ResNet-50 input 1×3×224×224",
            },
            "notes": [
                "onnx.shape_inference.infer_shapes serialises the whole ModelProto, weights included, to C++ and "
                "parses the inferred model back, so the floor grows with the file size; archscore runs shape "
                "inference on a weight-stripped copy, so on weight-heavy files (ResNet-50) ours can be below the floor",
                "segments_ms_per_graph holds every method's segments (median/min/max over repeats); 'breakdown' "
                "splits from_onnx into read_graph (load, validation, shape inference) and canonicalize",
            ],
            "sets": {},
            "profiles": {},
        }
        for name, set_files in files.items():
            paths = [p for _, p in set_files]
            print(f"\ntiming {name}: {len(paths)} file(s) × {args.repeats} repeats", flush=True)
            t0 = time.perf_counter()
            per_repeat = measure(paths, args.repeats, args.warmup)
            res = set_result(set_files, summarise(per_repeat))
            res["paired_ratio_over_repeats"] = paired_ratios(per_repeat)
            if name == "nb201":
                res["archs"] = [arch for arch, _ in set_files]
            result["sets"][name] = res
            print_set(name, res)
            print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)

        for name, set_files in files.items():
            tables = profile([p for _, p in set_files], args.profile_passes)
            result["profiles"][name] = {"passes": args.profile_passes, **tables}
            print(f"\n== cProfile of ours on {name} ({args.profile_passes} passes), top 15 by cumulative time")
            print("\n".join(tables["cumulative"]))
            print(f"-- top 10 by own time ({name})")
            print("\n".join(tables["tottime"]))

    result["target_met"] = all(res["target_met"] for res in result["sets"].values())
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parse_speed.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    chart(result, args.out / "parse_speed.png")
    verdict = "MET on every set" if result["target_met"] else "NOT MET"
    print(f"\ntarget ours ≤ {TARGET_RATIO:g}× floor: {verdict}")
    print(f"wrote {args.out / 'parse_speed.json'} and {args.out / 'parse_speed.png'} ({result['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
