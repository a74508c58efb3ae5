"""The zero-shot benchmark in its reduced form (one task per space, stats encoders, one seed): it runs
end to end on the real tables, never trains on the space it scores, and beats chance where it should."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_the_reduced_zero_shot_benchmark_runs_and_never_trains_on_the_held_out_space(
    benchmark_script, tmp_path, monkeypatch
) -> None:
    zero_shot = benchmark_script("zero_shot")
    seen: list[tuple[set[str], set[str]]] = []  # (spaces trained on, the rows' own task names)
    real_fit = zero_shot.fit

    def spy(train, encoder, seed, per_task):
        seen.append(({t.task.space for t in train}, {t.task.name for t in train}))
        return real_fit(train, encoder, seed, per_task)

    monkeypatch.setattr(zero_shot, "fit", spy)
    out = tmp_path / "zero_shot.json"
    assert zero_shot.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    loso = result["leave_one_space_out"]
    assert set(loso) == {"stats", "stats+z"}
    held_out = set(loso["stats"])
    assert {"nb201/cifar10", "nb101/cifar10", "nbgraph/cora"} <= held_out
    spaces = {name.split("/")[0] for name in held_out}
    # Every leave-one-out fit trained on all spaces but one; the NB101-only transfer on NB101 alone.
    assert all(len(trained) == len(spaces) - 1 for trained, _ in seen[: 2 * len(spaces)])
    assert ({"nb101"}, {"nb101/cifar10"}) in seen
    # Held out, NB201-C10 is still ranked far above chance, by the free statistics alone.
    assert loso["stats+z"]["nb201/cifar10"]["spearman_rho"][0] > 0.5
    assert result["baselines"]["nb201/cifar10"]["params_spearman"] == pytest.approx(0.715, abs=0.03)
    assert "nwot" in result["zero_cost"]["nb201/cifar10"]
    table = out.with_suffix(".md").read_text()
    assert "| nb201/cifar10 |" in table and "GENNAPE" in table
