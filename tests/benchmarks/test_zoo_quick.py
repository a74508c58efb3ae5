"""The zoo benchmark in its reduced form, and the zoo build script's family rule against the shipped data."""

from __future__ import annotations

import json

import pytest

from archscore import data


def test_families_follow_the_documented_rule(benchmark_script):
    """Every shipped family is what build_zoo.FAMILY_RULES gives for the model's name."""
    pytest.importorskip("torch")
    build = benchmark_script("build_zoo")
    table = data.load("zoo")
    wrong = {m: f for m, f in zip(table.columns["model"], table.columns["family"]) if build.family(m) != f}
    assert not wrong
    with pytest.raises(ValueError, match="no family rule"):
        build.family("somethingnew_b0")


@pytest.mark.slow
def test_the_reduced_zoo_benchmark_holds_families_out_and_writes(benchmark_script, tmp_path):
    zoo = benchmark_script("zoo")
    out = tmp_path / "zoo.json"
    assert zoo.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    r = result["leave_one_family_out"]["imagenet1k"]
    head, params = r["heads"]["design"], r["baselines"]["#params"]
    assert r["families"] > 30 and head["kendall_tau"] > params["kendall_tau"]  # beats counting parameters
    assert 0.7 < head["coverage90"] < 1.0 and head["mae"] < 4.0
    assert set(result["cross_source"]) == {"pytorchcv → torchvision", "torchvision → pytorchcv"}
    assert (tmp_path / "zoo.png").is_file() and "leave one family out" in out.with_suffix(".md").read_text()
