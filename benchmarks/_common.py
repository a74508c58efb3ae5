"""What every benchmark records beside its figures: the machine, the versions and the exact code measured."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import onnx

import archscore

ROOT = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "os_cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
    }


def source_digest() -> str:
    """Digest of the archscore sources as imported by this process (the code that is measured)."""
    h = hashlib.sha256()
    package = Path(archscore.__file__).resolve().parent
    for f in sorted(package.rglob("*.py")):
        h.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def versions() -> dict[str, object]:
    return {
        "archscore": archscore.__version__,
        "archscore_commit": git("rev-parse", "HEAD"),
        "archscore_uncommitted_changes": git("status", "--porcelain", "--", "archscore").splitlines(),
        "archscore_source_sha256_16": source_digest(),
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "protobuf": _protobuf_version(),
    }


def _protobuf_version() -> str:
    try:
        import google.protobuf
        from google.protobuf.internal import api_implementation

        return f"{google.protobuf.__version__} ({api_implementation.Type()})"
    except Exception:
        return "unknown"


def write_results(out: Path, result: dict, markdown, plot) -> None:
    """A benchmark's result as ``out`` (JSON), its README tables as ``.md`` and its plot as ``.png``."""
    import json

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    if plot is None:
        return
    try:
        plot(result, out.with_suffix(".png"))
    except ImportError:
        print("matplotlib is not installed: no plot")
