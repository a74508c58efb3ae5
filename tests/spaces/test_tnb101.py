"""TransNAS-Bench-101 micro and macro: cell spellings, the exact space, and networks that match the benchmark's.

The parameter checks compare with NAS-Bench-Suite-Zero's ``params`` (millions, 6 significant
digits) for the micro and macro networks on all seven tasks. Our graphs are in inference form, so
three differences from the benchmark's unfolded count are added back, each computed from the
graph itself (see :func:`benchmark_params`):

* BatchNorm folded into a convolution: :func:`params_with_batchnorm` adds its C (2C − the C of
  bias it became), as for every other space;
* the dense decoders' ``ConvLayer`` has a conv bias *and* a BatchNorm: unfolded that is C + 2C,
  folded it is one bias of C, so each such conv (the ones feeding a LeakyReLU) misses one more C;
  the decoders' last conv has a bias and no BatchNorm, so the C added for it is one too many.
(Jigsaw's encoder reads the nine tiles as one batch, so its weights are counted once, as the
benchmark counts them.)
"""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest

from archscore import data
from archscore.errors import InvalidCellError, UnknownNameError
from archscore.graph import ArchGraph, from_onnx
from archscore.spaces.tnb101 import EDGES, OPS, TASKS, TNB101Macro, TNB101Micro, macro_code, micro_digits
from archscore.testing import params_with_batchnorm

MICRO = TNB101Micro()
MACRO = TNB101Macro()
SPACES = {"micro": MICRO, "macro": MACRO}
ZC_NAMES = {"micro": "transbench101_micro", "macro": "transbench101_macro"}
TASK_NAMES = list(TASKS)


@functools.cache
def recorded(kind: str, task: str) -> dict[str, float]:
    """NAS-Bench-Suite-Zero's params (M) per canonical cell, for one space and task."""
    t = data.load("naslib_zc", target="params", search_space=ZC_NAMES[kind], dataset=task)
    space = SPACES[kind]
    return {space.canonical(a): float(y) for a, y in zip(t.archs, t.y)}


def as_recorded(params: int) -> float:
    """A parameter count the way the table writes it: millions, 6 significant digits."""
    return float(f"{params / 1e6:.6g}")


def benchmark_params(graph: ArchGraph, task: str) -> int:
    """The benchmark's (unfolded, shared-encoder) parameter count, from our inference-form graph."""
    consumers: dict[int, list[str]] = {}
    for src, dst in graph.edges:
        consumers.setdefault(src, []).append(graph.nodes[dst].op)
    outputs = {ref[0] for ref in graph.outputs}
    total = params_with_batchnorm(graph)
    for i, node in enumerate(graph.nodes):
        if node.op != "conv" or not node.attr("bias"):
            continue
        users = consumers.get(i, [])
        if users == ["leaky_relu"]:  # decoder ConvLayer: own bias + BN, folded into one bias
            total += int(node.attr("out_channels"))  # type: ignore[arg-type]
        elif users == ["tanh"] or i in outputs:  # the decoder's last conv: a bias, no BN
            total -= int(node.attr("out_channels"))  # type: ignore[arg-type]
    return total


# -- cells ---------------------------------------------------------------------------------------
def test_every_spelling_of_a_micro_cell_gives_the_benchmark_string() -> None:
    cell = "64-41414-3_13_302"
    ops = ("nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_3x3", "none", "nor_conv_1x1")
    for spelling in (cell, f" {cell}\n", "3_13_302", "313302", "(3, 1, 3, 3, 0, 2)", "[3, 1, 3, 3, 0, 2]", ops):
        assert MICRO.canonical(spelling) == cell, spelling
    assert MICRO.canonical([3, 1, 3, 3, 0, 2]) == cell
    assert MICRO.ops(cell) == ops and MICRO.naslib_code(cell) == "313302"
    assert micro_digits(cell) == (3, 1, 3, 3, 0, 2)


