"""The GNN encoder: its node features, the encoder contract, determinism, contrastive pretraining, shipped weights."""

from __future__ import annotations

import math
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from archscore.encoders.gnn import (
    DEFAULT_WEIGHTS,
    FEATURE_NAMES,
    GNNEncoder,
    augment,
    load_weights,
    node_features,
    pretrain,
)
from archscore.graph import ArchGraph, Node
from archscore.graph.ops import VOCABULARY
from archscore.spaces import get
from archscore.testing.contract import encoder_checks

pytest.importorskip("torch_geometric")

NB201 = get("nb201")
NBGRAPH = get("nbgraph")
COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def small(**params) -> GNNEncoder:
    """A GNN encoder small enough to pretrain in a fraction of a second."""
    return GNNEncoder(
        **{"hidden_channels": 16, "num_layers": 2, "out_dim": 8, "epochs": 2, "batch_size": 4, "random_state": 0}
        | params
    )


@pytest.fixture(scope="module")
def graphs() -> list[ArchGraph]:
    """Six real networks: four NB201 cells and two NAS-Bench-Graph GNNs (other shapes, other ops)."""
    return [NB201.to_graph(c) for c in NB201.sample(4, seed=3)] + [
        NBGRAPH.to_graph(c) for c in NBGRAPH.sample(2, seed=3)
    ]


@pytest.fixture(scope="module")
def many() -> list[ArchGraph]:
    """48 NB201 cells to pretrain on: networks of one space, told apart by their ops and wiring only."""
    return [NB201.to_graph(c) for c in NB201.sample(48, seed=11)]


def pretrain_small(graphs: list[ArchGraph], epochs: int) -> GNNEncoder:
    return small(hidden_channels=32, out_dim=16, epochs=epochs, batch_size=16, learning_rate=5e-3).fit(graphs)


@pytest.fixture(scope="module")
def pretrained(many) -> GNNEncoder:
    return pretrain_small(many, epochs=15)


def tiny_graph() -> ArchGraph:
    """input → conv3x3/s2 → relu → add(conv, relu) → mul(·, constant), plus a dead `zero` branch into the add."""
    conv_attrs = (("dilation", (1, 1)), ("groups", 1), ("kernel", (3, 3)), ("stride", (2, 2)))
    fm = (1, 8, 4, 4)
    return ArchGraph(
        nodes=(
            Node("input", outputs=((1, 3, 8, 8),)),
            Node("conv", inputs=((0, 0),), outputs=(fm,), attrs=conv_attrs, macs=3456, params=224),
            Node("relu", inputs=((1, 0),), outputs=(fm,)),
            Node("zero", inputs=((0, 0),), outputs=(fm,)),
            Node("add", inputs=((1, 0), (2, 0), (3, 0)), outputs=(fm,)),
            Node("mul", inputs=((4, 0), (-1, 0)), outputs=(fm,), const_shapes=((1,),)),
        ),
        outputs=((5, 0),),
    )


def relabelled(graph: ArchGraph, seed: int) -> ArchGraph:
    """The same network with its nodes in another (random) topological order."""
    rng = random.Random(seed)
    n = len(graph.nodes)
    preds = [{s for s, _ in node.inputs if s >= 0} for node in graph.nodes]
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < n:
        ready = [i for i in range(n) if i not in placed and preds[i] <= placed]
        pick = rng.choice(ready)
        order.append(pick)
        placed.add(pick)
    new = {old: k for k, old in enumerate(order)}
    nodes = tuple(
        graph.nodes[old]._replace(inputs=tuple((new[s] if s >= 0 else s, slot) for s, slot in graph.nodes[old].inputs))
        for old in order
    )
    return ArchGraph(nodes, tuple((new[s], slot) for s, slot in graph.outputs))


