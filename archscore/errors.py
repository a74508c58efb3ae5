"""Errors archscore raises on purpose. Every one names the problem in words a user can act on."""

from __future__ import annotations


class ArchscoreError(Exception):
    """Base class of every error archscore raises on purpose."""


class InvalidModelError(ArchscoreError, ValueError):
    """The input is not an architecture archscore can read (not ONNX, truncated, cyclic, …)."""


class ModelLimitError(InvalidModelError):
    """The input exceeds a configured size limit (file size, node count, dimension size)."""
