"""Several endpoints: what a 3-endpoint client costs over a 1-endpoint one (issue 16's target: <= 1.1x client CPU at
50 requests in flight). Both clients run in this process, interleaved round by round, against scripted servers in
their own processes (so this process's CPU time is the client's); the 1-endpoint client talks to one of the three.
Also the sync clients, one request at a time. Nothing is faulted: this is the routing's cost on the happy path.

CPU time on a small shared machine moves by +-0.2x from run to run; ``--instructions`` counts the instructions per
request under valgrind's callgrind instead (steady to a fraction of a percent: a run of K1 and one of K2 requests
after the same warm-up, the difference divided by K2 - K1), for the async client at 50 in flight.

Run: ``python -m tests.benchmarks.multi_bench [--requests 400] [--rounds 7] [--instructions]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hf_endpoint import AsyncTGIClient, TGIClient
from hf_endpoint.server import LocalServer

MSG = [{"role": "user", "content": "Say hello."}]
IN_FLIGHT = 50


async def _async_batch(client: Any, n: int) -> float:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with gate:
            result = await client.chat(MSG, max_tokens=20)
            assert result.content

    cpu = time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return (time.process_time() - cpu) / n


def _sync_batch(client: Any, n: int) -> float:
    cpu = time.process_time()
    for _ in range(n):
        assert client.chat(MSG, max_tokens=20).content
    return (time.process_time() - cpu) / n


def _ratio(runs: dict[str, list[float]]) -> float:
    return statistics.median(t / o for t, o in zip(runs["3 endpoints"], runs["1 endpoint"], strict=True))


def _row(label: str, runs: dict[str, list[float]]) -> str:
    one, three = (statistics.median(runs[k]) * 1e6 for k in ("1 endpoint", "3 endpoints"))
    return f"| {label} | {one:.0f} us | {three:.0f} us | {_ratio(runs):.2f}x |"


async def _main(requests: int, rounds: int) -> int:
    servers = [await asyncio.to_thread(LocalServer("scripted", subprocess=True).start) for _ in range(3)]
    urls = [s.url for s in servers]
    try:
        aone, athree = AsyncTGIClient(urls[0]), AsyncTGIClient(urls)
        sone, sthree = TGIClient(urls[0]), TGIClient(urls)
        pairs: list[tuple[str, Callable[[], Awaitable[float]], Callable[[], Awaitable[float]]]] = [
            ("async, 50 in flight", lambda: _async_batch(aone, requests), lambda: _async_batch(athree, requests)),
            (
                "sync, one at a time",
                lambda: asyncio.to_thread(_sync_batch, sone, requests // 4),
                lambda: asyncio.to_thread(_sync_batch, sthree, requests // 4),
            ),
        ]
        for _, one, three in pairs:  # warm-up: connections, /info
            await one()
            await three()
        print("| client CPU per request | 1 endpoint | 3 endpoints | 3 over 1 (median of rounds) |")
        print("|---|---|---|---|")
        for label, one, three in pairs:
            runs: dict[str, list[float]] = {"1 endpoint": [], "3 endpoints": []}
            for r in range(rounds):  # interleaved, alternating which goes first
                order = [("1 endpoint", one), ("3 endpoints", three)]
                for name, run in order if r % 2 == 0 else order[::-1]:
                    runs[name].append(await run())
            print(_row(label, runs))
        await aone.aclose()
        await athree.aclose()
        sone.close()
        sthree.close()
    finally:
        for s in servers:
            await asyncio.to_thread(s.stop)
    return 0


async def _probe(urls: list[str], n: int) -> None:
    """Under callgrind: a warm-up batch, then ``n`` requests at 50 in flight."""
    client = AsyncTGIClient(urls if len(urls) > 1 else urls[0])
    await _async_batch(client, 100)
    await _async_batch(client, n)
    await client.aclose()


def _instructions(urls: list[str], n: int) -> int:
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hf-endpoint-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "tests.benchmarks.multi_bench",
            "--probe",
            str(n),
            *urls,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[1].strip())
    raise RuntimeError(f"callgrind gave no count: {proc.stderr[-800:]}")


def _main_instructions(few: int, many: int) -> int:
    from concurrent.futures import ThreadPoolExecutor

    servers = [LocalServer("scripted", subprocess=True).start() for _ in range(3)]
    urls = [s.url for s in servers]
    try:
        per: dict[str, float] = {}
        with ThreadPoolExecutor(max_workers=2) as pool:
            for label, group in (("1 endpoint", urls[:1]), ("3 endpoints", urls)):
                a, b = pool.map(lambda n, g=group: _instructions(g, n), (few, many))
                per[label] = (b - a) / (many - few)
        print("| instructions per request, async at 50 in flight | 1 endpoint | 3 endpoints | 3 over 1 |")
        print("|---|---|---|---|")
        one, three = per["1 endpoint"], per["3 endpoints"]
        print(f"| callgrind, {many - few} requests | {one:,.0f} | {three:,.0f} | {three / one:.3f}x |")
    finally:
        for s in servers:
            s.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per round (async; sync does a quarter)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    parser.add_argument("--probe", type=int, help=argparse.SUPPRESS)
    parser.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe is not None:
        asyncio.run(_probe(args.urls, args.probe))
        return 0
    if args.instructions:
        return _main_instructions(100, 500)
    return asyncio.run(_main(args.requests, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
