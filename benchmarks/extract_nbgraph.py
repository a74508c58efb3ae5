"""Extract NAS-Bench-Graph from its PyPI wheel into archscore's bundled table.

The wheel ``nas-bench-graph`` 1.4.0 (THUMNLab, Apache-2.0) ships the benchmark's "light" tables:
``nas_bench_graph/light/<dataset>.bench``, one pickled ``dict`` per dataset mapping the
benchmark's integer architecture key (``Arch.valid_hash()``) to ``{'valid_perf', 'perf',
'latency', 'para'}``: validation and test performance (accuracy; ROC-AUC on ogbn-proteins), the
latency of one inference pass in seconds, and the parameter count in millions. The values are
means over the benchmark's three training runs.

This script reads those pickles with an unpickler that resolves nothing but numpy's scalar and
dtype constructors (the only globals the files use), checks that every dataset holds exactly the
architectures :class:`archscore.spaces.nbgraph.NBGraph` enumerates (all 26,206; the 2,021 built
from ``gcn, sage, arma, fc, skip`` on ogbn-proteins), and writes one long table, values unchanged
(shortest round-trip ``repr``), sorted by dataset (benchmark order) then key:

    dataset, bench_key, arch, valid_perf, test_perf, latency_s, params_M

``arch`` is archscore's canonical cell string of the key. The gzip file is written
deterministically (no timestamp). With ``--check-keys`` the script also runs the wheel's own
``Arch.valid_hash`` (pure Python, ``architecture.py`` from the wheel) on all 157,440 spellings of
the space and checks that archscore's canonicalisation gives the same key for each.

Run: ``python benchmarks/extract_nbgraph.py`` (downloads the wheel with pip into a temporary
directory) or ``python benchmarks/extract_nbgraph.py --wheel nas_bench_graph-1.4.0-py3-none-any.whl``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import importlib
import importlib.util
import io
import itertools
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import ClassVar

from archscore.spaces.nbgraph import DATASETS, OPS, NBGraph, cell_string, key, representative

VERSION = "1.4.0"
WHEEL = f"nas_bench_graph-{VERSION}-py3-none-any.whl"
OUT = Path(__file__).resolve().parents[1] / "archscore" / "data" / "bundled" / "nbgraph" / "nbgraph.csv.gz"
COLUMNS = ("dataset", "bench_key", "arch", "valid_perf", "test_perf", "latency_s", "params_M")
FIELDS = {"valid_perf": "valid_perf", "perf": "test_perf", "latency": "latency_s", "para": "params_M"}


class _BenchUnpickler(pickle.Unpickler):
    """Resolves only numpy's scalar and dtype constructors; any other global is refused."""

    ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype")}
    )

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing global {module}.{name} in a .bench file")
        if module == "numpy":
            import numpy

            return numpy.dtype
        for candidate in ("numpy._core.multiarray", "numpy.core.multiarray"):  # numpy 2 moved it
            try:
                return getattr(importlib.import_module(candidate), name)
            except ImportError:
                continue
        raise pickle.UnpicklingError("numpy's multiarray module is not importable")


def read_bench(data: bytes) -> dict[int, dict[str, float]]:
    table = _BenchUnpickler(io.BytesIO(data)).load()
    if not isinstance(table, dict):
        raise ValueError(f"a .bench file holds a dict, got {type(table).__name__}")
    out = {}
    for k, record in table.items():
        if set(record) != set(FIELDS):
            raise ValueError(f"key {k}: fields {sorted(record)}, expected {sorted(FIELDS)}")
        out[int(k)] = {FIELDS[f]: float(v) for f, v in record.items()}
    return out


def download(directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"nas-bench-graph=={VERSION}", "--no-deps", "-d", str(directory)],
        check=True,
    )
    return directory / WHEEL


def check_keys(wheel: zipfile.ZipFile) -> int:
    """Compare archscore's canonical keys with the wheel's ``Arch.valid_hash`` on every spelling; returns the count."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "architecture.py"
        path.write_bytes(wheel.read("nas_bench_graph/architecture.py"))
        spec = importlib.util.spec_from_file_location("nbg_architecture", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    count = 0
    for links in itertools.product(*(range(i + 1) for i in range(4))):
        for ops in itertools.product(OPS, repeat=4):
            if all(op == "skip" for op in ops):
                continue
            theirs = module.Arch(list(links), list(ops)).valid_hash()
            ours = key(*representative(links, ops))
            if theirs != ours:
                raise SystemExit(f"key mismatch for links={links} ops={ops}: wheel {theirs}, archscore {ours}")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"path to {WHEEL} (default: pip download it)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check-keys", action="store_true", help="also compare keys with the wheel's valid_hash")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel_path = args.wheel or download(Path(tmp))
        digest = hashlib.sha256(wheel_path.read_bytes()).hexdigest()
        print(f"{wheel_path.name} sha256 {digest}")
        with zipfile.ZipFile(wheel_path) as wheel:
            metadata = wheel.read(f"nas_bench_graph-{VERSION}.dist-info/METADATA").decode()
            assert f"Version: {VERSION}" in metadata and "Apache Software License" in metadata
            tables = {name: read_bench(wheel.read(f"nas_bench_graph/light/{name}.bench")) for name in DATASETS}
            if args.check_keys:
                print(f"keys agree with Arch.valid_hash on {check_keys(wheel):,} spellings")

    space = NBGraph()
    rows = []
    for name, table in tables.items():
        cells = {space.key(c): c for c in space.evaluated(name)}
        if set(table) != set(cells):
            raise SystemExit(f"{name}: {len(set(table) ^ set(cells))} keys differ from the space's architectures")
        for k in sorted(table):
            record = table[k]
            assert cell_string(*representative(*space.pair(k))) == cells[k]
            rows.append([name, str(k), cells[k], *(repr(record[c]) for c in COLUMNS[3:])])
        print(f"{name}: {len(table):,} architectures")

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write(buffer.getvalue().encode())
    print(f"wrote {len(rows):,} rows to {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
