"""Concurrent first calls of one async TEI client ask ``/info`` once (the adapters start many at once: LangChain's
``asyncio.gather`` of ``aembed_documents``, LlamaIndex's async batches), over real HTTP to the scripted TEI mode."""

from __future__ import annotations

import asyncio

from hf_endpoint import AsyncTEIClient
from hf_endpoint.server import LocalServer


async def test_concurrent_first_calls_ask_info_once() -> None:
    with LocalServer("scripted", mode="tei") as server:  # its own: no client knows it yet
        async with AsyncTEIClient(server.url) as client:
            results = await asyncio.gather(*(client.embed([f"text {i}"]) for i in range(20)))
        assert [len(r) for r in results] == [1] * 20
        assert server.stats()["requests"] == {"/info": 1, "/embed": 20}  # 20 /info requests before
