"""NAS-Bench-301 / DARTS: genotype spellings, validity, sampling and mutation, and networks checked
against the benchmark tables (NASLib's parameter counts and FLOPs) and against a PyTorch reference."""

from __future__ import annotations

import ast
import collections
import functools
import json
import random

import numpy as np
import pytest

from archscore import data
from archscore.errors import InvalidCellError, UnknownNameError
from archscore.graph import from_onnx
from archscore.spaces.darts import (
    DATASETS,
    NB301,
    NUM_CELLS,
    OPS,
    STEPS,
    Genotype,
    build_network,
    naslib_compact,
    nb301_config,
    parameter_count,
    parse,
)
from archscore.testing import params_with_batchnorm

SPACE = NB301()

DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))"
)
"""DARTS' own genotype, verbatim from its genotypes.py (edges not ordered by input)."""
DARTS_V2_CANONICAL = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('max_pool_3x3', 1), ('skip_connect', 2)], reduce_concat=[2, 3, 4, 5])"
)


@functools.cache
def zc_table():
    return data.load("naslib_zc", "params", search_space="nasbench301")


def _pool_archs() -> list[str]:
    return data.load("nb301_pool").archs


# -- cells -------------------------------------------------------------------------------------------------
def test_every_spelling_of_a_genotype_gives_the_canonical_string() -> None:
    assert SPACE.canonical(DARTS_V2) == DARTS_V2_CANONICAL
    assert SPACE.canonical(DARTS_V2_CANONICAL) == DARTS_V2_CANONICAL
    assert SPACE.canonical(f"\n {DARTS_V2_CANONICAL} ") == DARTS_V2_CANONICAL
    # DARTS' own namedtuple (four fields), and ours
    darts_genotype = collections.namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    g = parse(DARTS_V2)
    theirs = darts_genotype(list(g.normal), range(2, 6), list(g.reduce), range(2, 6))
    assert SPACE.canonical(theirs) == DARTS_V2_CANONICAL
    assert SPACE.canonical(g) == DARTS_V2_CANONICAL
    with_numpy_ints = [[(np.int64(src), np.int64(OPS.index(op))) for op, src in edges] for edges in g]
    assert SPACE.canonical(with_numpy_ints) == DARTS_V2_CANONICAL  # NASLib's own compact lists hold numpy integers
    # NASLib's compact form, both spellings found in the tables: (input, op index) pairs
    compact = naslib_compact(DARTS_V2)
    assert compact.startswith("(((0, 3), (1, 3), (0, 3), (1, 3), (0, 2), (1, 3), (0, 2), (2, 5)), ((0, 0), (1, 0),")
    assert SPACE.canonical(compact) == DARTS_V2_CANONICAL
    as_lists = str([list(cell) for cell in ast.literal_eval(compact)])  # "[[(0, 3), (1, 3), ...], [...]]"
    assert as_lists.startswith("[[(0, 3), (1, 3)") and SPACE.canonical(as_lists) == DARTS_V2_CANONICAL
    # NAS-Bench-301's ConfigSpace dictionary, as a dict and as JSON text, and per-node groups of edges
    config = nb301_config(DARTS_V2)
    assert config["NetworkSelectorDatasetInfo:darts:inputs_node_normal_4"] == "0_1"
    assert config["NetworkSelectorDatasetInfo:darts:edge_reduce_7"] == "skip_connect"  # node 4 reads state 2
    assert SPACE.canonical(config) == SPACE.canonical(json.dumps(config)) == DARTS_V2_CANONICAL
    grouped = [[list(g.normal[2 * j : 2 * j + 2]) for j in range(STEPS)], [list(g.reduce)]]
    assert SPACE.canonical((grouped[0], grouped[1][0])) == DARTS_V2_CANONICAL


def test_the_order_of_a_nodes_two_edges_does_not_matter() -> None:
    rng = random.Random(0)
    for cell in SPACE.sample(8, seed=1):
        g = parse(cell)
        swapped = []
        for edges in g:
            edges = list(edges)
            for j in range(STEPS):
                if rng.random() < 0.5:
                    edges[2 * j], edges[2 * j + 1] = edges[2 * j + 1], edges[2 * j]
            swapped.append(edges)
        assert SPACE.canonical(tuple(swapped)) == cell


