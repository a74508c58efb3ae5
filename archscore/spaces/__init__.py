"""Search spaces: cells as canonical strings, sampling and mutation, and each cell's network as ONNX.

``get(name)`` returns a space; ``SPACES`` lists them. Every space emits its networks with
``onnx.helper`` (no torch needed) and offers the reference PyTorch module of the same network.
"""

from __future__ import annotations

from archscore.errors import UnknownNameError
from archscore.spaces.base import SearchSpace
from archscore.spaces.darts import NB301
from archscore.spaces.fbnet import FBNet
from archscore.spaces.hat import HAT
from archscore.spaces.nb101 import NB101
from archscore.spaces.nb201 import NB201
from archscore.spaces.nbgraph import NBGraph
from archscore.spaces.nbnlp import NBNLP
from archscore.spaces.ofa_mbv3 import OFAMobileNetV3
from archscore.spaces.tnb101 import TNB101Macro, TNB101Micro

SPACES: dict[str, type[SearchSpace]] = {
    cls.name: cls for cls in (NB201, NB101, NB301, TNB101Micro, TNB101Macro, FBNet, OFAMobileNetV3, HAT, NBGraph, NBNLP)
}

__all__ = ["SPACES", "SearchSpace", "get"]


def get(name: str) -> SearchSpace:
    """The search space called ``name`` (see :data:`SPACES`)."""
    try:
        return SPACES[name]()
    except KeyError:
        raise UnknownNameError(f"unknown search space {name!r}; available: {', '.join(SPACES)}") from None
