"""FBNet (HW-NAS-Bench): cell spellings, HELP's table, and networks that match HW-NAS-Bench's ``FBNet_Infer``.

HELP's FBNet table records latencies only (no parameter counts), so parameters are checked against a
count by hand of HW-NAS-Bench's definition and against the PyTorch reference network.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest

from archscore import data
from archscore.errors import InvalidCellError, UnknownNameError
from archscore.graph import ArchGraph, from_onnx
from archscore.spaces.fbnet import DATASETS, NUM_LAYERS, OP_NAMES, OPS, FBNet, cell_ops, layer_plan

SPACE = FBNet()
ROW0 = (
    "k5_e6 skip k3_e1_g2 skip k5_e1 skip skip skip k5_e6 k5_e1 k3_e1_g2 k5_e1 k5_e6 k3_e6 k3_e3 k5_e6 k3_e6 k3_e3 "
    "k5_e1 k3_e3 k5_e1 k5_e1_g2"
)
ROW0_IDX = [7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5]
ALL_SKIP = " ".join(["skip"] * NUM_LAYERS)
ALL_G2 = " ".join(["k3_e1_g2", "k5_e1_g2"] * (NUM_LAYERS // 2))


@functools.cache
def table() -> data.Table:
    return data.load("fbnet")


def bn_params(graph: ArchGraph) -> int:
    """Parameters with every BatchNorm unfolded (2 per channel): each biased conv's bias is a folded BN.

    (``archscore.testing.params_with_batchnorm`` skips depthwise convolutions.)
    """
    folded = sum(int(n.attr("out_channels")) for n in graph.nodes if n.op in ("conv", "dwconv") and n.attr("bias"))
    return graph.total_params + folded


def hand_count(ops: list[str], dataset: str) -> int:
    """Parameters of HW-NAS-Bench's ``FBNet_Infer`` counted from its definition, every BatchNorm 2 per channel."""
    s = DATASETS[dataset]

    def conv_bn(cin: int, cout: int, k: int, groups: int = 1) -> int:
        return cin // groups * cout * k * k + 2 * cout

    total = conv_bn(3, 16, 3)
    cin = 16
    channels = [16] + [24] * 4 + [32] * 4 + [64] * 4 + [112] * 4 + [184] * 4 + [352]
    first = {0, 1, 5, 9, 13, 17, 21}
    stage = 0
    for i, (op, cout) in enumerate(zip(ops, channels)):
        stride = s.stage_strides[stage] if i in first else 1
        stage += i in first
        if op == "skip":
            total += conv_bn(cin, cout, 1) if stride != 1 or cin != cout else 0
        else:
            k, e, g = int(op[1]), int(op[4]), 2 if op.endswith("_g2") else 1
            total += conv_bn(cin, cin * e, 1, g) + conv_bn(cin * e, cin * e, k, cin * e) + conv_bn(cin * e, cout, 1, g)
        cin = cout
    return total + conv_bn(352, s.head_channels, 1) + s.head_channels * s.num_classes + s.num_classes