# -- node features --------------------------------------------------------------------------------------
def test_node_features_of_a_hand_built_graph() -> None:
    x, edge_index = node_features(tiny_graph())
    assert x.dtype == np.float32 and x.shape == (6, len(FEATURE_NAMES))
    assert edge_index.dtype == np.int64
    # one column per tensor read, in the data-flow direction; the constant operand of `mul` is no edge
    assert edge_index.tolist() == [[0, 1, 0, 1, 2, 3, 4], [1, 2, 3, 4, 4, 4, 5]]
    ops = x[:, : len(VOCABULARY)]
    assert (ops.sum(axis=1) == 1).all()
    assert [VOCABULARY[i] for i in ops.argmax(axis=1)] == ["input", "conv", "relu", "zero", "add", "mul"]
    conv = x[1]
    assert conv[COL["log_kernel"]] == pytest.approx(math.log(3))
    assert conv[COL["log_stride"]] == pytest.approx(math.log(2))
    assert conv[COL["log_dilation"]] == conv[COL["log_groups"]] == 0
    assert conv[COL["rank"]] == 1.0 and conv[COL["unknown_shape"]] == 0
    assert conv[COL["log_channels"]] == pytest.approx(math.log1p(8) / 8)
    assert conv[COL["log_spatial"]] == pytest.approx(math.log1p(16) / 12)
    assert conv[COL["log_numel"]] == pytest.approx(math.log1p(128) / 16)
    assert conv[COL["log_macs"]] == pytest.approx(math.log1p(3456) / 20)
    assert conv[COL["log_params"]] == pytest.approx(math.log1p(224) / 16)
    assert x[2, COL["log_macs"]] == x[2, COL["log_kernel"]] == 0
    # the zero branch computes nothing that depends on the input; only the last node is an output
    assert x[:, COL["useful"]].tolist() == [1, 1, 1, 0, 1, 1]
    assert x[:, COL["graph_output"]].tolist() == [0, 0, 0, 0, 0, 1]


def test_node_features_of_a_real_network_match_the_graph(graphs) -> None:
    for g in graphs:
        x, edge_index = node_features(g)
        assert x.shape[0] == len(g) and np.isfinite(x).all()
        assert [tuple(e) for e in edge_index.T.tolist()] == g.edges
        assert x[:, : len(VOCABULARY)].argmax(axis=1).tolist() == [VOCABULARY.index(n.op) for n in g.nodes]


def test_augmentation_keeps_ops_flags_and_uniform_scaling(graphs) -> None:
    x, _ = node_features(graphs[0])
    rng = np.random.default_rng(0)
    view = augment(x, rng, mask=0.0, noise=0.0, scale=0.5)
    keep = [*range(len(VOCABULARY)), COL["rank"], COL["unknown_shape"], COL["useful"], COL["graph_output"]]
    assert np.array_equal(view[:, keep], x[:, keep]) and not np.array_equal(view, x)
    # the whole network is made wider by one factor: every node's channels change by the same ratio
    channels = np.expm1(x[:, COL["log_channels"]] * 8.0)
    ratio = np.expm1(view[:, COL["log_channels"]].astype(np.float64) * 8.0) / channels
    assert np.allclose(ratio, ratio[0], rtol=1e-3)
    masked = augment(x, rng, mask=0.99, noise=0.0, scale=0.0)  # hides attributes, shapes and costs, never ops
    ops_and_flags = [*range(len(VOCABULARY)), COL["useful"], COL["graph_output"]]
    assert np.array_equal(masked[:, ops_and_flags], x[:, ops_and_flags])
    assert (masked[:, COL["log_kernel"] : COL["log_params"] + 1] == 0).mean() > 0.9


# -- the encoder contract and determinism ---------------------------------------------------------------
@pytest.mark.parametrize("check", encoder_checks(), ids=lambda c: c.__name__)
def test_contract(check, graphs) -> None:
    check(small(), graphs)


def test_the_same_seed_gives_the_same_embeddings_and_another_seed_others(graphs) -> None:
    a = small().fit(graphs).transform(graphs)
    assert a.shape == (len(graphs), 8) and a.dtype == np.float64
    assert np.array_equal(a, small().fit(graphs).transform(graphs))
    assert not np.allclose(a, small(random_state=1).fit(graphs).transform(graphs))


def test_pickle_round_trip_after_use(graphs) -> None:
    enc = small().fit(graphs)
    before = enc.transform(graphs)  # builds and caches the torch module; the pickle must not carry it
    blob = pickle.dumps(enc)
    assert b"torch" not in blob
    assert np.array_equal(pickle.loads(blob).transform(graphs), before)


def test_equal_and_isomorphic_graphs_get_equal_embeddings(graphs) -> None:
    cell = NB201.sample(1, seed=5)[0]
    enc = small(direction="both").fit(graphs)
    a, b = enc.transform([NB201.to_graph(cell), NB201.to_graph(cell)])
    assert np.array_equal(a, b)
    for g in graphs[:2] + graphs[-1:]:
        shuffled = relabelled(g, seed=1)
        assert shuffled != g
        np.testing.assert_allclose(*enc.transform([g, shuffled]), rtol=1e-5, atol=1e-6)


def test_directions_see_different_things(graphs) -> None:
    forward = small().fit(graphs).transform(graphs)
    both = small(direction="both").fit(graphs).transform(graphs)
    assert forward.shape == both.shape and not np.allclose(forward, both)


