"""Small real ONNX models bundled with archscore, so a new user sees a real answer at once."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

NB201_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
"""A good NAS-Bench-201 cell (ResNet-like), for examples and to warm a model up."""


def examples() -> list[str]:
    """Names of the bundled example models."""
    root = resources.files(__name__)
    return sorted(p.name[: -len(".onnx")] for p in root.iterdir() if p.name.endswith(".onnx"))


def example_path(name: str) -> Path:
    """Path of the bundled example ``name`` (see :func:`examples`)."""
    if name not in examples():
        raise KeyError(f"unknown example {name!r}; choose from {examples()}")
    return Path(str(resources.files(__name__) / f"{name}.onnx"))