# -- cells ------------------------------------------------------------------------------------
def test_every_spelling_of_a_cell_gives_the_canonical_string() -> None:
    assert SPACE.canonical(ROW0) == ROW0
    assert SPACE.canonical(f"  {ROW0}\n") == ROW0
    assert SPACE.canonical(" ".join(map(str, ROW0_IDX))) == ROW0  # HELP's op_idx column
    assert SPACE.canonical(str(ROW0_IDX)) == ROW0  # HW-NAS-Bench's arch_index list
    assert SPACE.canonical(ROW0_IDX) == ROW0
    assert SPACE.canonical(ROW0.split()) == ROW0
    assert SPACE.canonical(str(ROW0.split())) == ROW0  # "['k5_e6', 'skip', …]"
    assert SPACE.canonical(",".join(ROW0.split())) == ROW0
    assert SPACE.op_indices(ROW0) == ROW0_IDX
    assert list(OPS) == ["k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip"]


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (" ".join(ROW0.split()[:21]), "22 layer choices, got 21"),
        (ROW0.replace("k5_e6", "k7_e6", 1), "layer 0 has 'k7_e6'.*valid ops.*0=k3_e1"),
        ([*ROW0_IDX[:-1], 9], "layer 21 has 9"),
        ([*ROW0_IDX[:-1], True], "layer 21"),
        ("", "22 layer choices, got 0"),
    ],
)
def test_a_cell_outside_the_space_is_refused_with_what_is_valid(bad, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        SPACE.canonical(bad)


def test_every_table_row_is_a_canonical_cell_with_its_op_indices() -> None:
    t = table()
    assert len(t.archs) == 5000
    assert [SPACE.canonical(a) for a in t.archs] == t.archs
    assert [" ".join(map(str, SPACE.op_indices(a))) for a in t.archs] == t.columns["op_idx"]
    assert len(set(t.archs)) == 5000


def test_unknown_dataset_names_what_is_valid() -> None:
    with pytest.raises(UnknownNameError, match="cifar100, imagenet"):
        SPACE.to_onnx(ROW0, "cifar10")


def test_sampling_and_mutation() -> None:
    assert SPACE.size is None and SPACE.num_cells == 9**22
    sample = SPACE.sample(50, seed=3)
    assert len(set(sample)) == 50 and sample == SPACE.sample(50, seed=3) and sample != SPACE.sample(50, seed=4)
    assert all(SPACE.canonical(c) == c for c in sample)
    rng = random.Random(0)
    changed = set()
    for cell in sample:
        child = SPACE.mutate(cell, rng)
        diffs = [k for k, (a, b) in enumerate(zip(cell_ops(cell), cell_ops(child))) if a != b]
        assert len(diffs) == 1 and SPACE.canonical(child) == child
        changed.update(diffs)
    assert len(changed) > 10  # every layer can be mutated, not a fixed few
    ops = [op for c in SPACE.sample(200, seed=5) for op in cell_ops(c)]
    assert set(ops) == set(OP_NAMES)


# -- networks ---------------------------------------------------------------------------------
def test_channel_and_stride_schedule_is_hw_nas_bench_fbnet_v1() -> None:
    for dataset, strides in (("cifar100", [1, 1, 2, 2, 1, 2, 1]), ("imagenet", [1, 2, 2, 2, 1, 2, 1])):
        plan = layer_plan(dataset)
        assert [layer.cout for layer in plan] == [16] + [24] * 4 + [32] * 4 + [64] * 4 + [112] * 4 + [184] * 4 + [352]
        firsts = [plan[i].stride for i in (0, 1, 5, 9, 13, 17, 21)]
        assert firsts == strides and all(plan[i].stride == 1 for i in range(22) if i not in (0, 1, 5, 9, 13, 17, 21))
    assert SPACE.input_shape() == (1, 3, 32, 32) and SPACE.input_shape("imagenet") == (1, 3, 224, 224)
    graph = SPACE.to_graph(ALL_SKIP)
    assert graph.nodes[-1].shape == (1, 100) and SPACE.to_graph(ALL_SKIP, "imagenet").nodes[-1].shape == (1, 1000)


def test_parameters_counted_by_hand() -> None:
    # All skip, CIFAR-100: stem 3·16·9 + 2·16 = 464; the first skip of stages 1–6 is a 1×1 conv-BN
    # (16·24 + 48) + (24·32 + 64) + (32·64 + 128) + (64·112 + 224) + (112·184 + 368) + (184·352 + 704) = 97,280;
    # head 352·1504 + 2·1504 = 532,416; classifier 1504·100 + 100 = 150,500.
    assert hand_count(ALL_SKIP.split(), "cifar100") == 464 + 97_280 + 532_416 + 150_500 == 780_660
    # ImageNet: the same stem and skips, head 352·1984 + 2·1984 = 702,336, classifier 1984·1000 + 1000.
    assert hand_count(ALL_SKIP.split(), "imagenet") == 464 + 97_280 + 702_336 + 1_985_000 == 2_785_080
    for cell, dataset in [(ALL_SKIP, "cifar100"), (ALL_SKIP, "imagenet"), (ROW0, "cifar100"), (ALL_G2, "cifar100")]:
        assert bn_params(SPACE.to_graph(cell, dataset)) == hand_count(cell.split(), dataset), (cell, dataset)
    for cell in SPACE.sample(10, seed=8):
        assert bn_params(SPACE.to_graph(cell)) == hand_count(cell.split(), "cifar100"), cell


def test_block_structure_shows_in_the_graph() -> None:
    """A skip inside a stage is no node; a skip that changes width is a 1×1 conv; g2 blocks are grouped convs."""
    graph = SPACE.to_graph(ALL_SKIP)
    convs = [n for n in graph.nodes if n.op == "conv"]
    assert len(convs) == 1 + 6 + 1 and not any(n.op in ("dwconv", "add") for n in graph.nodes)
    g2 = SPACE.to_graph(ALL_G2)
    grouped = [n for n in g2.nodes if n.op == "conv" and n.attr("groups") == 2]
    assert len(grouped) == 2 * NUM_LAYERS and sum(n.op == "dwconv" for n in g2.nodes) == NUM_LAYERS
    assert sum(n.op == "add" for n in g2.nodes) == NUM_LAYERS - 6  # residual unless width or stride changes


def _assert_same_as_torch(cells: list[tuple[str, str]]) -> None:
    torch = pytest.importorskip("torch")
    from archscore.testing.zoo import export

    for cell, dataset in cells:
        module = SPACE.to_torch(cell, dataset).eval()
        reference = from_onnx(export(module, torch.randn(SPACE.input_shape(dataset)), "legacy"))
        graph = SPACE.to_graph(cell, dataset)
        assert graph == reference, (cell, dataset)
        assert bn_params(graph) == sum(p.numel() for p in module.parameters()), (cell, dataset)


def test_onnx_helper_and_pytorch_networks_parse_to_the_same_graph() -> None:
    _assert_same_as_torch([(ROW0, "cifar100"), (ALL_G2, "cifar100"), (ROW0, "imagenet")])


@pytest.mark.slow
def test_onnx_helper_and_pytorch_networks_agree_on_many_cells() -> None:
    """24 random cells on CIFAR-100, 4 on ImageNet, and the all-skip cell: same graph, same parameters."""
    cells = [(c, "cifar100") for c in [*SPACE.sample(8, seed=11), ALL_SKIP]]
    _assert_same_as_torch(cells + [(c, "imagenet") for c in SPACE.sample(2, seed=12)])


def test_onnx_network_computes_what_the_pytorch_network_computes() -> None:
    """With the same random weights the two give the same logits (this sees the channel order of the shuffle)."""
    torch = pytest.importorskip("torch")
    from onnx.reference import ReferenceEvaluator

    from archscore.spaces.mobilenet_torch import copy_onnx_weights

    for cell in (ALL_G2, ROW0):
        model = SPACE.to_onnx(cell, weights=np.random.default_rng(0))
        assert len(model.graph.input) == 1
        module = copy_onnx_weights(model, SPACE.to_torch(cell).eval())
        x = np.random.default_rng(1).normal(size=SPACE.input_shape()).astype(np.float32)
        (ours,) = ReferenceEvaluator(model).run(None, {"x": x})
        with torch.no_grad():
            theirs = module(torch.from_numpy(x)).numpy()
        assert ours.shape == (1, 100)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
        assert from_onnx(model) == SPACE.to_graph(cell)


def _ranks(values) -> np.ndarray:
    return np.argsort(np.argsort(np.asarray(values, dtype=float)))


def test_the_table_was_measured_on_the_cifar100_networks() -> None:
    """HELP's latencies rank like the CIFAR-100 networks' MACs, clearly better than like the ImageNet ones'."""
    t = table()
    n = 300
    macs = {ds: _ranks([SPACE.to_graph(c, ds).total_macs for c in t.archs[:n]]) for ds in DATASETS}
    for device in ("fpga", "raspi4", "pixel3"):
        latency = _ranks(t.columns[device][:n])
        cifar, imagenet = (float(np.corrcoef(macs[ds], latency)[0, 1]) for ds in ("cifar100", "imagenet"))
        assert cifar > 0.9 and cifar > imagenet + 0.03, (device, cifar, imagenet)
