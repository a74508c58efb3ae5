"""The reference PyTorch network of a NAS-Bench-Graph cell, in plain torch.

The benchmark's ``Net``/``Cell`` (THUMNLab/NAS-Bench-Graph) with PyTorch Geometric's layers
rewritten on ``index_select`` and ``scatter_add`` (no torch_geometric, torch-scatter or pyg-lib):
the same parameters, shapes and arithmetic as PyG's ``GATConv``, ``GCNConv``, ``GINConv``,
``ChebConv``, ``SAGEConv``, ``ARMAConv`` and ``GraphConv`` with the benchmark's arguments, in
eval mode. Each layer computes its edge list and normalisation in its forward, as PyG does
without caching. One deliberate difference: PyG's attention softmax subtracts each node's
maximum score before ``exp`` for numerical stability; the result is the same, and the
subtraction is left out because the ONNX exporter cannot write a scatter-max without a control
flow ``If`` node.

The module owns every parameter the benchmark's model owns, also the unused ones (the
BatchNorms of nodes that read raw features, ARMA's ``weight``), so its parameter count is the
benchmark's recorded ``para``.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

from archscore.spaces.nbgraph import GAT_HEADS, GraphDataset, NBGraph, leaves, reads_raw

Tensor = torch.Tensor


# -- message passing ------------------------------------------------------------------------------
def scatter_sum(src: Tensor, index: Tensor, num_nodes: int, dim: int = 0) -> Tensor:
    """``out[index[e]] += src[e]`` along ``dim``: the sum of every node's incoming messages."""
    size = list(src.shape)
    size[dim] = num_nodes
    view = [1] * src.dim()
    view[dim] = -1
    return src.new_zeros(size).scatter_add(dim, index.view(view).expand_as(src), src)


def propagate(
    x: Tensor, row: Tensor, col: Tensor, num_nodes: int, weight: Tensor | None = None, dim: int = 0
) -> Tensor:
    """Gather ``x`` at the sources ``row``, scale by ``weight`` (entries × 1), sum into the targets ``col``."""
    msg = x.index_select(dim, row)
    if weight is not None:
        msg = msg * weight
    return scatter_sum(msg, col, num_nodes, dim)


def with_self_loops(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(row, col)`` with one self loop per node appended (the datasets have none to remove)."""
    loops = torch.arange(num_nodes, dtype=edge_index.dtype)
    return torch.cat([edge_index[0], loops]), torch.cat([edge_index[1], loops])


def inv_sqrt_degree(index: Tensor, num_nodes: int, dtype: torch.dtype) -> Tensor:
    """``deg^-1/2`` of the nodes counted in ``index``, 0 for nodes of degree 0."""
    deg = scatter_sum(torch.ones(index.shape[0], dtype=dtype), index, num_nodes)
    d = deg.pow(-0.5)
    return d.masked_fill(d == float("inf"), 0.0)


def sym_weight(row: Tensor, col: Tensor, degree_of: Tensor, num_nodes: int, dtype: torch.dtype) -> Tensor:
    """``deg^-1/2[row] · deg^-1/2[col]`` as a column, degrees counted on ``degree_of``."""
    d = inv_sqrt_degree(degree_of, num_nodes, dtype)
    return (d.index_select(0, row) * d.index_select(0, col)).view(-1, 1)


# -- layers ---------------------------------------------------------------------------------------
class GCNConv(nn.Module):
    """PyG ``GCNConv``: ``D^-1/2 (A + I) D^-1/2 (x W) + b``.

    Shapes: x (N, in) → (N, out).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        n = x.shape[0]
        row, col = with_self_loops(edge_index, n)
        weight = sym_weight(row, col, col, n, x.dtype)
        return propagate(self.lin(x), row, col, n, weight) + self.bias

    def onnx_tensors(self) -> list[Tensor]:
        return [self.lin.weight.t(), self.bias]


class GATConv(nn.Module):
    """PyG ``GATConv`` with ``heads`` heads concatenated, negative slope 0.2, no dropout in eval.

    Shapes: x (N, in) → (N, out); each head has out / heads channels.
    """

    def __init__(
        self, in_channels: int, out_channels: int, heads: int = GAT_HEADS, add_self_loops: bool = True
    ) -> None:
        super().__init__()
        self.heads, self.channels = heads, out_channels // heads
        self.add_self_loops = add_self_loops
        self.lin = nn.Linear(in_channels, heads * self.channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, self.channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, self.channels))
        self.bias = nn.Parameter(torch.zeros(heads * self.channels))
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        n = x.shape[0]
        row, col = with_self_loops(edge_index, n) if self.add_self_loops else (edge_index[0], edge_index[1])
        h = self.lin(x).view(n, self.heads, self.channels)
        a_src = (h * self.att_src).sum(dim=-1)
        a_dst = (h * self.att_dst).sum(dim=-1)
        alpha = F.leaky_relu(a_src.index_select(0, row) + a_dst.index_select(0, col), 0.2)
        alpha = alpha.exp()  # softmax over each node's incoming edges (see the module docstring)
        alpha = alpha / (scatter_sum(alpha, col, n) + 1e-16).index_select(0, col)
        out = propagate(h, row, col, n, alpha.unsqueeze(-1))
        return out.view(n, self.heads * self.channels) + self.bias

    def onnx_tensors(self) -> list[Tensor]:
        return [self.lin.weight.t(), self.att_src, self.att_dst, self.bias]


