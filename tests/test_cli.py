"""The ``archscore describe`` command."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from archscore.cli import app
from archscore.examples import example_path, examples
from archscore.graph import ArchGraph, from_onnx

runner = CliRunner()


def test_bundled_examples_exist_and_parse() -> None:
    assert {"mobilenetv2_small", "resnet_small", "vit_small"} <= set(examples())
    for name in examples():
        assert len(from_onnx(example_path(name))) > 5


def test_describe_prints_statistics_text_and_json() -> None:
    path = str(example_path("resnet_small"))
    stats = runner.invoke(app, ["describe", path], env={"COLUMNS": "200"})
    assert stats.exit_code == 0 and "macs" in stats.output and "12,501,632" in stats.output
    title = int(re.search(r"resnet_small.onnx: (\d+) nodes", stats.output).group(1))
    row = int(re.search(r"│ nodes\s+│\s+(\d+)", stats.output).group(1))
    assert title == row == from_onnx(path).stats()["nodes"]  # the title and the table count the same thing
    text = runner.invoke(app, ["describe", path, "--format", "text"])
    assert text.exit_code == 0 and text.output.startswith("archscore-graph v1")
    assert text.output.strip() == from_onnx(path).to_text()
    js = runner.invoke(app, ["describe", "--example", "resnet_small", "--format", "json"])
    assert js.exit_code == 0 and ArchGraph.from_dict(json.loads(js.output)) == from_onnx(path)


def test_describe_reports_bad_input_without_a_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a model")
    result = runner.invoke(app, ["describe", str(bad)])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    missing = runner.invoke(app, ["describe", str(tmp_path / "missing.onnx")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_describe_rejects_malformed_options() -> None:
    assert runner.invoke(app, ["describe", "--example", "nope"]).exit_code == 2
    assert runner.invoke(app, ["describe"]).exit_code == 2
    path = str(example_path("resnet_small"))
    result = runner.invoke(app, ["describe", path, "--input-shape", "x=1,three"])
    assert result.exit_code == 2 and "NAME=D0,D1" in result.output


def test_data_list_names_every_bundled_source() -> None:
    from archscore.data import SOURCES

    result = runner.invoke(app, ["data", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in SOURCES:
        assert name in result.output
    assert "15,625" in result.output and "LICENSES.md" in result.output


def test_describe_a_search_space_cell() -> None:
    from archscore.spaces import get

    ok = runner.invoke(app, ["describe", "--space", "nb201", "--cell", "433000", "--format", "text"])
    assert ok.exit_code == 0 and ok.output.strip() == get("nb201").to_graph("433000").to_text()
    bad = runner.invoke(app, ["describe", "--space", "nb201", "--cell", "43300"])
    assert bad.exit_code == 2 and "NASLib op code" in bad.output
    both = runner.invoke(app, ["describe", str(example_path("resnet_small")), "--space", "nb201", "--cell", "0"])
    assert both.exit_code != 0


def test_pretrain_gnn_writes_weights_the_encoder_loads(tmp_path) -> None:
    import numpy as np

    from archscore.encoders import GNNEncoder

    out = tmp_path / "weights" / "gnn.npz"
    done = runner.invoke(
        app, ["pretrain-gnn", "--out", str(out), "--sources", "tnb101_micro", "--per-source", "24", "--epochs", "2"]
    )
    assert done.exit_code == 0, done.output
    assert out.is_file() and "contrastive loss" in done.output
    graphs = [from_onnx(example_path(name)) for name in ("resnet_small", "mobilenetv2_small")]
    embedding = GNNEncoder(pretrained=str(out)).fit(graphs).transform(graphs)
    assert embedding.shape[0] == 2 and np.isfinite(embedding).all()


def test_pretrain_gnn_names_a_bad_source_and_a_directory(tmp_path) -> None:
    bad = runner.invoke(app, ["pretrain-gnn", "--out", str(tmp_path / "w.npz"), "--sources", "nb999"])
    assert bad.exit_code == 2 and "nb999" in bad.output
    folder = runner.invoke(app, ["pretrain-gnn", "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "is a directory" in folder.output


def test_markup_in_names_and_errors_is_printed_as_text(tmp_path) -> None:
    """Paths, node names and error messages carrying rich markup print literally, never crash the printer."""
    from archscore.testing.hostile import markup_names

    (tmp_path / "bad[").mkdir()
    bad = tmp_path / "bad[" / "x][red].onnx"  # the path reads bad[/x][red].onnx: a closing tag
    bad.write_bytes(b"not onnx")
    (tmp_path / "net[").mkdir()
    good = tmp_path / "net[" / "link].onnx"
    good.write_bytes(markup_names())
    result = runner.invoke(app, ["score", str(bad), str(good)], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output  # one scored, one refused
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # the printer did not raise
    assert "bad[/x][red].onnx" in result.output and "link].onnx" in result.output
    described = runner.invoke(app, ["describe", str(good)], env={"COLUMNS": "250"})
    assert described.exit_code == 0 and "link].onnx" in described.output


def test_models_uri_names_the_store_mlflow_commands_need(tmp_path) -> None:
    result = runner.invoke(app, ["models", "uri"], env={"ARCHSCORE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": ""})
    assert result.exit_code == 0 and result.output.strip() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    given = runner.invoke(app, ["models", "uri", "--tracking-uri", "sqlite:////elsewhere/m.db"])
    assert given.output.strip() == "sqlite:////elsewhere/m.db"


def test_help_names_values_plainly_in_every_command(capsys) -> None:
    """The console script's help says TEXT / INTEGER / a|b, never typer's ``<bool>`` or ``<list[str]>``."""
    import pytest

    from archscore.cli import command

    cmd = command()
    paths = [[]]
    for name, sub in cmd.commands.items():
        paths.append([name])
        paths += [[name, inner] for inner in getattr(sub, "commands", {})]
    for path in paths:
        with pytest.raises(SystemExit):
            cmd.main([*path, "--help"], prog_name="archscore")
        shown = capsys.readouterr().out
        assert "Usage: archscore" in shown, path
        assert "<bool>" not in shown and "<list[" not in shown and "<str>" not in shown, (path, shown)
    assert len(paths) > 10
