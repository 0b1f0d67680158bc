"""Throughput of the local server (a benchmark, not a test: run ``python -m tests.server.bench_server``).

The server runs in a subprocess (its own core and GIL); the load comes from aiohttp with a fixed
number of requests in flight. Prints requests/s for small scripted requests on each route, the
rate of a 2000-token scripted stream, and, with ``--tiny``, the tiny model's load time and tokens/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp

from hf_endpoint.server import LocalServer


async def _load(url: str, path: str, body: dict[str, Any], total: int, concurrency: int) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        remaining = concurrency  # warm-up round: open the pooled connections

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post(url + path, json=body) as response:
                    await response.read()
                    assert response.status == 200, response.status

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        remaining = total
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


async def _stream_rate(url: str, n_tokens: int) -> float:
    body = {"inputs": "x", "parameters": {"max_new_tokens": n_tokens + 1}}
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(url + "/generate_stream", json=body) as response:
            events = 0
            async for line in response.content:
                events += line.startswith(b"data:")
        elapsed = time.perf_counter() - started
    assert events == n_tokens + 1
    return events / elapsed


def scripted(total: int, concurrency: int) -> None:
    small = {"inputs": "Hello", "parameters": {"max_new_tokens": 8}}
    chat = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}
    with LocalServer("scripted", subprocess=True) as server:
        for path, body in (("/generate", small), ("/v1/chat/completions", chat), ("/generate_stream", small)):
            rate = asyncio.run(_load(server.url, path, body, total, concurrency))
            print(f"scripted {path:24s} {rate:8.0f} req/s  ({concurrency} in flight, {total} requests)")
    with LocalServer("scripted", subprocess=True, n_tokens=2000) as server:
        rate = asyncio.run(_stream_rate(server.url, 2000))
        print(f"scripted 2000-token stream      {rate:8.0f} events/s")


def tiny() -> None:
    started = time.perf_counter()
    with LocalServer("tiny", subprocess=True, startup_timeout=300) as server:
        print(f"tiny: server ready (assemble check + load) in {time.perf_counter() - started:.2f} s")
        body = {"inputs": "Once upon a time", "parameters": {"max_new_tokens": 128, "details": True}}
        for _ in range(2):
            started = time.perf_counter()
            tokens = _post_json(server.url + "/generate", body)["details"]["generated_tokens"]
            elapsed = time.perf_counter() - started
            print(f"tiny: {tokens} tokens in {elapsed:.2f} s = {tokens / elapsed:.1f} tokens/s (1 thread, greedy)")


def _post_json(url: str, body: dict[str, Any]) -> Any:
    import urllib.request

    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    scripted(args.total, args.concurrency)
    if args.tiny:
        tiny()
