"""The reference PyTorch network of a NAS-Bench-NLP recipe (the benchmark's ``AWDRNNModel`` with
``CustomRNNCell`` layers, in eval mode, for one time step)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from archscore.spaces.nbnlp import (
    EMBEDDING,
    NBNLP,
    VOCABULARY,
    Node,
    layer_sizes,
    live_nodes,
    parse_recipe,
    read_states,
    states_of,
)


class RecipeCell(nn.Module):
    """One layer: every ``linear`` node owns a weight per input and one bias (the benchmark's ``MultiLinear``)."""

    def __init__(self, nodes: Sequence[Node], input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.nodes = list(nodes)
        self.live = live_nodes(nodes)
        self.states = states_of(nodes)
        self.weights = nn.ParameterDict()
        for n in self.nodes:  # dead linear nodes too: the benchmark's model has their weights
            if n.op == "linear":
                for j, src in enumerate(n.inputs):
                    width = input_size if src == "x" else hidden_size
                    self.weights[f"{n.name}_w{j}"] = nn.Parameter(torch.randn(hidden_size, width) * 0.05)
                self.weights[f"{n.name}_b"] = nn.Parameter(torch.randn(hidden_size) * 0.05)

    def forward(self, x: torch.Tensor, previous: dict[int, torch.Tensor]) -> list[torch.Tensor]:
        values: dict[str, torch.Tensor] = {"x": x, **{f"h_prev_{k}": h for k, h in previous.items()}}
        for n in self.live:
            a = [values[i] for i in n.inputs]
            if n.op == "linear":
                out = F.linear(a[0], self.weights[f"{n.name}_w0"], self.weights[f"{n.name}_b"])
                for j in range(1, len(a)):
                    out = out + F.linear(a[j], self.weights[f"{n.name}_w{j}"])
            elif n.op == "blend":
                out = a[0] * a[1] + (1 - a[0]) * a[2]
            elif n.op == "elementwise_prod":
                out = a[0] * a[1]
            elif n.op == "elementwise_sum":
                out = a[0] + a[1]
            elif n.op == "activation_tanh":
                out = torch.tanh(a[0])
            elif n.op == "activation_sigm":
                out = torch.sigmoid(a[0])
            else:
                out = F.leaky_relu(a[0], 0.01)
            values[n.name] = out
        return [values[f"h_new_{k}"] for k in range(self.states)]


class NBNLPNetwork(nn.Module):
    """``forward(x, *states)``: token ids (1 × 1) and each layer's read states → logits and every new state."""

    def __init__(self, nodes: Sequence[Node], vocabulary: int) -> None:
        super().__init__()
        self.reads = read_states(nodes)
        self.encoder = nn.Embedding(vocabulary, EMBEDDING)
        self.cells = nn.ModuleList(RecipeCell(nodes, cin, h) for cin, h in layer_sizes())
        self.decoder = nn.Linear(EMBEDDING, vocabulary)
        self.decoder.weight = self.encoder.weight  # tied, as in the benchmark

    def forward(self, x: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        y = self.encoder(x)
        given = iter(states)
        new: list[torch.Tensor] = []
        for cell in self.cells:
            out = cell(y, {k: next(given) for k in self.reads})
            y = out[0]
            new += out
        return (self.decoder(y.reshape(1, EMBEDDING)), *new)


def nbnlp_network(space: NBNLP, cell: object, dataset: str) -> nn.Module:
    """NAS-Bench-NLP's reference model of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return NBNLPNetwork(parse_recipe(cell), VOCABULARY[dataset])
