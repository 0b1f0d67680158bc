"""Soak: thousands of requests at 50 in flight over three scripted servers (subprocesses), while faults are switched
at random and one server is killed and restarted. Every request is answered exactly once (complete) or fails with a
typed error, none hangs, and file descriptors and memory come back to where they were. Run with ``-s`` for figures.

``SOAK_REQUESTS`` sets the size (default 3,000; the README's figures were taken with 10,000).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import random
import time
from typing import Any

import pytest

from hf_endpoint import AsyncTGIClient, HFEndpointError
from hf_endpoint.server import LocalServer
from tests.reliability.rel_helpers import established, open_fds, port_of, rss_mib

pytestmark = pytest.mark.load

REPLY = "Hello from the scripted backend."
HI = [{"role": "user", "content": "Hi"}]
N = int(os.environ.get("SOAK_REQUESTS", "3000"))
IN_FLIGHT = 50

FAULTS: list[dict[str, Any]] = [
    {"cold_start": 20},
    {"status": {"code": 429, "body": "overloaded", "headers": {"Retry-After": "1"}, "count": 20}},
    {
        "status": {
            "code": 500,
            "body": '{"error":"CUDA error","error_type":"generation"}',
            "content_type": "application/json",
            "count": 20,
        }
    },
    {"reset": 20},
    {"drop_after": 2},  # streams cut after two events: a typed error, never a replay
    {"stall_before": 0.05},
    {},
]


async def test_soak_three_endpoints_with_faults_and_a_killed_server() -> None:
    rng = random.Random(16)
    fds0 = open_fds()
    servers = [LocalServer("scripted", subprocess=True).start() for _ in range(3)]
    port = port_of(servers[2].url)
    outcomes: collections.Counter[str] = collections.Counter()
    answered_by: collections.Counter[str] = collections.Counter()
    client = AsyncTGIClient([s.url for s in servers], max_retries=3, cold_start_timeout=10, timeout=30)
    gate = asyncio.Semaphore(IN_FLIGHT)
    done = [0]
    tick = asyncio.Event()  # set every 100 finished requests

    async def one(k: int) -> None:
        async with gate:
            stream = k % 2 == 1
            try:
                if stream:
                    chunks = [c async for c in client.chat_stream(HI, max_tokens=8)]
                    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                    endpoints = {c.endpoint for c in chunks}
                    assert len(endpoints) == 1  # one endpoint per stream: never restarted elsewhere
                else:
                    result = await client.chat(HI, max_tokens=8)
                    text, endpoints = result.content or "", {result.endpoint}
            except HFEndpointError as err:
                outcomes[f"error:{type(err).__name__}"] += 1
                return
            finally:
                done[0] += 1
                if done[0] % 100 == 0:
                    tick.set()
            assert text == REPLY  # complete, and nothing delivered twice
            outcomes["answered"] += 1
            answered_by[endpoints.pop() or "?"] += 1

    stopping = False

    async def chaos() -> None:
        """Every 100 requests: one server's faults switched at random; once 30% of the requests have ended the third
        server is killed, at 60% a new one is started on its port. The steps follow the count of finished requests
        (several ticks may pass while one step runs), and a step is never cancelled half-way: a server being
        started when the load ends would be left running."""
        killed = restarted = False
        while not stopping:
            await tick.wait()
            tick.clear()
            if stopping:
                return
            target = rng.choice(servers[:2] if killed and not restarted else servers)
            await asyncio.to_thread(target.reset)
            await asyncio.to_thread(target.configure, **rng.choice(FAULTS))
            if not killed and done[0] >= N * 3 // 10:
                await asyncio.to_thread(servers[2].stop)
                killed = True
            if killed and not restarted and done[0] >= N * 6 // 10:
                servers[2] = await asyncio.to_thread(LocalServer("scripted", subprocess=True, port=port).start)
                restarted = True

    start = time.perf_counter()
    chaos_task = asyncio.create_task(chaos())
    half = N // 2
    # a deadline: a hung request fails the test instead of hanging the suite
    await asyncio.wait_for(asyncio.gather(*(one(k) for k in range(half))), timeout=600)
    rss_half = rss_mib()[0]
    await asyncio.wait_for(asyncio.gather(*(one(k) for k in range(half, N))), timeout=600)
    elapsed = time.perf_counter() - start
    stopping = True
    tick.set()
    await asyncio.wait_for(chaos_task, timeout=60)  # let a step in progress finish
    rss_end = rss_mib()[0]
    stats = client.endpoint_stats()
    await client.aclose()
    gc.collect()
    for s in servers:
        s.stop()
    for _ in range(100):
        if open_fds() <= fds0 + 2:
            break
        await asyncio.sleep(0.05)
    print(
        f"\n[soak] {N} requests at {IN_FLIGHT} in flight over 3 endpoints in {elapsed:.1f} s: {dict(outcomes)}; "
        f"answered by {sorted(answered_by.values())}; rss {rss_half:.0f} -> {rss_end:.0f} MiB; fds {fds0} -> "
        f"{open_fds()}; stats: {[(s['answered'], s['failed']) for s in stats]}"
    )
    assert sum(outcomes.values()) == N  # every request ended once: answered or a typed error
    assert outcomes["answered"] >= N * 0.8
    assert len(answered_by) == 3  # the restarted server took requests again
    assert open_fds() <= fds0 + 2
    assert established(port) == 0
    assert rss_end - rss_half < 30  # MiB: no growth with the number of requests
