"""The hostile-input benchmark in its reduced form: every case refused or scored, in bounded time and memory,
by the CLI, the service and the MLflow model, and no service worker lost."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("mlflow")
pytest.importorskip("psutil")


@pytest.mark.slow
def test_the_reduced_hostile_corpus_passes_every_front_end(benchmark_script, tmp_path):
    hostile = benchmark_script("hostile")
    out = tmp_path / "hostile.json"
    code = hostile.main(["--quick", "--out", str(out)])
    result = json.loads(out.read_text())
    failing = {name: r for name, r in result["cases"].items() if not r["pass"]}
    assert not failing, json.dumps(failing, indent=1)
    assert result["readyz"] == 200 and result["workers_unchanged"]
    assert code == 0
    # the cases the static limits catch are refused at once, naming the limit, by all three front ends
    for name in ("function_calls", "nested_functions", "huge_rank"):
        r = result["cases"][name]
        assert r["service"]["status"] == 413 and r["service"]["seconds"] < 2, r
        assert r["cli"]["outcome"] == r["pyfunc"]["outcome"] == "refused"
    assert "rank 100,000" in result["cases"]["huge_rank"]["service"]["message"]
    assert result["cases"]["markup_names"]["cli"]["outcome"] == "scored"  # markup in names printed, not parsed
