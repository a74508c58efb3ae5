"""Faults and real servers: concurrent trainings, a training killed midway, a real `mlflow server`,
and `mlflow models serve` of the shipped default model. Real processes, real ports."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")

from _training_configs import small as small_config  # noqa: E402
from _training_configs import weak  # noqa: E402

from archscore.examples import NB201_CELL, example_path  # noqa: E402
from archscore.models import (  # noqa: E402
    DEFAULT_MODEL,
    load_predictor,
    registry,
)
from archscore.testing.hostile import huge_rank  # noqa: E402
from archscore.testing.processes import env_with, free_port, start, stop, wait_http  # noqa: E402
from archscore.training.pipeline import import_model, retrain, train  # noqa: E402

pytestmark = pytest.mark.slow
ARCHSCORE = [sys.executable, "-m", "archscore.cli"]
SMALL = ["--tasks", "nb201/cifar10,nb101/cifar10", "--max-rows", "80", "--eval-rows", "60"]


def small(name: str = "t"):
    return small_config(name, rows=80, eval_rows=60, predictor_params={"n_members": 2, "n_estimators": 100})


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSCORE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "home"


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return con.execute("PRAGMA integrity_check").fetchone()[0]


def test_two_trainings_at_once_do_not_corrupt_the_store(home):
    env = env_with(ARCHSCORE_HOME=str(home))
    procs = [
        subprocess.Popen(
            [*ARCHSCORE, "train", "--name", "c", *SMALL, "--seed", str(seed)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (0, 1)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert integrity(home / "mlflow.db") == "ok"
    registry.connect()
    versions = mlflow.MlflowClient().search_model_versions("name = 'c'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    runs = mlflow.search_runs(search_all_experiments=True)
    assert sorted(runs["status"]) == ["FINISHED", "FINISHED"]
    champ = registry.champion("c")
    assert champ is not None and str(champ.version) in ("1", "2")
    decisions = sorted(mlflow.MlflowClient().get_model_version("c", v.version).tags["gate.decision"] for v in versions)
    assert decisions[0] in ("promoted", "rejected") and "promoted" in decisions  # exactly one was judged first
    assert load_predictor("models:/c@champion").n_train_ > 0


def test_a_training_killed_midway_leaves_the_champion_and_every_version_intact(home):
    first = train(small("k"))
    second = train(small("k"))  # a second version (promoted or not)
    env = env_with(ARCHSCORE_HOME=str(home))
    # a long training: the hyperparameter search keeps it busy for up to 120 s
    proc = subprocess.Popen([*ARCHSCORE, "train", "--name", "k", *SMALL, "--optuna-trials", "500",
                             "--optuna-timeout", "120"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    registry.connect()
    deadline = time.time() + 180
    while time.time() < deadline:  # kill it once it is inside its run, mid-search
        runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.mlflow.runName LIKE 'trial-%'")
        if len(runs) >= 2:
            break
        assert proc.poll() is None, "the training ended before it could be killed"
        time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert integrity(home / "mlflow.db") == "ok"
    client = mlflow.MlflowClient()
    assert sorted(int(v.version) for v in client.search_model_versions("name = 'k'")) == [1, 2]
    champ = registry.champion("k")
    assert str(champ.version) in (first.version, second.version)
    for v in (first, second):
        assert load_predictor(f"models:/k/{v.version}").n_train_ == v.model.n_train_
    assert load_predictor("models:/k@champion").n_train_ > 0
    killed = mlflow.search_runs(search_all_experiments=True, filter_string="attributes.status = 'RUNNING'")
    assert len(killed) >= 1  # the killed training's run (and its open trials) stay RUNNING ...
    # the store keeps working: the next training registers version 3, with its gate decision
    third = train(small("k"))
    assert third.version == "3"
    assert client.get_model_version("k", "3").tags["gate.decision"] in ("promoted", "rejected")
    # ... until that next training marks them FAILED, naming why
    for run_id in killed["run_id"]:
        run = client.get_run(run_id)
        assert run.info.status == "FAILED" and "ended without finishing" in run.data.tags["archscore.failed"]


def test_training_and_retraining_against_a_real_mlflow_server(tmp_path, home):
    port = free_port()
    store = [
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "art"),
    ]
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), *store]
    server = start(cmd, log, MLFLOW_TRACKING_URI="")
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", server, log)
        v1 = train(weak("s", eval_rows=60), tracking_uri=uri)
        v2 = train(small("s"), tracking_uri=uri)
        assert v1.promoted and v2.promoted, v2.reason  # the gate, through the server's registry
        v3 = train(weak("s", eval_rows=60), tracking_uri=uri)
        assert not v3.promoted and "does not beat" in v3.reason
        labels = tmp_path / "l.csv"
        from archscore import data

        t = data.load("nb201", target="cifar100_val_acc")
        labels.write_text("space,cell,dataset,value\n" + "".join(
            f"nb201,{c},cifar100,{y}\n" for c, y in zip(t.cells[:30], t.y[:30])))  # fmt: skip
        v4 = retrain(labels, name="s", tracking_uri=uri)
        assert v4.version == "4"
        model = load_predictor("models:/s@champion", tracking_uri=uri)
        assert model.n_train_ == (v4 if v4.promoted else v2).model.n_train_
        assert any((tmp_path / "art").rglob("model.json"))  # artefacts went through the server
    finally:
        stop(server)


def test_mlflow_models_serve_serves_the_shipped_default_model(home, tmp_path):
    result = import_model("default", "archscore-default")
    assert result.promoted
    port = free_port()
    uri = registry.tracking_uri()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/archscore-default@champion",
           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    proc = start(cmd, log, MLFLOW_TRACKING_URI=uri)
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", proc, log)
        onnx = base64.b64encode(example_path("resnet_small").read_bytes()).decode()
        body = {"dataframe_records": [{"space": "nb201", "cell": NB201_CELL}, {"onnx_base64": onnx}]}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            rows = json.loads(response.read())["predictions"]
        direct = load_predictor("default")
        from archscore.spaces import get

        expected = direct.score([get("nb201").to_graph(NB201_CELL), example_path("resnet_small")])
        assert [r["mean"] for r in rows] == pytest.approx([r["mean"] for r in expected], rel=1e-9)
        assert all(r["std"] > 0 for r in rows)
        # the cell's percentile in its space; the small CIFAR-10 ResNet's top-1 from the zoo
        assert rows[0]["nearest"].startswith("nb201/") and rows[0]["target"] == "accuracy_percentile"
        assert rows[1]["target"] == "cifar10_top1" and rows[1]["population"] == "zoo/cifar10"
        # a server path is refused without being looked at (an existing and a missing file answer alike),
        # and hostile ONNX answers one line naming the problem: no stack trace
        answers = []
        for record in (
            {"onnx": "/etc/hostname"},
            {"onnx": "/no/such/file.onnx"},
            {"onnx_base64": base64.b64encode(huge_rank()).decode()},
        ):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations",
                                             json.dumps({"dataframe_records": [record]}).encode(),
                                             {"Content-Type": "application/json"})  # fmt: skip
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=60)
            assert caught.value.code == 400
            answer = json.loads(caught.value.read())
            assert "stack_trace" not in answer and "Traceback" not in answer["message"]
            answers.append(answer["message"].rsplit("Error: ", 1)[-1])
        assert answers[0] == answers[1] and "not accepted here" in answers[0] and "\n" not in answers[0]
        assert "rank 100,000 is above the limit" in answers[2]
    finally:
        stop(proc)


def test_the_mlflow_model_never_touches_a_path_it_is_given(monkeypatch, home) -> None:
    """The pyfunc refuses ``onnx`` paths before any file-system call: open/stat of the path would fail the test."""
    import builtins

    import pandas as pd
    from mlflow.exceptions import MlflowException

    from archscore.models.mlflow_model import ArchscoreModel

    model = ArchscoreModel()
    model.load_context(type("Context", (), {"artifacts": {"model": str(DEFAULT_MODEL)}})())
    secret = "/etc/hostname"
    touched = []
    real_open, real_stat = builtins.open, os.stat

    def guarded_open(file, *args, **kwargs):
        touched.append(str(file)) if str(file) == secret else None
        return real_open(file, *args, **kwargs)

    def guarded_stat(path, *args, **kwargs):
        touched.append(str(path)) if str(path) == secret else None
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "stat", guarded_stat)
    with pytest.raises(MlflowException, match="not accepted here") as caught:
        model.predict(None, pd.DataFrame([{"space": "nb201", "cell": NB201_CELL}, {"onnx": secret}]))
    assert "row 2" in caught.value.message and "\n" not in caught.value.message
    assert touched == []
