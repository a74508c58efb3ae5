"""Once-for-All MobileNetV3: cell spellings, HELP's table, and networks that match OFA's subnets.

HELP's OFA table records GPU latencies only (no parameter counts), so parameters are checked against
the published count of MobileNetV3-Large (the space's nearest neighbour) and the PyTorch reference.
"""

from __future__ import annotations

import functools
import json
import random
import re

import numpy as np
import pytest

from archscore import data
from archscore.errors import InvalidCellError, UnknownNameError
from archscore.graph import ArchGraph, from_onnx
from archscore.spaces.ofa_mbv3 import DEPTHS, RESOLUTIONS, OFAMobileNetV3, parse

SPACE = OFAMobileNetV3()
ROW0 = "ks=7 5 5 5 7 7 5 7 5 7 3 7 5 3 7 3 5 3 5 3; e=6 4 4 6 6 3 4 3 3 6 3 3 3 6 3 4 6 4 3 6; d=2 2 2 2 3; r=204"
ROW0_CANONICAL = (
    "ks=7 5 0 0 7 7 0 0 5 7 0 0 5 3 0 0 5 3 5 0; e=6 4 0 0 6 3 0 0 3 6 0 0 3 6 0 0 6 4 3 0; d=2 2 2 2 3; r=204"
)
LARGEST = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": 224}
SMALLEST = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 128}
MBV3_LARGE_LIKE = {  # MobileNetV3-Large's kernels, depths and expansions, except e = 3 for 3 blocks of stage 3
    "ks": [3, 3, 5, 5, 5, 3, 3, 3, 3, 3, 3, 5, 5, 5],
    "e": [4, 3, 3, 3, 3, 6, 3, 3, 3, 6, 6, 6, 6, 6],
    "d": [2, 3, 4, 2, 3],
    "r": 224,
}


@functools.cache
def table() -> data.Table:
    return data.load("ofa_mbv3")


def bn_params(graph: ArchGraph) -> int:
    """Parameters with every BatchNorm unfolded (2 per channel).

    A biased convolution is a folded BatchNorm except in the SE gates, whose two 1×1 convolutions have
    a real bias and act on 1×1 maps (no other biased convolution does). (``archscore.testing.
    params_with_batchnorm`` would count the SE biases twice and skip the depthwise convolutions.)
    """
    folded = sum(
        int(n.attr("out_channels"))
        for n in graph.nodes
        if n.op in ("conv", "dwconv") and n.attr("bias") and tuple(n.shape[2:]) != (1, 1)  # type: ignore[index]
    )
    return graph.total_params + folded


