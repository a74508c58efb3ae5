"""Search spaces build their ArchGraphs on the parser's trusted path; it must give what the ONNX file gives.

``SearchSpace.to_graph`` hands the builder's own record of its nodes to
:func:`archscore.graph.parse.read_built`, skipping the serialising, decoding and checks that guard
against foreign files. These tests hold it equal, graph and metadata, to ``from_onnx`` on the
serialised model, for random cells of every space on every dataset.
"""

from __future__ import annotations

import numpy as np
import pytest

from archscore.graph import from_onnx
from archscore.spaces import SPACES, get

SETS = [(name, dataset) for name in SPACES for dataset in get(name).datasets]


def _check(name: str, dataset: str, cells: list[str]) -> None:
    space = get(name)
    for cell in cells:
        fast = space.to_graph(cell, dataset)
        model = space.to_onnx(cell, dataset).SerializeToString()
        reference = from_onnx(model, data_inputs=space.data_inputs(cell))
        assert fast == reference, (name, dataset, cell)
        assert fast.meta == reference.meta, (name, dataset, cell)


@pytest.mark.parametrize(("name", "dataset"), SETS, ids=[f"{n}-{d}" for n, d in SETS])
def test_the_built_path_gives_the_graph_of_the_onnx_file(name: str, dataset: str) -> None:
    _check(name, dataset, get(name).sample(4, seed=len(name) + len(dataset)))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "dataset"), SETS, ids=[f"{n}-{d}" for n, d in SETS])
def test_the_built_path_gives_the_graph_of_the_onnx_file_on_many_cells(name: str, dataset: str) -> None:
    _check(name, dataset, get(name).sample(30, seed=7))


@pytest.mark.parametrize("name", ["nb201", "nb301", "hat", "nbgraph"])
def test_a_network_with_its_weights_embedded_gives_the_same_graph(name: str) -> None:
    """With weights the learned tensors are initializers, not inputs: the trusted path counts them alike."""
    space = get(name)
    cell = space.sample(1, seed=3)[0]
    network = space.network(cell, weights=np.random.default_rng(0))
    assert network.model().graph.initializer, "the weights should be embedded"
    graph = network.graph(space.data_inputs(cell))
    assert graph == space.to_graph(cell)
    assert network.graph(space.data_inputs(cell)) == graph  # a network gives its graph again, unchanged
    assert graph.total_params == from_onnx(network.model(), data_inputs=space.data_inputs(cell)).total_params > 0
