"""The bundled tables load from the installed package, whole and correctly joined."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest

from archscore import data
from archscore.data.tables import bundled_path
from archscore.errors import UnknownNameError

# Row counts as documented by the verified extraction (shared/data/README.md) and NAS-Bench-Graph.
ROWS = {
    "nb201": 15_625, "nb101_fixture": 30, "naslib_zc": 15_095, "tnb101_micro": 4_096, "tnb101_macro": 3_256,
    "fbnet": 5_000, "ofa_mbv3": 5_000, "nasbench_nlp": 345, "nb101_pool": 10_250, "nb301_pool": 11_221,
    "nbgraph": 8 * 26_206 + 2_021,  # 26,206 architectures on 8 graphs, 2,021 evaluated on ogbn-proteins
    **{name: 2_000 for name in data.SOURCES if name.startswith("hat_")},
    "zoo": 1_030,  # benchmarks/results/zoo_build.json: 1,037 labelled entries, 7 that did not export (listed there)
}  # fmt: skip


def test_every_bundled_source_loads_with_its_documented_rows() -> None:
    assert set(ROWS) == set(data.SOURCES)
    for name, rows in ROWS.items():
        table = data.load(name)
        assert len(table) == rows, name
        assert all(table.archs), name
        assert data.SOURCES[name].unlabeled or table.targets, name


def test_every_bundled_file_exists_and_names_its_licence() -> None:
    notice = bundled_path("LICENSES.md").read_text()
    for source in data.SOURCES.values():
        assert source.licence and source.origin
        for f in source.files:
            assert bundled_path(f).is_file(), f
            assert f.split("/")[0] in notice or f.split("/")[1].split(".")[0] in notice


def test_nb201_targets_are_joined_on_the_benchmark_index() -> None:
    t = data.load("nb201", target="latency_pixel3")
    with gzip.open(bundled_path("nb201/nb201_latency_help.csv.gz").open("rb"), "rt") as f:
        raw = {r["arch_str"]: float(r["pixel3"]) for r in csv.DictReader(f)}
    assert len(t.y) == 15_625 and np.array_equal(t.y, [raw[a] for a in t.archs])
    acc = data.load("nb201", target="cifar10_val_acc")
    assert acc.cells == t.cells and acc.y.min() >= 10 and acc.y.max() <= 100
    assert acc.columns["naslib_ops"][0] == "433000"  # op codes keep their leading zeros as text


def test_filters_select_rows_and_name_the_valid_values() -> None:
    z = data.load("naslib_zc", target="val_accuracy", search_space="nasbench201", dataset="cifar10")
    assert 700 <= len(z) <= 750 and set(z.columns["search_space"]) == {"nasbench201"}
    with pytest.raises(UnknownNameError, match="nasbench201"):
        data.load("naslib_zc", search_space="nb201")
    with pytest.raises(UnknownNameError, match="search_space, dataset"):
        data.load("naslib_zc", task="x")


def test_unknown_source_and_target_list_what_exists() -> None:
    with pytest.raises(UnknownNameError, match="nb201, nb101_fixture"):
        data.load("nasbench201")
    with pytest.raises(UnknownNameError, match="cifar10_val_acc"):
        data.load("nb201", target="accuracy")


@pytest.mark.parametrize(("dataset", "space_dataset"), [("cifar100", "cifar100"), ("ImageNet16-120", "imagenet16_120")])
def test_a_mixed_table_filtered_to_one_space_serves_its_cells_and_graphs(dataset, space_dataset, tmp_path) -> None:
    """NAS-Bench-Suite-Zero rows of NB201 become NB201 cells; their graphs are built for the rows' dataset."""
    from archscore.data.cache import GraphCache
    from archscore.testing import params_with_batchnorm

    z = data.load("naslib_zc", target="val_accuracy", search_space="nasbench201", dataset=dataset)
    assert z.space == "nb201" and z.dataset == space_dataset and len(z.cells) == len(z) > 700
    head = z.cells[:12]
    graphs = GraphCache(tmp_path, workers=1).graphs("nb201", head, z.dataset)
    recorded = z.columns["params"][:12]
    ours = np.array([params_with_batchnorm(g) for g in graphs]) / 1e6
    # the column holds 6 significant digits (millions); another dataset's head differs by ≥ 5,850 params
    assert np.allclose(ours, recorded, rtol=5e-6, atol=0)
    unbuilt = data.load("naslib_zc", search_space="nasbench201", dataset="svhn")
    assert unbuilt.space == "nb201" and unbuilt.dataset is None  # a setting the space does not build