# -- cells ------------------------------------------------------------------------------------
def test_unused_blocks_are_normalised_away_and_every_spelling_agrees() -> None:
    assert SPACE.canonical(ROW0) == ROW0_CANONICAL
    assert SPACE.canonical(ROW0_CANONICAL) == ROW0_CANONICAL
    config = SPACE.config(ROW0)
    assert config == {
        "ks": [7, 5, 0, 0, 7, 7, 0, 0, 5, 7, 0, 0, 5, 3, 0, 0, 5, 3, 5, 0],
        "e": [6, 4, 0, 0, 6, 3, 0, 0, 3, 6, 0, 0, 3, 6, 0, 0, 6, 4, 3, 0],
        "d": [2, 2, 2, 2, 3],
        "r": 204,
    }
    assert SPACE.canonical(config) == ROW0_CANONICAL
    assert SPACE.canonical(json.dumps(config | {"wid": None})) == ROW0_CANONICAL  # HELP's/OFA's JSON config
    assert SPACE.canonical(str(config | {"r": [204]})) == ROW0_CANONICAL  # OFA's sampler gives r as a list
    compact = {"ks": [7, 5, 7, 7, 5, 7, 5, 3, 5, 3, 5], "e": [6, 4, 6, 3, 3, 6, 3, 6, 6, 4, 3], "d": "2 2 2 2 3"}
    assert SPACE.canonical(compact | {"r": 204}) == ROW0_CANONICAL  # only the active blocks
    assert SPACE.canonical("r=204; d=[2, 2, 2, 2, 3]; " + ROW0.rsplit("; d=", 1)[0]) == ROW0_CANONICAL
    assert SPACE.canonical(compact).endswith("r=224")  # OFA's default resolution


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (ROW0.replace("d=2 2 2 2 3", "d=2 2 2 2 5"), "stage depths from 2, 3, 4"),
        (ROW0.replace("ks=7", "ks=9"), "ks of block 1 of stage 1 is 9; valid: 3, 5, 7"),
        (ROW0.replace("ks=7 5 5", "ks=7 5 9"), r"ks\[2\] = 9 is not one of 3, 5, 7 \(or 0"),
        (ROW0.replace("e=6", "e=0"), "e of block 1 of stage 1 is 0; valid: 3, 4, 6"),
        (ROW0.replace("e=6", "e=2.5"), "not a whole number"),
        (ROW0.replace("ks=7 5 ", "ks="), "ks has 18 entries; give 20"),
        (ROW0.replace("r=204", "r=130"), "from 128 to 224 in steps of 4"),
        (ROW0 + "; w=1.2", "unknown key.*'w'"),
        (ROW0.split("; d=")[0], "missing d"),
        ("hello", "is not 'key=values'"),
        ({"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "wid": 1}, "unknown key.*'wid'"),
        (42, "a string or a mapping"),
    ],
)
def test_a_cell_outside_the_space_is_refused_with_what_is_valid(bad, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        SPACE.canonical(bad)


def test_every_table_row_canonicalises_keeping_its_active_blocks() -> None:
    t = table()
    assert len(t.archs) == 5000
    cells = [SPACE.canonical(a) for a in t.archs]
    for raw, cell in zip(t.archs, cells):
        fields = dict(part.split("=") for part in raw.split("; "))
        ks, es, ds = ([int(v) for v in fields[k].split()] for k in ("ks", "e", "d"))
        kept = {(s, j): (ks[4 * s + j], es[4 * s + j]) for s, d in enumerate(ds) for j in range(d)}
        parsed = parse(cell)
        assert {(s, j): b for s, blocks in enumerate(parsed.blocks) for j, b in enumerate(blocks)} == kept
        assert parsed.resolution == int(fields["r"]) and SPACE.canonical(cell) == cell
    assert sorted({parse(c).resolution for c in cells}) == list(RESOLUTIONS)


def test_unknown_dataset_names_what_is_valid() -> None:
    with pytest.raises(UnknownNameError, match="imagenet"):
        SPACE.to_onnx(ROW0, "cifar10")


def _choices(cell: str) -> dict[tuple[str, int, int], int]:
    parsed = parse(cell)
    out = {("r", 0, 0): parsed.resolution}
    for s, blocks in enumerate(parsed.blocks):
        out[("d", s, 0)] = len(blocks)
        for j, (k, e) in enumerate(blocks):
            out[("k", s, j)], out[("e", s, j)] = k, e
    return out


def test_sampling_and_mutation() -> None:
    assert SPACE.size is None and SPACE.num_cells == (9**2 + 9**3 + 9**4) ** 5 * 25
    sample = SPACE.sample(60, seed=3)
    assert len(set(sample)) == 60 and sample == SPACE.sample(60, seed=3) and sample != SPACE.sample(60, seed=4)
    assert all(SPACE.canonical(c) == c for c in sample)
    assert {d for c in sample for d in parse(c).depths} == set(DEPTHS)
    rng = random.Random(0)
    kinds = set()
    for cell in sample * 3:
        child = SPACE.mutate(cell, rng)
        before, after = _choices(cell), _choices(child)
        changed = [key for key in before.keys() & after.keys() if before[key] != after[key]]
        assert SPACE.canonical(child) == child and child != cell
        if any(key[0] == "d" for key in changed):  # a depth change adds or drops a stage's last block
            assert len(changed) == 1 and abs(len(before) - len(after)) in (2, 4)
        else:
            assert len(changed) == 1 and before.keys() == after.keys()
        kinds.add(changed[0][0])
    assert kinds == {"k", "e", "d", "r"}


# -- networks ---------------------------------------------------------------------------------
def test_the_resolution_of_the_cell_is_the_input_resolution() -> None:
    assert SPACE.input_shape() == (1, 3, 224, 224)
    assert SPACE.input_shape("imagenet", ROW0) == (1, 3, 204, 204)
    graph = SPACE.to_graph(ROW0)
    assert graph.nodes[0].op == "input" and graph.nodes[0].shape == (1, 3, 204, 204)
    assert graph.nodes[-1].shape == (1, 1000)
    small, large = SPACE.to_graph(SMALLEST), SPACE.to_graph(LARGEST)
    assert small.total_macs < graph.total_macs < large.total_macs


def test_stage_structure_shows_in_the_graph() -> None:
    """SE gates in stages 2, 4, 5 only; h-swish from stage 3 on; residual adds on all but each stage's first block."""
    graph = SPACE.to_graph(LARGEST)
    ops = [n.op for n in graph.nodes]
    assert ops.count("dwconv") == 1 + 20
    assert ops.count("mul") == 3 * 4  # one SE gate per block of stages 2, 4 and 5
    assert ops.count("hardsigmoid") == 12 and ops.count("add") == 1 + 5 * 3
    assert ops.count("hardswish") == 1 + 3 * 4 * 2 + 2  # first conv, 2 per h-swish block, final expand, feature mix
    assert ops.count("relu") == 1 + 2 * 4 * 2 + 12  # first block, 2 per ReLU-stage block, 1 per SE gate


def test_parameters_match_the_published_mobilenet_v3_large() -> None:
    """MobileNetV3-Large has 5,483,032 parameters (torchvision's ``mobilenet_v3_large``).

    It is the OFA subnet ``MBV3_LARGE_LIKE`` except for two details, counted here: its stage-3 blocks
    2–4 expand 80 channels to 200, 184, 184 (OFA's e = 3 gives 240; such a block has 173·mid + 160
    parameters with BatchNorm), and its feature-mix layer is a Linear with a bias of 1280.
    """
    ours = bn_params(SPACE.to_graph(MBV3_LARGE_LIKE))
    assert ours - 173 * (3 * 240 - (200 + 184 + 184)) + 1280 == 5_483_032


def _assert_same_as_torch(cells: list[object]) -> None:
    torch = pytest.importorskip("torch")
    from archscore.testing.zoo import export

    for cell in cells:
        module = SPACE.to_torch(cell).eval()  # type: ignore[arg-type]
        x = torch.randn(SPACE.input_shape(None, cell))  # type: ignore[arg-type]
        reference = from_onnx(export(module, x, "legacy"))
        graph = SPACE.to_graph(cell)  # type: ignore[arg-type]
        assert graph == reference, cell
        assert bn_params(graph) == sum(p.numel() for p in module.parameters()), cell


def test_onnx_helper_and_pytorch_networks_parse_to_the_same_graph() -> None:
    _assert_same_as_torch([ROW0, SMALLEST])


@pytest.mark.slow
def test_onnx_helper_and_pytorch_networks_agree_on_many_cells() -> None:
    """22 random cells, the largest subnet and MobileNetV3-Large's neighbour: same graph, same parameters."""
    _assert_same_as_torch([*SPACE.sample(8, seed=11), LARGEST, MBV3_LARGE_LIKE])


def test_onnx_network_computes_what_the_pytorch_network_computes() -> None:
    torch = pytest.importorskip("torch")
    from onnx.reference import ReferenceEvaluator

    from archscore.spaces.mobilenet_torch import copy_onnx_weights

    cell = SPACE.canonical(SMALLEST | {"ks": [7, 5, 3, 3] * 5, "e": [6, 4, 3, 3] * 5})
    model = SPACE.to_onnx(cell, weights=np.random.default_rng(0))
    module = copy_onnx_weights(model, SPACE.to_torch(cell).eval())
    x = np.random.default_rng(1).normal(size=SPACE.input_shape(None, cell)).astype(np.float32)
    (ours,) = ReferenceEvaluator(model).run(None, {"x": x})
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    assert ours.shape == (1, 1000)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
    assert from_onnx(model) == SPACE.to_graph(cell)


def _ranks(values) -> np.ndarray:
    return np.argsort(np.argsort(np.asarray(values, dtype=float)))


def test_batch_64_gpu_latency_ranks_like_the_networks_macs() -> None:
    """HELP's batch-64 GPU latencies follow the networks' MACs, which need each cell's own resolution."""
    t = table()
    n = 150
    latency = _ranks(t.columns["v100_64"][:n])
    macs = _ranks([SPACE.to_graph(c).total_macs for c in t.archs[:n]])
    at_224 = _ranks([SPACE.to_graph(re.sub(r"r=\d+", "r=224", c)).total_macs for c in t.archs[:n]])
    with_r, without_r = (float(np.corrcoef(m, latency)[0, 1]) for m in (macs, at_224))
    assert with_r > 0.95 and without_r < 0.6, (with_r, without_r)
