"""Helpers for archscore's own tests and benchmarks: tiny ONNX builders, reference networks, a model fuzzer,
benchmark checks."""

from __future__ import annotations

from archscore.graph import ArchGraph


def params_with_batchnorm(graph: ArchGraph) -> int:
    """Parameters counted the way the benchmarks count them, with every BatchNorm kept.

    A BatchNorm has 2C parameters (scale and shift); folded into the convolution before it, it
    becomes that convolution's bias of C. The benchmarks' tables count the unfolded network, so
    their count is the graph's plus C per folded BatchNorm. Every convolution bias (dense or
    depthwise) is taken for a folded BatchNorm, which holds for the benchmark networks (their
    convolutions have no bias of their own) and not for a network with biased convolutions
    (squeeze-and-excitation layers, for one).
    """
    folded = sum(int(n.attr("out_channels")) for n in graph.nodes if n.op in ("conv", "dwconv") and n.attr("bias"))
    return graph.total_params + folded
