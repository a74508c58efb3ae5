"""archscore: a learned performance predictor for neural architectures.

Hand it an architecture (an ONNX file, a PyTorch module exported to ONNX, a cell of a NAS
benchmark space) and it describes it as a canonical graph; predictors built on that graph score
accuracy and latency.
"""

from __future__ import annotations

__version__ = "0.1.0"

from archscore.errors import ArchscoreError, InvalidModelError, ModelLimitError
from archscore.graph import ArchGraph, from_onnx

__all__ = ["ArchGraph", "ArchscoreError", "InvalidModelError", "ModelLimitError", "__version__", "from_onnx"]
