"""The model a service answers with, swapped without stopping requests in flight.

A :class:`ServedModel` holds the current :class:`~archscore.models.ScoringModel` and what it is
(source, registered name and version). A request takes the current pair once and uses it to the
end, so a swap never changes the model under a request. When the source is a registry alias
(``models:/NAME@champion``), a background thread polls the registry and, when the alias has moved,
loads the new version *beside* the old one and then swaps the reference: nothing waits for the
load, and no request sees a half-loaded model.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

from archscore.errors import ArchscoreError
from archscore.models import ScoringModel, load_predictor

log = logging.getLogger(__name__)
ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")


class ModelDescription(BaseModel):
    """What a service is answering with (``GET /v1/models``, and every score response)."""

    source: str = Field(..., description="'default', models:/NAME@ALIAS, or a model folder's name (never its path).")
    name: str
    version: str | None
    target: str
    encoder: str
    predictor: str
    n_train: int
    populations: list[str]
    loaded_at: float = Field(default_factory=time.time)


class ServedModel:
    """The current model of a service, optionally following a registry alias.

    Args:
        source: ``"default"``, a model folder, ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``.
        tracking_uri: The MLflow store of registered models.
        poll_seconds: How often to check whether a followed alias moved (``0``: never).
    """

    def __init__(self, source: str = "default", tracking_uri: str | None = None, poll_seconds: float = 0) -> None:
        self.source = source
        self.tracking_uri = tracking_uri
        self.poll_seconds = poll_seconds
        self._current: tuple[ScoringModel, ModelDescription] | None = None
        self._lock = threading.Lock()  # one load at a time; readers never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def ready(self) -> bool:
        return self._current is not None

    def current(self) -> tuple[ScoringModel, ModelDescription]:
        current = self._current
        if current is None:
            raise ArchscoreError("no model is loaded yet")
        return current

    @property
    def public_source(self) -> str:
        """The source as clients see it: a model folder by its name only, never a server path."""
        if self.source == "default" or self.source.startswith("models:/"):
            return self.source
        return Path(self.source).name or "model"

    def public(self, text: str) -> str:
        """``text`` with the server path of a folder source replaced by its public name."""
        return text.replace(self.source, self.public_source) if self.source != self.public_source else text

    def _resolve(self) -> tuple[str, str, str | None]:
        """(URI to load, model name, version) of the source as it is now."""
        m = ALIAS.match(self.source)
        if m is None:
            name = "default" if self.source == "default" else self.source
            version = self.source.rsplit("/", 1)[1] if self.source.startswith("models:/") else None
            return self.source, name, version
        from archscore.models import registry

        registry.connect(self.tracking_uri)
        mv = registry.aliased(m["name"], m["alias"])
        return f"models:/{m['name']}/{mv.version}", m["name"], str(mv.version)

    def refresh(self) -> bool:
        """Load the source if it changed (or nothing is loaded); returns whether the model was swapped."""
        with self._lock:
            uri, name, version = self._resolve()
            if self._current is not None and version is not None and self._current[1].version == version:
                return False
            model = load_predictor(uri, tracking_uri=self.tracking_uri)
            info = ModelDescription(
                source=self.public_source, name=self.public(name), version=version, target=model.target,
                encoder=model.encoder, predictor=model.predictor, n_train=model.n_train_,
                populations=list(model.population_names_),
            )  # fmt: skip
            model.score([_warm_up_graph()])  # first-call costs (imports, LightGBM) paid before serving
            self._current = (model, info)  # one reference assignment: requests see old or new, never a mix
            # The loaded model, modules and tables are long-lived: move them out of the collector's
            # way, or each full collection (every ~50 requests' worth of parsing garbage) rescans
            # them and adds ~60 ms to one request. Unfreeze first so a replaced model can be freed.
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            log.info("serving %s version %s (%s)", name, version, uri)
            return True

    def follow(self) -> None:
        """Start the background thread that polls a registry alias (no-op for other sources)."""
        if self.poll_seconds <= 0 or ALIAS.match(self.source) is None or self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.poll_seconds):
                try:
                    self.refresh()
                    self.last_error = None
                except Exception as e:  # keep serving the loaded model; report the failure
                    self.last_error = self.public(f"{type(e).__name__}: {e}")
                    log.warning("model refresh failed, still serving the loaded model: %s", self.last_error)

        self._thread = threading.Thread(target=loop, name="archscore-model-follow", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _warm_up_graph():
    from archscore.examples import NB201_CELL
    from archscore.spaces import get

    return get("nb201").to_graph(NB201_CELL)
