"""The TEI benchmark's server: a canned TEI responder (aiohttp) in its own process.

It reads each request's JSON to count its inputs and answers with precomputed bytes (one fixed 384-dimension vector
per input, written as TEI writes f32; ranks sorted by score, as TEI sorts them), so the benchmark measures the
clients, not a model. ``/`` answers like ``/embed`` because ``huggingface_hub`` posts to the endpoint's root.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BATCH", "responder", "serve"]

#: the server's max_client_batch_size, and the batch raw clients send
BATCH = 32


def _vector() -> str:
    rnd = random.Random(7)
    return "[" + ",".join(repr(float(f"{rnd.uniform(-0.1, 0.1):.9g}")) for _ in range(384)) + "]"


def _ranks(n: int) -> bytes:
    order = sorted(range(n), key=lambda i: ((i * 7919) % 1000, i), reverse=True)
    return json.dumps([{"index": i, "score": ((i * 7919) % 1000) / 1000} for i in order]).encode()


def serve(port: int) -> None:
    """Run the responder on 127.0.0.1:``port`` (prints ``ready`` once listening is about to start)."""
    from aiohttp import web

    vec = _vector()
    embed = {n: ("[" + ",".join([vec] * n) + "]").encode() for n in range(1, BATCH + 1)}
    rerank = {n: _ranks(n) for n in range(1, BATCH + 1)}
    info = json.dumps(
        {
            "model_id": "bench/embedder",
            "model_type": {"embedding": {"pooling": "mean"}},
            "max_concurrent_requests": 512,
            "max_input_length": 512,
            "max_batch_tokens": 16384,
            "max_client_batch_size": BATCH,
            "auto_truncate": True,
            "version": "1.9.3",
        }
    ).encode()

    async def on_embed(request: web.Request) -> web.Response:
        doc = json.loads(await request.read())
        n = 1 if isinstance(doc["inputs"], str) else len(doc["inputs"])
        return web.Response(body=embed[n], content_type="application/json")

    async def on_rerank(request: web.Request) -> web.Response:
        doc = json.loads(await request.read())
        return web.Response(body=rerank[len(doc["texts"])], content_type="application/json")

    async def on_info(request: web.Request) -> web.Response:
        return web.Response(body=info, content_type="application/json")

    app = web.Application(client_max_size=4_000_000)
    app.router.add_post("/embed", on_embed)
    app.router.add_post("/", on_embed)
    app.router.add_post("/rerank", on_rerank)
    app.router.add_get("/info", on_info)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@contextmanager
def responder() -> Iterator[str]:
    """The responder in a child process; yields its URL."""
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = f"from tests.benchmarks._tei_responder import serve; serve({port})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait()
