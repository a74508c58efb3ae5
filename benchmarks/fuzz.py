"""Fuzz ``archscore.graph.from_onnx`` with generated and mutated ONNX models.

Every case must either return an ArchGraph or raise an ``archscore`` error naming the problem;
anything else — another exception, a case over the time limit, a dead worker, memory growth, a
modified input ModelProto, a graph with negative counts — is a failure, recorded with the seed
that replays it. The generators live in :mod:`archscore.testing.fuzz`.

    python benchmarks/fuzz.py                      # 250,000 cases, seed 0, 2 workers (~8 min)
    python benchmarks/fuzz.py --count 300 --seed 7
    python benchmarks/fuzz.py --replay 1234        # one case, in this process, with its traceback

Results go to ``benchmarks/results/fuzz.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _common
import fuzzer as fuzz

RESULTS = Path(__file__).resolve().parent / "results" / "fuzz.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=250_000, help="number of cases (default 250,000)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; case i has seed SEED*1,000,000+i")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=fuzz.TIMEOUT, help="seconds per case before a hang")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--replay", type=int, metavar="CASE_SEED", help="run one case here and print its record")
    args = parser.parse_args(argv)

    if args.replay is not None:
        case = fuzz.make_case(args.replay)
        print(f"case {args.replay}: kind {case.kind}, kwargs {case.kwargs}, file {case.as_file}")
        print(json.dumps(fuzz.run_case(case), indent=2))
        return 0

    def progress(done: int, total: int) -> None:
        if done % 1000 == 0 or done == total:
            print(f"  {done:,}/{total:,} cases, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    records = fuzz.run(args.count, args.seed, workers=args.workers, timeout=args.timeout, progress=progress)
    wall = time.perf_counter() - t0
    config = {
        "count": args.count,
        "seed": args.seed,
        "case_seeds": f"{args.seed * 1_000_000}..{args.seed * 1_000_000 + args.count - 1}",
        "workers": args.workers,
        "timeout_seconds": args.timeout,
        "max_rss_growth_mb": fuzz.MAX_RSS_GROWTH_MB,
        "address_space_headroom_gb": fuzz.ADDRESS_SPACE_HEADROOM / 2**30,
        "kinds": dict(zip(fuzz.KINDS, fuzz.KIND_WEIGHTS)),
        "command": "python benchmarks/fuzz.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "replay": "python benchmarks/fuzz.py --replay CASE_SEED",
        "commit": _common.git("rev-parse", "--short", "HEAD"),
    }
    summary = fuzz.summarize(records, wall, config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")

    o = summary["outcomes"]
    print(f"{summary['cases']:,} cases in {wall:.1f} s ({summary['cases_per_second']} cases/s, {args.workers} workers)")
    print(f"  ok {o['ok']:,}   archscore error {o['error']:,}   failure {o['failure']:,}")
    for kind, counts in summary["by_kind"].items():
        print(f"  {kind:<6} ok {counts['ok']:>6,}  error {counts['error']:>6,}  failure {counts['failure']:>4,}")
    print("  errors by category: " + ", ".join(f"{k} {v}" for k, v in summary["error_categories"].items()))
    cs = summary["case_seconds"]
    print(f"  per case: median {cs['median']} s, p99 {cs['p99']} s, max {cs['max']} s")
    print(f"  max peak-RSS growth in one case: {summary['max_rss_growth_mb']} MB")
    for f in summary["failures"][:20]:
        print(f"  FAILURE seed {f['seed']} ({f['kind']}): {f['failure']} {f.get('type', '')} {f['message'][:150]}")
    print(f"results: {args.out}")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