def test_every_spelling_of_a_macro_network_gives_the_benchmark_string() -> None:
    for spelling, cell in [
        ("64-111114-basic", "64-111114-basic"),
        ("111114", "64-111114-basic"),
        ("(1, 1, 1, 1, 1, 4)", "64-111114-basic"),
        ("(1, 2, 4, 2, 0, 0)", "64-1242-basic"),  # NAS-Bench-Suite-Zero pads with zeros
        ((4, 1, 3, 3, 3, 1), "64-413331-basic"),
    ]:
        assert MACRO.canonical(spelling) == cell, spelling
    assert MACRO.modules("64-1242-basic") == MACRO.naslib_code("64-1242-basic") == "1242"


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("64-41414-3_13_304", "0=none, 1=skip_connect, 2=nor_conv_1x1, 3=nor_conv_3x3"),
        ("313309", "valid digits: 0=none"),
        ("64-41414-3_13_30", "is not a cell"),
        ("32-41414-3_13_302", "is not a cell"),  # the skeleton is fixed
        ("64-4141-3_13_302", "is not a cell"),
        ("31330", "is not a cell"),
        ("(3, 1, 3)", "6 edge digits"),
        ("(3, 1, x, 3, 0, 2)", "tuple of single digits"),
        (("none",) * 5, "6 edge ops"),
        (("none",) * 5 + ("conv",), "none, skip_connect, nor_conv_1x1, nor_conv_3x3"),
    ],
)
def test_a_cell_outside_the_micro_space_is_refused_with_what_is_valid(bad, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        MICRO.canonical(bad)


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("111", "4 to 6 modules"),
        ("1111114", "4 to 6 modules"),
        ("111115", r"1 \(keep the shape\), 2 \(double the channels\)"),
        ("122221", "halves the resolution 0 times"),
        ("333331", "halves the resolution 5 times"),
        ("111113", "doubles the channels 0 times"),
        ("444411", "doubles the channels 4 times"),
        ("(1, 0, 1, 1, 1, 4)", "zeros may only pad the end"),
        ("64-111114-resnet", "is not a network"),
        ("32-111114-basic", "is not a network"),
        ("64-111113-basic", "doubles the channels 0 times"),
    ],
)
def test_a_network_outside_the_macro_space_is_refused_with_what_is_valid(bad: str, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        MACRO.canonical(bad)


def test_an_unknown_task_names_the_seven_tasks() -> None:
    assert MICRO.datasets[0] == MACRO.datasets[0] == "class_scene" and len(MICRO.datasets) == 7
    with pytest.raises(UnknownNameError, match="class_scene, class_object, jigsaw, room_layout"):
        MICRO.to_onnx("000000", "svhn")
    assert MICRO.input_shape("jigsaw") == (1, 9, 3, 64, 64) and MACRO.input_shape() == (1, 3, 256, 256)


def test_the_micro_space_is_exactly_the_benchmark_table() -> None:
    t = data.load("tnb101_micro")
    cells = list(MICRO.enumerate())
    assert len(cells) == len(set(cells)) == MICRO.size == 4096
    assert cells == [MICRO.canonical(a) for a in t.columns["tnb_arch_str"]]  # the same strings, same order
    assert [MICRO.naslib_code(c) for c in cells] == t.columns["naslib_ops"]
    assert [MICRO.canonical(c) for c in t.columns["naslib_ops"]] == cells


def test_the_macro_space_is_exactly_the_benchmark_table() -> None:
    t = data.load("tnb101_macro")
    cells = list(MACRO.enumerate())
    assert len(cells) == len(set(cells)) == MACRO.size == 3256
    assert set(cells) == {MACRO.canonical(a) for a in t.columns["tnb_arch_str"]}
    assert set(cells) == {MACRO.canonical(c) for c in t.columns["naslib_ops"]}
    assert {len(macro_code(c)) for c in cells} == {4, 5, 6}


def test_micro_sampling_and_mutation_change_one_edge() -> None:
    sample = MICRO.sample(60, seed=3)
    assert len(set(sample)) == 60 and sample == MICRO.sample(60, seed=3) and sample != MICRO.sample(60, seed=4)
    rng = random.Random(0)
    for cell in sample:
        child = MICRO.mutate(cell, rng)
        assert MICRO.canonical(child) == child
        assert sum(a != b for a, b in zip(micro_digits(cell), micro_digits(child))) == 1


def _one_edit(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one module changed, inserted or removed."""
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long = sorted((a, b), key=len)
    return len(long) == len(short) + 1 and any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def test_macro_mutation_is_one_module_changed_added_or_removed_and_stays_in_the_space() -> None:
    space = set(MACRO.enumerate())
    for cell in space:  # every network has neighbours, all of them in the space and one edit away
        neighbours = MACRO.neighbours(cell)
        assert neighbours and set(neighbours) <= space and cell not in neighbours
        assert all(_one_edit(macro_code(cell), macro_code(n)) for n in neighbours)
    rng = random.Random(1)
    cells = MACRO.sample(100, seed=5)
    children = [MACRO.mutate(c, rng) for c in cells]
    assert all(_one_edit(macro_code(c), macro_code(k)) for c, k in zip(cells, children))
    assert len({len(macro_code(k)) - len(macro_code(c)) for c, k in zip(cells, children)}) > 1  # depth changes too


# -- the networks and the benchmark's records ------------------------------------------------------
def test_the_naslib_digits_are_the_benchmark_digits_as_the_recorded_params_show() -> None:
    """NAS-Bench-Suite-Zero's micro tuples are the benchmark's digits in its edge order (0 none, 1 skip,
    2 conv1x1, 3 conv3x3): decoded so, 40 recorded networks have exactly their recorded params;
    decoded with NASLib's own op order (0 skip, 1 none, 2 conv3x3, 3 conv1x1) almost none do."""
    rows = list(recorded("micro", "class_scene").items())
    picked = random.Random(0).sample(rows, 40)
    ours = [as_recorded(benchmark_params(MICRO.to_graph(c), "class_scene")) for c, _ in picked]
    assert ours == [p for _, p in picked]
    naslib_order = {0: 1, 1: 0, 2: 3, 3: 2}
    swapped = [MICRO.canonical([naslib_order[d] for d in micro_digits(c)]) for c, _ in picked]
    hits = sum(
        as_recorded(benchmark_params(MICRO.to_graph(c), "class_scene")) == p for c, (_, p) in zip(swapped, picked)
    )
    assert hits <= 2


@pytest.mark.parametrize("task", TASK_NAMES)
@pytest.mark.parametrize("kind", ["micro", "macro"])
def test_parameters_equal_the_recorded_ones_on_every_task(kind: str, task: str) -> None:
    rows = sorted(recorded(kind, task).items())
    picked = random.Random(f"{kind}{task}").sample(rows, 30)
    space = SPACES[kind]
    mismatched = [
        (c, ours, p) for c, p in picked if (ours := as_recorded(benchmark_params(space.to_graph(c, task), task))) != p
    ]
    assert not mismatched, mismatched


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["micro", "macro"])
def test_parameters_equal_every_recorded_row(kind: str) -> None:
    """Every recorded network on every task except jigsaw (its encoder is the one class_scene checks,
    and its head is checked on 60 rows): 0 mismatches."""
    space = SPACES[kind]
    mismatched = []
    for task in TASK_NAMES:
        rows = sorted(recorded(kind, task).items())
        if task == "jigsaw":
            rows = random.Random(kind).sample(rows, 60)
        for cell, p in rows:
            ours = as_recorded(benchmark_params(space.to_graph(cell, task), task))
            if ours != p:
                mismatched.append((task, cell, ours, p))
    assert not mismatched, mismatched[:5]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["micro", "macro"])
