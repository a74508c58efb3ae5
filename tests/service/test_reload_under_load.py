"""A real `archscore serve` following a registry alias switches models under load: no error, no stall."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("fastapi")

from archscore.data.tasks import load_task, zero_shot_tasks  # noqa: E402
from archscore.examples import NB201_CELL  # noqa: E402
from archscore.models import ScoringModel, registry  # noqa: E402
from archscore.training.pipeline import import_model  # noqa: E402

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> tuple[int, dict, float]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read()), time.perf_counter() - t0
    except urllib.error.HTTPError as e:
        return e.code, {}, time.perf_counter() - t0


def test_the_service_moves_to_the_new_champion_without_failing_or_stalling(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSCORE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert import_model("default", "live").version == "1"
    task = next(t for t in zero_shot_tasks(60) if t.name == "nb201/cifar10")
    rows, _ = load_task(task, 0.2, seed=0, eval_rows=10)
    small = ScoringModel(predictor_params={"n_members": 2, "n_estimators": 50}).fit([rows])
    v2 = import_model(small.save(tmp_path / "small"), "live")
    assert v2.version == "2" and not v2.promoted  # registered beside the champion, not live yet

    port = free_port()
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    log = tmp_path / "serve.log"
    with log.open("w") as f:
        server = subprocess.Popen(
            [sys.executable, "-m", "archscore.cli", "serve", "--model", "models:/live@champion", "--port", str(port),
             "--poll-seconds", "0.2"], env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.3)
        seen: list[tuple[int, str | None, float, float]] = []  # (status, version, seconds, when)
        stop = threading.Event()

        def client() -> None:
            body = {"architectures": [{"space": "nb201", "cell": NB201_CELL}]}
            while not stop.is_set():
                status, out, seconds = post(f"{url}/v1/score", body)
                seen.append((status, out.get("model", {}).get("version"), seconds, time.time()))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        registry.connect()
        switched_at = time.time()
        mlflow.MlflowClient().set_registered_model_alias("live", registry.CHAMPION, "2")
        time.sleep(4.0)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    statuses = [s for s, *_ in seen]
    assert len(seen) > 50 and set(statuses) == {200}, (len(seen), set(statuses), log.read_text()[-2000:])
    versions = [v for _, v, _, _ in seen]
    assert versions[0] == "1" and versions[-1] == "2"
    first_new = min(when for _, v, _, when in seen if v == "2")
    assert first_new - switched_at < 3.0  # polled every 0.2 s: picked up within seconds
    assert all(v == "2" for _, v, _, when in seen if when > first_new + 0.5)  # and it stays
    assert max(sec for _, _, sec, _ in seen) < 2.0  # no request stalled while the new version loaded
    assert '"logger": "archscore.service.served"' in log.read_text()
