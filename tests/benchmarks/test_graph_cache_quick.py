"""The graph cache benchmark in its reduced form (20 cells per set; 2 cells per set for the stage
split): it runs end to end over every bundled (space, dataset) set and writes what the README quotes."""

from __future__ import annotations

import json

import pytest

from archscore.data.cache import bundled_sets


@pytest.mark.slow
def test_the_reduced_cache_benchmark_builds_every_set_and_splits_the_stages(benchmark_script, tmp_path) -> None:
    graph_cache = benchmark_script("graph_cache")
    sets = bundled_sets()
    out = tmp_path / "graph_cache.json"
    assert graph_cache.main(["--limit", "20", "--warm-repeats", "1", "--workers", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [(r["space"], r["dataset"]) for r in result["sets"]] == list(sets)
    assert result["total"]["graphs"] == sum(min(20, len(c)) for c in sets.values())
    assert all(r["build_seconds"] > 0 and r["file_mb"] > 0 for r in result["sets"])
    assert set(result["targets"]) == {"build_everything_under_s", "build_met", "warm_nb201_under_s", "warm_met"}

    staged = tmp_path / "stages.json"
    assert graph_cache.main(["--stages", "2", "--out", str(staged)]) == 0
    split = json.loads(staged.read_text())
    assert len(split["sets"]) == len(sets) and all(r["cells_timed"] == 2 for r in split["sets"])
    assert all(v > 0 for r in split["sets"] for v in r["cpu_ms"].values())
    projected = split["projected_seconds"]
    assert set(projected) == {"network", "read", "canonical"}
    assert split["projected_total_seconds"] == pytest.approx(sum(projected.values()), abs=0.2)