class GINConv(nn.Module):
    """PyG ``GINConv(Linear(in, out))`` with ε = 0 (not trained): ``Linear(Σ_j x_j + x)``.

    Shapes: x (N, in) → (N, out).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.nn = nn.Linear(in_channels, out_channels)
        self.register_buffer("eps", torch.zeros(()))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        out = propagate(x, edge_index[0], edge_index[1], x.shape[0])
        return self.nn(out + (1 + self.eps) * x)

    def onnx_tensors(self) -> list[Tensor]:
        return [self.nn.weight, self.nn.bias]


class ChebConv(nn.Module):
    """PyG ``ChebConv(K=2)``, symmetric normalisation, λmax = 2: ``x W₀ + L̂ x W₁ + b``, ``L̂ = −D^-1/2 A D^-1/2``.

    L̂ is applied as PyG writes it: the edges with weight −norm, then N self loops of weight 1
    (the Laplacian's identity) and N of weight −1 (the shift by −I), E + 2N entries in all.

    Shapes: x (N, in) → (N, out).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lins = nn.ModuleList([nn.Linear(in_channels, out_channels, bias=False) for _ in range(2)])
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        n = x.shape[0]
        src, dst = edge_index[0], edge_index[1]
        norm = -sym_weight(src, dst, src, n, x.dtype)
        ones = torch.ones(n, 1, dtype=x.dtype)
        weight = torch.cat([norm, ones, -ones])
        loops = torch.arange(n, dtype=edge_index.dtype)
        row, col = torch.cat([src, loops, loops]), torch.cat([dst, loops, loops])
        out = self.lins[0](x)
        out = out + self.lins[1](propagate(x, row, col, n, weight))
        return out + self.bias

    def onnx_tensors(self) -> list[Tensor]:
        return [self.lins[0].weight.t(), self.lins[1].weight.t(), self.bias]


class SAGEConv(nn.Module):
    """PyG ``SAGEConv`` (mean aggregation): ``lin_l(mean_j x_j) + lin_r(x)``.

    Shapes: x (N, in) → (N, out).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin_l = nn.Linear(in_channels, out_channels)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        n = x.shape[0]
        total = propagate(x, edge_index[0], edge_index[1], n)
        count = scatter_sum(torch.ones(edge_index.shape[1], dtype=x.dtype), edge_index[1], n).clamp(min=1)
        return self.lin_l(total / count.view(-1, 1)) + self.lin_r(x)

    def onnx_tensors(self) -> list[Tensor]:
        return [self.lin_l.weight, self.lin_l.bias, self.lin_r.weight.t()]


class GraphConv(nn.Module):
    """PyG ``GraphConv`` (k-GNN, sum aggregation): ``lin_rel(Σ_j x_j) + lin_root(x)``.

    Shapes: x (N, in) → (N, out).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin_rel = nn.Linear(in_channels, out_channels)
        self.lin_root = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        total = propagate(x, edge_index[0], edge_index[1], x.shape[0])
        return self.lin_rel(total) + self.lin_root(x)

    def onnx_tensors(self) -> list[Tensor]:
        return [self.lin_rel.weight, self.lin_rel.bias, self.lin_root.weight.t()]


class ARMAConv(nn.Module):
    """PyG ``ARMAConv`` with one stack and one layer: ``ReLU(Â (x W) + x V + b)``, ``Â = D^-1/2 A D^-1/2``.

    Computed on a (stacks = 1, N, ·) tensor and averaged over the stacks, as PyG does. PyG also
    allocates ``weight`` (for layers after the first): unused with one layer, but a parameter.

    Shapes: x (N, in) → (N, out).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.init_weight = nn.Parameter(torch.empty(1, in_channels, out_channels))
        self.weight = nn.Parameter(torch.empty(1, 1, out_channels, out_channels))
        self.root_weight = nn.Parameter(torch.empty(1, 1, in_channels, out_channels))
        self.bias = nn.Parameter(torch.zeros(1, 1, 1, out_channels))
        for w in (self.init_weight, self.weight, self.root_weight):
            nn.init.xavier_uniform_(w)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        n = x.shape[0]
        src, dst = edge_index[0], edge_index[1]
        weight = sym_weight(src, dst, dst, n, x.dtype)
        x = x.unsqueeze(0)
        out = propagate(x @ self.init_weight, src, dst, n, weight, dim=1)
        out = torch.relu(out + x @ self.root_weight[0] + self.bias[0])
        return out.mean(dim=0)

    def onnx_tensors(self) -> list[Tensor]:
        return [self.init_weight, self.root_weight[0], self.bias[0]]


class LinearConv(nn.Module):
    """The benchmark's ``fc`` layer: a linear map of every node, ignoring the edges."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.linear(x)

    def onnx_tensors(self) -> list[Tensor]:
        return [self.linear.weight, self.linear.bias]


class SkipConv(nn.Module):
    """The benchmark's ``skip`` layer: the identity."""

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return x

    def onnx_tensors(self) -> list[Tensor]:
        return []


def gnn_layer(op: str, in_channels: int, out_channels: int, setting: GraphDataset) -> nn.Module:
    """The layer ``op`` as the benchmark's ``gnn_map`` creates it."""
    if op == "gat":
        return GATConv(in_channels, out_channels, add_self_loops=setting.attention_self_loops)
    layers: dict[str, type[nn.Module]] = {
        "gcn": GCNConv, "gin": GINConv, "cheb": ChebConv, "sage": SAGEConv, "arma": ARMAConv,
        "graph": GraphConv, "fc": LinearConv,
    }  # fmt: skip
    if op == "skip":
        return SkipConv()
    return layers[op](in_channels, out_channels)


class NBGraphNetwork(nn.Module):
    """The benchmark's ``Net`` in eval mode: pre-processing linears, the cell, post-processing linears.

    The cell applies, for each node, BatchNorm and ReLU to its input unless that input is the raw
    features, then the node's layer; the nodes nobody reads are concatenated, passed through
    ReLU and a linear layer. Dropout (on the input and in the cell) is the identity in eval mode.

    Shapes: x (N, features), edge_index (2, E) int64 → (N, classes).
    """

    def __init__(self, links: Sequence[int], ops: Sequence[str], setting: GraphDataset) -> None:
        super().__init__()
        self.links, self.ops, self.setting = tuple(links), tuple(ops), setting
        f, d = setting.features, setting.hidden
        self.raw = reads_raw(links, ops, setting.pre)
        self.prep = nn.ModuleList(nn.Linear(f if i == 0 else d, d) for i in range(setting.pre))
        self.prop = nn.ModuleList(
            nn.Linear(d, setting.classes if i == setting.post - 1 else d) for i in range(setting.post)
        )
        self.layers = nn.ModuleList(
            gnn_layer(op, f if self.raw[link] else d, d, setting) for link, op in zip(links, ops)
        )
        self.bns = nn.ModuleList(nn.BatchNorm1d(d) for _ in ops)  # one per node, used or not (as the benchmark)
        self.leaves = leaves(links)
        self.fc = nn.Linear(len(self.leaves) * d, d if setting.post else setting.classes)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for i, lin in enumerate(self.prep):
            x = lin(x)
            if i == len(self.prep) - 2:
                x = F.elu(x)
        res = [x]
        for link, layer, bn in zip(self.links, self.layers, self.bns):
            inp = res[link]
            if not self.raw[link]:
                inp = torch.relu(bn(inp))
            res.append(layer(inp, edge_index))
        y = self.fc(torch.relu(torch.cat([res[i] for i in self.leaves], dim=1)))
        for i, lin in enumerate(self.prop):
            y = lin(y)
            if i == len(self.prop) - 2:
                y = F.elu(y)
        return y

    def onnx_tensors(self) -> list[Tensor]:
        """The tensors of the used layers in the order ``to_onnx`` creates them (linear maps as ONNX lays them out)."""
        tensors: list[Tensor] = []
        for lin in self.prep:
            tensors += [lin.weight, lin.bias]
        for link, layer, bn in zip(self.links, self.layers, self.bns):
            if not self.raw[link]:
                tensors += [bn.weight, bn.bias, bn.running_mean, bn.running_var]
            tensors += layer.onnx_tensors()  # type: ignore[operator]
        tensors += [self.fc.weight, self.fc.bias]
        for lin in self.prop:
            tensors += [lin.weight, lin.bias]
        return tensors


WEIGHT_KINDS = ("w", "b", "fc_w", "fc_b", "gamma", "beta", "mean", "var", "att")
"""Name prefixes of the learned tensors (and BatchNorm statistics) in a network built by ``to_onnx``."""


def copy_onnx_weights(model: onnx.ModelProto, module: NBGraphNetwork) -> NBGraphNetwork:
    """Load the weights of ``to_onnx(cell, weights=rng)`` into the reference module of the same cell.

    Afterwards the eval-mode module and the ONNX network compute the same function, which checks
    what comparing graphs cannot (which edges a layer sums over, the normalisation weights).

    Raises:
        ValueError: The tensors do not fit the module (not the same network).
    """
    arrays = [numpy_helper.to_array(t) for t in model.graph.initializer if t.name.rsplit("_", 1)[0] in WEIGHT_KINDS]
    targets = module.onnx_tensors()
    if len(arrays) != len(targets):
        raise ValueError(f"the ONNX network has {len(arrays)} weight tensors, the module {len(targets)}")
    with torch.no_grad():
        for value, target in zip(arrays, targets):
            if tuple(value.shape) != tuple(target.shape):
                got, want = tuple(value.shape), tuple(target.shape)
                raise ValueError(f"the ONNX weights do not fit the module: {got} where {want} is expected")
            target.copy_(torch.from_numpy(value.copy()))
    return module


def nbgraph_network(space: NBGraph, cell: object, dataset: str) -> nn.Module:
    """The reference module of ``cell`` (:meth:`SearchSpace.to_torch`); ``module(x, edge_index)`` runs on
    any graph with the dataset's F features."""
    links, ops = space.pair(cell)
    return NBGraphNetwork(links, ops, space.setting(dataset))