def test_naslib_op_indices_follow_naslibs_ops_list() -> None:
    """NASLib's nasbench301/conversions.py: OPS = [max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3,
    sep_conv_5x5, dil_conv_3x3, dil_conv_5x5]; the pair is (input node, op index)."""
    assert OPS == (
        "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
    )  # fmt: skip
    row = "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], [(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]"  # noqa: E501
    g = parse(row)
    assert g.normal[:4] == (("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("avg_pool_3x3", 0), ("avg_pool_3x3", 1))
    assert g.reduce[-2:] == (("max_pool_3x3", 2), ("dil_conv_5x5", 3))


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"), "not selectable in NAS-Bench-301"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('conv_7x1_1x7', 2)"), "max_pool_3x3, avg_pool_3x3"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "reads state 0 twice"),
        (DARTS_V2.replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)", 1), "may read states 0..1"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)]", "('dil_conv_3x3', 2), ('dil_conv_3x3', 3)]"), "has 9 edges"),
        (DARTS_V2.replace("normal_concat=range(2, 6)", "normal_concat=[4, 5]"), r"must be \[2, 3, 4, 5\]"),
        ("Genotype(normal=[('sep_conv_3x3', 0)]", "not a readable Genotype"),
        ("Genotype(normal=[], cells=[])", "a Genotype has fields"),
        ("[[(0, 0)] * 8, [(0, 9), (1, 0)] * 4]", "not a readable list"),
        (str([[(0, 0), (1, 0)] * 4, [(0, 9), (1, 0)] * 4]), "NASLib op index 9"),
        (str([[(0, 0), (1, 0)] * 4]), "two cells"),
        (str([[(0, 0), ("max_pool_3x3", 1)] * 4, [(0, 0), (1, 0)] * 4]), "mixes"),
        ('{"edge_normal_0": "skip_connect"}', "lacks 'edge_normal_1'"),
        ("|nor_conv_3x3~0|+|none~0|none~1|", "is not a cell"),
        ("", "is not a cell"),
    ],
)
def test_a_cell_outside_the_space_is_refused_with_what_is_valid(bad: str, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        SPACE.canonical(bad)


def test_unknown_dataset_names_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="cifar10, svhn, scifar100, ninapro"):
        SPACE.to_onnx(DARTS_V2, "imagenet")
    with pytest.raises(UnknownNameError, match="cifar10, svhn, scifar100, ninapro"):
        parameter_count(DARTS_V2, "cifar100")


def test_size_and_uniform_sampling() -> None:
    assert SPACE.size is None and NUM_CELLS == (1 * 3 * 6 * 10 * 7**8) ** 2
    with pytest.raises(NotImplementedError):
        next(SPACE.enumerate())
    sample = SPACE.sample(50, seed=3)
    assert len(set(sample)) == 50 and sample == SPACE.sample(50, seed=3) and sample != SPACE.sample(50, seed=4)
    assert all(SPACE.canonical(c) == c for c in sample)
    # uniform: the last node picks each of its 10 input pairs, and each edge each op, equally often
    rng = random.Random(5)
    genotypes = [parse(SPACE.random_cell(rng)) for _ in range(4000)]
    pairs = collections.Counter((g.normal[6][1], g.normal[7][1]) for g in genotypes)
    ops = collections.Counter(op for g in genotypes for op, _ in g.reduce)
    assert len(pairs) == 10 and all(0.07 < n / 4000 < 0.13 for n in pairs.values()), pairs
    assert len(ops) == 7 and all(0.13 < n / 32000 < 0.155 for n in ops.values()), ops


def _node(g: Genotype, k: int, j: int) -> set[tuple[str, int]]:
    """The two edges of node ``j`` of cell ``k`` (0 normal, 1 reduction)."""
    return set(g[k][2 * j : 2 * j + 2])


def test_mutation_changes_one_op_or_one_input_of_one_cell() -> None:
    rng = random.Random(2)
    kinds = collections.Counter()
    for cell in SPACE.sample(300, seed=6):
        child = SPACE.mutate(cell, rng)
        assert SPACE.canonical(child) == child != cell
        a, b = parse(cell), parse(child)
        changed = [(k, j) for k in range(2) for j in range(STEPS) if _node(a, k, j) != _node(b, k, j)]
        assert len(changed) == 1, (cell, child)
        k, j = changed[0]
        old, new = _node(a, k, j), _node(b, k, j)
        (gone,), (came,) = old - new, new - old
        assert (gone[0] == came[0]) != (gone[1] == came[1])  # exactly one of op and input changed
        kinds["input" if gone[0] == came[0] else "op"] += 1
    assert kinds["op"] > 100 and kinds["input"] > 50, kinds


