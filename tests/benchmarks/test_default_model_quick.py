"""The default-model benchmark in its reduced form: trains through the real pipeline, measures, writes results."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mlflow")


@pytest.mark.slow
def test_the_reduced_default_model_benchmark_trains_measures_and_writes(benchmark_script, tmp_path) -> None:
    default_model = benchmark_script("default_model")
    out = tmp_path / "default_model.json"
    assert default_model.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["evaluation"]) == {"nb201/cifar10", "nb101/cifar10"}
    assert set(result["leave_one_space_out"]) == {"nb201/cifar10", "nb101/cifar10"}
    assert result["mean"]["mean_kendall_tau"] > 0.3  # far above chance on the fixed split
    assert result["scoring"]["per_second_batched"] > 0 and 0 < result["size_mb"] < 30
    table = out.with_suffix(".md").read_text()
    assert "| nb201/cifar10 |" in table and "**mean**" in table
