"""NAS-Bench-NLP: recipes as canonical strings, sampling and mutation, networks that match the benchmark's."""

from __future__ import annotations

import functools
import io
import json
import random
import warnings

import numpy as np
import pytest

from archscore import data
from archscore.errors import InvalidCellError, UnknownNameError
from archscore.graph import from_onnx
from archscore.spaces import get
from archscore.spaces.nbnlp import ARITY, EMBEDDING, VOCABULARY, layer_sizes, live_nodes, parse_recipe, read_states

SPACE = get("nbnlp")
LSTM_LIKE = {  # the benchmark's LSTM written as a recipe, with its own node names
    "i": {"op": "linear", "input": ["x", "h_prev_0"]},
    "i_act": {"op": "activation_sigm", "input": ["i"]},
    "c": {"op": "linear", "input": ["x", "h_prev_0"]},
    "c_act": {"op": "activation_tanh", "input": ["c"]},
    "f": {"op": "linear", "input": ["x", "h_prev_0"]},
    "f_act": {"op": "activation_sigm", "input": ["f"]},
    "keep": {"op": "elementwise_prod", "input": ["f_act", "h_prev_1"]},
    "write": {"op": "elementwise_prod", "input": ["i_act", "c_act"]},
    "h_new_1": {"op": "elementwise_sum", "input": ["keep", "write"]},
    "o": {"op": "linear", "input": ["x", "h_prev_0", "h_new_1"]},
    "o_act": {"op": "activation_sigm", "input": ["o"]},
    "h_tanh": {"op": "activation_tanh", "input": ["h_new_1"]},
    "h_new_0": {"op": "blend", "input": ["o_act", "h_tanh", "h_prev_0"]},
}


@functools.cache
def table():
    return data.load("nasbench_nlp")


def renamed(recipe: dict, prefix: str) -> dict:
    """The same recipe with every intermediate node renamed and the nodes listed in reverse order."""
    keep = lambda n: n == "x" or n.startswith(("h_prev_", "h_new_"))  # noqa: E731
    name = {n: n if keep(n) else prefix + n for n in recipe}
    items = reversed(recipe.items())
    return {name[n]: {"op": s["op"], "input": [name.get(i, i) for i in s["input"]]} for n, s in items}


def test_every_spelling_of_a_recipe_gives_one_canonical_string() -> None:
    cell = SPACE.canonical(json.dumps(LSTM_LIKE))
    assert SPACE.canonical(cell) == cell
    assert SPACE.canonical(LSTM_LIKE) == cell
    assert SPACE.canonical(renamed(LSTM_LIKE, "node_")) == cell
    assert SPACE.canonical(repr(LSTM_LIKE)) == cell  # a Python literal is accepted too
    assert [n.name for n in parse_recipe(cell)][:2] == ["n0", "n1"]
    for cell in SPACE.sample(40, seed=9):  # renaming and reordering never changes a cell
        assert SPACE.canonical(renamed(json.loads(cell), "q")) == cell


def test_the_table_recipes_are_cells_and_repeated_cells_are_merged() -> None:
    t = table()
    assert t.space == "nbnlp" and t.dataset == "wikitext2" and len(t.cells) == 345
    raw = {json.dumps(json.loads(r), sort_keys=True) for r in t.columns["recipe"]}
    assert len(raw) == 291  # the benchmark trained some recipes several times
    # … and wrote some cells under other node names or input orders (the vanilla RNN as "f" and as
    # "node_0"): those are one cell, and rows of one cell record one parameter count
    assert len(set(t.cells)) < len(raw)
    params: dict[str, set[str]] = {}
    for cell, p in zip(t.cells, t.columns["num_params"]):
        params.setdefault(cell, set()).add(p)
    assert all(len(p) == 1 for p in params.values())
    vanilla = SPACE.canonical({"h_new_0": {"op": "activation_tanh", "input": ["f"]}, "f": LSTM_LIKE["i"]})
    assert t.cells.count(vanilla) > 1


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"h_new_0": {"op": "conv", "input": ["x"]}}, "activation_tanh, activation_sigm"),
        ({"h_new_0": {"op": "blend", "input": ["x", "h_prev_0"]}}, "blend takes 3 inputs, got 2"),
        ({"h_new_0": {"op": "linear", "input": ["x", "y"]}}, "reads 'y', which is neither a node"),
        ({"h_new_0": {"op": "linear", "input": ["x", "h_prev_1"]}}, "keeps 1 state"),
        ({"h_new_1": {"op": "linear", "input": ["x"]}}, r"h_new_0 … h_new_\{k-1\}"),
        (
            {
                "a": {"op": "activation_tanh", "input": ["b"]},
                "b": {"op": "activation_tanh", "input": ["a"]},
                "h_new_0": {"op": "linear", "input": ["a"]},
            },
            "cycle through a",
        ),
        ({"h_new_0": {"op": "linear"}}, "must be"),
        ({"h_new_0": {"op": "elementwise_sum", "input": ["x", "h_prev_0"]}}, "only a linear node reads x"),
        ({"x": {"op": "linear", "input": ["x"]}}, "not allowed"),
        ("not json", "is not a recipe"),
        ({"h_new_0": {"op": ["linear"], "input": ["x"]}}, "is not one of linear"),
        ({"h_new_0": {"op": "linear", "input": "x"}}, "must be a list"),
        ({"h_new_0": {"op": "linear", "input": ["x", "h_prev_00"]}}, "neither a node nor x"),
        ({"h_new_00": {"op": "linear", "input": ["x"]}}, "not allowed"),
        ({}, "non-empty mapping"),
        ({f"n{i}": {"op": "activation_tanh", "input": ["x"]} for i in range(30)}, "at most 24 nodes"),
    ],
)
def test_a_recipe_outside_the_space_is_refused_with_what_is_valid(bad, named: str) -> None:
    with pytest.raises(InvalidCellError, match=named):
        SPACE.canonical(bad if isinstance(bad, str) else json.dumps(bad))