def test_every_table_genotype_parses_and_the_pool_is_distinct_from_the_labelled_rows() -> None:
    pool = [SPACE.canonical(a) for a in _pool_archs()]
    labelled = [SPACE.canonical(a) for a in zc_table().archs]
    assert len(pool) == len(set(pool)) == 11_221
    assert len(labelled) == 1322 and not set(pool) & set(labelled)

    def nodes(compact: str) -> list[set[tuple[int, int]]]:
        return [set(cell[2 * j : 2 * j + 2]) for cell in ast.literal_eval(compact) for j in range(STEPS)]

    for arch, cell in zip(_pool_archs()[:500], pool):
        assert SPACE.canonical(naslib_compact(cell)) == cell
        assert nodes(naslib_compact(cell)) == nodes(arch)  # the same pairs, up to the order within a node


# -- parameters and FLOPs against the tables ---------------------------------------------------------------
def test_naslib_parameter_counts_equal_all_1322_nb301_rows_of_nas_bench_suite_zero() -> None:
    """NASLib's count (naslib=True) matches every row on every dataset to the table's 6 significant digits.

    This pins NASLib's network: stem 96, channels 32/64/128, 8 cells, no auxiliary head, affine
    preprocessing BatchNorms but affine-free BatchNorms in cell operations; and the datasets' input
    channels and classes (NinaPro: one channel, 18 classes). NB301's own network (naslib=False) has every
    BatchNorm affine: 2C more per BatchNorm inside a sep_conv (two), dil_conv or stride-2 skip.
    """
    z = zc_table()
    datasets = z.columns["dataset"]
    ours = np.array([parameter_count(a, d, naslib=True) for a, d in zip(z.archs, datasets)]) / 1e6
    digit = 10.0 ** (np.floor(np.log10(z.y)) - 5)  # the last printed digit of each value
    assert collections.Counter(datasets) == {"cifar10": 725, "svhn": 199, "scifar100": 199, "ninapro": 199}
    assert np.all(np.abs(ours - z.y) <= 0.5 * digit + 1e-12)
    nb301 = np.array([parameter_count(a, d) for a, d in zip(z.archs, datasets)]) / 1e6
    assert np.all(np.abs(nb301 - z.y) > 10 * digit)  # the recorded counts are not those of all-affine BatchNorms


def test_parameter_count_is_the_graphs_count() -> None:
    cells = [*SPACE.sample(6, seed=8), DARTS_V2_CANONICAL]
    for dataset in SPACE.datasets:
        for cell in cells[:3] if dataset != "cifar10" else cells:
            graph = SPACE.to_graph(cell, dataset)
            assert params_with_batchnorm(graph) == parameter_count(cell, dataset), (cell, dataset)


def test_darts_v2_at_the_papers_size_has_darts_parameter_count() -> None:
    """DARTS' evaluation network (C=36, 20 cells) of its DARTS_V2 genotype: its train.py logs
    ``param size = 3.349342MB`` (the paper's 3.3M), auxiliary head excluded, every BatchNorm affine."""
    graph = build_network(parse(DARTS_V2), channels=36, layers=20).graph()
    assert params_with_batchnorm(graph) == parameter_count(DARTS_V2, channels=36, layers=20) == 3_349_342


def test_recorded_flops_fix_each_datasets_input_resolution() -> None:
    """The same 199 genotypes were measured on SVHN (32×32), Spherical CIFAR-100 and NinaPro: NASLib's FLOPs
    over our multiply-accumulates is the same per genotype on all three only with the right input shapes
    (60×60 and 16×52; e.g. 64×64 would shift the ratio by 14 %)."""
    ratios = {}
    for dataset in ("svhn", "scifar100", "ninapro"):
        f = data.load("naslib_zc", "flops", search_space="nasbench301", dataset=dataset)
        cells = [SPACE.canonical(a) for a in f.archs[:8]]
        macs = np.array([SPACE.to_graph(c, dataset).total_macs for c in cells])
        ratios[dataset] = f.y[:8] * 1e6 / macs
    assert np.allclose(ratios["scifar100"], ratios["svhn"], rtol=0.01)
    assert np.allclose(ratios["ninapro"], ratios["svhn"], rtol=0.01)


