"""HAT SubTransformers: cell strings, the latency tables' averaged rows, sampling, and networks matching HAT's."""

from __future__ import annotations

import functools
import itertools
import random

import numpy as np
import pytest

from archscore import data
from archscore.data.sources import HAT_CONFIG, HAT_FILES
from archscore.errors import InvalidCellError, UnknownNameError
from archscore.graph import from_onnx
from archscore.spaces.hat import (
    AVERAGE_FIELDS,
    FIELDS,
    HAT,
    LATENCY_SPACE,
    SUPERNETS,
    TASKS,
    SubTransformer,
    from_averages,
)

SPACE = HAT()

# HAT's released SubTransformer HAT_wmt14ende_raspberrypi@6.9s_bleu@28.4 (configs/wmt14.en-de/subtransformer/),
# in HAT's own YAML; the paper (and Papers with Code) gives its size as 48M parameters.
HAT_RASPI_YAML = """
encoder-embed-dim-subtransformer: 512
decoder-embed-dim-subtransformer: 512

encoder-ffn-embed-dim-all-subtransformer: [3072, 3072, 3072, 3072, 3072, 3072]
decoder-ffn-embed-dim-all-subtransformer: [2048, 2048, 3072, 3072, 2048]

encoder-layer-num-subtransformer: 6
decoder-layer-num-subtransformer: 5

encoder-self-attention-heads-all-subtransformer: [8, 4, 8, 8, 8, 8]
decoder-self-attention-heads-all-subtransformer: [8, 8, 8, 4, 8]
decoder-ende-attention-heads-all-subtransformer: [4, 8, 8, 8, 8]

# for arbitrary encoder decoder attention. -1 means attending to last one encoder layer
# 1 means last two encoder layers, 2 means last three encoder layers
decoder-arbitrary-ende-attn-all-subtransformer: [-1, 1, 1, 1, -1]
"""
HAT_RASPI = (
    "encoder_embed_dim=512; encoder_layer_num=6; encoder_ffn_embed_dim=3072,3072,3072,3072,3072,3072; "
    "encoder_self_attention_heads=8,4,8,8,8,8; decoder_embed_dim=512; decoder_layer_num=5; "
    "decoder_ffn_embed_dim=2048,2048,3072,3072,2048; decoder_self_attention_heads=8,8,8,4,8; "
    "decoder_ende_attention_heads=4,8,8,8,8; decoder_arbitrary_ende_attn=-1,1,1,1,-1"
)
# A config as HAT's evolutionary search prints it: the arbitrary-attention list covers all six
# SuperTransformer decoder layers, of which only the first decoder_layer_num are used.
HAT_SEARCH_LOG = (
    "{'encoder': {'encoder_embed_dim': 640, 'encoder_layer_num': 6, 'encoder_ffn_embed_dim': [1024, 1024, 3072, "
    "2048, 3072, 2048], 'encoder_self_attention_heads': [8, 4, 4, 8, 4, 8]}, 'decoder': {'decoder_embed_dim': 640, "
    "'decoder_layer_num': 5, 'decoder_ffn_embed_dim': [1024, 3072, 3072, 3072, 2048, 2048], "
    "'decoder_self_attention_heads': [8, 8, 8, 8, 4, 4], 'decoder_ende_attention_heads': [4, 8, 8, 4, 4, 8], "
    "'decoder_arbitrary_ende_attn': [2, 2, 2, 2, 2, -1]}}"
)
SMALL = (  # an IWSLT-sized SubTransformer, for the tests that run a network
    "encoder_embed_dim=512; encoder_layer_num=6; encoder_ffn_embed_dim=1024,1024,1024,1024,1024,512; "
    "encoder_self_attention_heads=4,4,2,4,4,4; decoder_embed_dim=640; decoder_layer_num=2; "
    "decoder_ffn_embed_dim=2048,512; decoder_self_attention_heads=4,2; decoder_ende_attention_heads=2,4; "
    "decoder_arbitrary_ende_attn=2,-1"
)


