"""Transport fault rows that ``tests/transport/test_faults.py`` does not cover: the same faults on every method
(``chat``, ``chat_stream``, ``generate``, ``generate_stream``; sync and async), 502/504 beyond the cold-start budget,
a paused endpoint and 429/reset before a stream's first byte, a stall before a non-streamed answer, and huge or
malformed events on the Messages API stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from hf_endpoint import (
    APITimeoutError,
    AsyncTGIClient,
    BadRequestError,
    ColdStartTimeoutError,
    EndpointPausedError,
    HFEndpointError,
    IncompleteStreamError,
    RequestValidationError,
    ResponseError,
    TGIClient,
)
from hf_endpoint.server import LocalServer

HI = [{"role": "user", "content": "Hi"}]
REPLY = "Hello from the scripted backend."
METHODS = ["chat", "chat_stream", "generate", "generate_stream"]
PATHS = {
    "chat": "/v1/chat/completions",
    "chat_stream": "/v1/chat/completions",
    "generate": "/generate",
    "generate_stream": "/generate_stream",
}


@dataclass
class Outcome:
    items: list[Any] = field(default_factory=list)
    text: str | None = None
    error: HFEndpointError | None = None


def _text(method: str, items: list[Any], result: Any) -> str:
    if method == "chat":
        return str(result.content)
    if method == "generate":
        return str(result.generated_text)
    if method == "chat_stream":
        return "".join(c.choices[0].delta.content or "" for c in items if c.choices)
    return str(items[-1].generated_text)


async def call(kind: str, method: str, url: str, **options: Any) -> Outcome:
    out = Outcome()
    args: tuple[Any, ...] = (HI,) if method.startswith("chat") else ("Hello",)
    params = {"max_tokens": 16} if method.startswith("chat") else {"max_new_tokens": 6}
    client: Any = TGIClient(url, **options) if kind == "sync" else AsyncTGIClient(url, **options)
    try:
        fn = getattr(client, method)
        if kind == "sync" and method.endswith("_stream"):
            out.items = []
            for item in fn(*args, **params):
                out.items.append(item)
            out.text = _text(method, out.items, None)
        elif kind == "sync":
            out.text = _text(method, [], fn(*args, **params))
        elif method.endswith("_stream"):
            async for item in fn(*args, **params):
                out.items.append(item)
            out.text = _text(method, out.items, None)
        else:
            out.text = _text(method, [], await fn(*args, **params))
    except HFEndpointError as err:
        out.error, out.text = err, None
    finally:
        if kind == "sync":
            client.close()
        else:
            await client.aclose()
    return out


@dataclass(frozen=True)
class Row:
    id: str
    fault: dict[str, Any]
    error: type[HFEndpointError] | None
    match: str = ""
    attempts: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = tuple(METHODS)
    status: int | None = None


def _status(code: int, body: str, ctype: str = "text/plain", count: int = -1, **headers: str) -> dict[str, Any]:
    return {"status": {"code": code, "body": body, "content_type": ctype, "count": count, "headers": headers}}


OVERLOADED = '{"error":"Model is overloaded","error_type":"overloaded"}'
BUDGET = {"max_retries": 0, "cold_start_timeout": 1.0}

ROWS = [
    Row(
        "502-beyond-budget",
        {"cold_start": 50, "cold_start_status": 502},
        ColdStartTimeoutError,
        r"HTTP 502.*still unavailable after 2 attempts.*cold_start_timeout=1 s",
        attempts=2,
        options=BUDGET,
        methods=("chat", "generate_stream"),
        status=502,
    ),
    Row(
        "504-beyond-budget",
        {"cold_start": 50, "cold_start_status": 504},
        ColdStartTimeoutError,
        r"HTTP 504.*still unavailable after 2 attempts",
        attempts=2,
        options=BUDGET,
        methods=("generate", "chat_stream"),
        status=504,
    ),
    Row(
        "serverless-loading-beyond-budget",
        {"cold_start": 50, "cold_start_style": "loading"},
        ColdStartTimeoutError,
        r"currently loading \(estimated time 20\.0 s\)",
        attempts=2,
        options=BUDGET,
        methods=("chat",),
        status=503,
    ),
    Row(
        "paused",
        _status(400, "Bad Request: Invalid state"),
        EndpointPausedError,
        "Invalid state: the Inference Endpoint is paused",
        status=400,
    ),
    Row("429-once", _status(429, OVERLOADED, "application/json", count=1), None, attempts=2),
    Row("reset-once", {"reset": 1}, None, attempts=2),
    Row("413", _status(413, "Payload Too Large"), BadRequestError, "payload limit", status=413),
    Row(
        "422-json",
        _status(
            422,
            '{"error":"Input validation error: `top_p` must be > 0.0 and < 1.0","error_type":"validation"}',
            "application/json",
        ),
        RequestValidationError,
        r"HTTP 422, validation\] Input validation error",
        status=422,
    ),
    Row(
        "stall-before-first-byte",
        {"stall_before": 1.5},
        APITimeoutError,
        "read timeout",
        options={"timeout": 0.3, "max_retries": 3},
    ),  # a read timeout is not retried: the server may be working
    Row(
        "drop-mid-stream",
        {"drop_after": 2},
        IncompleteStreamError,
        "connection dropped mid-",
        methods=("chat_stream", "generate_stream"),
    ),
    Row("malformed-event", {"malformed_after": 2}, ResponseError, "not JSON", methods=("chat_stream",)),
    Row(
        "keepalive-and-huge-event",
        {"keepalive": True, "huge_token_chars": 300_000},
        None,
        methods=("chat_stream", "generate_stream"),
    ),
]

CASES = [
    pytest.param(row, kind, method, id=f"{row.id}-{kind}-{method}")
    for row in ROWS
    for method in row.methods
    for kind in ("sync", "async")
]


@pytest.mark.parametrize(("row", "kind", "method"), CASES)
async def test_transport_fault(scripted: LocalServer, row: Row, kind: str, method: str) -> None:
    scripted.configure(**row.fault)
    out = await call(kind, method, scripted.url, **row.options)
    if row.error is None:
        assert out.error is None, out.error
        if "huge_token_chars" in row.fault:
            assert out.text is not None
            assert len(out.text) > 300_000
        else:
            assert out.text == REPLY
    else:
        assert isinstance(out.error, row.error), out.error
        assert re.search(row.match, str(out.error)), str(out.error)
        assert out.error.status_code == row.status
        assert out.text is None
        if method == "generate_stream":
            assert all(e.generated_text is None for e in out.items)  # no final answer among the partial events
    assert scripted.stats()["requests"].get(PATHS[method], 0) == row.attempts