def test_unknown_dataset_names_what_is_valid() -> None:
    with pytest.raises(UnknownNameError, match="wikitext2"):
        SPACE.to_onnx(LSTM_LIKE, "ptb")


def test_sampling_and_mutation_stay_in_the_space() -> None:
    sample = SPACE.sample(100, seed=5)
    assert len(set(sample)) == 100 and sample == SPACE.sample(100, seed=5) and sample != SPACE.sample(100, seed=6)
    ops = {n.op for c in sample for n in parse_recipe(c)}
    assert ops == set(ARITY)  # every operation is drawn
    assert {len(read_states(parse_recipe(c))) for c in sample} >= {1, 2}
    rng = random.Random(0)
    for cell in sample[:40]:
        child = SPACE.mutate(cell, rng)
        assert child != cell and SPACE.canonical(child) == child
        assert len(parse_recipe(child)) == len(parse_recipe(cell))


def test_parameter_counts_equal_the_benchmark_records_for_every_row() -> None:
    """All 345 rows: the benchmark's count in closed form, and the ArchGraph's count.

    The ArchGraph counts a tensor once per node that reads it, so the decoder tied to the embedding
    adds the embedding once more (33,278 × 400); the benchmark's rows hold no dead linear node
    (whose weights the benchmark's model has and the network leaves out), which is checked too.
    """
    t = table()
    recorded = [int(p) for p in t.columns["num_params"]]
    assert [SPACE.benchmark_params(c) for c in t.cells] == recorded
    assert all(len(live_nodes(parse_recipe(c))) == len(parse_recipe(c)) for c in t.cells)
    graphs = t.graphs()
    tied = VOCABULARY["wikitext2"] * EMBEDDING
    assert [g.total_params - tied for g in graphs] == recorded


def test_a_dead_linear_node_counts_for_the_benchmark_and_not_in_the_network() -> None:
    spare = {**LSTM_LIKE, "spare": {"op": "linear", "input": ["x", "h_prev_0"]}}  # read by no node
    dead_weights = sum(h * (cin + h) + h for cin, h in ((400, 600), (600, 600), (600, 400)))
    assert SPACE.benchmark_params(spare) == SPACE.benchmark_params(LSTM_LIKE) + dead_weights
    assert SPACE.to_graph(SPACE.canonical(spare)) == SPACE.to_graph(SPACE.canonical(LSTM_LIKE))


def state_width(name: str) -> int:
    """Width of a previous-state input ``h{layer}_{k}``: its layer's hidden width."""
    return layer_sizes()[int(name[1 : name.index("_")])][1]


def _export(cell: str) -> bytes:
    torch = pytest.importorskip("torch")
    module = SPACE.to_torch(cell).eval()
    names = SPACE.data_inputs(cell)
    states = [torch.randn(1, 1, state_width(n)) for n in names[1:]]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.tensor([[7]]), *states), buf, input_names=names, dynamo=False)
    return buf.getvalue()


def test_onnx_helper_and_pytorch_networks_parse_to_the_same_graph() -> None:
    for cell in (SPACE.canonical(LSTM_LIKE), table().cells[0]):
        assert SPACE.to_graph(cell) == from_onnx(_export(cell), data_inputs=SPACE.data_inputs(cell))


@pytest.mark.slow
def test_onnx_helper_and_pytorch_networks_agree_on_random_cells() -> None:
    for cell in SPACE.sample(8, seed=21):
        assert SPACE.to_graph(cell) == from_onnx(_export(cell), data_inputs=SPACE.data_inputs(cell)), cell


def test_the_onnx_network_computes_what_the_pytorch_network_computes() -> None:
    """The weight-free ONNX fed the PyTorch module's weights gives its logits and new states."""
    torch = pytest.importorskip("torch")
    from onnx.reference import ReferenceEvaluator

    cell = SPACE.canonical(LSTM_LIKE)
    module = SPACE.to_torch(cell).eval()
    model = SPACE.to_onnx(cell)
    names = SPACE.data_inputs(cell)
    weights = [module.encoder.weight]  # the builder's order: embedding, each layer's linear nodes, decoder bias
    for layer in module.cells:
        for n in layer.live:
            if n.op == "linear":
                w = [layer.weights[f"{n.name}_w{j}"].T for j in range(len(n.inputs))]
                weights += [w[0], layer.weights[f"{n.name}_b"], *w[1:]]
    weights.append(module.decoder.bias)
    inputs = model.graph.input[len(names) :]
    assert len(inputs) == len(weights)
    feeds = {i.name: np.ascontiguousarray(w.detach().numpy()) for i, w in zip(inputs, weights)}
    x = torch.tensor([[123]])
    states = [torch.randn(1, 1, state_width(n)) for n in names[1:]]
    given = {"x": x.numpy(), **{n: s.numpy() for n, s in zip(names[1:], states)}}
    got = ReferenceEvaluator(model).run(None, {**given, **feeds})
    with torch.no_grad():
        want = [w.numpy() for w in module(x, *states)]
    assert [g.shape for g in got] == [w.shape for w in want] and got[0].shape == (1, VOCABULARY["wikitext2"])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.reshape(w.shape), w, rtol=0, atol=1e-4 * max(1.0, float(np.abs(w).max())))