# -- contrastive pretraining ----------------------------------------------------------------------------
def test_pretraining_lowers_the_contrastive_loss(pretrained) -> None:
    curve = pretrained.loss_curve_
    assert len(curve) == 15 and all(np.isfinite(curve))
    assert curve[0] < math.log(2 * 16 - 1)  # chance level of a batch of 16 (two views each)
    assert curve[-1] < curve[0] - 0.5 and curve[-1] < 0.7 * curve[0]


def test_after_pretraining_views_of_a_network_find_each_other(pretrained, many) -> None:
    features = [node_features(g) for g in many]

    def retrieval(encoder: GNNEncoder) -> float:
        """How often a view's nearest neighbour (cosine) among the other views is its own graph's; chance 1/48."""
        hits = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            a, b = ([(augment(x, rng), e) for x, e in features] for _ in range(2))
            za, zb = encoder.transform_features(a), encoder.transform_features(b)
            za /= np.linalg.norm(za, axis=1, keepdims=True)
            zb /= np.linalg.norm(zb, axis=1, keepdims=True)
            hits.append(np.mean(np.argmax(za @ zb.T, axis=1) == np.arange(len(many))))
        return float(np.mean(hits))

    trained = retrieval(pretrained)
    assert trained > 0.75
    assert trained > retrieval(pretrain_small(many, epochs=1)) + 0.1  # the same encoder after one epoch


# -- weights: shipped, saved, loaded --------------------------------------------------------------------
def test_the_shipped_weights_load_and_embed(graphs) -> None:
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size < 2_000_000
    enc = GNNEncoder(pretrained="default").fit(graphs)
    X = enc.transform(graphs)
    config, _, meta = load_weights(DEFAULT_WEIGHTS)
    assert X.shape == (len(graphs), config["out_dim"]) and np.isfinite(X).all()
    assert len(enc.get_feature_names_out()) == X.shape[1]
    assert enc.loss_curve_ and enc.loss_curve_[-1] < enc.loss_curve_[0]
    assert set(meta["sources"]) >= {"nb201", "nb101_pool", "nb301_pool", "nbgraph"}
    assert np.array_equal(GNNEncoder.load("default").transform(graphs), X)
    assert not np.allclose(X[0], X[1])


def test_saved_weights_reload_to_the_same_embeddings(graphs, tmp_path) -> None:
    enc = small(direction="both").fit(graphs)
    path = enc.save(tmp_path / "w.weights")
    loaded = GNNEncoder(pretrained=str(path)).fit(graphs[:1])
    assert loaded.config_ == enc.config_ and loaded.loss_curve_ == enc.loss_curve_
    assert np.array_equal(loaded.transform(graphs), enc.transform(graphs))
    assert np.array_equal(GNNEncoder.load(path).transform(graphs), enc.transform(graphs))


# -- errors ---------------------------------------------------------------------------------------------
def test_bad_input_is_named(graphs, tmp_path) -> None:
    enc = small()
    # the input checks every graph encoder shares: test_encoders.py
    with pytest.raises(ValueError, match="2 distinct"):
        enc.fit([graphs[0], graphs[0]])
    with pytest.raises(ValueError, match="direction"):
        small(direction="sideways").fit(graphs)
    with pytest.raises(NotFittedError):
        enc.transform(graphs)
    with pytest.raises(TypeError, match="item 0 is a int"):
        small().fit(graphs).transform([3])
    with pytest.raises(ValueError, match="does not exist"):
        GNNEncoder(pretrained=str(tmp_path / "missing.npz")).fit(graphs)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not weights")
    with pytest.raises(ValueError, match="not a GNN weights file"):
        GNNEncoder(pretrained=str(junk)).fit(graphs)


def test_missing_torch_geometric_says_what_to_install(graphs, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch_geometric.nn", None)
    with pytest.raises(ImportError, match=r'pip install "archscore\[gnn\]"'):
        small().fit(graphs)


def test_the_module_imports_without_torch() -> None:
    code = "import sys, archscore.encoders.gnn; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_pretrain_on_bundled_sources_saves_weights(tmp_path, graphs) -> None:
    out = tmp_path / "pretrained.npz"
    enc = pretrain(sources=["tnb101_macro", "nbgraph"], max_graphs_per_source=12, epochs=2, seed=0, out=out,
                   hidden_channels=16, num_layers=2, out_dim=8, batch_size=8)  # fmt: skip
    config, _, meta = load_weights(out)
    assert meta["sources"] == {"tnb101_macro": 12, "nbgraph": 12} and meta["seed"] == 0
    assert config["out_dim"] == 8 and len(meta["loss_curve"]) == 2
    assert np.array_equal(GNNEncoder.load(out).transform(graphs), enc.transform(graphs))
