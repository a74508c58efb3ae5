"""A short fuzzing run: every generated or mutated model gives an ArchGraph or an archscore error.

The full run (tens of thousands of cases, with results) is ``benchmarks/fuzz.py``; both use the
generators of ``benchmarks/fuzzer.py`` (a tool of this repository, not shipped in the package).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

SEED = 20_251_122  # cases 20251122000000 … 20251122000299


@pytest.fixture
def fuzz(monkeypatch):
    """``benchmarks/fuzzer.py``, importable for as long as the test runs (its worker processes are
    spawned and import it by name)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import fuzzer

    return fuzzer


def test_fuzz_cases_are_reproducible_from_their_seed(fuzz):
    for seed in (0, 1, 12_345, SEED * 1_000_000 + 7):
        a, b = fuzz.make_case(seed), fuzz.make_case(seed)
        assert a.kind == b.kind and a.kwargs == b.kwargs and a.as_file == b.as_file
        raw = [c.src.SerializeToString() if isinstance(c.src, onnx.ModelProto) else c.src for c in (a, b)]
        assert raw[0] == raw[1]


def test_short_fuzz_run_has_no_failure(fuzz):
    records = fuzz.run(300, SEED, workers=2)
    assert len(records) == 300
    failures = [r for r in records if r["outcome"] == "failure"]
    assert not failures, "\n".join(f"seed {r['seed']} ({r['kind']}): {r['failure']} {r['message']}" for r in failures)
    outcomes = {r["outcome"] for r in records}
    assert outcomes == {"ok", "error"}  # both kinds of answer are exercised
    assert {r["kind"] for r in records} >= {"bytes", "proto", "graph"}
