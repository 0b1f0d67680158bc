"""TEI benchmark: embedding 10,000 texts and reranking 1,000 through our clients against raw ``requests`` /
``aiohttp`` doing the same batching (32 inputs a request; 4 requests in flight for the async ones), and
``huggingface_hub.InferenceClient.feature_extraction``. Client CPU per text (this process's CPU time) and wall time.

The server is a canned TEI responder in its own process (aiohttp): it reads each request's JSON to count its
inputs and answers with precomputed bytes (one fixed 384-d vector per input, as TEI prints f32; ranks sorted by
score), so the numbers measure the clients, not a model.

Run: ``python -m tests.benchmarks.tei_bench [--texts 10000] [--rerank 1000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

BATCH = 32
CONCURRENCY = 4


def _vector() -> str:
    rnd = random.Random(7)
    return "[" + ",".join(repr(float(f"{rnd.uniform(-0.1, 0.1):.9g}")) for _ in range(384)) + "]"


def serve(port: int) -> None:
    """The canned responder (``--serve PORT``)."""
    from aiohttp import web

    vec = _vector()
    embed = {n: ("[" + ",".join([vec] * n) + "]").encode() for n in range(1, BATCH + 1)}
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

    def ranks(n: int) -> bytes:
        order = sorted(range(n), key=lambda i: ((i * 7919) % 1000, i), reverse=True)
        return json.dumps([{"index": i, "score": ((i * 7919) % 1000) / 1000} for i in order]).encode()

    rerank = {n: ranks(n) for n in range(1, BATCH + 1)}

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
    app.router.add_post("/", on_embed)  # huggingface_hub posts to the endpoint's root
    app.router.add_post("/rerank", on_rerank)
    app.router.add_get("/info", on_info)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ----------------------------------------------------------------------------------------------- workloads


def chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def ours_sync(url: str, texts: list[str]) -> Callable[[], Any]:
    from hf_endpoint import TEIClient

    client = TEIClient(url)
    client.info()
    return lambda: client.embed(texts)


def raw_requests(url: str, texts: list[str]) -> Callable[[], Any]:
    import requests

    session = requests.Session()

    def run() -> list[list[float]]:
        out: list[list[float]] = []
        for part in chunks(texts):
            r = session.post(url + "/embed", json={"inputs": part, "truncate": False})
            r.raise_for_status()
            out.extend(r.json())
        return out

    return run


def hub(url: str, texts: list[str]) -> Callable[[], Any]:
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=url)
    return lambda: [client.feature_extraction(part) for part in chunks(texts)]


def ours_async(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    from hf_endpoint import AsyncTEIClient

    client = AsyncTEIClient(url, max_concurrency=CONCURRENCY)  # (the warm-up run asks /info)

    async def run() -> list[list[float]]:
        return await client.embed(texts)

    run.client = client  # type: ignore[attr-defined]
    return run


def raw_aiohttp(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    import aiohttp

    holder: dict[str, aiohttp.ClientSession] = {}

    async def run() -> list[list[float]]:
        session = holder.get("s") or holder.setdefault("s", aiohttp.ClientSession())
        parts = chunks(texts)
        results: list[Any] = [None] * len(parts)
        todo = iter(range(len(parts)))

        async def worker() -> None:
            for i in todo:
                async with session.post(url + "/embed", json={"inputs": parts[i], "truncate": False}) as r:
                    r.raise_for_status()
                    results[i] = await r.json()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return [v for part in results for v in part]

    run.session = holder  # type: ignore[attr-defined]
    return run


def rerank_ours_sync(url: str, texts: list[str]) -> Callable[[], Any]:
    from hf_endpoint import TEIClient

    client = TEIClient(url)
    client.info()
    return lambda: client.rerank("what is this?", texts)


def rerank_raw_requests(url: str, texts: list[str]) -> Callable[[], Any]:
    import requests

    session = requests.Session()

    def run() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for k, part in enumerate(chunks(texts)):
            r = session.post(url + "/rerank", json={"query": "what is this?", "texts": part, "truncate": False})
            r.raise_for_status()
            out.extend({"index": k * BATCH + x["index"], "score": x["score"]} for x in r.json())
        out.sort(key=lambda x: (x["score"], x["index"]), reverse=True)
        return out

    return run


def rerank_ours_async(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    from hf_endpoint import AsyncTEIClient

    client = AsyncTEIClient(url, max_concurrency=CONCURRENCY)

    async def run() -> Any:
        return await client.rerank("what is this?", texts)

    run.client = client  # type: ignore[attr-defined]
    return run


def rerank_raw_aiohttp(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    import aiohttp

    holder: dict[str, aiohttp.ClientSession] = {}

    async def run() -> list[dict[str, Any]]:
        session = holder.get("s") or holder.setdefault("s", aiohttp.ClientSession())
        parts = chunks(texts)
        out: list[dict[str, Any]] = []
        todo = iter(range(len(parts)))

        async def worker() -> None:
            for k in todo:
                body = {"query": "what is this?", "texts": parts[k], "truncate": False}
                async with session.post(url + "/rerank", json=body) as r:
                    r.raise_for_status()
                    out.extend({"index": k * BATCH + x["index"], "score": x["score"]} for x in await r.json())

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        out.sort(key=lambda x: (x["score"], x["index"]), reverse=True)
        return out

    run.session = holder  # type: ignore[attr-defined]
    return run


# ----------------------------------------------------------------------------------------------- adapters, peers
# The adapters on the same server: what LangChain's / LlamaIndex's embedding and reranking interfaces cost on top of
# the transport. LlamaIndex's own TEI class (httpx, a new client per call) is the peer on its side; langchain-
# huggingface's HuggingFaceEndpointEmbeddings refuses an endpoint URL ("must be a HuggingFace repo ID"), so it has no
# row.


def lc_embed(url: str, texts: list[str]) -> Callable[[], Any]:
    from langchain_hf_endpoint import HFEndpointEmbeddings

    embeddings = HFEndpointEmbeddings(base_url=url)
    return lambda: embeddings.embed_documents(texts)


def lc_aembed(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    from langchain_hf_endpoint import HFEndpointEmbeddings

    embeddings = HFEndpointEmbeddings(base_url=url)

    async def run() -> list[list[float]]:
        return await embeddings.aembed_documents(texts)

    run.client = embeddings  # type: ignore[attr-defined]
    return run


def li_embed(url: str, texts: list[str]) -> Callable[[], Any]:
    from llama_index_hf_endpoint import HFEndpointEmbedding

    model = HFEndpointEmbedding(base_url=url)
    return lambda: model.get_text_embedding_batch(texts)


def li_aembed(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    from llama_index_hf_endpoint import HFEndpointEmbedding

    model = HFEndpointEmbedding(base_url=url)  # 4 batches of 32 at once (num_workers from /info), as raw aiohttp

    async def run() -> list[list[float]]:
        return await model.aget_text_embedding_batch(texts)

    run.client = model  # type: ignore[attr-defined]
    return run


def li_tei(url: str, texts: list[str]) -> Callable[[], Any]:
    from llama_index.embeddings.text_embeddings_inference import TextEmbeddingsInference

    model = TextEmbeddingsInference(
        model_name="bench/embedder", base_url=url, embed_batch_size=BATCH, truncate_text=False
    )
    return lambda: model.get_text_embedding_batch(texts)


def li_atei(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    from llama_index.embeddings.text_embeddings_inference import TextEmbeddingsInference

    model = TextEmbeddingsInference(
        model_name="bench/embedder", base_url=url, embed_batch_size=BATCH, truncate_text=False
    )
    model.num_workers = CONCURRENCY  # (its constructor does not take it)

    async def run() -> list[list[float]]:
        return await model.aget_text_embedding_batch(texts)

    return run


def lc_rerank(url: str, texts: list[str]) -> Callable[[], Any]:
    from langchain_core.documents import Document

    from langchain_hf_endpoint import HFEndpointReranker

    reranker, docs = HFEndpointReranker(base_url=url, top_n=None), [Document(page_content=t) for t in texts]
    return lambda: reranker.compress_documents(docs, "what is this?")


def lc_arerank(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    from langchain_core.documents import Document

    from langchain_hf_endpoint import HFEndpointReranker

    reranker, docs = HFEndpointReranker(base_url=url, top_n=None), [Document(page_content=t) for t in texts]

    async def run() -> Any:
        return await reranker.acompress_documents(docs, "what is this?")

    run.client = reranker  # type: ignore[attr-defined]
    return run


def li_rerank(url: str, texts: list[str]) -> Callable[[], Any]:
    from llama_index.core.schema import NodeWithScore, TextNode

    from llama_index_hf_endpoint import HFEndpointRerank

    rerank, nodes = HFEndpointRerank(base_url=url, top_n=None), [NodeWithScore(node=TextNode(text=t)) for t in texts]
    return lambda: rerank.postprocess_nodes(nodes, query_str="what is this?")


def li_arerank(url: str, texts: list[str]) -> Callable[[], Awaitable[Any]]:
    from llama_index.core.schema import NodeWithScore, TextNode

    from llama_index_hf_endpoint import HFEndpointRerank

    rerank, nodes = HFEndpointRerank(base_url=url, top_n=None), [NodeWithScore(node=TextNode(text=t)) for t in texts]

    async def run() -> Any:
        return await rerank.apostprocess_nodes(nodes, query_str="what is this?")

    run.client = rerank  # type: ignore[attr-defined]
    return run


SYNC = {
    "embed: TEIClient": ours_sync,
    "embed: raw requests": raw_requests,
    "embed: huggingface_hub feature_extraction": hub,
    "embed: LangChain HFEndpointEmbeddings": lc_embed,
    "embed: LlamaIndex HFEndpointEmbedding": li_embed,
    "embed: LlamaIndex TextEmbeddingsInference": li_tei,
    "rerank: TEIClient": rerank_ours_sync,
    "rerank: raw requests": rerank_raw_requests,
    "rerank: LangChain HFEndpointReranker": lc_rerank,
    "rerank: LlamaIndex HFEndpointRerank": li_rerank,
}
ASYNC = {
    "embed: AsyncTEIClient": ours_async,
    "embed: raw aiohttp": raw_aiohttp,
    "embed: LangChain HFEndpointEmbeddings (async)": lc_aembed,
    "embed: LlamaIndex HFEndpointEmbedding (async)": li_aembed,
    "embed: LlamaIndex TextEmbeddingsInference (async)": li_atei,
    "rerank: AsyncTEIClient": rerank_ours_async,
    "rerank: raw aiohttp": rerank_raw_aiohttp,
    "rerank: LangChain HFEndpointReranker (async)": lc_arerank,
    "rerank: LlamaIndex HFEndpointRerank (async)": li_arerank,
}


def _count(result: Any) -> int:
    """Results a run returned (vectors or ranks; huggingface_hub returns one array a request)."""
    if result and hasattr(result[0], "shape"):
        return sum(int(part.shape[0]) for part in result)
    return len(result)


def measure(name: str, url: str, texts: list[str], repeat: int) -> tuple[float, float]:
    """Best (CPU seconds, wall seconds) of ``repeat`` runs after one warm-up (which must return one result a
    text: a client that drops or repeats results is not measured)."""
    best = (float("inf"), float("inf"))
    if name in SYNC:
        run = SYNC[name](url, texts)
        if _count(run()) != len(texts):
            raise AssertionError(f"{name}: not one result a text")
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            run()
            best = min(best, (time.process_time() - c0, time.perf_counter() - w0))
        return best

    async def go() -> tuple[float, float]:
        nonlocal best
        arun = ASYNC[name](url, texts)
        if _count(await arun()) != len(texts):
            raise AssertionError(f"{name}: not one result a text")
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            await arun()
            best = min(best, (time.process_time() - c0, time.perf_counter() - w0))
        if hasattr(arun, "client"):
            await arun.client.aclose()
        for session in getattr(arun, "session", {}).values():
            await session.close()
        return best

    return asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=10_000)
    ap.add_argument("--rerank", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    with socket.socket() as probe:  # a free port for the responder
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.tei_bench", "--serve", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        embed_texts = [f"passage {i}: " + "the quick brown fox jumps over the lazy dog " * 2 for i in range(args.texts)]
        rerank_texts = embed_texts[: args.rerank]
        rows: list[tuple[str, float, float, int]] = []
        for name in [*SYNC, *ASYNC]:
            items = rerank_texts if name.startswith("rerank") else embed_texts
            try:
                cpu, wall = measure(name, url, items, args.repeat)
            except ModuleNotFoundError as err:  # a peer of the bench extra, not installed
                print(f"{name}: skipped, {err.name} is not installed")
                continue
            rows.append((name, cpu, wall, len(items)))
        raw = {
            ("embed", False): "embed: raw requests",
            ("embed", True): "embed: raw aiohttp",
            ("rerank", False): "rerank: raw requests",
            ("rerank", True): "rerank: raw aiohttp",
        }
        by_name = {r[0]: r for r in rows}
        print(f"{'client':52} {'CPU us/text':>12} {'x raw':>6} {'wall s':>8} {'x raw':>6}")
        for name, cpu, wall, n in rows:
            ref = by_name[raw[(name.split(":")[0], name in ASYNC)]]
            print(f"{name:52} {cpu / n * 1e6:12.1f} {cpu / ref[1]:6.2f} {wall:8.3f} {wall / ref[2]:6.2f}")
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
