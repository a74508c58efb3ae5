"""Free statistics: a fixed schema, and values that follow the graph's structure."""

from __future__ import annotations

from onnx import helper

from archscore.graph import from_onnx
from archscore.graph.stats import STAT_NAMES
from archscore.testing.onnx_build import model, weight


def residual_net():
    """conv3x3 → relu → conv3x3 (+ skip from the first relu) → relu → maxpool/2 → conv1x1 to 16 channels."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Conv", ["r", "w2"], ["b"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Add", ["r", "b"], ["s"]),
        helper.make_node("Relu", ["s"], ["t"]),
        helper.make_node("MaxPool", ["t"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p", "w3"], ["y"], kernel_shape=[1, 1]),
    ]
    inits = [weight("w1", 8, 3, 3, 3), weight("w2", 8, 8, 3, 3), weight("w3", 16, 8, 1, 1)]
    return from_onnx(model(nodes, {"x": (1, 3, 16, 16)}, ["y"], inits))


def test_keys_are_the_fixed_schema_in_order() -> None:
    assert list(residual_net().stats()) == list(STAT_NAMES)


def test_statistics_follow_the_structure() -> None:
    g = residual_net()
    s = g.stats()
    assert s["macs"] == g.total_macs == 16 * 16 * 8 * 27 + 16 * 16 * 8 * 72 + 8 * 8 * 16 * 8
    assert s["params"] == 8 * 27 + 8 * 72 + 16 * 8
    assert s["depth"] == 7 and s["compute_depth"] == 3
    assert s["merges"] == 1 and s["skip_connections"] == 1 and s["longest_skip"] == 1
    assert s["branch_points"] == 1 and s["max_fan_out"] == 2
    assert (s["input_channels"], s["input_height"], s["input_width"]) == (3, 16, 16)
    assert s["num_stages"] == 2 and (s["width_stage_1"], s["width_stage_2"]) == (8, 16)
    assert (s["conv_k1"], s["conv_k3"]) == (1, 2)
    assert s["count_conv"] == 3 and s["count_relu"] == 2 and s["count_max_pool"] == 1
    assert s["compute_macs_share_conv"] == 1.0


def test_peak_activation_counts_only_live_tensors() -> None:
    chain = from_onnx(
        model([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])], {"x": (1, 100)}, ["y"])
    )
    s = chain.stats()
    assert s["activation_elements"] == 200
    assert s["peak_activation_elements"] == 200  # an op's input and output are alive together, never three


def test_effective_statistics_see_through_dead_edges() -> None:
    """NB201 cells whose only difference is computation that never reaches the output (a conv behind
    a ``none`` edge, a node read only through ``none`` edges) have equal effective statistics, and
    those equal the plain statistics of the cell without the dead part."""
    from archscore.spaces import get

    space = get("nb201")
    dead_branch = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    other_dead = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    identity = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    stats = [space.to_graph(c).stats() for c in (dead_branch, other_dead, identity)]
    effective = [k for k in STAT_NAMES if k.startswith("effective_")]
    assert [s["effective_macs"] for s in stats] == [stats[2]["macs"]] * 3
    assert all({k: s[k] for k in effective} == {k: stats[0][k] for k in effective} for s in stats)
    assert stats[0]["macs"] > stats[1]["macs"] > stats[2]["macs"]  # the plain counts do see the dead convs
    assert stats[0]["dead_nodes"] > stats[1]["dead_nodes"] > 0
    chain = space.to_graph("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|").stats()
    assert chain["effective_compute_depth"] == chain["compute_depth"] and chain["effective_conv_k3_plus"] == 50


def test_statistics_are_computed_once_per_graph_and_never_shared_or_pickled():
    import pickle

    from archscore.graph import stats as stats_module
    from archscore.graph.stats import stats
    from archscore.spaces import NB201

    graph = NB201().to_graph(NB201().sample(1, seed=3)[0])
    calls = []
    real = stats_module._compute
    stats_module._compute = lambda g: calls.append(g) or real(g)
    try:
        first = stats(graph)
        first["macs"] = -1.0  # a caller's change to its copy
        second = stats(graph)
    finally:
        stats_module._compute = real
    assert len(calls) == 1
    assert second["macs"] == float(graph.total_macs) > 0
    copy = pickle.loads(pickle.dumps(graph))
    assert copy == graph and "_stats_memo" not in copy.__dict__
    assert stats(copy) == second
