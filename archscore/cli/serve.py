"""``archscore serve``: the HTTP service."""

from __future__ import annotations

from typing import Annotated

import typer

from archscore.cli._ui import TrackingUri, err, fail
from archscore.errors import ArchscoreError


def serve(
    model: Annotated[
        str, typer.Option(help="'default', a model folder, or models:/NAME@ALIAS (followed).")
    ] = "default",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    poll_seconds: Annotated[float, typer.Option(help="How often to check a followed alias (0: never).")] = 10.0,
    tracking_uri: TrackingUri = None,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key of the admin endpoints (unset: open).")
    ] = "ARCHSCORE_API_KEY",
    max_architectures: Annotated[int, typer.Option(min=1, help="Architectures per request.")] = 64,
    max_request_mb: Annotated[float, typer.Option(min=0.001, help="Request size limit, MB.")] = 32.0,
    max_nodes: Annotated[int, typer.Option(min=1, help="ONNX nodes per architecture.")] = 50_000,
    parse_seconds: Annotated[
        float, typer.Option(min=0.01, help="Parse time limit of one request (all its architectures); killed at it.")
    ] = 10.0,
    parse_workers: Annotated[int, typer.Option(min=1, help="Parser processes per server process.")] = 2,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    workers: Annotated[int, typer.Option(min=1, help="Server processes (one per core scales parsing).")] = 1,
) -> None:
    """Serve the model over HTTP: POST /v1/score, GET /v1/models, /healthz, /readyz, /docs."""
    import json
    import os

    try:
        import uvicorn

        from archscore.service import ServedModel
        from archscore.service.app import SERVE_ENV
    except ImportError as exc:
        fail(ArchscoreError(f"the service needs its extra: pip install 'archscore[serve]' ({exc})"))
    try:
        ServedModel(model, tracking_uri).refresh()  # fail here, with a message, rather than inside a worker
    except (ArchscoreError, ValueError) as exc:
        fail(exc)
    limits = {
        "max_request_bytes": int(max_request_mb * 2**20),
        "max_architectures": max_architectures,
        "max_nodes": max_nodes,
        "parse_seconds": parse_seconds,
        "parse_workers": parse_workers,
    }
    config = {"model": model, "tracking_uri": tracking_uri, "poll_seconds": poll_seconds}
    config.update({"api_key_env": api_key_env, "limits": limits, "log_level": log_level})
    os.environ[SERVE_ENV] = json.dumps(config)
    err.print(
        f"archscore serving {model} on http://{host}:{port} ({workers} worker(s)); docs at /docs", highlight=False
    )
    # log_config=None: uvicorn's own lines go through the app's JSON logging; the protocol drops
    # clients whose request headers do not arrive in time (slow-loris); a worker's start (loading
    # the model, starting its parsers) may take longer than uvicorn's 5 s on a busy machine, and
    # parsing never blocks a worker's loop, so the supervisor waits 30 s before replacing one
    uvicorn.run("archscore.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, log_config=None, timeout_worker_healthcheck=30,
                http="archscore.service.protocol:HeaderDeadlineProtocol")  # fmt: skip
