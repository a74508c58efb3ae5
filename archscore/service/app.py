"""archscore over HTTP: ``POST /v1/score`` and friends (FastAPI; run with ``archscore serve``).

Requests name architectures by ONNX files (``multipart/form-data``, field ``files``, repeatable),
one ONNX file as the body (``application/octet-stream``, ``?name=`` to label it), by base64 ONNX
in JSON, or by search-space cells in JSON. Each answer carries the predicted target
with its std, MACs, params, the out-of-distribution flag, and the model name and version that
produced it.

Limits answer with a 4xx that names the limit: request size (413), architectures per request
(413), graph size (413), parse time (422), malformed ONNX or cells (422, naming the item and the
problem). Files are only ever read from the request: an ONNX file's external-data references are
never opened. Every response carries an ``X-Request-ID`` (the client's, or a new one), and every
request is logged as one JSON line with it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
import uuid
from typing import Any, Literal

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from archscore import __version__
from archscore.errors import ArchscoreError, ModelLimitError
from archscore.graph.bounded import ParsePool, ParseTimeoutError
from archscore.models.inputs import Arch, Limits, onnx_id, read_record
from archscore.models.scoring import rank_order
from archscore.service.served import ModelDescription, ServedModel

log = logging.getLogger("archscore.service")
access = logging.getLogger("archscore.service.access")


# -- schemas ----------------------------------------------------------------------------------------
class Architecture(BaseModel):
    """One architecture: base64 ONNX, or a search space and a cell (and optionally its dataset)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=256, description="Your label for it, echoed back.")
    onnx_base64: str | None = Field(None, description="The ONNX model's bytes, base64-encoded.")
    space: str | None = Field(None, max_length=64, description="A search space (nb201, nb101, …).")
    cell: str | None = Field(None, max_length=4096, description="A cell of that space.")
    dataset: str | None = Field(None, max_length=64, description="The cell's input setting.")


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    architectures: list[Architecture] = Field(..., min_length=1)
    reference: Literal["nearest", "batch"] = Field(
        "nearest", description="Standardise against the nearest training population, or the request's batch."
    )


class Score(BaseModel):
    index: int
    name: str | None
    id: str
    rank: int = Field(..., description="1 = best in this request (by mean; by percentile when targets differ).")
    mean: float = Field(..., description="The predicted target: top-1 % for a real network, else a percentile.")
    std: float
    interval: tuple[float, float] = Field(..., description="90 % interval of the target.")
    target: str = Field(..., description="What is predicted: imagenet1k_top1, cifar10_top1, … or accuracy_percentile.")
    population: str = Field(..., description="The population the prediction is for (zoo/imagenet1k, nb201/cifar10 …).")
    percentile: float | None = Field(
        ..., description="The prediction's percentile within that population (none for a model of raw values)."
    )
    macs: int
    params: int
    nearest: str = Field(
        ..., description="The closest thing the model learned from: a benchmark task or a zoo network."
    )
    distance: float
    ood: bool = Field(..., description="Far from every training population: treat the prediction as a weak prior.")
    warnings: list[str] = Field(
        default_factory=list, description="What limits this answer: custom operators, nodes of unknown shape."
    )


class ScoreResponse(BaseModel):
    model: ModelDescription
    results: list[Score]


class Problem(BaseModel):
    detail: str


MULTIPART = {
    "type": "object",
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    "required": ["files"],
}


