"""NAS-Bench-201: cell strings, sampling and mutation, and networks that match the benchmark's own."""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest

from archscore import data
from archscore.errors import InvalidCellError, UnknownNameError
from archscore.graph import from_onnx
from archscore.spaces import get
from archscore.spaces.nb201 import EDGES, OPS, edge_ops
from archscore.testing import params_with_batchnorm

SPACE = get("nb201")


@functools.cache
def table():
    return data.load("nb201")


def test_every_spelling_of_a_cell_gives_the_canonical_string() -> None:
    cell = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert SPACE.canonical(cell) == cell
    assert SPACE.canonical(f"  {cell}\n") == cell
    assert SPACE.canonical("433000") == cell  # NASLib's code, in its own edge order
    assert SPACE.canonical("(4, 3, 3, 0, 0, 0)") == cell  # … and as NAS-Bench-Suite-Zero writes it
    assert SPACE.canonical(edge_ops(cell)) == cell
    assert SPACE.naslib_code(cell) == "433000"


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_3x3"),
        ("|none~0|+|none~0|", "is not a cell"),
        ("433009", "valid digits"),
        ("", "is not a cell"),
        (("none",) * 5, "6 edge ops"),
    ],
)
def test_a_cell_outside_the_space_is_refused_with_what_is_valid(bad, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        SPACE.canonical(bad)


def test_unknown_dataset_and_space_name_what_is_valid() -> None:
    with pytest.raises(UnknownNameError, match="cifar10, cifar100, imagenet16_120"):
        SPACE.to_onnx("433000", "imagenet")
    with pytest.raises(UnknownNameError, match="nb201"):
        get("nb999")


def test_enumeration_sampling_and_mutation() -> None:
    cells = list(SPACE.enumerate())
    assert len(cells) == len(set(cells)) == SPACE.size == 15_625
    assert set(cells) == set(table().cells)  # the table holds exactly the space
    sample = SPACE.sample(50, seed=3)
    assert len(set(sample)) == 50 and sample == SPACE.sample(50, seed=3) and sample != SPACE.sample(50, seed=4)
    rng = random.Random(0)
    for cell in sample:
        child = SPACE.mutate(cell, rng)
        assert sum(a != b for a, b in zip(edge_ops(cell), edge_ops(child))) == 1


def test_the_naslib_codes_of_the_table_agree_with_its_arch_strings() -> None:
    t = table()
    assert [SPACE.naslib_code(c) for c in t.cells] == t.columns["naslib_ops"]


@pytest.mark.slow
def test_onnx_helper_and_pytorch_networks_parse_to_the_same_graph() -> None:
    """≥ 20 random cells on CIFAR-10, and cells on the other two datasets: the two builds agree exactly."""
    torch = pytest.importorskip("torch")
    from archscore.testing.zoo import export

    cells = [(c, "cifar10") for c in SPACE.sample(8, seed=11)]
    cells += [(c, ds) for ds in ("cifar100", "imagenet16_120") for c in SPACE.sample(3, seed=12)]
    for cell, dataset in cells:
        module = SPACE.to_torch(cell, dataset).eval()
        x = torch.randn(SPACE.input_shape(dataset))
        reference = from_onnx(export(module, x, "legacy"))
        assert SPACE.to_graph(cell, dataset) == reference, (cell, dataset)


def test_weights_can_be_embedded_and_the_graph_does_not_change() -> None:
    cell = SPACE.sample(1, seed=5)[0]
    with_weights = SPACE.to_onnx(cell, weights=np.random.default_rng(0))
    assert len(with_weights.graph.initializer) > 50 and len(with_weights.graph.input) == 1
    assert from_onnx(with_weights) == SPACE.to_graph(cell)


def _check_params(cells, dataset: str) -> None:
    from archscore.data.cache import GraphCache

    t = table()
    recorded = dict(zip(t.cells, np.rint(t.columns[f"params_M_{dataset}"] * 1e6).astype(int)))
    # the session's graph cache (keyed by the parser's code): graphs other tests built are read, not rebuilt
    graphs = GraphCache().graphs("nb201", cells, dataset)
    ours = [params_with_batchnorm(g) for g in graphs]
    mismatched = [(c, p, recorded[c]) for c, p in zip(cells, ours) if p != recorded[c]]
    assert not mismatched, mismatched[:5]


@pytest.mark.slow
def test_parameters_equal_the_benchmark_for_all_15625_cells() -> None:
    _check_params(list(SPACE.enumerate()), "cifar10")


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16_120"])
def test_parameters_equal_the_benchmark_on_each_dataset(dataset: str) -> None:
    _check_params(SPACE.sample(40, seed=7), dataset)


def test_cell_structure_shows_in_the_graph() -> None:
    """A none edge is a zero node, a skip edge is no node: the two are different graphs."""
    base = ["nor_conv_3x3"] * len(EDGES)
    none, skip = list(base), list(base)
    none[2], skip[2] = "none", "skip_connect"
    g_none, g_skip = SPACE.to_graph(none), SPACE.to_graph(skip)  # type: ignore[arg-type]
    assert g_none != g_skip
    assert sum(n.op == "zero" for n in g_none.nodes) == 15 and not any(n.op == "zero" for n in g_skip.nodes)
    assert set(OPS) == {"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"}
