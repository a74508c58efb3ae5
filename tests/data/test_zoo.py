"""The bundled zoo of real networks: labels that make sense, every network present and parsed, families by rule."""

from __future__ import annotations

import numpy as np
import pytest

from archscore import data
from archscore.data.zoo import zoo_graphs, zoo_onnx, zoo_rows
from archscore.errors import UnknownNameError


@pytest.fixture(scope="module")
def table():
    return data.load("zoo", target="top1")


def test_labels_are_accuracies_with_a_source_a_family_and_a_network(table):
    assert len(table) > 500
    cols = table.columns
    assert set(cols["dataset"]) >= {"imagenet1k", "cifar10", "cifar100", "svhn"}
    assert set(cols["source"]) >= {"torchvision", "pytorchcv"}
    finite = np.isfinite(table.y)
    assert finite.mean() > 0.99 and ((table.y[finite] > 10) & (table.y[finite] < 100)).all()
    top5 = cols["top5"]
    both = finite & np.isfinite(top5)
    assert both.sum() > 300 and (top5[both] >= table.y[both]).all()  # top-5 is never below top-1
    assert all(cols["family"]) and all(cols["licence"]) and all(m.endswith(".onnx") for m in table.archs)


def test_imagenet_rows_keep_the_best_recipe_of_each_network():
    rows = zoo_rows("imagenet1k", "torchvision")
    by_name = dict(zip(rows.names, rows.y))
    # torchvision's ResNet-50 has a V1 (76.13 %) and a V2 (80.858 %) recipe for one network
    assert by_name["torchvision:resnet50"] == pytest.approx(80.858)
    assert len(set(rows.members)) == len(rows) and len(rows) > 60
    extra = zoo_rows("imagenet1k", "torchvision", extra_data=True)
    assert max(extra.y) > max(rows.y)  # SWAG weights (Instagram-pretrained) only when asked for


def test_every_network_is_stored_and_parses(table):
    members = sorted(set(table.archs))
    graphs = zoo_graphs(members)
    assert len(graphs) == len(members)
    assert all(g.total_macs > 0 and g.total_params > 0 for g in graphs)
    assert zoo_onnx(members[0])[:2]  # raw bytes of the export
    with pytest.raises(UnknownNameError, match="no network"):
        zoo_onnx("nowhere/none.onnx")