@functools.cache
def tables() -> dict[str, data.Table]:
    return {f: data.load(f"hat_{f.removesuffix('_all')}") for f in HAT_FILES}


def changed_choices(a: SubTransformer, b: SubTransformer) -> int:
    """How many choices differ: embedding widths, per-layer values, and the decoder depth (as one choice)."""
    diff = (a.encoder_embed_dim != b.encoder_embed_dim) + (a.decoder_embed_dim != b.decoder_embed_dim)
    for name in FIELDS:
        x, y = getattr(a, name, None), getattr(b, name, None)
        if isinstance(x, tuple):
            n = min(len(x), len(y))
            diff += sum(u != v for u, v in zip(x[:n], y[:n]))
    return diff + (a.decoder_layer_num != b.decoder_layer_num)


# -- cells ------------------------------------------------------------------------------------------
def test_every_spelling_of_a_subtransformer_gives_the_canonical_string() -> None:
    assert SPACE.canonical(HAT_RASPI) == HAT_RASPI
    assert SPACE.canonical(HAT_RASPI_YAML) == HAT_RASPI  # HAT's own config file
    net = SPACE.parse(HAT_RASPI)
    assert SPACE.canonical(net.hat_config()) == HAT_RASPI  # HAT's config dict …
    assert SPACE.canonical(str(net.hat_config())) == HAT_RASPI  # … as Python prints it
    assert SPACE.canonical(HAT_RASPI.replace("3072,3072,3072,3072,3072,3072", "[3072, 3072, 3072, 3072, 3072, 3072]"))
    without_depths = HAT_RASPI.replace("encoder_layer_num=6; ", "").replace("decoder_layer_num=5; ", "")
    assert SPACE.canonical(without_depths) == HAT_RASPI  # depths follow from the lists
    logged = SPACE.parse(HAT_SEARCH_LOG)
    assert logged.decoder_layer_num == 5 and logged.decoder_arbitrary_ende_attn == (2, 2, 2, 2, 2)
    assert SPACE.canonical(logged.cell()) == logged.cell()


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (HAT_RASPI.replace("decoder_ffn_embed_dim=2048", "decoder_ffn_embed_dim=4096"), "512, 1024, 2048, 3072"),
        (HAT_RASPI.replace("heads=8,4,8", "heads=8,3,8"), "2, 4, 8"),
        (HAT_RASPI.replace("attn=-1,1,1,1,-1", "attn=-1,1,1,1,3"), "-1, 1, 2"),
        (HAT_RASPI.replace("decoder_layer_num=5", "decoder_layer_num=7"), "1, 2, 3, 4, 5, 6"),
        (HAT_RASPI.replace("encoder_layer_num=6", "encoder_layer_num=5"), "valid: 6"),
        (HAT_RASPI.replace("decoder_embed_dim=512", "decoder_embed_dim=768"), "512, 640"),
        (HAT_RASPI.replace("ende_attention_heads=4,8,8,8,8", "ende_attention_heads=4,8"), "2 value"),
        (HAT_RASPI.replace("encoder_embed_dim", "encoder_width"), "unknown field"),
        (HAT_RASPI.replace("; decoder_arbitrary_ende_attn=-1,1,1,1,-1", ""), "missing field"),
        (HAT_RASPI.replace("decoder_embed_dim=512", "decoder_embed_dim=512.5"), "whole number"),
        ("a transformer please", "cannot read"),
        ("", "empty"),
        (
            "encoder_embed_dim=512; encoder_layer_num=6; encoder_ffn_embed_dim_avg=100; "
            "encoder_self_attention_heads_avg=4; decoder_embed_dim=512; decoder_layer_num=1; "
            "decoder_ffn_embed_dim_avg=1024; decoder_self_attention_heads_avg=4; "
            "decoder_ende_attention_heads_avg=4; decoder_arbitrary_ende_attn_avg=1",
            "average to encoder_ffn_embed_dim_avg",
        ),
        ("encoder_embed_dim=512; encoder_ffn_embed_dim_avg=1024", "missing: encoder_layer_num"),
    ],
)
def test_a_cell_outside_the_space_is_refused_with_what_is_valid(bad: str, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        SPACE.canonical(bad)


def test_a_task_supernet_restricts_the_space_and_unknown_names_list_the_valid_ones() -> None:
    wmt_model = SPACE.parse(HAT_RASPI).hat_config()  # 8 heads, FFN 3072: a WMT SuperTransformer's choices
    assert SPACE.in_supernet(HAT_RASPI, "wmt14ende") and not SPACE.in_supernet(HAT_RASPI, "iwslt14deen")
    assert HAT(supernet="wmt14ende").canonical(wmt_model) == HAT_RASPI
    with pytest.raises(
        InvalidCellError, match="3072 is not in the iwslt14deen SuperTransformer; valid: 512, 1024, 2048"
    ):
        HAT(supernet="iwslt14deen").canonical(HAT_RASPI)
    with pytest.raises(InvalidCellError, match="heads value 2 is not in the wmt19ende SuperTransformer; valid: 4, 8"):
        HAT(supernet="wmt19ende").canonical(HAT_RASPI.replace("heads=8,4,8", "heads=8,2,8"))
    with pytest.raises(UnknownNameError, match="wmt14ende, wmt14enfr, wmt19ende, iwslt14deen"):
        HAT(supernet="wmt16")
    with pytest.raises(UnknownNameError, match="wmt14ende, wmt14enfr, wmt19ende, iwslt14deen"):
        SPACE.to_onnx(HAT_RASPI, "wmt16ende")
    assert SPACE.datasets == tuple(TASKS) == tuple(SUPERNETS)


# -- the latency tables -------------------------------------------------------------------------------
def test_every_latency_table_row_maps_to_a_cell_with_exactly_its_averages() -> None:
    """All 8 × 2,000 rows: the table's own arch string → a representative whose averages equal the row's."""
    rows = 0
    for name, table in tables().items():
        columns = {k: np.asarray(table.columns[k], dtype=np.float64) for k in HAT_CONFIG}
        assert set(HAT_CONFIG) == set(AVERAGE_FIELDS)
        for i, arch in enumerate(table.archs):
            net = SPACE.parse(arch)
            assert SPACE.canonical(net.cell()) == net.cell()
            averages = net.averages()
            mismatched = {k: (averages[k], columns[k][i]) for k in HAT_CONFIG if averages[k] != columns[k][i]}
            assert not mismatched, (name, i, mismatched)
            rows += 1
    assert rows == 16_000


def test_the_representative_is_the_most_uniform_multiset_widest_layers_first() -> None:
    """Checked against brute force on 200 table rows: no other allowed multiset has that mean with less spread."""
    table = tables()["wmt14ende_cpu_xeon_all"]
    ffn, heads = LATENCY_SPACE.ffn_embed_dim, LATENCY_SPACE.attention_heads
    choices = {
        "encoder_ffn_embed_dim": ffn, "encoder_self_attention_heads": heads, "decoder_ffn_embed_dim": ffn,
        "decoder_self_attention_heads": heads, "decoder_ende_attention_heads": heads,
    }  # fmt: skip
    for arch in table.archs[:200]:
        net = SPACE.parse(arch)
        for name, allowed in choices.items():
            values = getattr(net, name)
            assert list(values) == sorted(values, reverse=True)
            same_mean = [
                c for c in itertools.combinations_with_replacement(allowed, len(values)) if sum(c) == sum(values)
            ]
            assert sum(v * v for v in values) == min(sum(v * v for v in c) for c in same_mean), (arch, name)
    # a hand-checked row: FFN mean 1194.67 over six layers is 7168 = 2048 + 1024·5, not e.g. 3072 + 512 + 1024·3 + 512
    row = dict(zip(AVERAGE_FIELDS, (512, 6, 7168 / 6, 4.0, 512, 1, 1024.0, 4.0, 4.0, 3.0)))
    net = from_averages(row)
    assert net.encoder_ffn_embed_dim == (2048, 1024, 1024, 1024, 1024, 1024)
    assert net.decoder_arbitrary_ende_attn == (2,)  # attends to three encoder layers: HAT's value 2


# -- sampling and mutation ----------------------------------------------------------------------------
def test_sampling_is_reproducible_and_mutation_changes_one_choice() -> None:
    sample = SPACE.sample(60, seed=3)
    assert len(set(sample)) == 60 and sample == SPACE.sample(60, seed=3) and sample != SPACE.sample(60, seed=4)
    assert {SPACE.parse(c).decoder_layer_num for c in sample} == set(range(1, 7))
    rng = random.Random(0)
    depth_changes = 0
    for cell in sample * 5:
        child = SPACE.mutate(cell, rng)
        a, b = SPACE.parse(cell), SPACE.parse(child)
        assert SPACE.canonical(child) == child and changed_choices(a, b) == 1, (cell, child)
        if b.decoder_layer_num > a.decoder_layer_num:  # new layers repeat the last one
            depth_changes += 1
            assert b.decoder_ffn_embed_dim[a.decoder_layer_num :] == (a.decoder_ffn_embed_dim[-1],) * (
                b.decoder_layer_num - a.decoder_layer_num
            )
    assert depth_changes > 0
    wmt = HAT(supernet="wmt14ende")
    for cell in wmt.sample(30, seed=1) + [wmt.mutate(c, rng) for c in wmt.sample(30, seed=2)]:
        assert SPACE.in_supernet(cell, "wmt14ende") and not SPACE.in_supernet(cell, "iwslt14deen")


# -- networks -------------------------------------------------------------------------------------------
def _check_same_graph(cell: str, dataset: str) -> None:
    torch = pytest.importorskip("torch")
    from archscore.testing.zoo import export

    module = SPACE.to_torch(cell, dataset).eval()
    x = torch.randint(4, 1000, SPACE.input_shape(dataset))
    assert SPACE.to_graph(cell, dataset) == from_onnx(export(module, x, "legacy")), (cell, dataset)


def test_onnx_helper_and_pytorch_networks_parse_to_the_same_graph() -> None:
    _check_same_graph(SMALL, "iwslt14deen")


@pytest.mark.slow
def test_onnx_helper_and_pytorch_networks_agree_on_random_cells() -> None:
    """5 random cells on IWSLT and one on each WMT task (each export writes 200-400 MB of weights)."""
    cells = [(c, "iwslt14deen") for c in SPACE.sample(5, seed=11)]
    cells += [(SPACE.sample(1, seed=i)[0], ds) for i, ds in enumerate(("wmt14ende", "wmt14enfr", "wmt19ende"))]
    for cell, dataset in cells:
        _check_same_graph(cell, dataset)


def test_the_onnx_network_computes_what_the_pytorch_network_computes() -> None:
    """The weight-free ONNX fed the PyTorch module's weights (its inputs, in creation order) gives its logits."""
    torch = pytest.importorskip("torch")
    from onnx.reference import ReferenceEvaluator

    module = SPACE.to_torch(SMALL, "iwslt14deen").eval()
    model = SPACE.to_onnx(SMALL, "iwslt14deen")
    params = [p.detach().numpy() for p in module.parameters()]
    params[2] = params[2].T  # the output projection is used as (d, vocab)
    params[3:] = [p.T if p.ndim == 2 else p for p in params[3:]]  # nn.Linear keeps (out, in)
    inputs = model.graph.input[1:]
    assert len(inputs) == len(params)
    feeds = {i.name: np.ascontiguousarray(p) for i, p in zip(inputs, params)}
    for i in inputs:
        assert list(feeds[i.name].shape) == [d.dim_value for d in i.type.tensor_type.shape.dim], i.name
    x = torch.randint(4, 6000, SPACE.input_shape("iwslt14deen"))
    (got,) = ReferenceEvaluator(model).run(None, {"x": x.numpy(), **feeds})
    with torch.no_grad():
        want = module(x).numpy()
    assert got.shape == (5, 23, 6632)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * float(np.abs(want).max()))