# -- networks --------------------------------------------------------------------------------------------------
def test_cell_structure_shows_in_the_graph() -> None:
    g = parse(DARTS_V2)
    base = SPACE.to_graph(g)
    ops = collections.Counter(n.op for n in base.nodes)
    # normal cells: 5 sep_conv × 2 depthwise convs + 1 dil_conv, ×6 cells; reduction cells: none
    assert ops["dwconv"] == 6 * (5 * 2 + 1)
    assert sum(n.op == "dwconv" and n.attr("dilation") == (2, 2) for n in base.nodes) == 6
    # five max pools per reduction cell, on two distinct states: the parser keeps one pool per state
    assert ops["max_pool"] == 2 * 2 and "avg_pool" not in ops
    # a skip from an input of a reduction cell is a FactorizedReduce; from an intermediate node, nothing
    with_fr = g._replace(reduce=(("skip_connect", 0), *g.reduce[1:]))
    assert collections.Counter(n.op for n in SPACE.to_graph(with_fr).nodes)["concat"] == ops["concat"] + 2
    assert SPACE.to_graph(g._replace(reduce=(("avg_pool_3x3", 0), *g.reduce[1:]))) != base


def test_weights_can_be_embedded_and_the_graph_does_not_change() -> None:
    onnx = pytest.importorskip("onnx")
    cell = SPACE.sample(1, seed=5)[0]
    for dataset in SPACE.datasets:
        model = SPACE.to_onnx(cell, dataset, weights=np.random.default_rng(0))
        assert len(model.graph.initializer) > 100 and len(model.graph.input) == 1
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        out = [d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]
        assert out == [1, DATASETS[dataset][3]]
        assert from_onnx(model) == SPACE.to_graph(cell, dataset)


@pytest.mark.slow
def test_onnx_network_computes_what_the_pytorch_reference_computes() -> None:
    """Same weights in both: equal outputs. The graph comparison cannot see pixel offsets (FactorizedReduce's
    one-pixel shift, padding of equal size), this can."""
    torch = pytest.importorskip("torch")
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    cell = SPACE.sample(1, seed=4)[0]
    model = SPACE.to_onnx(cell, "ninapro", weights=np.random.default_rng(0))
    module = SPACE.to_torch(cell, "ninapro").eval()
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    # the learned tensors of both, in creation order: conv kernels and the classifier (BatchNorms are identities)
    ours = [t.name for t in model.graph.initializer if t.name.split("_")[0] in ("w", "fc")]
    theirs = [p for name, p in module.named_parameters() if p.dim() > 1 or name == "classifier.bias"]
    assert len(ours) == len(theirs)
    with torch.no_grad():
        for name, p in zip(ours, theirs):
            p.copy_(torch.tensor(values[name]))
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 0.0
    for node in model.graph.node:
        for a in node.attribute:
            if node.op_type == "BatchNormalization" and a.name == "epsilon":
                a.f = 0.0
    x = np.random.default_rng(1).normal(size=SPACE.input_shape("ninapro")).astype(np.float32)
    expected = module(torch.tensor(x)).detach().numpy()
    got = ReferenceEvaluator(model).run(None, {"x": x})[0]
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def _same_graph(cells: list[tuple[str, str]]) -> None:
    torch = pytest.importorskip("torch")
    from archscore.testing.zoo import export

    for cell, dataset in cells:
        module = SPACE.to_torch(cell, dataset).eval()
        reference = from_onnx(export(module, torch.randn(SPACE.input_shape(dataset)), "legacy"))
        assert SPACE.to_graph(cell, dataset) == reference, (cell, dataset)


def test_onnx_helper_and_pytorch_networks_parse_to_the_same_graph() -> None:
    _same_graph([(DARTS_V2_CANONICAL, "cifar10"), (SPACE.sample(1, seed=9)[0], "scifar100")])


@pytest.mark.slow
def test_onnx_helper_and_pytorch_networks_agree_on_random_genotypes() -> None:
    cells = [(c, "cifar10") for c in SPACE.sample(20, seed=11)]
    cells += [(c, ds) for c, ds in zip(SPACE.sample(3, seed=12), ("svhn", "scifar100", "ninapro"))]
    _same_graph(cells)
