"""Predictors ready to score: the shipped default model, saved folders, and registered MLflow models.

``load_predictor("default")`` works offline right after ``pip install``: the model ships inside
the package (``archscore/models/default/``, with its ``MODEL_CARD.md``), trained by
``archscore train --config default --export archscore/models/default``.
"""

from __future__ import annotations

import os
from pathlib import Path

from archscore.errors import ArchscoreError
from archscore.models.scoring import ModelFormatError, ScoringModel

DEFAULT_MODEL = Path(__file__).resolve().parent / "default"
DEFAULT_CONFIG = Path(__file__).resolve().parent / "default.toml"

__all__ = ["DEFAULT_CONFIG", "DEFAULT_MODEL", "ModelFormatError", "ScoringModel", "load_predictor"]


def load_predictor(name: str | os.PathLike = "default", tracking_uri: str | None = None) -> ScoringModel:
    """A ready :class:`ScoringModel`.

    Args:
        name: ``"default"`` (shipped with the package), a saved model folder, a registered model
            URI (``models:/NAME@champion``, ``models:/NAME/3``), or a registered model's name
            (its champion).
        tracking_uri: The MLflow store of registered models (default: archscore's own, see
            :func:`archscore.models.registry.tracking_uri`).
    """
    text = str(name)
    if text == "default":
        if not (DEFAULT_MODEL / "model.json").is_file():
            raise ArchscoreError(f"the default model is missing from this installation ({DEFAULT_MODEL})")
        return ScoringModel.load(DEFAULT_MODEL)
    if Path(text).is_dir() or (os.sep in text and not text.startswith("models:/")):
        return ScoringModel.load(text)  # a folder, or a path that is not one: the error says so
    from archscore.models import registry

    registry.connect(tracking_uri)
    uri = text if text.startswith("models:/") else f"models:/{text}@{registry.CHAMPION}"
    return registry.load_registered(uri)