def test_the_network_reads_every_weight_and_embeds_them_on_request() -> None:
    model = SPACE.to_onnx(SMALL, "iwslt14deen")
    read = {name for node in model.graph.node for name in node.input}
    assert all(i.name in read for i in model.graph.input)
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 23]
    with_weights = SPACE.to_onnx(SMALL, "iwslt14deen", weights=np.random.default_rng(0))
    assert len(with_weights.graph.input) == 1 and len(with_weights.graph.initializer) > 100
    assert from_onnx(with_weights) == SPACE.to_graph(SMALL, "iwslt14deen")


def test_the_graph_shows_heterogeneous_layers_and_arbitrary_attention() -> None:
    """Per-layer widths, the concatenated encoder memory, and which attentions the parser fuses."""
    net = SPACE.parse(HAT_RASPI)
    graph = SPACE.to_graph(HAT_RASPI)
    linears = [n for n in graph.nodes if n.op == "linear"]
    widths = sorted(n.attr("out_features") for n in linears if n.attr("in_features") == 512 and n.shape[-1] != 512)
    ffn = sorted(net.encoder_ffn_embed_dim + net.decoder_ffn_embed_dim)
    assert widths == sorted(ffn + [1536] * 11 + [32768])  # FFN fc1s, packed q/k/v projections, the output projection
    # decoder layers 2–4 attend to the last two encoder layers: one (merged) concat of 2 × 30 source steps
    concats = [n for n in graph.nodes if n.op == "concat"]
    assert len(concats) == 1 and concats[0].shape == (60, 5, 512)
    # every attention is one fused `attention` node: 6 encoder self-attentions, and per decoder layer a masked
    # self-attention (the causal mask is its 4th input) and an encoder–decoder attention
    attention = [n for n in graph.nodes if n.op == "attention"]
    assert len(attention) == 6 + 5 + 5
    assert sum(len(n.inputs) == 4 for n in attention) == 5
    assert not any(n.op == "softmax" for n in graph.nodes)
    assert sum(n.op == "embedding" for n in graph.nodes) == 2


