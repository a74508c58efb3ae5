"""The tracked pipeline against a real MLflow store (SQLite in a temporary folder): runs, registry, gate, retrain."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow")

from _training_configs import small, weak  # noqa: E402

from archscore import data  # noqa: E402
from archscore.errors import ArchscoreError  # noqa: E402
from archscore.models import load_predictor, registry  # noqa: E402
from archscore.models.inputs import RecordError  # noqa: E402
from archscore.spaces import get  # noqa: E402
from archscore.training.config import ConfigError, TrainConfig  # noqa: E402
from archscore.training.pipeline import retrain, train  # noqa: E402


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSCORE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return registry.tracking_uri()


def version_tags(name: str, version: str) -> dict[str, str]:
    return mlflow.MlflowClient().get_model_version(name, version).tags


def champion_version(name: str) -> str:
    return str(registry.champion(name).version)


def test_a_run_logs_params_versions_metrics_artefacts_and_a_model(store, tmp_path):
    result = train(small(), export=tmp_path / "exported")
    assert result.tracking_uri.startswith("sqlite:///") and str(tmp_path) in result.tracking_uri
    run = mlflow.get_run(result.run_id)
    assert run.data.params["encoder"] == "stats+z" and run.data.params["predictor.n_members"] == "3"
    assert run.data.tags["archscore.version"] and len(run.data.tags["archscore.data_version"]) == 16
    for key in ("mean_kendall_tau", "mean_spearman_rho", "mean_mae", "mean_precision_at_top5", "mean_coverage90",
                "nb201/cifar10/kendall_tau", "nb101/cifar10/coverage90"):  # fmt: skip
        assert key in run.data.metrics, key
    assert run.data.metrics["mean_kendall_tau"] > 0.3
    files = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)}
    assert {"config.json", "evaluation.csv", "plots"} <= files
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "plots")}
    assert plots == {"plots/scatter.png", "plots/rank.png"}
    # the registered version is a pyfunc from code returning mean and std per architecture
    pyfunc = mlflow.pyfunc.load_model(f"models:/t/{result.version}")
    import pandas as pd

    cells = data.load("nb201", target="cifar10_val_acc").cells[:3]
    out = pyfunc.predict(pd.DataFrame({"space": ["nb201"] * 3, "cell": cells}))
    assert list(out.columns) == ["id", "mean", "std", "target", "population", "percentile", "nearest", "distance",
                                 "ood", "low", "high"]  # fmt: skip
    assert (out["target"] == "accuracy_percentile").all() and (out["low"] <= out["mean"]).all()
    graphs = [get("nb201").to_graph(c) for c in cells]
    np.testing.assert_allclose(out["mean"], result.model.predict(graphs))
    assert (out["std"] > 0).all()
    # the exported folder is the same model with its card
    assert (tmp_path / "exported" / "MODEL_CARD.md").is_file()
    assert load_predictor(tmp_path / "exported").config() == result.model.config()


def test_the_gate_promotes_a_better_model_and_keeps_a_worse_one(store):
    first = train(weak())
    assert first.promoted and "first version" in first.reason and champion_version("t") == first.version
    better = train(small())
    assert better.promoted, better.reason
    assert champion_version("t") == better.version
    assert version_tags("t", better.version)["gate.decision"] == "promoted"
    assert float(version_tags("t", better.version)["gate.champion_score"]) < better.metrics["mean_kendall_tau"]
    worse = train(weak())
    assert not worse.promoted
    assert champion_version("t") == better.version  # the champion did not move
    tags = version_tags("t", worse.version)
    assert tags["gate.decision"] == "rejected" and "does not beat" in tags["gate.reason"]
    assert tags["gate.champion_version"] == better.version
    forced = train(weak(), force=True)
    assert forced.promoted and champion_version("t") == forced.version
    tags = version_tags("t", forced.version)
    assert tags["gate.forced"] == "true" and "--force" in tags["gate.reason"]
    assert mlflow.get_run(forced.run_id).data.tags["archscore.force"] == "true"
    # every version stays registered and loadable
    for v in (first, better, worse, forced):
        assert load_predictor(f"models:/t/{v.version}").n_train_ == v.model.n_train_
    assert load_predictor("t").n_train_ == forced.model.n_train_  # a name means its champion


def _labels(path: Path, n: int = 40, bad: bool = False) -> Path:
    table = data.load("nb201", target="cifar100_val_acc")
    rows = np.random.default_rng(3).choice(len(table.cells), n, replace=False)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["space", "cell", "dataset", "value"])
        for i in rows:
            w.writerow(["nb201", table.cells[i], "cifar100", table.y[i]])
    return path


def test_retrain_adds_measurements_to_the_champions_configuration(store, tmp_path):
    base = train(small(rows=60))
    first = retrain(_labels(tmp_path / "mine.csv"), name="t")
    config = TrainConfig.from_dict(registry.run_config(first.run_id))
    assert [lf.name for lf in config.labels] == ["mine"]
    assert [t.max_rows for t in config.task_list()] == [60, 60]  # the champion's own configuration
    assert "user/mine" in first.model.population_names_
    assert first.model.n_train_ > base.model.n_train_
    assert mlflow.get_run(first.run_id).data.tags["archscore.labels"] == "mine"
    # a second file is added to the first (fetched from the run that trained on it), whatever the gate said
    mlflow.MlflowClient().set_registered_model_alias("t", registry.CHAMPION, first.version)
    second = retrain(_labels(tmp_path / "more.csv", n=30), name="t", force=True)
    names = [lf.name for lf in TrainConfig.from_dict(registry.run_config(second.run_id)).labels]
    assert names == ["mine", "more"]
    assert {"user/mine", "user/more"} <= set(second.model.population_names_)


def _judged_gate(result, name: str = "t") -> dict[str, str]:
    """The version's gate tags, checked against the rule the user's labels decide by."""
    from archscore.training.pipeline import BENCHMARK_TOLERANCE

    tags = version_tags(name, result.version)
    new, old = float(tags["gate.user_new_score"]), float(tags["gate.user_champion_score"])
    bench_new, bench_old = float(tags["gate.new_score"]), float(tags["gate.champion_score"])
    rule = new >= old + float(tags["gate.margin"]) and bench_new >= bench_old - BENCHMARK_TOLERANCE
    assert (tags["gate.decision"] == "promoted") == rule, tags
    assert "on your labels" in tags["gate.reason"] and "cross-validated" in tags["gate.reason"]
    return tags


def test_retrain_judges_the_users_own_labels_and_says_when_they_are_too_few(store, tmp_path):
    train(small(rows=60))
    few = retrain(_labels(tmp_path / "few.csv", n=6), name="t")
    run = mlflow.get_run(few.run_id).data
    assert run.metrics["user/few/n_rows"] == 6 and "user/few/cv_kendall_tau" in run.metrics
    tags = version_tags("t", few.version)
    assert "too few to judge" in tags["gate.user_warning"] and "user/few (6 rows)" in tags["gate.user_warning"]
    assert "gate.user_new_score" not in tags and "mean kendall_tau" in tags["gate.reason"]  # the benchmark decided
    mlflow.MlflowClient().set_registered_model_alias("t", registry.CHAMPION, few.version)
    mine = retrain(_labels(tmp_path / "mine.csv", n=60), name="t")
    run = mlflow.get_run(mine.run_id).data
    assert run.metrics["user/mine/n_rows"] == 60 and -1 <= run.metrics["user/mine/cv_kendall_tau"] <= 1
    assert "user/champion_kendall_tau" in run.metrics
    tags = _judged_gate(mine)
    assert tags["gate.user_rows"] == "60" and "user/mine" in tags["gate.user_labels"]
    # the 6 earlier rows travel along (still too few on their own: warned again)
    assert "user/few (6 rows)" in tags["gate.user_warning"]
    table = mlflow.artifacts.download_artifacts(run_id=mine.run_id, artifact_path="user_labels.csv")
    with open(table) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 66 and {r["task"] for r in rows} == {"user/few", "user/mine"}
    assert all(np.isfinite(float(r["mean"])) for r in rows)


@pytest.mark.slow
def test_retrain_with_600_labels_is_judged_on_them(store, tmp_path):
    train(small(rows=60))
    many = retrain(_labels(tmp_path / "many.csv", n=600), name="t")
    run = mlflow.get_run(many.run_id).data
    assert run.metrics["user/many/n_rows"] == 600
    assert run.metrics["user/many/cv_kendall_tau"] > 0.5  # NB201 CIFAR-100 ranks are learnable from 400 rows
    tags = _judged_gate(many)
    assert "gate.user_warning" not in tags


def test_bad_labels_are_refused_before_any_run(store, tmp_path):
    train(small(rows=40))
    runs_before = len(mlflow.search_runs(search_all_experiments=True))
    cells = data.load("nb201", target="cifar10_val_acc").cells
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "space,cell,value\n"
        f"nb201,{cells[0]},71.5\n"
        f"nb201,{cells[1]},abc\n"  # not a number
        "nb201,|bogus~0|,70\n"  # not a cell
        f"nb999,{cells[2]},70\n"  # unknown space
        f"nb201,{cells[3]},\n"  # empty value
    )
    with pytest.raises(RecordError) as e:
        retrain(bad, name="t")
    assert [row for row, _ in e.value.problems] == [2, 3, 4, 5]
    assert "row 3:" in str(e.value) and "nb999" in str(e.value)
    missing = tmp_path / "missing.csv"
    missing.write_text("arch,acc\nx,1\n")
    with pytest.raises(ArchscoreError, match=r"missing an architecture column .* and the value column 'value'"):
        retrain(missing, name="t")
    with pytest.raises(ArchscoreError, match="does not exist"):
        retrain(tmp_path / "nowhere.csv", name="t")
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs_before


def test_retrain_without_a_champion_says_so(store, tmp_path):
    with pytest.raises(ArchscoreError, match="no champion of model 'nothing'"):
        retrain(_labels(tmp_path / "l.csv"), name="nothing")


def test_optuna_search_runs_as_nested_runs_within_its_budget(store):
    result = train(small(rows=60, optuna_trials=3, optuna_timeout=60))
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert 1 <= len(children) <= 3
    assert all(c.startswith("trial-") for c in children["tags.mlflow.runName"])
    parent = mlflow.get_run(result.run_id).data
    assert parent.metrics["optuna_trials_run"] == len(children)
    assert "tuned.num_leaves" in parent.params


def test_optuna_stopped_by_its_budget_says_how_many_trials_ran(store):
    said = []
    result = train(small(rows=60, optuna_trials=50, optuna_timeout=1), say=said.append)
    ran = int(mlflow.get_run(result.run_id).data.metrics["optuna_trials_run"])
    assert 1 <= ran < 50
    note = f"{ran} of 50 trials ran within the budget of 1 s"
    assert any(note in line for line in said), said
    assert note in mlflow.get_run(result.run_id).data.tags["archscore.optuna_stopped"]


def test_configuration_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="unknown configuration key"):
        TrainConfig.from_dict({"encoders": "stats"})
    with pytest.raises(ConfigError, match="compose from"):
        TrainConfig(encoder="stats+wl").check()
    with pytest.raises(ConfigError, match="gate_metric"):
        TrainConfig(gate_metric="accuracy").check()
    with pytest.raises(ConfigError, match="percentile"):
        TrainConfig(target_transform="none").check()
    with pytest.raises(ConfigError, match="does not exist"):
        TrainConfig.read(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        TrainConfig.read(bad)
    good = tmp_path / "good.toml"
    good.write_text('name = "x"\ntasks = [{name = "nb201/cifar10", source = "nb201", target = "cifar10_val_acc", '
                    'dataset = "cifar10", max_rows = 50}]\n[predictor_params]\nn_members = 2\n')  # fmt: skip
    config = TrainConfig.read(good).check()
    assert config.task_list()[0].max_rows == 50 and config.predictor_params == {"n_members": 2}
    assert TrainConfig.from_dict(config.to_dict()) == config
