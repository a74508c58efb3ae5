"""`archscore train`, `retrain` and `models` from the command line, and labels files of every kind."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("mlflow")

from archscore.cli import app
from archscore.errors import ArchscoreError
from archscore.examples import example_path, examples
from archscore.models.inputs import RecordError
from archscore.training.labels import load_labels

runner = CliRunner()
SMALL = ["--tasks", "nb201/cifar10,nb101/cifar10", "--max-rows", "40", "--eval-rows", "40"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSCORE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "home"


def test_train_then_list_versions_from_the_command_line(home, tmp_path):
    first = runner.invoke(app, ["train", "--name", "cli", *SMALL, "--export", str(tmp_path / "m")])
    assert first.exit_code == 0, first.output
    assert "promoted" in first.output and (tmp_path / "m" / "MODEL_CARD.md").is_file()
    listing = runner.invoke(app, ["models", "list", "cli"])
    assert listing.exit_code == 0 and "champion" in listing.output and "first version" in listing.output


def test_command_line_errors_are_one_line_without_a_traceback(home, tmp_path):
    cases = [
        (["train", "--config", str(tmp_path / "none.toml")], "does not exist"),
        (["train", "--tasks", "nb201/cifar11"], "unknown task(s) nb201/cifar11"),
        (["train", "--encoder", "stats+nope", *SMALL], "compose from"),
        (["retrain", "--labels", str(tmp_path / "none.csv")], "does not exist"),
        (["models", "list", "nothing"], "no registered model 'nothing'"),
        (["models", "import", str(tmp_path)], "no model.json"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output


def test_labels_may_name_onnx_files_relative_to_the_labels_file(tmp_path):
    for name in examples():
        shutil.copy(example_path(name), tmp_path / f"{name}.onnx")
    (tmp_path / "labels.csv").write_text(
        "onnx,top1\n"
        + "".join(f"{name}.onnx,{70 + i}\n" for i, name in enumerate(examples()))
        + "resnet_small.onnx,71\n"
    )
    rows = load_labels(tmp_path / "labels.csv", value_column="top1", name="zoo")
    assert rows.task == "user/zoo" and len(rows) == len(examples()) + 1
    assert rows.cells[-1] == rows.cells[list(examples()).index("resnet_small")]  # same file, same id
    np.testing.assert_array_equal(rows.y[:2], [70, 71])
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    (tmp_path / "bad.csv").write_text("onnx,value\nbroken.onnx,1\nmissing.onnx,2\nresnet_small.onnx,3\n")
    with pytest.raises(RecordError) as e:
        load_labels(tmp_path / "bad.csv")
    assert [row for row, _ in e.value.problems] == [1, 2] and "missing.onnx" in str(e.value)


def test_labels_from_parquet_and_too_few_rows(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from archscore import data

    t = data.load("nb201", target="cifar10_val_acc")
    table = pa.table({"space": ["nb201"] * 6, "cell": t.cells[:6], "value": t.y[:6]})
    pq.write_table(table, tmp_path / "l.parquet")
    rows = load_labels(tmp_path / "l.parquet")
    np.testing.assert_allclose(rows.y, t.y[:6])
    pq.write_table(table.slice(0, 2), tmp_path / "two.parquet")
    with pytest.raises(ArchscoreError, match="at least 4"):
        load_labels(tmp_path / "two.parquet")
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(ArchscoreError, match="not a readable Parquet file"):
        load_labels(tmp_path / "fake.parquet")