# -- the app ----------------------------------------------------------------------------------------
def create_app(
    model: str | ServedModel = "default",
    *,
    tracking_uri: str | None = None,
    poll_seconds: float = 0,
    api_key: str | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """The service, answering with ``model`` (see :class:`ServedModel`); ``api_key`` guards admin endpoints."""
    served = model if isinstance(model, ServedModel) else ServedModel(model, tracking_uri, poll_seconds)
    limits = limits or Limits()
    parser = limits.parser()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await anyio.to_thread.run_sync(parser.start)  # parsers ready before the first request
        if not served.ready:
            await anyio.to_thread.run_sync(served.refresh)
        served.follow()
        yield
        served.close()
        parser.close()

    app = FastAPI(
        title="archscore",
        version=__version__,
        description="Predicted accuracy of neural architectures (ONNX or search-space cells), with uncertainty.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: the interactive docs work offline
        redoc_url=None,
    )
    _offline_docs(app)
    app.state.served = served
    app.state.limits = limits
    app.state.parser = parser

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        rid = rid[:64]
        request.state.request_id = rid
        t0 = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # a bug, not bad input: log it with the request id, answer 500 without internals
            log.exception("unhandled error", extra={"request_id": rid})
            response = JSONResponse({"detail": f"internal error (request id {rid})"}, status_code=500)
        response.headers["X-Request-ID"] = rid
        access.info(json.dumps({
            "request_id": rid, "method": request.method, "path": request.url.path, "status": response.status_code,
            "ms": round(1e3 * (time.perf_counter() - t0), 2), "n": getattr(request.state, "n_architectures", None),
        }))  # fmt: skip
        return response

    errors = {code: {"model": Problem} for code in (408, 413, 415, 422, 503)}

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=errors,
        summary="Score architectures",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}},
                    "multipart/form-data": {"schema": MULTIPART},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    async def score(request: Request) -> dict[str, Any]:
        """Predicted target ± std, MACs, params and an out-of-distribution flag per architecture."""
        body = await _read_body(request, limits)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            items, reference = _json_items(body, limits)
        elif kind == "multipart/form-data":
            items, reference = await _multipart_items(request, body, limits), "nearest"
        elif kind == "application/octet-stream":  # one ONNX file as the body: the cheapest upload
            if not body:
                raise HTTPException(422, "empty body: send the ONNX file's bytes")
            items, reference = [(request.query_params.get("name"), {"onnx_bytes": body})], "nearest"
        else:
            raise HTTPException(
                415, f"send application/json, multipart/form-data or application/octet-stream, not {kind or 'none'!r}"
            )
        request.state.n_architectures = len(items)
        model, info = _current(served)
        archs = []
        deadline = time.monotonic() + limits.parse_seconds  # one budget for the whole request
        for i, (name, record) in enumerate(items):
            archs.append(await _parse(i, name, record, parser, deadline, limits.parse_seconds))
        if reference == "batch" and len(archs) < 2:
            raise HTTPException(422, "reference 'batch' needs at least 2 architectures")
        rows = await anyio.to_thread.run_sync(lambda: model.score([a.graph for a in archs], reference=reference))
        order = rank_order(rows)
        ranks = {i: r + 1 for r, i in enumerate(order)}
        results = [
            {"index": i, "name": items[i][0], "id": a.id, "rank": ranks[i], **row}
            for i, (a, row) in enumerate(zip(archs, rows))
        ]
        return {"model": info.model_dump(), "results": results}

    @app.get("/v1/models", response_model=ModelDescription, responses={503: {"model": Problem}})
    async def models() -> dict[str, Any]:
        """The model answering now."""
        return _current(served)[1].model_dump()

    @app.post("/v1/admin/reload", response_model=ModelDescription, responses={401: {"model": Problem}, **errors})
    async def reload(request: Request) -> dict[str, Any]:
        """Load the model source again now (e.g. after moving a registry alias). Needs the API key when one is set."""
        if api_key is not None:
            given = request.headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                raise HTTPException(401, "this endpoint needs the service's API key in the X-API-Key header")
        try:
            await anyio.to_thread.run_sync(served.refresh)
        except ArchscoreError as e:
            detail = f"reload failed, still serving the loaded model: {served.public(str(e))}"
            raise HTTPException(503, detail) from None
        return _current(served)[1].model_dump()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"model": Problem}})
    async def readyz() -> dict[str, Any]:
        """A model is loaded and requests can be scored."""
        if not served.ready:
            raise HTTPException(503, "no model loaded yet")
        return {"status": "ready", "model": _current(served)[1].model_dump(), "refresh_error": served.last_error}

    original = app.openapi

    def openapi() -> dict[str, Any]:  # the JSON request schema is referenced from openapi_extra: add it
        if app.openapi_schema is None:
            schema = original()
            defs = ScoreRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(defs.pop("$defs", {}))
            components["ScoreRequest"] = defs
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the files of the ``swagger-ui-bundle`` package (FastAPI's self-hosted
    docs recipe), so it works on a machine without internet, where the default CDN page is blank."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="archscore API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


