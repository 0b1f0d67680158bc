"""The one client-caching policy (``hf_endpoint._pool``): shared by options, bounded, never closed under a caller;
used by ``completion()``/``acompletion()`` and both adapters. Real HTTP against the scripted server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from hf_endpoint import AsyncTGIClient, TGIClient, acompletion, completion
from hf_endpoint._options import ChatOptions, ConnectionOptions
from hf_endpoint._pool import ClientPool, shared
from hf_endpoint.server import LocalServer

HI = [{"role": "user", "content": "hi"}]
TEXT = "Hello from the scripted backend."


def info_requests(srv: LocalServer) -> int:
    return int(srv.stats()["requests"].get("/info", 0))


async def test_acompletion_reuses_one_client_and_asks_info_once(srv: LocalServer) -> None:
    """70 acompletion calls made 70 clients and 70 /info requests; now one client, one /info."""
    url = f"huggingface/{srv.url}"
    results = await asyncio.gather(*[acompletion(model=url, messages=HI, max_retries=1) for _ in range(10)])
    for _ in range(60):
        results.append(await acompletion(model=url, messages=HI, max_retries=1))
    assert [r.choices[0].message.content for r in results] == [TEXT] * 70
    assert info_requests(srv) == 1
    assert srv.stats()["requests"]["/v1/chat/completions"] == 70
    await shared.aclose(AsyncTGIClient, ConnectionOptions(srv.url, max_retries=1), ChatOptions())


def test_acompletion_from_successive_event_loops(srv: LocalServer) -> None:
    """``asyncio.run`` per call (scripts, notebooks): the shared client opens a session in each loop and drops the
    finished loop's one, without warnings (pytest turns them into errors)."""
    url = f"huggingface/{srv.url}"
    for _ in range(3):
        result = asyncio.run(acompletion(model=url, messages=HI, max_retries=2))
        assert result.choices[0].message.content == TEXT
    assert info_requests(srv) == 1


def test_completion_and_both_adapters_share_one_client(srv: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_index.core.llms import ChatMessage

    from langchain_hf_endpoint import ChatHFEndpoint
    from llama_index_hf_endpoint import HFEndpoint

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", "/nonexistent/token")
    lc = ChatHFEndpoint(base_url=srv.url, max_retries=4)
    li = HFEndpoint(base_url=srv.url, max_retries=4)
    assert lc.client is li._client
    assert lc.invoke("hi").content == TEXT
    assert li.chat([ChatMessage(role="user", content="hi")]).message.content == TEXT
    result = completion(model=f"huggingface/{srv.url}", messages=HI, max_retries=4)
    assert result.choices[0].message.content == TEXT  # type: ignore[union-attr]
    assert info_requests(srv) == 1  # one client: /info asked once for all three
    li.close()


def test_the_pool_is_bounded_and_never_closes_a_client_in_use(srv: LocalServer) -> None:
    pool = ClientPool(max_clients=1)
    first = pool.get(TGIClient, ConnectionOptions(srv.url, timeout=11))
    stream = first.chat_stream(HI)
    head = next(stream)  # a stream is under way on the first client
    second = pool.get(TGIClient, ConnectionOptions(srv.url, timeout=12))  # evicts the first from the pool
    assert pool.peek(TGIClient, ConnectionOptions(srv.url, timeout=11)) is None
    assert pool.get(TGIClient, ConnectionOptions(srv.url, timeout=12)) is second
    chunks = [head, *stream]  # ...and the stream still completes: the evicted client was not closed
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert first.chat(HI).choices[0].message.content == TEXT
    first.close()
    second.close()


async def test_an_evicted_async_client_finishes_its_stream(srv: LocalServer) -> None:
    pool = ClientPool(max_clients=1)
    first = pool.get(AsyncTGIClient, ConnectionOptions(srv.url, timeout=13))
    stream = first.chat_stream(HI)
    head = await stream.__anext__()
    second = pool.get(AsyncTGIClient, ConnectionOptions(srv.url, timeout=14))
    chunks = [head, *[c async for c in stream]]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    await first.aclose()
    await second.aclose()


def test_one_async_client_serves_every_thread(srv: LocalServer) -> None:
    """Async clients are shared by options alone (each keeps one aiohttp session per loop): threads running their
    own loops get the same client, whose /info is asked once."""
    options = ConnectionOptions(srv.url, timeout=15)
    seen: list[Any] = []
    errors: list[BaseException] = []

    async def work() -> None:
        client = shared.get(AsyncTGIClient, options, ChatOptions())
        seen.append(client)
        assert (await client.chat(HI)).choices[0].message.content == TEXT
        await client._aclose_loop()

    def thread() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=thread) for _ in range(3)]
    threads[0].start()
    threads[0].join(60)  # the first thread's loop learns /info; the others, running at once, reuse it
    for t in threads[1:]:
        t.start()
    for t in threads[1:]:
        t.join(60)
    assert not errors
    assert len(seen) == 3 and seen[0] is seen[1] is seen[2]
    assert info_requests(srv) == 1
    asyncio.run(shared.aclose(AsyncTGIClient, options, ChatOptions()))


def test_concurrent_first_calls_from_threads_ask_info_once(srv: LocalServer) -> None:
    """Eight threads call completion() at once on a new endpoint: they share one client and one /info answer."""
    barrier = threading.Barrier(8)
    answers: list[str | None] = []

    def call() -> None:
        barrier.wait(30)
        result = completion(model=f"huggingface/{srv.url}", messages=HI, max_retries=5)
        answers.append(result.choices[0].message.content)  # type: ignore[union-attr]

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [TEXT] * 8
    assert info_requests(srv) == 1
    shared.close(TGIClient, ConnectionOptions(srv.url, max_retries=5), ChatOptions())
