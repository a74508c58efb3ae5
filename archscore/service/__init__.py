"""archscore's HTTP service: ``create_app()`` (FastAPI) and the model it serves (``ServedModel``)."""

from archscore.service.app import Limits, create_app
from archscore.service.served import ServedModel

__all__ = ["Limits", "ServedModel", "create_app"]