SERVE_ENV = "ARCHSCORE_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """The app ``archscore serve`` starts in each worker process, configured by ``$ARCHSCORE_SERVE_CONFIG``."""
    import os

    from archscore.service.logs import configure

    config = json.loads(os.environ.get(SERVE_ENV, "{}"))
    configure(config.pop("log_level", "info"))
    limits = Limits(**config.pop("limits", {}))
    api_key = os.environ.get(config.pop("api_key_env", "ARCHSCORE_API_KEY")) or None
    return create_app(config.pop("model", "default"), api_key=api_key, limits=limits, **config)


def _current(served: ServedModel):
    try:
        return served.current()
    except ArchscoreError as e:
        raise HTTPException(503, served.public(str(e))) from None


async def _read_body(request: Request, limits: Limits) -> bytes:
    """The request's body, refused past ``max_request_bytes`` or when it trickles in slower than ``body_seconds``."""
    limit = limits.max_request_bytes
    declared = request.headers.get("content-length")
    advice = (
        "; archscore needs no weights: export the network without them (e.g. torch.onnx.export(..., "
        "export_params=False)) or strip its initializers, or start the server with a larger --max-request-mb"
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request of {int(declared):,} bytes exceeds the limit of {limit:,} bytes{advice}")
    chunks, size = [], 0
    try:
        with anyio.fail_after(limits.body_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"request exceeds the limit of {limit:,} bytes{advice}")
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(408, f"the request body took longer than {limits.body_seconds:g} s to arrive") from None
    return b"".join(chunks)


def _json_items(body: bytes, limits: Limits) -> tuple[list[tuple[str | None, dict]], str]:
    from pydantic import ValidationError

    try:
        req = ScoreRequest.model_validate_json(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HTTPException(422, f"invalid request: {where}: {first['msg']} ({e.error_count()} problem(s))") from None
    if len(req.architectures) > limits.max_architectures:
        raise HTTPException(
            413, f"{len(req.architectures)} architectures in one request; the limit is {limits.max_architectures}"
        )
    return [(a.name, a.model_dump(exclude={"name"}, exclude_none=True)) for a in req.architectures], req.reference


async def _multipart_items(request: Request, body: bytes, limits: Limits) -> list[tuple[str | None, dict]]:
    async def replay() -> dict[str, Any]:  # the body was read (with its limits) already: the form parser gets it
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=limits.max_architectures + 1, max_fields=16)
    except Exception as e:  # starlette raises its own error types for malformed or oversized forms
        raise HTTPException(422, f"malformed multipart form: {e}") from None
    files = [f for f in form.getlist("files") if hasattr(f, "read")]
    if not files:
        raise HTTPException(422, "no files: send each ONNX file in a form field named 'files'")
    if len(files) > limits.max_architectures:
        raise HTTPException(413, f"{len(files)} files in one request; the limit is {limits.max_architectures}")
    return [(f.filename, {"onnx_bytes": await f.read()}) for f in files]


async def _parse(i: int, name: str | None, record: dict, parser: ParsePool, deadline: float, budget: float) -> Arch:
    """One item of a request as an architecture, within what is left of the request's parse budget."""
    label = f"architecture {i}" + (f" ({name})" if name else "")
    left = deadline - time.monotonic()
    if left <= 0:
        raise HTTPException(422, f"{label}: the request's parsing took longer than the limit of {budget:g} s")

    def work() -> Arch:
        raw = record.get("onnx_bytes")
        if raw is not None:
            return Arch(onnx_id(raw), parser.parse(raw, seconds=left))
        return read_record(record, paths=False, parser=parser, seconds=left)

    try:
        return await anyio.to_thread.run_sync(work)
    except ParseTimeoutError as e:
        raise HTTPException(422, f"{label}: {e} (the request's limit is {budget:g} s)") from None
    except ModelLimitError as e:
        raise HTTPException(413, f"{label}: {e}") from None
    except (ArchscoreError, ValueError, KeyError) as e:
        raise HTTPException(422, f"{label}: {e}") from None
