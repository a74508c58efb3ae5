"""`archscore score` and `archscore demo`: ranked answers for files, folders, globs and cells; errors per input."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from archscore.cli import app
from archscore.examples import NB201_CELL, example_path, examples
from archscore.models import load_predictor

runner = CliRunner()


def test_scores_a_folder_ranked_with_json_and_csv(tmp_path):
    for e in examples():
        shutil.copy(example_path(e), tmp_path / f"{e}.onnx")
    result = runner.invoke(app, ["score", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [r["rank"] for r in out["results"]] == list(range(1, len(examples()) + 1))
    means = [r["mean"] for r in out["results"]]
    assert means == sorted(means, reverse=True)
    direct = {str(tmp_path / f"{e}.onnx"): s for e, s in zip(examples(), load_predictor("default").score(
        [example_path(e) for e in examples()]))}  # fmt: skip
    for r in out["results"]:
        assert r["mean"] == direct[r["name"]]["mean"] and r["ood"] == direct[r["name"]]["ood"]
    csv = runner.invoke(app, ["score", str(tmp_path / "*.onnx"), "--csv", "--top", "2"])
    assert csv.exit_code == 0 and csv.output.splitlines()[0].startswith("rank,name,mean,std")
    assert len(csv.output.splitlines()) == 3
    table = runner.invoke(app, ["score", str(tmp_path)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "OOD" in table.output and "resnet_small" in table.output


def test_parallel_parsing_gives_the_same_answers(tmp_path):
    for i in range(10):
        shutil.copy(example_path(examples()[i % len(examples())]), tmp_path / f"m{i}.onnx")
    one = json.loads(runner.invoke(app, ["score", str(tmp_path), "--json", "--workers", "1"]).output)
    two = json.loads(runner.invoke(app, ["score", str(tmp_path), "--json", "--workers", "2"]).output)
    assert one == two and len(one["results"]) == 10


def test_cells_and_per_input_errors(tmp_path):
    good = str(example_path("resnet_small"))
    args = ["score", good, str(tmp_path / "missing.onnx"), "--space", "nb201", "--cell", NB201_CELL,
            "--cell", "bogus", "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1  # some inputs failed, the rest were scored
    payload = result.stdout if hasattr(result, "stdout") else result.output
    out = json.loads(payload[: payload.rindex("}") + 1])
    assert {r["name"] for r in out["results"]} == {good, f"nb201:{NB201_CELL}"}
    assert {e["name"] for e in out["errors"]} == {str(tmp_path / "missing.onnx"), "nb201:bogus"}
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nope")
    only_bad = runner.invoke(app, ["score", str(bad)], env={"COLUMNS": "250"})
    assert only_bad.exit_code == 2 and "bad.onnx" in only_bad.output and "Traceback" not in only_bad.output
    assert "predicted accuracy" not in only_bad.output  # no empty table above the errors
    assert only_bad.output.count("bad.onnx") == 1 and "Error:" not in only_bad.output  # named once, no class name


def test_symbolic_inputs_are_fixed_with_input_shape(tmp_path):
    from onnx import helper

    from archscore.testing.onnx_build import model, weight

    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["y"], ["z"])]
    path = tmp_path / "dynamic.onnx"
    path.write_bytes(model(nodes, {"x": ("n", 3, "h", "w_")}, ["z"], [weight("w", 8, 3, 3, 3)]).SerializeToString())
    refused = runner.invoke(app, ["score", str(path)], env={"COLUMNS": "250"})
    assert refused.exit_code == 2 and "--input-shape x=" in refused.output
    fixed = runner.invoke(app, ["score", str(path), "--json", "--input-shape", "x=1,3,32,32"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.output)["results"][0]["macs"] == 8 * 3 * 9 * 32 * 32


def test_argument_errors_are_named(tmp_path):
    cases = [
        (["score"], "give ONNX files"),
        (["score", "--space", "nb201"], "go together"),
        (["score", str(tmp_path / "*.onnx")], "matches no file"),
        (["score", str(tmp_path)], "no .onnx file in this folder"),
        (["score", str(example_path("vit_small")), "--model", str(tmp_path / "nomodel")], "no model.json"),
        (["score", str(example_path("vit_small")), "--reference", "batch"], "at least 2"),
        (["serve", "--model", str(tmp_path / "nomodel")], "no model.json"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)


def test_demo_shows_a_real_answer():
    from archscore.cli.score import DEMO_NETWORKS

    result = runner.invoke(app, ["demo"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "resnet_small" in result.output and "measured val. acc." in result.output
    # on an 80-column terminal every table fits and every network is named in full
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert all(name in result.output for name in DEMO_NETWORKS)
    assert "…" not in result.output


def test_custom_operators_and_unknown_shapes_are_warned_about(tmp_path):
    from onnx import helper

    from archscore.testing.onnx_build import model, weight

    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("MyOp", ["y"], ["z"], domain="com.me"),
             helper.make_node("Conv", ["z", "w2"], ["o"], pads=[1, 1, 1, 1])]  # fmt: skip
    m = model(nodes, {"x": (1, 3, 8, 8)}, ["o"], [weight("w", 8, 3, 3, 3), weight("w2", 8, 8, 3, 3)])
    m.opset_import.append(helper.make_opsetid("com.me", 1))
    path = tmp_path / "custom.onnx"
    path.write_bytes(m.SerializeToString())
    result = runner.invoke(app, ["score", str(path), str(example_path("resnet_small")), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output[: result.output.rindex("}") + 1])["results"]}
    custom, plain = rows[str(path)]["warnings"], rows[str(example_path("resnet_small"))]["warnings"]
    assert any("com.me::MyOp" in w for w in custom) and any("MACs are not counted" in w for w in custom)
    assert plain == []
    table = runner.invoke(app, ["score", str(path)], env={"COLUMNS": "250"})
    assert "warning: " in table.output and "com.me::MyOp" in table.output
