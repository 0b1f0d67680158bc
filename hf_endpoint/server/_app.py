"""The aiohttp application: configuration, the middleware that every request crosses, helpers.

The middleware does, in order: count the request and record it (for tests), answer 404 for the
TGI-only routes in ``openai`` mode, enforce ``--api-key`` on TGI's protected routes (401, empty
body), apply the scripted faults on generation routes, and render ``ApiError``/``PlainTextError``
into TGI's JSON or plain-text bodies.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._errors import ApiError, PlainTextError, invalid_json
from ._faults import ControlState, RequestFaults
from ._images import image_headers, layout
from ._sse import dumps
from ._types import Backend, Prompt
from ._validation import Limits

__all__ = [
    "BACKEND",
    "CONFIG",
    "CONTROL",
    "ServerConfig",
    "build_app",
    "generation_headers",
    "image_report",
    "json_response",
    "read_json",
    "request_faults",
    "stream_headers",
]

# Routes TGI protects with --api-key (its router/src/server.rs); GET / is never protected.
PROTECTED = frozenset(
    {"/generate", "/generate_stream", "/v1/chat/completions", "/v1/completions", "/tokenize", "/invocations", "/vertex"}
)
TGI_ONLY = frozenset({"/info", "/generate", "/generate_stream", "/tokenize", "/chat_tokenize"})
CONTROL_PREFIX = "/__scripted__"
PAYLOAD_LIMIT = 2_000_000  # TGI's default --payload-limit
PAYLOAD_TOO_LARGE = "Failed to buffer the request body: length limit exceeded"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class ServerConfig:
    """Server-wide settings (not the model's)."""

    limits: Limits = field(default_factory=Limits)
    api_key: str | None = field(default=None, repr=False)  # a secret: never in a repr
    version: str = "3.3.6"
    compute_type: str = "cpu"
    scripted: bool = False

    @property
    def fingerprint(self) -> str:
        return f"{self.version}-native"


BACKEND = web.AppKey("backend", Backend)
CONFIG = web.AppKey("config", ServerConfig)
CONTROL = web.AppKey("control", ControlState)
# Per-request fault snapshot. aiohttp >= 3.12 wants typed request keys; older ones take strings.
_FAULTS: Any = web.RequestKey("faults", RequestFaults) if hasattr(web, "RequestKey") else "faults"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json", headers=headers)


async def read_json(request: web.Request) -> tuple[Any, str]:
    """The body as JSON and as text; TGI's 415 and 400 plain-text errors otherwise."""
    content_type = request.headers.get("Content-Type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    if not (mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))):
        raise PlainTextError(415, "Expected request with `Content-Type: application/json`")
    raw = await request.text()
    try:
        return json.loads(raw), raw
    except json.JSONDecodeError as exc:
        raise invalid_json(exc) from None


def request_faults(request: web.Request) -> RequestFaults:
    faults = request.get(_FAULTS)
    return faults if isinstance(faults, RequestFaults) else RequestFaults()


def generation_headers(
    config: ServerConfig,
    started: float,
    *,
    characters: int,
    prompt_tokens: int,
    generated_tokens: int,
    validated: float | None = None,
    queue: float = 0.0,
) -> dict[str, str]:
    """The ``x-*`` timing and token headers TGI adds to non-stream generation responses (times in ms, but
    ``x-compute-time`` in s). ``validated``: when validation ended; ``queue``: seconds waited for the model after
    that; the rest is inference."""
    now = time.perf_counter()
    total = now - started
    validation = (validated - started) if validated is not None else 0.0
    inference = max(total - validation - queue, 0.0)
    per_token = inference * 1000 / max(generated_tokens, 1)
    return {
        "x-compute-type": config.compute_type,
        "x-compute-time": f"{total:.6f}",
        "x-compute-characters": str(characters),
        "x-total-time": str(int(total * 1000)),
        "x-validation-time": str(int(validation * 1000)),
        "x-queue-time": str(int(queue * 1000)),
        "x-inference-time": str(int(inference * 1000)),
        "x-time-per-token": str(int(per_token)),
        "x-prompt-tokens": str(prompt_tokens),
        "x-generated-tokens": str(generated_tokens),
    }


def image_report(request: web.Request, prompt: Prompt) -> dict[str, str]:
    """The ``x-image-*`` headers for a request's images; the scripted record also gets where each one sat."""
    images = prompt.images
    last = request.app[CONTROL].last
    if images and last is not None:
        last["inputs"] = layout(list(prompt.chunks))
    return image_headers(images)


def stream_headers(config: ServerConfig, characters: int) -> dict[str, str]:
    return {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "x-compute-type": config.compute_type,
        "x-compute-characters": str(characters),
        "X-Accel-Buffering": "no",
    }


def _reset_connection(request: web.Request) -> None:
    """Close with a TCP RST (SO_LINGER 0), the way a crashed proxy looks to a client."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _injected(status: dict[str, Any]) -> web.Response:
    body = status.get("body", "")
    content_type = status.get("content_type")
    if not isinstance(body, str):
        body = dumps(body)
        content_type = content_type or "application/json"
    return web.Response(
        text=body,
        status=int(status["code"]),
        content_type=content_type or "text/plain",
        headers={str(k): str(v) for k, v in (status.get("headers") or {}).items()},
    )


async def _apply_faults(request: web.Request, control: ControlState, model_id: str) -> web.StreamResponse | None:
    """Before-response faults; returns a response to send instead of running the handler."""
    if control.take("reset"):
        _reset_connection(request)
        return web.Response(status=500)
    if control.take("cold_start"):
        code = int(control.config["cold_start_status"])
        if control.config["cold_start_style"] == "loading":
            body = {
                "error": f"Model {model_id} is currently loading",
                "estimated_time": control.config["estimated_time"],
            }
            return json_response(body, status=code)
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(code, "Error")
        return web.Response(text=f"{code} {reason}", status=code, content_type="text/plain")
    status = control.take_status()
    if status is not None:
        return _injected(status)
    stall = float(control.config["stall_before"])
    if stall:
        await asyncio.sleep(stall)
    request[_FAULTS] = control.request_faults()
    return None


def _authorized(request: web.Request, api_key: str) -> bool:
    got = request.headers.get("Authorization", "")
    return got.lower() == f"bearer {api_key}".lower()


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    control = app[CONTROL]
    config = app[CONFIG]
    path = request.path
    if not path.startswith(CONTROL_PREFIX):
        control.count(path)
        try:
            raw = await request.read() if request.body_exists else b""
        except web.HTTPRequestEntityTooLarge:
            # Over --payload-limit (2,000,000 bytes, base64 images included): axum's rejection, before any handler.
            return web.Response(status=413, text=PAYLOAD_TOO_LARGE, content_type="text/plain")
        control.last = {
            "method": request.method,
            "path": path,
            "query": request.query_string,
            "headers": dict(request.headers),
            "body": raw.decode("utf-8", errors="replace"),
        }
        if (
            config.scripted
            and control.mode == "openai"
            and (path in TGI_ONLY or (path == "/" and request.method == "POST"))
        ):
            return json_response({"detail": "Not Found"}, status=404)
        protected = path in PROTECTED or (path == "/" and request.method == "POST")
        if config.api_key and protected and not _authorized(request, config.api_key):
            return web.Response(status=401)
        if config.scripted and request.method == "POST" and control.applies(path):
            replacement = await _apply_faults(request, control, app[BACKEND].model_id)
            if replacement is not None:
                return replacement
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body(), status=exc.status)
    except PlainTextError as exc:
        return web.Response(text=exc.text, status=exc.status, content_type="text/plain")


def build_app(backend: Backend, config: ServerConfig, control: ControlState) -> web.Application:
    """The full application: TGI routes, plus the control routes for the scripted backend."""
    from ._routes_chat import add_chat_routes
    from ._routes_control import add_control_routes
    from ._routes_native import add_native_routes

    app = web.Application(middlewares=[_middleware], client_max_size=PAYLOAD_LIMIT)
    app[BACKEND] = backend
    app[CONFIG] = config
    app[CONTROL] = control
    add_native_routes(app)
    add_chat_routes(app)
    if config.scripted:
        add_control_routes(app)

    async def _close(app: web.Application) -> None:
        await app[BACKEND].close()

    app.on_cleanup.append(_close)
    return app
