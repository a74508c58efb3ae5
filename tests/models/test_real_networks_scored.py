"""Real networks through the product: weight-free exports of a ResNet, an MBConv net, a ViT and a Mixer
with an ImageNet interface get a predicted top-1 with its interval and population, in the CLI and the service."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from typer.testing import CliRunner

from archscore.cli import app
from archscore.testing.zoo import IMAGENET_ZOO, build, export

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    for name in IMAGENET_ZOO:
        module, x = build(name)
        (folder / f"{name}.onnx").write_bytes(export(module, x, "legacy_no_params"))
    return folder


def test_cli_answers_imagenet_top1_with_interval_and_population(exported):
    result = runner.invoke(app, ["score", str(exported), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"].rsplit("/", 1)[1].removesuffix(".onnx"): r for r in json.loads(result.output)["results"]}
    assert set(rows) == set(IMAGENET_ZOO)
    for r in rows.values():
        assert r["target"] == "imagenet1k_top1" and r["population"] == "zoo/imagenet1k"
        assert 30 < r["mean"] < 95 and r["interval"][0] < r["mean"] < r["interval"][1] and r["std"] > 0
        assert 0 < r["percentile"] < 1 and r["nearest"].count(":") == 1  # a zoo network, "source:model"
    # ResNet-50 is a far stronger ImageNet network than a three-block toy at the same resolution
    assert rows["resnet50"]["mean"] > rows["resnet_imagenet"]["mean"] + 3
    assert not rows["resnet50"]["ood"]
    table = runner.invoke(app, ["score", str(exported)], env={"COLUMNS": "200"})  # one line per row
    assert table.exit_code == 0 and "imagenet1k top-1" in table.output and " %" in table.output


def test_service_answers_the_same_fields(exported):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from archscore.service import create_app

    cli = {r["name"].rsplit("/", 1)[1]: r for r in
           json.loads(runner.invoke(app, ["score", str(exported), "--json"]).output)["results"]}  # fmt: skip
    with TestClient(create_app("default")) as client:
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in sorted(exported.iterdir())]
        answer = client.post("/v1/score", files=files)
    assert answer.status_code == 200, answer.text
    for r in answer.json()["results"]:
        mine = cli[r["name"]]
        for k in ("mean", "std", "target", "population", "percentile", "nearest", "ood", "rank"):
            assert r[k] == pytest.approx(mine[k]) if isinstance(mine[k], float) else r[k] == mine[k]
        assert r["interval"] == pytest.approx(mine["interval"])
