"""The few-shot benchmark in its reduced form (NB201-CIFAR-10, one seed, n ∈ {20, 78}): it runs end to
end on the real table, every predictor learns something, and the result file holds what the README quotes."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_the_reduced_few_shot_benchmark_runs_and_learns(benchmark_script, tmp_path) -> None:
    few_shot = benchmark_script("few_shot")
    out = tmp_path / "few_shot.json"
    assert few_shot.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = {(r["encoder"], r["predictor"]): r["summary"] for r in result["few_shot"]}
    assert set(rows) == {("onehot", "gbdt"), ("stats+wl", "gbdt"), ("stats+wl", "mlp"), ("stats+wl", "cluster")}
    for summary in rows.values():
        assert set(summary) == {"20", "78"}
        assert summary["78"]["kendall_tau"][0] > 0.3  # chance is 0
        assert 0.6 <= summary["78"]["coverage90"][0] <= 1.0
    # the graph encodings rank better than the one-hot baseline from 78 labels
    assert rows[("stats+wl", "gbdt")]["78"]["kendall_tau"][0] > rows[("onehot", "gbdt")]["78"]["kendall_tau"][0]
    base = result["zero_label"]["nb201/cifar10"]
    assert base["params_spearman"] == pytest.approx(0.715, abs=0.03)  # the published #params baseline
    lat = {(r["device"], r["features"]): r["by_n"] for r in result["latency"]}
    assert lat[("latency_titanx_1", "other_devices")]["10"]["spearman_rho"][0] > 0.8
    assert lat[("latency_pixel3", "graph")]["100"]["spearman_rho"][0] > 0.8
    table = out.with_suffix(".md").read_text()  # the README's tables, rendered from the result
    assert "| stats+wl × gbdt |" in table and "| latency_pixel3" not in table and "| other_devices | 10 |" in table
