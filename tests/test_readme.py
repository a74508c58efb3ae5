"""Every command block of the README and of the docs pages runs as written, so they cannot drift
from the product.

Shell blocks run line by line in a temporary folder holding the files the pages name (model.onnx,
models/, my_measurements.csv, …) against a temporary store; the few heavy commands run with small
settings (``SMALLER``: each documented line must still be in a page). Servers are started,
queried with the pages' own curl lines and stopped. Python blocks run with the placeholders they
use (``my_train_and_eval``, ``graph``, ``candidates``) defined.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("fastapi")

from archscore import data
from archscore.data.zoo import zoo_onnx
from archscore.examples import example_path
from archscore.testing.processes import env_with, free_port, start, stop, wait_http

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# the docs pages first (the training guide trains before it retrains), then the README, whose tour
# repeats their commands
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), README]  # the hand-written pages (generated ones hold no commands)

SMALLER = {  # documented command (comment stripped) → what the test runs: the same command, smaller
    "archscore train --config default": (
        "archscore train --config default --max-rows 60 --nbgraph-rows 20 --eval-rows 40 --no-leave-one-space-out"
    ),
    "archscore train --tasks nb201/cifar10,nb101/cifar10 --max-rows 500 --optuna-trials 20 --optuna-timeout 120": (
        "archscore train --tasks nb201/cifar10,nb101/cifar10 --max-rows 60 --eval-rows 40 --optuna-trials 2"
        " --optuna-timeout 60"
    ),
    "archscore search --space nb201 --budget 100 --strategy bo-ei --dataset cifar10": (
        "archscore search --space nb201 --budget 20 --strategy bo-ei --dataset cifar10"
    ),
}


def blocks(language: str) -> list[str]:
    """Every block of ``language`` in the pages, each once (the README repeats a few of the guides')."""
    pattern = re.compile(rf"^```{language}\n(.*?)^```", flags=re.S | re.M)
    found = [b for page in PAGES for b in pattern.findall(page.read_text())]
    return list(dict.fromkeys(found))


def commands(block: str) -> list[str]:
    """A shell block's command lines: continuations joined, comments and blank lines dropped; in a
    block that shows a session (``$ command`` then its output), the ``$`` lines only."""
    text = block.replace("\\\n", " ")
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if any(line.startswith("$ ") for line in lines):
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    return [re.sub(r"\s+", " ", line) for line in lines]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The files the pages' commands name."""
    wd = tmp_path_factory.mktemp("readme")
    shutil.copy(example_path("resnet_small"), wd / "model.onnx")
    shutil.copy(example_path("vit_small"), wd / "other.onnx")
    for name in ("models", "exports/run1", "candidates"):
        (wd / name).mkdir(parents=True)
    shutil.copy(example_path("resnet_small"), wd / "models" / "a.onnx")
    shutil.copy(example_path("mobilenetv2_small"), wd / "models" / "b.onnx")
    shutil.copy(example_path("vit_small"), wd / "exports" / "run1" / "c.onnx")
    nb201 = data.load("nb201", target="cifar10_val_acc")
    from archscore.spaces import get

    space = get("nb201")
    for i in range(4):
        (wd / "candidates" / f"cell{i}.onnx").write_bytes(space.to_onnx(nb201.cells[i * 997]).SerializeToString())
    (wd / "cell.onnx").write_bytes(space.to_onnx(nb201.cells[5]).SerializeToString())
    shutil.copy(example_path("resnet_small"), wd / "a.onnx")
    shutil.copy(example_path("vit_small"), wd / "b.onnx")
    (wd / "resnet50.onnx").write_bytes(zoo_onnx("torchvision/resnet50_224.onnx"))
    with (wd / "my_measurements.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["space", "cell", "dataset", "value"])
        for i in range(12):
            c = nb201.cells[i * 1231]
            w.writerow(["nb201", c, "cifar10", nb201.y[i * 1231]])
    return wd


def test_the_small_settings_still_name_readme_lines() -> None:
    documented = {c for b in blocks("bash") for c in commands(b)}
    assert set(SMALLER) <= documented, set(SMALLER) - documented


def test_every_shell_block_runs_as_written(workdir, tmp_path) -> None:
    # a user's shell: archscore's own store; no MLflow URIs (mlflow.set_*_uri in earlier tests of this
    # process exported MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI, which a subprocess would inherit)
    env = {"ARCHSCORE_HOME": str(tmp_path / "home"), "MLFLOW_TRACKING_URI": None, "MLFLOW_REGISTRY_URI": None,
           "COLUMNS": "200"}  # fmt: skip
    later: list[str] = []  # servers and their clients: after the store has a champion
    ran = 0
    for line in dict.fromkeys(c for block in blocks("bash") for c in commands(block)):  # each command once
        if line.startswith("pip install"):
            assert "-c constraints.txt" in line, line  # the CPU build of PyTorch, always
            continue
        if line.startswith(("archscore serve", "curl", "MLFLOW_TRACKING_URI=")):
            later.append(line)
            continue
        if line == "pytest":
            continue  # this test is part of it
        run = SMALLER.get(line, line)
        done = subprocess.run(run, shell=True, cwd=workdir, env=env_with(**env), capture_output=True, text=True,
                              timeout=1200)  # fmt: skip
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-3000:])
        if "resnet50.onnx --json" in line:
            answer = json.loads(done.stdout)["results"][0]
            assert answer["target"] == "imagenet1k_top1" and 60 < answer["mean"] < 90
        ran += 1
    assert ran >= 15
    _servers(later, workdir, env)