def test_onnx_helper_and_pytorch_networks_parse_to_the_same_graph(kind: str) -> None:
    """20 random recorded networks on class_scene and two on each other task (one on jigsaw):
    the onnx.helper build equals the legacy export of the PyTorch module, whose own parameter count
    (nothing folded) is the recorded one."""
    torch = pytest.importorskip("torch")
    from archscore.testing.zoo import export

    space = SPACES[kind]
    rng = random.Random(f"torch{kind}")
    cases = [(c, "class_scene") for c in rng.sample(sorted(recorded(kind, "class_scene")), 6)]
    for task in TASK_NAMES[1:]:
        cases += [(c, task) for c in rng.sample(sorted(recorded(kind, task)), 1 if task == "jigsaw" else 2)]
    for cell, task in cases:
        module = space.to_torch(cell, task).eval()
        assert as_recorded(sum(p.numel() for p in module.parameters())) == recorded(kind, task)[cell], (cell, task)
        with torch.no_grad():
            reference = from_onnx(export(module, torch.randn(space.input_shape(task)), "legacy"))
        assert space.to_graph(cell, task) == reference, (cell, task)


def test_weights_can_be_embedded_and_the_graph_does_not_change() -> None:
    for task in ("class_scene", "jigsaw"):
        free = MACRO.to_onnx("64-1231-basic", task)
        with_weights = MACRO.to_onnx("64-1231-basic", task, weights=np.random.default_rng(0))
        learned = len(with_weights.graph.initializer) - len(free.graph.initializer)
        assert len(with_weights.graph.input) == 1 and learned == len(free.graph.input) - 1 > 40
        assert from_onnx(with_weights) == MACRO.to_graph("64-1231-basic", task)
    # the jigsaw encoder reads the nine tiles with one set of weights: as many learned tensors as on class_scene
    single, jigsaw = MACRO.to_onnx("64-1231-basic", "class_scene"), MACRO.to_onnx("64-1231-basic", "jigsaw")
    assert len(jigsaw.graph.input) == len(single.graph.input)


