"""Concurrent first calls of one TEI client (async tasks, or threads on the sync one) ask ``/info`` once (the
adapters start many at once: LangChain's ``asyncio.gather`` of ``aembed_documents``, LlamaIndex's async batches), over
real HTTP to the scripted TEI mode."""

from __future__ import annotations

import asyncio
import threading

from hf_endpoint import AsyncTEIClient, TEIClient
from hf_endpoint.server import LocalServer


async def test_concurrent_first_calls_ask_info_once() -> None:
    with LocalServer("scripted", mode="tei") as server:  # its own: no client knows it yet
        async with AsyncTEIClient(server.url) as client:
            results = await asyncio.gather(*(client.embed([f"text {i}"]) for i in range(20)))
        assert [len(r) for r in results] == [1] * 20
        assert server.stats()["requests"] == {"/info": 1, "/embed": 20}  # 20 /info requests before


def test_concurrent_first_calls_from_threads_ask_info_once() -> None:
    """The sync client's first calls from several threads at once share one ``/info`` answer, as the async client's do."""
    with LocalServer("scripted", mode="tei") as server, TEIClient(server.url) as client:
        barrier = threading.Barrier(8)
        results: list[list[list[float]]] = []

        def call(i: int) -> None:
            barrier.wait(30)
            results.append(client.embed([f"text {i}"]))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [len(r) for r in results] == [1] * 8
        assert server.stats()["requests"] == {"/info": 1, "/embed": 8}