def _servers(lines: list[str], workdir: Path, env: dict[str, str | None]) -> None:
    """The pages' serve lines, each started and probed; their curl lines against the first one."""
    serves = [line for line in lines if line.startswith("archscore serve")]
    curls = [line for line in lines if line.startswith("curl")]
    mlflow_serve = [line for line in lines if line.startswith("MLFLOW_TRACKING_URI=")]
    assert len(serves) == 2 and len(curls) == 3 and len(mlflow_serve) == 1
    raw = (workdir / "cell.onnx").read_bytes()  # weight-free: its base64 fits one command-line argument
    for k, line in enumerate(serves):
        port = free_port()
        cmd = line.replace("--port 8000", f"--port {port}") if "--port" in line else f"{line} --port {port}"
        log = workdir / f"serve{k}.log"
        server = start(cmd, log, cwd=workdir, **env)
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", server, log)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as r:
                assert json.load(r)["name"], line
            if k == 0:
                for curl in curls:
                    sent = curl.replace("localhost:8000", f"127.0.0.1:{port}")
                    sent = sent.replace('"onnx_base64": "..."', f'"onnx_base64": "{base64.b64encode(raw).decode()}"')
                    done = subprocess.run(sent, shell=True, cwd=workdir, capture_output=True, text=True, timeout=60)
                    answer = json.loads(done.stdout)
                    assert done.returncode == 0 and answer["results"], (curl, done.stdout[-1000:])
        finally:
            stop(server)
    port = free_port()
    log = workdir / "mlflow-serve.log"
    server = start(f"{mlflow_serve[0]} --port {port}", log, cwd=workdir, **env)
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", server, log, timeout=300)
        cell = data.load("nb201").cells[7]
        body = json.dumps({"dataframe_records": [{"space": "nb201", "cell": cell}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert 0 <= json.load(r)["predictions"][0]["mean"] <= 1
    finally:
        stop(server)
    assert not (workdir / "mlflow.db").exists()  # the store is archscore's, not a stray one here


def test_every_python_block_runs(workdir, monkeypatch) -> None:
    from archscore.graph import from_onnx

    monkeypatch.chdir(workdir)
    table = data.load("nb201", target="cifar10_val_acc")
    measured = dict(zip(table.cells, table.y))
    for block in blocks("python"):
        namespace = {
            "my_train_and_eval": measured.__getitem__,  # the "training" a search loop would run
            "graph": from_onnx("model.onnx"),
            "candidates": [from_onnx(p) for p in sorted(Path("candidates").glob("*.onnx"))],
        }
        exec(compile(block, "<docs>", "exec"), namespace)  # the pages' own code