def test_parameters_equal_hats_count_and_the_published_model_size() -> None:
    """HAT's size (weights without embeddings) of its 28.4-BLEU WMT'14 En-De model is the published 48M;
    the graph counts exactly that plus the embedding tables and the constant tensors it cannot tell from weights.
    """
    assert SPACE.hat_params(HAT_RASPI) == 48_331_264 and round(SPACE.hat_params(HAT_RASPI) / 1e6) == 48
    torch = pytest.importorskip("torch")
    for dataset, task in TASKS.items():
        for cell in [*SPACE.sample(3, seed=len(dataset)), HAT_RASPI]:
            net = SPACE.parse(cell)
            with torch.device("meta"):  # sizes only, nothing allocated
                module = SPACE.to_torch(cell, dataset)
            weights = sum(p.numel() for name, p in module.named_parameters() if "embed" not in name)
            assert weights == net.hat_params()  # HAT's count, by hand and through the torch module
            e, d, t = net.encoder_embed_dim, net.decoder_embed_dim, task.length
            tables = task.source_vocab * e + 2 * task.target_vocab * d  # encoder, decoder, output projection
            # the sinusoidal positions and each decoder layer's causal mask are float constants in the
            # ONNX file: the parser counts every float constant as a weight
            constants = t * (e + d) + net.decoder_layer_num * t * t
            assert SPACE.to_graph(cell, dataset).total_params == net.hat_params() + tables + constants
