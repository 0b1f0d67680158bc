"""Several endpoints behind one client, over real HTTP to two and three local scripted servers (sync and async)."""

from __future__ import annotations

import asyncio
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hf_endpoint import (
    AllEndpointsFailedError,
    AsyncTGIClient,
    ChatCompletion,
    IncompleteStreamError,
    InvalidRequestError,
    RequestValidationError,
    TGIClient,
)
from hf_endpoint.server import LocalServer
from tests.reliability.rel_helpers import established, port_of
from tests.transport._twin import Twin

MSG = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"


def _count(srv: LocalServer, route: str = CHAT) -> int:
    return int(srv.stats()["requests"].get(route, 0))


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # (nothing listens there once the socket is closed: refused)


def test_one_url_is_the_plain_client() -> None:
    assert type(TGIClient(["http://127.0.0.1:9"])) is TGIClient
    assert type(AsyncTGIClient(["http://127.0.0.1:9"])) is AsyncTGIClient
    multi = TGIClient(["http://127.0.0.1:9", ("http://127.0.0.1:10", {"api_key": "sekret-1"})])
    assert isinstance(multi, TGIClient) and type(multi) is not TGIClient
    assert "sekret" not in repr(multi) and "sekret" not in repr(multi._options)


def test_results_say_which_endpoint_answered_and_both_get_traffic(srvs: list[LocalServer], kind: str) -> None:
    a, b = srvs[:2]
    t = Twin(kind, [a.url, b.url])
    try:
        seen = {t.chat(MSG, max_tokens=3).endpoint for _ in range(40)}
        assert seen == {a.url, b.url}
        stats = t.client.endpoint_stats()
        assert [s["url"] for s in stats] == [a.url, b.url]
        assert sum(s["answered"] for s in stats) == 40 == _count(a) + _count(b)
        assert all(s["in_flight"] == 0 and s["latency_p50"] is not None for s in stats)
    finally:
        t.close()


def test_balancing_sends_fewer_requests_to_a_slow_endpoint(srvs: list[LocalServer]) -> None:
    slow, b, c = srvs
    slow.configure(stall_before=0.3)
    client = TGIClient([slow.url, b.url, c.url])

    def worker(_: int) -> list[str | None]:
        return [client.chat(MSG, max_tokens=2).endpoint for _ in range(8)]

    with ThreadPoolExecutor(6) as pool:
        answers = [e for batch in pool.map(worker, range(6)) for e in batch]
    client.close()
    assert len(answers) == 48
    assert answers.count(slow.url) < answers.count(b.url)
    assert answers.count(slow.url) < answers.count(c.url)


async def test_balancing_async_under_uneven_latency(srvs: list[LocalServer]) -> None:
    slow, b, c = srvs
    slow.configure(stall_before=0.3)
    client = AsyncTGIClient([slow.url, b.url, c.url])

    async def worker() -> list[str | None]:
        return [(await client.chat(MSG, max_tokens=2)).endpoint for _ in range(8)]

    answers = [e for batch in await asyncio.gather(*(worker() for _ in range(6))) for e in batch]
    await client.aclose()
    assert answers.count(slow.url) < answers.count(b.url)
    assert answers.count(slow.url) < answers.count(c.url)