def _output_shape(graph: ArchGraph) -> tuple[int, ...] | None:
    src, slot = graph.outputs[0]
    return graph.nodes[src].outputs[slot]


@pytest.mark.parametrize("code", ["1242", "41413", "441312", "43331"])
def test_dense_decoders_upsample_as_far_as_the_encoder_halved(code: str) -> None:
    """Whatever the encoder's output width (256/8 … 256/64), the dense heads return 256×256 maps:
    the segmentation decoder has one stride-2 deconvolution per halving of the input (2 from the stem)."""
    halvings = 2 + sum(ch in "34" for ch in code)
    seg = MACRO.to_graph(code, "segmentsemantic")
    assert _output_shape(seg) == (1, 17, 256, 256)
    assert sum(n.op == "conv_transpose" for n in seg.nodes) == halvings
    for task in ("normal", "autoencoder"):
        assert _output_shape(MACRO.to_graph(code, task)) == (1, 3, 256, 256)
    assert _output_shape(MACRO.to_graph(code, "room_layout")) == (1, 9)


def test_cell_structure_shows_in_the_graph() -> None:
    """A none edge is a zero node (in a module's first cell, broadcast to the new shape), a skip edge
    is no node, or a factorized reduce where the shape changes."""
    convs = ["nor_conv_3x3"] * len(EDGES)
    none_first = ["none", *convs[1:]]  # edge 0→1: in the reduction cells it changes the shape
    skip_first = ["skip_connect", *convs[1:]]
    g_none, g_skip, g_conv = (MICRO.to_graph(c) for c in (none_first, skip_first, convs))
    assert len({g_none, g_skip, g_conv}) == 3
    assert sum(n.op == "zero" for n in g_none.nodes) == 10  # one per cell
    assert sum(n.op == "pad" for n in g_skip.nodes) == 3  # one per reduction cell (modules 4, 4, 4)
    # the conv edge out of node 1 still runs (and is counted) behind a none edge in a reduction cell
    assert sum(n.op == "conv" for n in g_none.nodes) == sum(n.op == "conv" for n in g_conv.nodes) - 10
    # jigsaw: one encoder reads the nine 64×64 tiles as a batch of nine
    jigsaw = MICRO.to_graph(convs, "jigsaw")
    conv_j = [n for n in jigsaw.nodes if n.op == "conv"]
    assert len(conv_j) == sum(n.op == "conv" for n in g_conv.nodes) and conv_j[0].shape == (9, 32, 32, 32)
    assert set(OPS) == {"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"}
