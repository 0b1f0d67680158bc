"""Load: 1000 concurrent async streams and 10,000 sequential requests against a scripted server in a subprocess, and
cancelled streams. Everything completes; file descriptors and connections come back to where they started; memory
stays flat; a cancelled stream's connection is closed and the pool stays usable.

Connections are counted from ``/proc/net/tcp`` (ESTABLISHED, to the server's port), descriptors from
``/proc/self/fd``, memory from ``/proc/self/status``. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator

import pytest
from llama_index.core.base.llms.types import ChatMessage
from rel_helpers import established, open_fds, port_of, rss_mib

from hf_endpoint import AsyncTGIClient, TGIClient
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint
from llama_index_hf_endpoint import HFEndpoint

pytestmark = [pytest.mark.load, pytest.mark.usefixtures("close_lc_pools")]

REPLY = "Hello from the scripted backend."
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A scripted server in its own process, so that its sockets and memory are not counted as ours."""
    with LocalServer("scripted", subprocess=True) as srv:
        yield srv


@pytest.fixture
def srv(server: LocalServer) -> Iterator[LocalServer]:
    server.reset()
    yield server
    server.reset()


def report(name: str, **figures: object) -> None:
    print(f"\n[load] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


async def settle(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Wait (bounded) until ``condition()`` holds: closed sockets leave ESTABLISHED asynchronously."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        gc.collect()
        await asyncio.sleep(0.02)
    return True


def chat_text(chunks: list[object]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)  # type: ignore[attr-defined]


async def test_1000_concurrent_async_streams(srv: LocalServer) -> None:
    port = port_of(srv.url)
    fds0, conns0 = open_fds(), established(port)
    start = time.perf_counter()
    async with AsyncTGIClient(srv.url, max_connections=1000) as client:
        await client.info()

        async def one() -> str:
            return chat_text([c async for c in client.chat_stream(HI, max_tokens=16)])

        texts = await asyncio.gather(*(one() for _ in range(1000)))
        elapsed = time.perf_counter() - start
        pooled = established(port)
        fds_during = open_fds()
    assert texts == [REPLY] * 1000
    assert srv.stats()["requests"]["/v1/chat/completions"] == 1000
    assert pooled <= 1000
    assert await settle(lambda: established(port) == conns0 and open_fds() <= fds0 + 2)
    rss, peak = rss_mib()
    report(
        "1000 concurrent async streams (AsyncTGIClient)",
        seconds=f"{elapsed:.2f}",
        pooled_connections=pooled,
        fds_before=fds0,
        fds_during=fds_during,
        fds_after=open_fds(),
        conns_before=conns0,
        conns_after=established(port),
        rss_mib=f"{rss:.0f}",
        peak_rss_mib=f"{peak:.0f}",
    )


async def test_1000_concurrent_streams_through_langchain(srv: LocalServer) -> None:
    port = port_of(srv.url)
    fds0, conns0 = open_fds(), established(port)
    llm = ChatHFEndpoint(base_url=srv.url, max_tokens=16)
    start = time.perf_counter()

    async def one() -> str:
        return "".join([str(c.content) async for c in llm.astream("hi")])

    texts = await asyncio.gather(*(one() for _ in range(1000)))
    elapsed = time.perf_counter() - start
    pooled = established(port)
    await llm.aclose()
    assert texts == [REPLY] * 1000
    assert await settle(lambda: established(port) == conns0 and open_fds() <= fds0 + 2)
    report(
        "1000 concurrent streams (ChatHFEndpoint.astream)",
        seconds=f"{elapsed:.2f}",
        pooled_connections=pooled,
        fds_before=fds0,
        fds_after=open_fds(),
        conns_before=conns0,
        conns_after=established(port),
    )


async def test_10000_sequential_requests(srv: LocalServer) -> None:
    port = port_of(srv.url)
    fds0, conns0 = open_fds(), established(port)
    samples: list[float] = []
    start = time.perf_counter()
    with TGIClient(srv.url) as client:
        for i in range(10_000):
            assert client.generate("Hello", max_new_tokens=4).generated_text
            if i % 1000 == 999:
                samples.append(rss_mib()[0])
                assert established(port) - conns0 <= 1  # one pooled keep-alive connection, reused
        elapsed = time.perf_counter() - start
        fds_during = open_fds()
    assert srv.stats()["requests"]["/generate"] == 10_000
    assert await settle(lambda: established(port) == conns0 and open_fds() <= fds0)
    growth = samples[-1] - samples[0]  # from after the first 1000 (warm) to the end
    assert growth < 16, samples
    report(
        "10,000 sequential requests (TGIClient.generate)",
        seconds=f"{elapsed:.2f}",
        per_request_ms=f"{elapsed / 10:.2f}",
        fds_before=fds0,
        fds_during=fds_during,
        fds_after=open_fds(),
        conns_before=conns0,
        conns_after=established(port),
        rss_mib_per_1000=[round(s) for s in samples],
        rss_growth_mib=f"{growth:.1f}",
        peak_sampled_rss_mib=f"{max(samples):.0f}",
    )


# -------------------------------------------------------------------------------------------------- cancellation

LONG = {"n_tokens": 400, "token_delay": 0.005}  # ~2 s of streaming: cancelled long before the end


def _generate_text(events: list[object]) -> str | None:
    return events[-1].generated_text if events else None  # type: ignore[attr-defined]


async def _pool_still_works(client: TGIClient | AsyncTGIClient) -> None:
    if isinstance(client, TGIClient):
        assert client.chat(HI).content == REPLY
        assert _generate_text(list(client.generate_stream("Hello", max_new_tokens=3)))
    else:
        assert (await client.chat(HI)).content == REPLY
        assert _generate_text([e async for e in client.generate_stream("Hello", max_new_tokens=3)])


@pytest.mark.parametrize("how", ["sync-break", "async-break", "async-task-cancel"])
async def test_cancelling_a_stream_closes_its_connection(srv: LocalServer, how: str) -> None:
    port = port_of(srv.url)
    srv.configure(**LONG)
    conns0, fds0 = established(port), open_fds()
    client: TGIClient | AsyncTGIClient = TGIClient(srv.url) if how == "sync-break" else AsyncTGIClient(srv.url)
    received = 0
    if isinstance(client, TGIClient):
        for _ in client.generate_stream("Hello"):
            received += 1
            if received == 3:
                assert established(port) == conns0 + 1
                break
    elif how == "async-break":
        async for _ in client.generate_stream("Hello"):
            received += 1
            if received == 3:
                assert established(port) == conns0 + 1
                break
    else:
        three = asyncio.Event()

        async def consume() -> None:
            nonlocal received
            async for _ in client.generate_stream("Hello"):
                received += 1
                if received == 3:
                    three.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(three.wait(), 5)
        assert established(port) == conns0 + 1
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert received == 3
    # The cancelled stream's connection is closed (not left open, not handed back half-read), long before the
    # server would have finished the stream.
    start = time.monotonic()
    assert await settle(lambda: established(port) == conns0, seconds=1.5), established(port)
    closed_after = time.monotonic() - start
    srv.reset()
    await _pool_still_works(client)
    if isinstance(client, TGIClient):
        client.close()
    else:
        await client.aclose()
    assert await settle(lambda: established(port) == conns0 and open_fds() <= fds0)
    report(
        f"cancel ({how})",
        closed_within_s=f"{closed_after:.2f}",
        conns_before=conns0,
        conns_after=established(port),
        fds_before=fds0,
        fds_after=open_fds(),
    )


@pytest.mark.parametrize(
    "how", ["lc.stream-break", "lc.astream-break", "li.stream_chat-break", "li.astream_chat-task-cancel"]
)
async def test_cancelling_an_adapter_stream_closes_its_connection(srv: LocalServer, how: str) -> None:
    port = port_of(srv.url)
    srv.configure(**LONG)
    during: list[int] = []
    messages = [ChatMessage(role="user", content="hi")]
    lc = ChatHFEndpoint(base_url=srv.url)
    li = HFEndpoint(base_url=srv.url)
    if how == "lc.stream-break":
        for i, _ in enumerate(lc.stream("hi")):
            if i == 2:
                during.append(established(port))
                break
    elif how == "lc.astream-break":
        i = 0
        async for _ in lc.astream("hi"):
            i += 1
            if i == 3:
                during.append(established(port))
                break
    elif how == "li.stream_chat-break":
        for i, _ in enumerate(li.stream_chat(messages)):
            if i == 2:
                during.append(established(port))
                break
    else:
        three = asyncio.Event()

        async def consume() -> None:
            i = 0
            async for _ in await li.astream_chat(messages):
                i += 1
                if i == 3:
                    three.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(three.wait(), 5)
        during.append(established(port))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert during
    # Exactly the stream's connection goes away (the pools' idle keep-alive connections stay).
    assert await settle(lambda: established(port) == during[0] - 1, seconds=1.5), (during, established(port))
    srv.reset()
    assert lc.invoke("hi").content == REPLY
    assert (await li.achat(messages)).message.content == REPLY
    lc.close()
    await lc.aclose()
    await li.aclose()