FAULTS: dict[str, dict[str, Any]] = {
    "cold_start_503": {"cold_start": 100},
    "429": {
        "status": {
            "code": 429,
            "body": '{"error":"Model is overloaded","error_type":"overloaded"}',
            "content_type": "application/json",
            "count": -1,
        }
    },
    "500": {
        "status": {
            "code": 500,
            "body": '{"error":"CUDA error","error_type":"generation"}',
            "content_type": "application/json",
            "count": -1,
        }
    },
    "reset_before_first_byte": {"reset": 100},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_failover_moves_the_request_at_once(srvs: list[LocalServer], kind: str, fault: str) -> None:
    bad, good = srvs[:2]
    bad.configure(**FAULTS[fault])
    # max_retries=0: one endpoint alone would raise; the request moves instead of retrying there
    # (priority: the faulty endpoint is tried first whenever it is not cooling down)
    t = Twin(kind, [bad.url, (good.url, {"priority": 1})], max_retries=0, cold_start_timeout=0)
    try:
        for _ in range(6):
            assert t.chat(MSG, max_tokens=3).endpoint == good.url
            items, err = t.collect("chat_stream", MSG, max_tokens=3)
            assert err is None and items and all(i.endpoint == good.url for i in items)
        stats = {s["url"]: s for s in t.client.endpoint_stats()}
        assert stats[bad.url]["failed"] >= 1 and stats[bad.url]["answered"] == 0
        assert stats[good.url]["answered"] == 12 and stats[good.url]["failed"] == 0
    finally:
        t.close()


def test_failover_on_a_refused_connection(srvs: list[LocalServer], kind: str, caplog: pytest.LogCaptureFixture) -> None:
    dead = _closed_port_url()
    good = srvs[0]
    t = Twin(kind, [dead, (good.url, {"priority": 1})], max_retries=0)  # (priority: the dead one is tried first)
    try:
        with caplog.at_level(logging.DEBUG, logger="hf_endpoint"):
            results = [t.chat(MSG, max_tokens=3) for _ in range(5)]
        assert {r.endpoint for r in results} == {good.url}
        stats = {s["url"]: s for s in t.client.endpoint_stats()}
        assert all(s["in_flight"] == 0 for s in stats.values())
        moved = [r.getMessage() for r in caplog.records if "moving the request" in r.getMessage()]
        assert moved and dead in moved[0] and "APIConnectionError" in moved[0]
    finally:
        t.close()


def test_a_stream_whose_first_step_is_refused_moves(srvs: list[LocalServer], kind: str) -> None:
    good = srvs[0]
    # priority: the dead endpoint is tried first; the stream's first step there (asking /info) is refused
    t = Twin(kind, [_closed_port_url(), (good.url, {"priority": 1})], max_retries=0)
    try:
        items, err = t.collect("chat_stream", MSG, max_tokens=3)
        assert err is None and items and {i.endpoint for i in items} == {good.url}
        assert all(s["in_flight"] == 0 for s in t.client.endpoint_stats())
    finally:
        t.close()


def test_a_rejected_request_is_not_sent_elsewhere(srvs: list[LocalServer], kind: str) -> None:
    a, b = srvs[:2]
    rejected = {
        "code": 422,
        "body": '{"error":"Input validation error: bad","error_type":"validation"}',
        "content_type": "application/json",
        "count": -1,
    }
    a.configure(status=rejected)
    b.configure(status=rejected)
    t = Twin(kind, [a.url, b.url])
    try:
        with pytest.raises(RequestValidationError):
            t.chat(MSG, max_tokens=3)
        assert _count(a) + _count(b) == 1
    finally:
        t.close()


def test_every_endpoint_failing_lists_each_answer(srvs: list[LocalServer], kind: str) -> None:
    a = srvs[0]
    a.configure(**FAULTS["500"])
    dead = _closed_port_url()
    t = Twin(kind, [a.url, dead], max_retries=2)
    try:
        with pytest.raises(AllEndpointsFailedError) as info:
            t.chat(MSG, max_tokens=3)
        assert set(info.value.errors) == {a.url, dead}
        assert info.value.status_code in (500, None)
        assert "CUDA error" in str(info.value) and dead in str(info.value)
    finally:
        t.close()


def test_a_round_where_all_fail_waits_by_max_retries_then_raises(
    srvs: list[LocalServer], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = srvs[:2]
    for s in (a, b):
        s.configure(**FAULTS["429"])
    t = Twin(kind, [a.url, b.url], max_retries=1)
    try:
        with caplog.at_level(logging.WARNING, logger="hf_endpoint"), pytest.raises(AllEndpointsFailedError) as info:
            t.chat(MSG, max_tokens=3)
        assert info.value.status_code == 429 and set(info.value.errors) == {a.url, b.url}
        assert _count(a) == 2 and _count(b) == 2  # two rounds: the first, and one retry (max_retries=1)
        waits = [r.getMessage() for r in caplog.records if "trying again in" in r.getMessage()]
        assert len(waits) == 1 and "all 2 endpoints failed" in waits[0]
    finally:
        t.close()


def test_retry_after_sets_the_cooldown(srvs: list[LocalServer], kind: str) -> None:
    a, b = srvs[:2]
    a.configure(status={"code": 429, "body": "busy", "headers": {"Retry-After": "45"}, "count": 1})
    t = Twin(kind, [a.url, b.url], max_retries=0)
    try:
        while _count(a) == 0:  # (the first request to reach a gets the 429)
            assert t.chat(MSG, max_tokens=3).endpoint is not None
        stats = {s["url"]: s for s in t.client.endpoint_stats()}
        assert 40 < stats[a.url]["cooling_down_for"] <= 45
        assert all(t.chat(MSG, max_tokens=3).endpoint == b.url for _ in range(5))
    finally:
        t.close()


def test_a_stream_broken_after_its_first_tokens_is_not_replayed(srvs: list[LocalServer], kind: str) -> None:
    a, b = srvs[:2]
    for s in (a, b):
        s.configure(drop_after=3, n_tokens=20)
    t = Twin(kind, [a.url, b.url])
    try:
        items, err = t.collect("chat_stream", MSG, max_tokens=20)
        assert isinstance(err, IncompleteStreamError)
        assert 1 <= len(items) <= 3
        assert _count(a) + _count(b) == 1  # sent once, never restarted elsewhere
        assert len({i.endpoint for i in items}) == 1
    finally:
        t.close()


def test_mixed_tgi_and_openai_compatible_endpoints(kind: str) -> None:
    with LocalServer("scripted") as tgi, LocalServer("scripted", mode="openai") as oai:
        t = Twin(kind, [tgi.url, (oai.url, {"route": "chat"})])
        try:
            seen: dict[str | None, str | None] = {}
            for _ in range(30):
                r = t.chat(MSG, max_tokens=3)
                seen[r.endpoint] = r.content
            assert set(seen) == {tgi.url, oai.url} and all(seen.values())
        finally:
            t.close()


def test_per_endpoint_token(srvs: list[LocalServer]) -> None:
    a, b = srvs[:2]
    client = TGIClient([(a.url, {"api_key": "token-a"}), (b.url, {"api_key": "token-b"})])
    try:
        while _count(a) == 0 or _count(b) == 0:
            client.chat(MSG, max_tokens=2)
        assert a.last_request()["headers"]["Authorization"] == "Bearer token-a"
        assert b.last_request()["headers"]["Authorization"] == "Bearer token-b"
    finally:
        client.close()


def test_a_waking_endpoint_gets_no_request_while_it_cools_down(srvs: list[LocalServer], kind: str) -> None:
    waking, warm = srvs[:2]
    waking.configure(cold_start=1000)
    t = Twin(kind, [waking.url, (warm.url, {"priority": 1})], cold_start_timeout=0)  # (the waking one first)
    try:
        results = [t.chat(MSG, max_tokens=2) for _ in range(20)]
        assert all(r.endpoint == warm.url for r in results)
        # it was tried, failed with its 503, and then was left alone (cooling down, then probed in the background)
        assert 1 <= _count(waking) < 5
    finally:
        t.close()


def test_a_server_killed_mid_run(srvs: list[LocalServer]) -> None:
    good = srvs[0]
    victim = LocalServer("scripted", subprocess=True).start()
    client = TGIClient([victim.url, good.url], max_retries=1)
    try:
        answers = []
        for k in range(30):
            if k == 10:
                victim.stop()
            answers.append(client.chat(MSG, max_tokens=2).endpoint)
        assert all(e == good.url for e in answers[12:])
        assert len(answers) == 30
    finally:
        victim.stop()
        client.close()


async def test_hedged_streams_win_on_the_fast_endpoint_and_close_the_slow_one() -> None:
    # (servers of its own: connections other tests' shared clients keep open would be counted)
    async with LocalServer("scripted") as slow, LocalServer("scripted") as fast:
        slow.configure(stall_before=5.0)
        await _hedged(slow, fast)


async def _hedged(slow: LocalServer, fast: LocalServer) -> None:
    client = AsyncTGIClient([slow.url, fast.url], hedge_after=0.2)

    async def one() -> list[Any]:
        return [chunk async for chunk in client.chat_stream(MSG, max_tokens=3)]

    streams = await asyncio.gather(*(one() for _ in range(6)))  # (least outstanding: half start on the slow one)
    assert _count(slow) >= 1
    for items in streams:
        assert items and {i.endpoint for i in items} == {fast.url}
        text = "".join(i.choices[0].delta.content or "" for i in items if i.choices)
        assert text == "Hello from the"
    # the losers' connections are closed (not left to the pool; the server is still stalling on them): polled
    # for a moment, as the kernel sees the close one loop turn later
    for _ in range(50):
        if established(port_of(slow.url)) == 0:
            break
        await asyncio.sleep(0.02)
    assert established(port_of(slow.url)) == 0
    stats = {s["url"]: s for s in client.endpoint_stats()}
    assert stats[slow.url]["in_flight"] == 0 and stats[fast.url]["in_flight"] == 0
    await client.aclose()


def test_completion_fallbacks_are_used_in_order(srvs: list[LocalServer]) -> None:
    from hf_endpoint import completion

    primary, fallback = srvs[:2]
    kw = {"max_tokens": 3, "max_retries": 0}
    out = [
        completion(model=f"huggingface/{primary.url}", messages=MSG, fallbacks=[f"huggingface/{fallback.url}"], **kw)
        for _ in range(5)
    ]
    assert {r.endpoint for r in out} == {primary.url}  # the fallback is not balanced against the primary
    primary.configure(cold_start=100)
    out = [
        completion(model=f"huggingface/{primary.url}", messages=MSG, fallbacks=[{"model": fallback.url}], **kw)
        for _ in range(5)
    ]
    assert {r.endpoint for r in out} == {fallback.url}
    with pytest.raises(InvalidRequestError, match="fallbacks"):
        completion(model=f"huggingface/{primary.url}", messages=MSG, fallbacks=[42])


async def test_acompletion_fallbacks(srvs: list[LocalServer]) -> None:
    from hf_endpoint import acompletion

    primary, fallback = srvs[:2]
    primary.configure(**FAULTS["500"])
    result = await acompletion(
        model=f"huggingface/{primary.url}", messages=MSG, fallbacks=[fallback.url], max_tokens=3, max_retries=0
    )
    assert isinstance(result, ChatCompletion) and result.endpoint == fallback.url


def test_langchain_two_endpoints(srvs: list[LocalServer]) -> None:
    from langchain_hf_endpoint import ChatHFEndpoint

    down, up = srvs[:2]
    down.configure(**FAULTS["reset_before_first_byte"])
    llm = ChatHFEndpoint(base_url=[down.url, up.url], max_tokens=3, max_retries=0)
    assert llm.invoke("hi").response_metadata["endpoint"] == up.url
    chunks = list(llm.stream("hi"))
    assert sum(chunks[1:], chunks[0]).response_metadata["endpoint"] == up.url

    async def go() -> str:
        return str((await llm.ainvoke("hi")).response_metadata["endpoint"])

    assert asyncio.run(go()) == up.url
    with pytest.raises(ValueError, match="twice"):
        ChatHFEndpoint(base_url=[up.url, up.url])


def test_llama_index_two_endpoints(srvs: list[LocalServer]) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_hf_endpoint import HFEndpoint

    down, up = srvs[:2]
    down.configure(**FAULTS["429"])
    llm = HFEndpoint(base_url=[down.url, up.url], max_tokens=3, max_retries=0)
    msg = [ChatMessage(role="user", content="hi")]
    assert llm.chat(msg).additional_kwargs["endpoint"] == up.url
    assert list(llm.stream_chat(msg))[-1].additional_kwargs["endpoint"] == up.url
    assert llm.complete("hi").additional_kwargs["endpoint"] == up.url

    async def go() -> str:
        return str((await llm.achat(msg)).additional_kwargs["endpoint"])

    assert asyncio.run(go()) == up.url


def test_a_woken_endpoint_is_probed_in_the_background_and_gets_requests_again(srvs: list[LocalServer]) -> None:
    import time

    waking, warm = srvs[:2]
    waking.configure(cold_start=1)  # its next generation request gets a 503, then it is awake
    client = TGIClient([waking.url, (warm.url, {"priority": 1})])  # (priority: the waking one preferred)

    def state() -> dict[str, Any]:
        return client.endpoint_stats()[0]

    def wait_for(condition: Any) -> bool:  # (bounded polling; no timing is asserted)
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        return bool(condition())

    try:
        assert client.chat(MSG, max_tokens=2).endpoint == warm.url  # the 503 moved it
        assert state()["probing"] and state()["failed"] == 1
        assert wait_for(lambda: state()["cooling_down_for"] == 0)
        assert client.chat(MSG, max_tokens=2).endpoint == warm.url  # still out: this call starts its probe
        assert wait_for(lambda: not state()["probing"])  # GET /health answered
        assert waking.stats()["requests"].get("/health", 0) >= 1
        assert client.chat(MSG, max_tokens=2).endpoint == waking.url  # back in rotation
    finally:
        client.close()
