"""NAS-Bench-NLP: recurrent cells in the benchmark's 3-layer language model on WikiText-2.

A cell is a *recipe*: a small DAG, written as JSON, that computes the new hidden states
``h_new_0 … h_new_{k-1}`` of one time step from the token's input ``x`` and the previous states
``h_prev_0 … h_prev_{k-1}`` (``k`` ≤ 3; ``h_new_0`` is the layer's output). Each node is
``{"op": …, "input": [...]}`` with one of the benchmark's operations:

* ``linear``: ``W_1·a_1 + … + W_n·a_n + b`` (one weight matrix per input, one bias);
* ``blend``: ``z·a + (1 − z)·b`` for inputs ``(z, a, b)``;
* ``elementwise_prod`` and ``elementwise_sum`` of two inputs;
* ``activation_tanh``, ``activation_sigm`` and ``activation_leaky_relu`` (slope 0.01) of one.

The network is the benchmark's AWD language model in eval mode: a 33,278 × 400 word embedding,
three layers of the cell (400 → 600, 600 → 600, 600 → 400 hidden units) and a decoder tied to the
embedding. It is built for **one time step** of one sequence: inputs ``x`` (the token id, shape
1 × 1) and the previous states each layer's cell reads, ``h{layer}_{k}`` (1 × 1 × width);
outputs the logits over the vocabulary and every new state. A cell's parameter count is the
benchmark's recorded ``num_params`` (linear nodes whose result no state uses still have their
weights in the benchmark's model; the network leaves them out, and a tensor read twice, the tied
embedding, counts once per reader in an ArchGraph).

Canonical cell string: the recipe as compact JSON, nodes in a fixed topological order and the
intermediate nodes renamed ``n0, n1, …`` so that two spellings of one cell give one string.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np
from onnx import TensorProto

from archscore.errors import InvalidCellError
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace, literal_text

if TYPE_CHECKING:
    pass

ARITY: dict[str, tuple[int, int]] = {
    "linear": (1, 3),
    "blend": (3, 3),
    "elementwise_prod": (2, 2),
    "elementwise_sum": (2, 2),
    "activation_tanh": (1, 1),
    "activation_sigm": (1, 1),
    "activation_leaky_relu": (1, 1),
}
"""Operation → (fewest, most) inputs."""
ACTIVATIONS = ("activation_tanh", "activation_sigm", "activation_leaky_relu")
ONNX_ACTIVATION = {"activation_tanh": "Tanh", "activation_sigm": "Sigmoid", "activation_leaky_relu": "LeakyRelu"}
MAX_STATES = 3
MAX_NODES = 24
"""Largest recipe accepted (the benchmark's have 2 to 15 nodes)."""

VOCABULARY = {"wikitext2": 33_278}
"""Dataset → vocabulary size (the benchmark's WikiText-2 corpus)."""
EMBEDDING, HIDDEN, LAYERS = 400, 600, 3


class Node(NamedTuple):
    name: str
    op: str
    inputs: tuple[str, ...]


def _err(message: str) -> InvalidCellError:
    return InvalidCellError(f"nbnlp: {message}")


_PREV = re.compile(r"h_prev_(0|[1-9][0-9]*)")
_NEW = re.compile(r"h_new_(0|[1-9][0-9]*)")


def _leaf(name: str) -> bool:
    return name == "x" or _PREV.fullmatch(name) is not None


def _state(name: str) -> int | None:
    """``k`` of ``h_new_k``; ``None`` for any other name."""
    m = _NEW.fullmatch(name)
    return int(m.group(1)) if m else None


def parse_recipe(cell: object) -> list[Node]:
    """The nodes of a recipe (JSON text or a mapping), checked, in canonical order with canonical names.

    Raises :class:`InvalidCellError` naming what is wrong and what is valid.
    """
    if isinstance(cell, str):
        try:
            cell = literal_text(cell.strip())
        except ValueError:
            raise _err(f'{cell[:80]!r} is not a recipe: give JSON like {{"h_new_0": {{"op": "linear", '
                       '"input": ["x", "h_prev_0"]}}}}') from None  # fmt: skip
    if not isinstance(cell, dict) or not cell:
        raise _err(f"a recipe is a non-empty mapping of node name → {{op, input}}, got {type(cell).__name__}")
    if len(cell) > MAX_NODES:
        raise _err(f"a recipe has at most {MAX_NODES} nodes, got {len(cell)}")
    nodes: dict[str, Node] = {}
    for name, spec in cell.items():
        reserved = isinstance(name, str) and re.fullmatch(r"h_(new|prev)_\d+", name) is not None
        if not isinstance(name, str) or _leaf(name) or (reserved and _state(name) is None):
            raise _err(f"node name {name!r} is not allowed (x, h_prev_k are inputs; outputs are h_new_0, h_new_1 …)")
        if not isinstance(spec, dict) or set(spec) != {"op", "input"}:
            raise _err(f"node {name!r} must be {{'op': …, 'input': [...]}}, got {spec!r:.80}")
        op, inputs = spec["op"], spec["input"]
        if not isinstance(op, str) or op not in ARITY:
            raise _err(f"node {name!r}: op {op!r} is not one of {', '.join(ARITY)}")
        if not isinstance(inputs, (list, tuple)) or not all(isinstance(i, str) for i in inputs):
            raise _err(f"node {name!r}: 'input' must be a list of node names, got {inputs!r:.80}")
        low, high = ARITY[op]
        if not low <= len(inputs) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            raise _err(f"node {name!r}: {op} takes {count} inputs, got {len(inputs)}")
        nodes[name] = Node(name, op, tuple(inputs))
    states = sorted(k for k in map(_state, nodes) if k is not None)
    if not states or states != list(range(len(states))) or len(states) > MAX_STATES:
        raise _err(
            f"a recipe defines h_new_0 … h_new_{{k-1}} for k = 1 to {MAX_STATES}, got {[f'h_new_{k}' for k in states]}"
        )
    for n in nodes.values():
        if n.op != "linear" and "x" in n.inputs:
            raise _err(f"node {n.name!r}: only a linear node reads x (its width differs from the states'), not {n.op}")
        for i in n.inputs:
            if i in nodes:
                continue
            if not _leaf(i):
                raise _err(f"node {n.name!r} reads {i!r}, which is neither a node nor x / h_prev_k (k: 0, 1, 2)")
            if i != "x" and int(i[7:]) >= len(states):
                raise _err(f"node {n.name!r} reads {i!r}, but the cell keeps {len(states)} state(s) (h_new_0 …)")
    return _canonical_order(nodes)


COMMUTATIVE = frozenset({"linear", "elementwise_prod", "elementwise_sum"})


def _canonical_order(nodes: dict[str, Node]) -> list[Node]:
    """Nodes in a fixed topological order, intermediates renamed ``n0, n1, …``.

    Kahn's algorithm takes the ready node with the smallest key: its op, its (renamed) inputs and a
    colour from Weisfeiler-Lehman refinement over the whole recipe, so nodes that compute alike
    from the same inputs (an LSTM's gates) are told apart by where their results go. Inputs of
    commutative ops are sorted.
    """
    consumers: dict[str, list[tuple[str, int]]] = {name: [] for name in nodes}
    for n in nodes.values():
        for pos, i in enumerate(n.inputs):
            if i in nodes:
                consumers[i].append((n.name, -1 if n.op in COMMUTATIVE else pos))
    colour = {name: f"{n.op}|{name if _state(name) is not None else ''}" for name, n in nodes.items()}
    for _ in range(len(nodes)):
        refined = {}
        for name, n in nodes.items():
            ins = [colour.get(i, i) for i in n.inputs]  # x and h_prev_k are their own colour
            if n.op in COMMUTATIVE:
                ins.sort()
            outs = sorted(f"{colour[c]}@{pos}" for c, pos in consumers[name])
            label = f"{colour[name]}({','.join(ins)})[{','.join(outs)}]"
            refined[name] = hashlib.blake2b(label.encode(), digest_size=8).hexdigest()
        if len(set(refined.values())) == len(set(colour.values())):
            break  # stable: no class split any further
        colour = refined
    renamed: dict[str, str] = {}
    waiting = dict(nodes)
    out: list[Node] = []
    while waiting:
        ready = []
        for n in waiting.values():
            if all(i not in nodes or i in renamed for i in n.inputs):
                ins = [renamed.get(i, i) for i in n.inputs]
                if n.op in COMMUTATIVE:
                    ins.sort()
                ready.append(((n.op, tuple(ins), colour[n.name]), n, ins))
        if not ready:
            raise _err(f"the recipe has a cycle through {', '.join(sorted(waiting))}")
        _, n, ins = min(ready, key=lambda r: r[0])
        name = n.name if _state(n.name) is not None else f"n{sum(_state(m.name) is None for m in out)}"
        renamed[n.name] = name
        out.append(Node(name, n.op, tuple(ins)))
        del waiting[n.name]
    return out


def recipe_text(nodes: Sequence[Node]) -> str:
    return json.dumps({n.name: {"op": n.op, "input": list(n.inputs)} for n in nodes}, separators=(",", ":"))


def states_of(nodes: Sequence[Node]) -> int:
    return sum(_state(n.name) is not None for n in nodes)


def live_nodes(nodes: Sequence[Node]) -> list[Node]:
    """The nodes some new state depends on, in the given order."""
    by_name = {n.name: n for n in nodes}
    live: set[str] = set()
    stack = [n.name for n in nodes if _state(n.name) is not None]
    while stack:
        name = stack.pop()
        if name in live:
            continue
        live.add(name)
        stack.extend(i for i in by_name[name].inputs if i in by_name)
    return [n for n in nodes if n.name in live]


def read_states(nodes: Sequence[Node]) -> list[int]:
    """The previous states the live part of the cell reads (``k`` of each ``h_prev_k``), ascending."""
    return sorted({int(i[7:]) for n in live_nodes(nodes) for i in n.inputs if i.startswith("h_prev_")})


def layer_sizes() -> list[tuple[int, int]]:
    """(input width, hidden width) of each layer: the last is tied to the embedding's width."""
    return [(EMBEDDING if i == 0 else HIDDEN, HIDDEN if i < LAYERS - 1 else EMBEDDING) for i in range(LAYERS)]


def benchmark_params(cell: object, dataset: str = "wikitext2") -> int:
    """Parameters as NAS-Bench-NLP counts them: embedding (tied to the decoder), decoder bias, every linear node."""
    nodes = parse_recipe(cell)
    vocab = VOCABULARY[dataset]
    total = vocab * EMBEDDING + vocab
    for cin, h in layer_sizes():
        for n in nodes:
            if n.op == "linear":
                total += sum(h * (cin if i == "x" else h) for i in n.inputs) + h
    return total


def state_name(layer: int, k: int) -> str:
    return f"h{layer}_{k}"


class NBNLP(SearchSpace):
    name: ClassVar[str] = "nbnlp"
    torch_reference: ClassVar[str] = "archscore.spaces.nbnlp_torch:nbnlp_network"
    description: ClassVar[str] = (
        "NAS-Bench-NLP: recurrent cells (recipes of linear, blend, elementwise and activation nodes, 1-3 states) "
        "in a 3-layer AWD language model"
    )
    datasets: ClassVar[tuple[str, ...]] = tuple(VOCABULARY)

    def canonical(self, cell: object) -> str:
        return recipe_text(parse_recipe(cell))

    def random_cell(self, rng: random.Random) -> str:
        """A recipe drawn like the benchmark's generator: mostly linear nodes, each usually activated."""
        k = rng.choices((1, 2, 3), weights=(4, 4, 1))[0]
        available = ["x", *(f"h_prev_{i}" for i in range(k))]
        recipe: dict[str, dict] = {}

        def add(op: str, inputs: list[str]) -> str:
            name = f"n{len(recipe)}"
            recipe[name] = {"op": op, "input": inputs}
            available.append(name)
            return name

        def pick(n: int, op: str) -> list[str]:
            pool = available if op == "linear" else available[1:]  # only a linear node reads x
            recent = pool[-4:]
            return [rng.choice(recent if rng.random() < 0.6 else pool) for _ in range(n)]

        first = add("linear", ["x", "h_prev_0"])
        add(rng.choice(ACTIVATIONS), [first])
        for _ in range(rng.randint(0, 6)):
            op = rng.choices(("linear", "blend", "elementwise_prod", "elementwise_sum"), weights=(3, 1, 1, 1))[0]
            name = add(op, pick(rng.choice((2, 3)) if op == "linear" else ARITY[op][0], op))
            if op == "linear" and rng.random() < 0.9:
                add(rng.choice(ACTIVATIONS), [name])
        ends = [n for n in available if n in recipe]
        for i in range(k):
            source = ends[-1 - i] if i < len(ends) else rng.choice(ends)
            recipe[f"h_new_{i}"] = {"op": rng.choice(ACTIVATIONS), "input": [source]}
        return self.canonical(recipe)

    def mutate(self, cell: str, rng: random.Random) -> str:
        """One node's op changed (within its arity) or one of its inputs redirected to an earlier node."""
        nodes = parse_recipe(cell)
        start = self.canonical(cell)
        for _ in range(100):
            i = rng.randrange(len(nodes))
            n = nodes[i]
            earlier = ["x", *(f"h_prev_{k}" for k in range(states_of(nodes))), *(m.name for m in nodes[:i])]
            if n.op != "linear":
                earlier.remove("x")  # only a linear node reads x
            if rng.random() < 0.5:
                ops = [
                    op for op, (low, high) in ARITY.items()
                    if low <= len(n.inputs) <= high and op != n.op and ("x" not in n.inputs or op == "linear")
                ]  # fmt: skip
                changed = Node(n.name, rng.choice(ops), n.inputs) if ops else n
            else:
                j = rng.randrange(len(n.inputs))
                changed = Node(n.name, n.op, (*n.inputs[:j], rng.choice(earlier), *n.inputs[j + 1 :]))
            child = recipe_text([*nodes[:i], changed, *nodes[i + 1 :]])
            child = self.canonical(child)
            if child != start:
                return child
        raise InvalidCellError(f"nbnlp: found no mutation of {cell!r:.80}")

    def input_shape(self, dataset: str | None = None, cell: object | None = None) -> tuple[int, ...]:
        self.dataset(dataset)
        return (1, 1)

    def data_inputs(self, cell: object) -> list[str]:
        nodes = parse_recipe(cell)
        return ["x", *(state_name(layer, k) for layer in range(LAYERS) for k in read_states(nodes))]

    def benchmark_params(self, cell: object, dataset: str | None = None) -> int:
        return benchmark_params(cell, self.dataset(dataset))

    def network(
        self, cell: object, dataset: str | None = None, *, weights: np.random.Generator | None = None
    ) -> Network:
        nodes = parse_recipe(cell)
        live, reads = live_nodes(nodes), read_states(nodes)
        dataset = self.dataset(dataset)
        vocab = VOCABULARY[dataset]
        b = NetBuilder((1, 1), rng=weights, input_type=TensorProto.INT64)  # x: the token id
        sizes = layer_sizes()
        for layer, (_, h) in enumerate(sizes):  # the previous states follow x, before any weight
            for k in reads:
                b.data_input(state_name(layer, k), (1, 1, h))
        table = b.weight("embedding", (vocab, EMBEDDING))
        y = b.node("Gather", [table, "x"], "embed")
        new_states: list[str] = []
        for layer, (cin, h) in enumerate(sizes):
            values = {"x": y, **{f"h_prev_{k}": state_name(layer, k) for k in reads}}
            for n in live:
                a = [values[i] for i in n.inputs]
                if n.op == "linear":
                    out = None
                    for j, (t, src) in enumerate(zip(a, n.inputs)):
                        term = b.node("MatMul", [t, b.weight("w", (cin if src == "x" else h, h))])
                        if j == 0:
                            term = b.node("Add", [term, b.weight("b", (h,), 0.0)])
                        out = term if out is None else b.add(out, term)
                elif n.op == "blend":
                    z, p, q = a
                    keep = b.node("Mul", [z, p])
                    rest = b.node("Mul", [b.node("Sub", [b.constant(np.float32(1.0), "one"), z]), q])
                    out = b.add(keep, rest)
                elif n.op == "elementwise_prod":
                    out = b.node("Mul", a)
                elif n.op == "elementwise_sum":
                    out = b.add(*a)
                elif n.op == "activation_leaky_relu":
                    out = b.node("LeakyRelu", a, alpha=0.01)
                else:
                    out = b.node(ONNX_ACTIVATION[n.op], a)
                values[n.name] = out  # type: ignore[assignment]
            y = values["h_new_0"]
            new_states += [values[f"h_new_{k}"] for k in range(states_of(nodes))]
        flat = b.node("Reshape", [y, b.ints([1, EMBEDDING])])
        logits = b.node("Gemm", [flat, table, b.weight("decoder_b", (vocab,), 0.0)], "decoder", transB=1)
        doc = f"NAS-Bench-NLP {dataset} {recipe_text(nodes)}"
        return b.network([logits, *new_states], "nbnlp", doc)
