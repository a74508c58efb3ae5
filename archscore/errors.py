"""Errors archscore raises on purpose. Every one names the problem in words a user can act on."""

from __future__ import annotations


class ArchscoreError(Exception):
    """Base class of every error archscore raises on purpose."""


class InvalidModelError(ArchscoreError, ValueError):
    """The input is not an architecture archscore can read (not ONNX, truncated, cyclic, …)."""


class ModelLimitError(InvalidModelError):
    """The input exceeds a configured size limit (file size, node count, dimension size)."""


class InvalidCellError(ArchscoreError, ValueError):
    """A cell string that is malformed or outside its search space; the message lists what is valid."""


class UnknownNameError(ArchscoreError, KeyError):
    """An unknown name (search space, data source, target …); the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
