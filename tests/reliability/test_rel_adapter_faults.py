"""The fault matrix for the adapters: every row runs through ``ChatHFEndpoint`` (invoke, stream, ainvoke, astream)
and ``HFEndpoint`` (chat, stream_chat, achat, astream_chat) against the scripted server over real HTTP.

Each row checks the exception type and message, how many attempts reached the server (``srv.stats()``), and that
a stream never passes a partial answer off as complete (it raises after what it delivered) nor yields anything
twice after a retry (what it delivered is exactly the scripted reply, or a prefix of it).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

from hf_endpoint import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ColdStartTimeoutError,
    EndpointPausedError,
    GenerationError,
    HFEndpointError,
    IncompleteStreamError,
    NotFoundError,
    RateLimitError,
    RequestValidationError,
    ResponseError,
)
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint
from llama_index_hf_endpoint import HFEndpoint

pytestmark = pytest.mark.usefixtures("close_lc_pools")

ROUTE = "/v1/chat/completions"  # both adapters use TGI's Messages API on the scripted server (route "auto")
TOKENS = ["Hello", " from", " the", " scripted", " backend", "."]
REPLY = "".join(TOKENS)
LC_CALLS = ["lc.invoke", "lc.stream", "lc.ainvoke", "lc.astream"]
LI_CALLS = ["li.chat", "li.stream_chat", "li.achat", "li.astream_chat"]
CALLS = LC_CALLS + LI_CALLS
STREAMING = {"lc.stream", "lc.astream", "li.stream_chat", "li.astream_chat"}


@dataclass
class Outcome:
    pieces: list[str] = field(default_factory=list)  # streamed text pieces (non-empty ones), in order
    text: str | None = None  # the final answer, only when the call returned normally
    error: BaseException | None = None


async def run(call: str, url: str, **options: Any) -> Outcome:
    """One adapter call with its own model object; what it delivered, returned and raised."""
    out = Outcome()
    if call.startswith("lc."):
        model: Any = ChatHFEndpoint(base_url=url, **options)
    else:
        model = HFEndpoint(base_url=url, **options)
    messages = [ChatMessage(role="user", content="hi")]
    try:
        if call == "lc.invoke":
            out.text = str(model.invoke("hi").content)
        elif call == "lc.ainvoke":
            out.text = str((await model.ainvoke("hi")).content)
        elif call == "lc.stream":
            for chunk in model.stream("hi"):
                out.pieces.append(str(chunk.content))
            out.text = "".join(out.pieces)
        elif call == "lc.astream":
            async for chunk in model.astream("hi"):
                out.pieces.append(str(chunk.content))
            out.text = "".join(out.pieces)
        elif call == "li.chat":
            out.text = model.chat(messages).message.content
        elif call == "li.achat":
            out.text = (await model.achat(messages)).message.content
        elif call == "li.stream_chat":
            for response in model.stream_chat(messages):
                out.pieces.append(response.delta or "")
                out.text = response.message.content
        elif call == "li.astream_chat":
            async for response in await model.astream_chat(messages):
                out.pieces.append(response.delta or "")
                out.text = response.message.content
    except HFEndpointError as err:
        out.error, out.text = err, None
    finally:
        if isinstance(model, HFEndpoint):
            await model.aclose()
    out.pieces = [p for p in out.pieces if p]
    return out


def attempts(srv: LocalServer) -> int:
    return int(srv.stats()["requests"].get(ROUTE, 0))


@dataclass(frozen=True)
class Row:
    """One fault: the server configuration, the adapter options, and what the caller must see."""

    id: str
    fault: dict[str, Any]
    error: type[HFEndpointError] | None  # None: the call succeeds (after retries)
    match: str = ""  # a regex the error's str() must contain
    attempts: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    streams_only: bool = False  # the fault exists only in streamed responses
    delivered: int | None = None  # streamed pieces before the error (exact), when known


def _status(code: int, body: str, ctype: str = "text/plain", count: int = -1, **headers: str) -> dict[str, Any]:
    return {"status": {"code": code, "body": body, "content_type": ctype, "count": count, "headers": headers}}


OVERLOADED = '{"error":"Model is overloaded","error_type":"overloaded"}'

ROWS = [
    Row("cold-start-503-within-budget", {"cold_start": 2}, None, attempts=3, options={"max_retries": 3}),
    Row("cold-start-502-within-budget", {"cold_start": 1, "cold_start_status": 502}, None, attempts=2),
    Row("cold-start-504-within-budget", {"cold_start": 1, "cold_start_status": 504}, None, attempts=2),
    # max_retries=0: one retry after 1 s (the cold-start floor), then the 1 s budget is spent.
    Row(
        "cold-start-beyond-budget",
        {"cold_start": 50},
        ColdStartTimeoutError,
        r"cold_start_timeout=1 s",
        attempts=2,
        options={"max_retries": 0, "cold_start_timeout": 1.0},
    ),
    Row(
        "paused-400-invalid-state", _status(400, "Bad Request: Invalid state"), EndpointPausedError, "paused.*Resume it"
    ),
    Row("429-retried-without-retry-after", _status(429, OVERLOADED, "application/json", count=1), None, attempts=2),
    Row(
        "429-exhausted-with-retry-after",
        _status(429, OVERLOADED, "application/json", **{"Retry-After": "0"}),
        RateLimitError,
        "Model is overloaded",
        attempts=2,
        options={"max_retries": 1},
    ),
    Row("401", _status(401, ""), AuthenticationError, "no token was sent"),
    Row("403", _status(403, "Forbidden"), AuthenticationError, "no token was sent"),
    Row("404-wrong-url", _status(404, "Not Found"), NotFoundError, rf"check the endpoint URL.*url: http://\S+{ROUTE}"),
    Row("413", _status(413, "Payload Too Large"), BadRequestError, "payload limit"),
    Row(
        "422-plain-text",
        _status(422, "Failed to deserialize the JSON body into the target type: stop: invalid type"),
        RequestValidationError,
        "HTTP 422.*Failed to deserialize",
    ),
    Row(
        "422-json",
        _status(
            422,
            '{"error":"Input validation error: `temperature` must be strictly positive","error_type":"validation"}',
            "application/json",
        ),
        RequestValidationError,
        "HTTP 422, validation.*strictly positive",
    ),
    Row(
        "424",
        _status(
            424,
            '{"error":"Request failed during generation: Server error: CUDA OOM","error_type":"generation"}',
            "application/json",
        ),
        GenerationError,
        "HTTP 424.*CUDA OOM",
    ),
    Row(
        "500",
        _status(500, '{"error":"Incomplete generation","error_type":"incomplete_generation"}', "application/json"),
        GenerationError,
        "Incomplete generation",
    ),
    Row("reset-before-response", {"reset": 1}, None, attempts=2),
    Row(
        "stall-past-read-timeout",
        {"stall_before": 1.5},
        APITimeoutError,
        "read timeout",
        options={"timeout": 0.3, "max_retries": 2},
    ),
    Row("keepalive-comments", {"keepalive": True}, None),
    Row(
        "stream-error-tgi-shape",
        {
            "stream_error": {
                "after": 2,
                "shape": "tgi",
                "error_type": "generation",
                "message": "Request failed during generation: OOM",
            }
        },
        GenerationError,
        "HTTP 424, generation.*OOM",
        streams_only=True,
        delivered=2,
    ),
    Row(
        "stream-error-openai-shape",
        {"stream_error": {"after": 2, "shape": "openai", "message": "Request failed during generation: OOM"}},
        GenerationError,
        "HTTP 424, generation.*OOM",
        streams_only=True,
        delivered=2,
    ),
    Row(
        "drop-mid-stream",
        {"drop_after": 3},
        IncompleteStreamError,
        "connection dropped mid-",
        streams_only=True,
        delivered=3,
    ),
    Row(
        "stream-without-final-event",
        {"truncate_stream": True},
        IncompleteStreamError,
        r"without a finish_reason or \[DONE\]; the answer is incomplete",
        streams_only=True,
        delivered=6,
    ),
    Row("malformed-event", {"malformed_after": 1}, ResponseError, "not JSON", streams_only=True, delivered=1),
    Row(
        "stall-mid-stream",
        {"stall_between": 1.5},
        APITimeoutError,
        "read timeout",
        options={"timeout": 0.3},
        streams_only=True,
    ),
]

CASES = [
    pytest.param(row, call, id=f"{row.id}-{call}")
    for row in ROWS
    for call in CALLS
    if call in STREAMING or not row.streams_only
]


@pytest.mark.parametrize(("row", "call"), CASES)
async def test_fault(scripted: LocalServer, row: Row, call: str) -> None:
    scripted.configure(**row.fault)
    out = await run(call, scripted.url, **row.options)
    assert TOKENS[: len(out.pieces)] == out.pieces  # delivered pieces are the reply's, in order, none twice
    if row.error is None:
        assert out.error is None, out.error
        assert out.text == REPLY
        if call in STREAMING:
            assert out.pieces == TOKENS
    else:
        assert isinstance(out.error, row.error), out.error
        assert re.search(row.match, str(out.error)), str(out.error)
        assert out.text is None  # raised: nothing was returned as if it were the answer
        if row.delivered is not None:
            assert len(out.pieces) == row.delivered
    assert attempts(scripted) == row.attempts


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again before use: nothing listens there


@pytest.mark.parametrize("call", CALLS)
async def test_connection_refused(call: str) -> None:
    out = await run(call, f"http://127.0.0.1:{_closed_port()}", max_retries=1)
    assert isinstance(out.error, APIConnectionError)
    assert not isinstance(out.error, APITimeoutError)
    assert "connection failed" in str(out.error)
    assert out.error.error_type == "connection"
    assert out.pieces == []
