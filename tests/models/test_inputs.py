"""The resolver: files, folders, globs and cells → ArchGraphs, or the reason each one is not one."""

from __future__ import annotations

import shutil

import pytest

from archscore.errors import ArchscoreError
from archscore.examples import example_path
from archscore.graph import ArchGraph
from archscore.models.inputs import NoMatchError, as_graphs, expand_paths, read_cells, read_files

NB201_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    shutil.copy(example_path("resnet_small"), tmp_path / "a" / "r.onnx")
    shutil.copy(example_path("vit_small"), tmp_path / "a" / "deep" / "v.onnx")
    (tmp_path / "a" / "notes.txt").write_text("not a model")
    (tmp_path / "empty").mkdir()
    return tmp_path


def test_folders_recurse_globs_expand_and_each_file_comes_once(tree) -> None:
    found = expand_paths([str(tree / "a"), str(tree / "a" / "**" / "*.onnx"), str(tree / "a" / "r.onnx")])
    assert found == [tree / "a" / "deep" / "v.onnx", tree / "a" / "r.onnx"]


def test_a_missing_file_is_kept_for_its_own_report_but_empty_folders_and_globs_are_errors(tree) -> None:
    assert expand_paths([str(tree / "missing.onnx")]) == [tree / "missing.onnx"]
    with pytest.raises(ArchscoreError, match=r"no \.onnx file in this folder"):
        expand_paths([str(tree / "empty")])
    with pytest.raises(NoMatchError, match="matches no file"):
        expand_paths([str(tree / "*.nothing")])


def test_each_file_is_its_graph_or_the_reason(tree) -> None:
    (tree / "bad.onnx").write_bytes(b"\x00garbage")
    seen = []
    out = read_files([tree / "a" / "r.onnx", tree / "missing.onnx", tree / "bad.onnx"], workers=1,
                     done=lambda: seen.append(1))  # fmt: skip
    assert isinstance(out[0], ArchGraph) and out[0].total_params > 0
    assert isinstance(out[1], str) and "missing.onnx" in out[1]
    assert isinstance(out[2], str) and out[2]
    assert len(seen) == 3
    assert out[0].to_text() == as_graphs(tree / "a" / "r.onnx")[0].to_text()  # in-process: the same graph


def test_cells_are_canonical_graphs_or_the_reason() -> None:
    (canonical, graph), (given, error) = read_cells("nb201", [NB201_CELL, "not a cell"], "cifar10")
    assert canonical == NB201_CELL and isinstance(graph, ArchGraph)
    assert given == "not a cell" and isinstance(error, str) and error
    with pytest.raises(ArchscoreError, match="nope"):
        read_cells("nope", [NB201_CELL])
