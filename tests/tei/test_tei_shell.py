"""The shells read an error answer with the request's own ``error_map`` (how TEI's errors reach the caller typed
and are retried by their type), over real HTTP against the scripted server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from hf_endpoint import AsyncTGIClient, HFEndpointError, ModelTypeError, RateLimitError, TGIClient
from hf_endpoint._protocol import Request
from hf_endpoint._tei_errors import tei_error
from hf_endpoint.server import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(backend="scripted") as srv:
        yield srv


def _tei_map(status: int, body: bytes, **kw: Any) -> HFEndpointError:
    return tei_error(status, body, path="/embed", **kw)


def _run(kind: str, url: str, plan: Any) -> Any:
    if kind == "sync":
        with TGIClient(url, max_retries=2) as client:
            return client._run(plan)

    async def go() -> Any:
        async with AsyncTGIClient(url, max_retries=2) as client:
            return await client._run(plan)

    return asyncio.run(go())


def _plan() -> Any:
    from hf_endpoint._tei_core import Plan  # the plan type the shells run, wherever it lives

    return Plan(Request("POST", "/generate", {"inputs": "x"}, error_map=_tei_map), parse=lambda resp: resp.status)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_request_error_map_reads_its_errors(server: LocalServer, kind: str) -> None:
    server.reset()
    body = {"error": "Backend error: Model is not an embedding model", "error_type": "Backend"}
    server.configure(status={"code": 424, "count": 1, "content_type": "application/json", "body": json.dumps(body)})
    with pytest.raises(ModelTypeError, match="rerank"):  # the generic mapper would say GenerationError
        _run(kind, server.url, _plan())


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_retries_follow_the_mapped_type(server: LocalServer, kind: str) -> None:
    server.reset()
    body = {"error": "Model is overloaded", "error_type": "Overloaded"}
    server.configure(
        status={
            "code": 429,
            "count": 1,
            "content_type": "application/json",
            "body": json.dumps(body),
            "headers": {"Retry-After": "0"},
        }
    )
    assert _run(kind, server.url, _plan()) == 200  # TEI's 429 retried like TGI's overload, then answered
    assert server.stats()["requests"]["/generate"] == 2
    server.reset()
    server.configure(
        status={
            "code": 429,
            "count": -1,
            "content_type": "application/json",
            "body": json.dumps(body),
            "headers": {"Retry-After": "0"},
        }
    )
    with pytest.raises(RateLimitError):
        _run(kind, server.url, _plan())
    server.reset()
