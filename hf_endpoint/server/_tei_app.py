"""The TEI-protocol application: configuration, the middleware every request crosses, the permits.

The middleware does, in order: count the request; refuse a missing or wrong ``--api-key`` with an
empty 401 before the body is read (every POST route and ``GET /info``, as TEI); read the body up to
``--payload-limit``; record the request (for tests); apply the scripted faults; then answer axum's
plain-text rejections (415 wrong content type, 413 too large, 400 not JSON) before the handler runs.
``ApiError``/``PlainTextError`` raised by a handler are rendered as TEI's JSON or plain-text bodies.

Concurrency follows TEI: ``max_concurrent_requests`` permits counted per input, taken without
waiting (429 ``Model is overloaded`` when they run out). A real model runs on one worker thread so
the event loop keeps answering /health and /info while it works.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from ._app import CONTROL, CONTROL_PREFIX, _apply_faults, json_response
from ._embed import EmbedModel
from ._errors import ApiError, PlainTextError, invalid_json
from ._faults import ControlState
from ._tei_validation import TeiLimits

__all__ = [
    "MODEL",
    "STATE",
    "TEI_CONFIG",
    "TEI_ROUTES",
    "TeiConfig",
    "TeiState",
    "build_tei_app",
    "compute_headers",
    "request_body",
    "run_model",
]

T = TypeVar("T")

# The inference routes; the scripted faults apply to these by default.
TEI_ROUTES = (
    "/",
    "/invocations",
    "/embed",
    "/embed_all",
    "/embed_sparse",
    "/v1/embeddings",
    "/embeddings",
    "/rerank",
    "/predict",
    "/similarity",
)


@dataclass(slots=True)
class TeiConfig:
    """Server-wide settings, not the model's."""

    limits: TeiLimits = field(default_factory=TeiLimits)
    api_key: str | None = field(default=None, repr=False)  # a secret: never in a repr
    version: str = "1.9.3"
    scripted: bool = False
    served_model_name: str | None = None


@dataclass(slots=True)
class TeiState:
    """Per-server mutable state: the permits in use and the model's worker thread."""

    in_use: int = 0
    worker: ThreadPoolExecutor | None = None

    @contextmanager
    def permits(self, count: int, limit: int) -> Iterator[None]:
        """Take ``count`` permits at once or fail at once (TEI has no waiting queue for permits)."""
        if self.in_use + count > limit:
            raise ApiError(429, "Model is overloaded", "Overloaded")
        self.in_use += count
        try:
            yield
        finally:
            self.in_use -= count


MODEL = web.AppKey("tei_model", EmbedModel)
TEI_CONFIG = web.AppKey("tei_config", TeiConfig)
STATE = web.AppKey("tei_state", TeiState)
_BODY: Any = web.RequestKey("tei_body", object) if hasattr(web, "RequestKey") else "tei_body"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def run_model(app: web.Application, call: Callable[[], T]) -> T:
    """Run a model call: inline for the scripted model, on the model's worker thread otherwise."""
    worker = app[STATE].worker
    if worker is None:
        return call()
    return await asyncio.get_running_loop().run_in_executor(worker, call)


def request_body(request: web.Request) -> tuple[Any, str]:
    """The JSON body the middleware read and parsed (and its text, for serde-style error columns)."""
    body = request.get(_BODY)
    if not isinstance(body, tuple):
        raise PlainTextError(
            400, "Failed to parse the request body as JSON: EOF while parsing a value at line 1 column 0"
        )
    return body


def compute_headers(started: float, *, characters: int, tokens: int, inputs: int, inference: float) -> dict[str, str]:
    """TEI's ``x-*`` headers on a successful inference (times in ms, per-input averages for batches)."""
    total_ms = int((time.perf_counter() - started) * 1000)
    per_input = int(inference * 1000 / max(inputs, 1))
    return {
        "x-compute-type": "gpu+optimized",  # what TEI always sends, even on a CPU
        "x-compute-time": str(total_ms),
        "x-total-time": str(total_ms),
        "x-tokenization-time": "0",
        "x-queue-time": "0",
        "x-inference-time": str(per_input),
        "x-compute-characters": str(characters),
        "x-compute-tokens": str(tokens),
    }


# Past this, an oversized body is not read on: the 413 goes out and the connection closes.
_DRAIN_MAX = 64 * 1024 * 1024


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` (then read on and dropped, up to ``_DRAIN_MAX``, so the client,
    which sends its whole body before reading, sees the 413 rather than a broken pipe)."""
    chunks: list[bytes] = []
    size = 0
    while size <= max(limit, _DRAIN_MAX):
        chunk = await request.content.read(1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif chunks:
            chunks = []
    return None if size > limit else b"".join(chunks)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    return False


def _json_content_type(request: web.Request) -> bool:
    mime = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    control: ControlState = app[CONTROL]
    config = app[TEI_CONFIG]
    path = request.path
    if path.startswith(CONTROL_PREFIX):
        return await handler(request)
    control.count(path)
    post = request.method == "POST"
    protected = post or (path == "/info" and request.method == "GET")
    # Exact and case-sensitive, as TEI compares the whole header with "Bearer <key>".
    if config.api_key and protected and request.headers.get("Authorization") != f"Bearer {config.api_key}":
        return web.Response(status=401)
    raw: bytes | None = b""
    if post:
        raw = await _read_limited(request, config.limits.payload_limit)
    text = (raw or b"").decode("utf-8", errors="replace")
    control.last = {
        "method": request.method,
        "path": path,
        "query": request.query_string,
        "headers": dict(request.headers),
        "body": text,
    }
    if config.scripted and post and control.applies(path):
        replacement = await _apply_faults(request, control, app[MODEL].model_id)
        if replacement is not None:
            return replacement
    try:
        if post and request.match_info.route.resource is not None:
            if not _json_content_type(request):
                raise PlainTextError(415, "Expected request with `Content-Type: application/json`")
            if raw is None:
                raise PlainTextError(413, "Failed to buffer the request body: length limit exceeded")
            if not text.strip():
                raise PlainTextError(
                    400, "Failed to parse the request body as JSON: EOF while parsing a value at line 1 column 0"
                )
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise invalid_json(exc) from None
            if "\\u" in text and _lone_surrogate(parsed):
                # serde_json refuses an unpaired \uD800-\uDFFF escape; Python would pass it on to the model.
                raise PlainTextError(400, "Failed to parse the request body as JSON: lone surrogate in hex escape")
            request[_BODY] = (parsed, text)
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body(), status=exc.status)
    except PlainTextError as exc:
        return web.Response(text=exc.text, status=exc.status, content_type="text/plain")
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        return web.Response(status=exc.status)  # TEI: 404 and 405 with an empty body


def build_tei_app(model: EmbedModel, config: TeiConfig, control: ControlState) -> web.Application:
    """TEI's routes for ``model``, plus the control routes when the server is scripted."""
    from ._routes_control import add_control_routes
    from ._tei_routes import add_tei_routes

    # The middleware reads bodies itself (up to the payload limit); aiohttp's own cap stays out of the way.
    app = web.Application(middlewares=[_middleware], client_max_size=config.limits.payload_limit + 1)
    app[MODEL] = model
    app[TEI_CONFIG] = config
    app[CONTROL] = control
    state = TeiState()
    if not model.instant:
        state.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tei-model")
    app[STATE] = state
    add_tei_routes(app)
    if config.scripted:
        add_control_routes(app)

    async def _close(app: web.Application) -> None:
        worker = app[STATE].worker
        if worker is not None:
            worker.shutdown(wait=True)
        model.close()

    app.on_cleanup.append(_close)
    return app
