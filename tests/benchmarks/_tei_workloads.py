"""What the TEI benchmark runs: embed a list of texts or rerank it, through each client.

A workload is built once per run of the benchmark (``make(url, texts)``) and returns the call to time: a function
(sync) or a coroutine function (async), with an optional ``aclose`` attribute. Every call must return one result a
text (a vector, a rank, a document or a node).

Roles: ``raw`` (``requests`` / ``aiohttp`` doing the same batching as our clients: 32 texts a request, 4 requests in
flight for async), ``ours`` (the transport), ``adapter`` (our LangChain / LlamaIndex classes), ``floor`` (the
framework's own class over the raw calls, or with no I/O at all: what any adapter for that framework costs) and
``peer`` (other libraries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._tei_responder import BATCH

__all__ = ["CONCURRENCY", "QUERY", "WORKLOADS", "Workload"]

CONCURRENCY = 4
QUERY = "what is this?"


@dataclass(frozen=True)
class Workload:
    name: str
    role: str
    asynchronous: bool
    make: Callable[[str, list[str]], Callable[[], Any]]

    @property
    def kind(self) -> str:
        """``embed`` or ``rerank``."""
        return self.name.split(":")[0]


WORKLOADS: dict[str, Workload] = {}


def _workload(name: str, role: str, asynchronous: bool = False) -> Callable[[Any], Any]:
    def register(make: Any) -> Any:
        WORKLOADS[name] = Workload(name, role, asynchronous, make)
        return make

    return register


def chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


# ----------------------------------------------------------------------------------------------------- raw calls
# The baseline: a POST per 32 texts, the JSON answer read with the library's own .json(); for rerank the index
# shift to the caller's texts and the sort by score that our clients do.


def raw_embed(session: Any, url: str, texts: list[str]) -> list[list[float]]:
    out: list[list[float]] = []
    for part in chunks(texts):
        r = session.post(url + "/embed", json={"inputs": part, "truncate": False})
        r.raise_for_status()
        out.extend(r.json())
    return out


def raw_rerank(session: Any, url: str, query: str, texts: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, part in enumerate(chunks(texts)):
        r = session.post(url + "/rerank", json={"query": query, "texts": part, "truncate": False})
        r.raise_for_status()
        out.extend({"index": k * BATCH + x["index"], "score": x["score"]} for x in r.json())
    out.sort(key=lambda x: (x["score"], x["index"]), reverse=True)
    return out


async def _in_flight(parts: list[list[str]], send: Callable[[int, list[str]], Awaitable[Any]]) -> list[Any]:
    """``send(i, part)`` for every part, ``CONCURRENCY`` at once, results in order."""
    results: list[Any] = [None] * len(parts)
    todo = iter(range(len(parts)))

    async def worker() -> None:
        for i in todo:
            results[i] = await send(i, parts[i])

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return results


async def araw_embed(session: Any, url: str, texts: list[str]) -> list[list[float]]:
    async def send(i: int, part: list[str]) -> Any:
        async with session.post(url + "/embed", json={"inputs": part, "truncate": False}) as r:
            r.raise_for_status()
            return await r.json()

    return [v for part in await _in_flight(chunks(texts), send) for v in part]


async def araw_rerank(session: Any, url: str, query: str, texts: list[str]) -> list[dict[str, Any]]:
    async def send(k: int, part: list[str]) -> Any:
        async with session.post(url + "/rerank", json={"query": query, "texts": part, "truncate": False}) as r:
            r.raise_for_status()
            return [{"index": k * BATCH + x["index"], "score": x["score"]} for x in await r.json()]

    out = [x for part in await _in_flight(chunks(texts), send) for x in part]
    out.sort(key=lambda x: (x["score"], x["index"]), reverse=True)
    return out


def _requests_session() -> Any:
    import requests

    return requests.Session()


def _aiohttp_session() -> Any:
    import aiohttp

    return aiohttp.ClientSession()  # (made inside the benchmark's running loop)


def _closing(run: Any, close: Callable[[], Awaitable[Any]]) -> Any:
    run.aclose = close
    return run


@_workload("embed: raw requests", "raw")
def _raw_embed(url: str, texts: list[str]) -> Any:
    session = _requests_session()
    return lambda: raw_embed(session, url, texts)


@_workload("rerank: raw requests", "raw")
def _raw_rerank(url: str, texts: list[str]) -> Any:
    session = _requests_session()
    return lambda: raw_rerank(session, url, QUERY, texts)


@_workload("embed: raw aiohttp", "raw", asynchronous=True)
def _araw_embed(url: str, texts: list[str]) -> Any:
    session = _aiohttp_session()
    return _closing(lambda: araw_embed(session, url, texts), session.close)


@_workload("rerank: raw aiohttp", "raw", asynchronous=True)
def _araw_rerank(url: str, texts: list[str]) -> Any:
    session = _aiohttp_session()
    return _closing(lambda: araw_rerank(session, url, QUERY, texts), session.close)


# ----------------------------------------------------------------------------------------------------- ours


@_workload("embed: TEIClient", "ours")
def _ours_embed(url: str, texts: list[str]) -> Any:
    from hf_endpoint import TEIClient

    client = TEIClient(url)
    return lambda: client.embed(texts)


@_workload("rerank: TEIClient", "ours")
def _ours_rerank(url: str, texts: list[str]) -> Any:
    from hf_endpoint import TEIClient

    client = TEIClient(url)
    return lambda: client.rerank(QUERY, texts)


@_workload("embed: AsyncTEIClient", "ours", asynchronous=True)
def _aours_embed(url: str, texts: list[str]) -> Any:
    from hf_endpoint import AsyncTEIClient

    client = AsyncTEIClient(url, max_concurrency=CONCURRENCY)
    return _closing(lambda: client.embed(texts), client.aclose)


@_workload("rerank: AsyncTEIClient", "ours", asynchronous=True)
def _aours_rerank(url: str, texts: list[str]) -> Any:
    from hf_endpoint import AsyncTEIClient

    client = AsyncTEIClient(url, max_concurrency=CONCURRENCY)
    return _closing(lambda: client.rerank(QUERY, texts), client.aclose)


# ----------------------------------------------------------------------------------------------------- adapters


@_workload("embed: LangChain HFEndpointEmbeddings", "adapter")
def _lc_embed(url: str, texts: list[str]) -> Any:
    from langchain_hf_endpoint import HFEndpointEmbeddings

    embeddings = HFEndpointEmbeddings(base_url=url)
    return lambda: embeddings.embed_documents(texts)


@_workload("embed: LangChain HFEndpointEmbeddings (async)", "adapter", asynchronous=True)
def _lc_aembed(url: str, texts: list[str]) -> Any:
    from langchain_hf_endpoint import HFEndpointEmbeddings

    embeddings = HFEndpointEmbeddings(base_url=url)
    return _closing(lambda: embeddings.aembed_documents(texts), embeddings.aclose)


@_workload("embed: LlamaIndex HFEndpointEmbedding", "adapter")
def _li_embed(url: str, texts: list[str]) -> Any:
    from llama_index_hf_endpoint import HFEndpointEmbedding

    model = HFEndpointEmbedding(base_url=url)
    return lambda: model.get_text_embedding_batch(texts)


@_workload("embed: LlamaIndex HFEndpointEmbedding (async)", "adapter", asynchronous=True)
def _li_aembed(url: str, texts: list[str]) -> Any:
    from llama_index_hf_endpoint import HFEndpointEmbedding

    model = HFEndpointEmbedding(base_url=url)  # 4 batches of 32 at once (num_workers from /info), as raw aiohttp
    return _closing(lambda: model.aget_text_embedding_batch(texts), model.aclose)


def _documents(texts: list[str]) -> list[Any]:
    from langchain_core.documents import Document

    return [Document(page_content=t, metadata={"source": f"doc-{i}"}) for i, t in enumerate(texts)]


def _nodes(texts: list[str]) -> list[Any]:
    from llama_index.core.schema import NodeWithScore, TextNode

    return [NodeWithScore(node=TextNode(text=t, metadata={"source": f"doc-{i}"})) for i, t in enumerate(texts)]


@_workload("rerank: LangChain HFEndpointReranker", "adapter")
def _lc_rerank(url: str, texts: list[str]) -> Any:
    from langchain_hf_endpoint import HFEndpointReranker

    reranker, docs = HFEndpointReranker(base_url=url, top_n=None), _documents(texts)
    return lambda: reranker.compress_documents(docs, QUERY)


@_workload("rerank: LangChain HFEndpointReranker (async)", "adapter", asynchronous=True)
def _lc_arerank(url: str, texts: list[str]) -> Any:
    from langchain_hf_endpoint import HFEndpointReranker

    reranker, docs = HFEndpointReranker(base_url=url, top_n=None), _documents(texts)
    return _closing(lambda: reranker.acompress_documents(docs, QUERY), reranker.aclose)


@_workload("rerank: LlamaIndex HFEndpointRerank", "adapter")
def _li_rerank(url: str, texts: list[str]) -> Any:
    from llama_index_hf_endpoint import HFEndpointRerank

    rerank, nodes = HFEndpointRerank(base_url=url, top_n=None), _nodes(texts)
    return lambda: rerank.postprocess_nodes(nodes, query_str=QUERY)


@_workload("rerank: LlamaIndex HFEndpointRerank (async)", "adapter", asynchronous=True)
def _li_arerank(url: str, texts: list[str]) -> Any:
    from llama_index_hf_endpoint import HFEndpointRerank

    rerank, nodes = HFEndpointRerank(base_url=url, top_n=None), _nodes(texts)
    return _closing(lambda: rerank.apostprocess_nodes(nodes, query_str=QUERY), rerank.aclose)


# ----------------------------------------------------------------------------------------------------- floors
# The least each framework's interface costs, with the raw calls underneath (or no I/O at all): an adapter for that
# framework cannot cost less. LangChain's rerankers return a copy of each document with its score in metadata
# (as langchain-cohere's CohereRerank does); LlamaIndex's take each node's text with get_content(EMBED), emit the
# ReRank events and the RERANKING callback event, and return a NodeWithScore per node (as its CohereRerank and
# SentenceTransformerRerank do).


def _lc_reranker(ranks: Callable[[str, list[str]], list[dict[str, Any]]] | None, aranks: Any = None) -> Any:
    from langchain_core.documents import BaseDocumentCompressor, Document

    def copies(documents: Any, found: list[dict[str, Any]]) -> list[Any]:
        out = []
        for r in found:
            doc = documents[r["index"]]
            out.append(Document(doc.page_content, metadata={**doc.metadata, "relevance_score": r["score"]}, id=doc.id))
        return out

    class RawReranker(BaseDocumentCompressor):
        def compress_documents(self, documents: Any, query: str, callbacks: Any = None) -> Any:
            assert ranks is not None
            return copies(documents, ranks(query, [d.page_content for d in documents]))

        async def acompress_documents(self, documents: Any, query: str, callbacks: Any = None) -> Any:
            return copies(documents, await aranks(query, [d.page_content for d in documents]))

    return RawReranker()


def _li_postprocessor(ranks: Callable[[str, list[str]], list[dict[str, Any]]] | None, aranks: Any = None) -> Any:
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore

    dispatcher = get_dispatcher("tei_bench_floor")

    def start(nodes: Any, bundle: Any) -> list[str]:
        dispatcher.event(ReRankStartEvent(query=bundle, nodes=nodes, top_n=len(nodes), model_name="raw"))
        return [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]

    def scored(nodes: Any, found: list[dict[str, Any]]) -> list[Any]:
        return [NodeWithScore(node=nodes[r["index"]].node, score=r["score"]) for r in found]

    class RawRerank(BaseNodePostprocessor):
        def _postprocess_nodes(self, nodes: Any, query_bundle: Any = None) -> Any:
            assert ranks is not None
            texts = start(nodes, query_bundle)
            with self.callback_manager.event(CBEventType.RERANKING, payload={EventPayload.NODES: nodes}) as event:
                out = scored(nodes, ranks(query_bundle.query_str, texts))
                event.on_end(payload={EventPayload.NODES: out})
            dispatcher.event(ReRankEndEvent(nodes=out))
            return out

        async def _apostprocess_nodes(self, nodes: Any, query_bundle: Any = None) -> Any:
            texts = start(nodes, query_bundle)
            with self.callback_manager.event(CBEventType.RERANKING, payload={EventPayload.NODES: nodes}) as event:
                out = scored(nodes, await aranks(query_bundle.query_str, texts))
                event.on_end(payload={EventPayload.NODES: out})
            dispatcher.event(ReRankEndEvent(nodes=out))
            return out

    return RawRerank()


@_workload("rerank: langchain-core over raw requests", "floor")
def _lc_floor_rerank(url: str, texts: list[str]) -> Any:
    session, docs = _requests_session(), _documents(texts)
    reranker = _lc_reranker(lambda q, t: raw_rerank(session, url, q, t))
    return lambda: reranker.compress_documents(docs, QUERY)


@_workload("rerank: langchain-core over raw aiohttp", "floor", asynchronous=True)
def _lc_afloor_rerank(url: str, texts: list[str]) -> Any:
    session, docs = _aiohttp_session(), _documents(texts)

    async def aranks(q: str, t: list[str]) -> Any:
        return await araw_rerank(session, url, q, t)

    reranker = _lc_reranker(None, aranks)
    return _closing(lambda: reranker.acompress_documents(docs, QUERY), session.close)


@_workload("rerank: langchain-core, no I/O (copies only)", "floor")
def _lc_floor_rerank_no_io(url: str, texts: list[str]) -> Any:
    found = raw_rerank(_requests_session(), url, QUERY, texts)  # once, at set-up
    reranker, docs = _lc_reranker(lambda q, t: found), _documents(texts)
    return lambda: reranker.compress_documents(docs, QUERY)


@_workload("rerank: llama-index-core over raw requests", "floor")
def _li_floor_rerank(url: str, texts: list[str]) -> Any:
    session, nodes = _requests_session(), _nodes(texts)
    rerank = _li_postprocessor(lambda q, t: raw_rerank(session, url, q, t))
    return lambda: rerank.postprocess_nodes(nodes, query_str=QUERY)


@_workload("rerank: llama-index-core over raw aiohttp", "floor", asynchronous=True)
def _li_afloor_rerank(url: str, texts: list[str]) -> Any:
    session, nodes = _aiohttp_session(), _nodes(texts)

    async def aranks(q: str, t: list[str]) -> Any:
        return await araw_rerank(session, url, q, t)

    rerank = _li_postprocessor(None, aranks)
    return _closing(lambda: rerank.apostprocess_nodes(nodes, query_str=QUERY), session.close)


@_workload("rerank: llama-index-core, no I/O (nodes only)", "floor")
def _li_floor_rerank_no_io(url: str, texts: list[str]) -> Any:
    found = raw_rerank(_requests_session(), url, QUERY, texts)  # once, at set-up
    rerank, nodes = _li_postprocessor(lambda q, t: found), _nodes(texts)
    return lambda: rerank.postprocess_nodes(nodes, query_str=QUERY)


def _li_embedding(sync: Any, asynchronous: Any) -> Any:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class RawEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> Any:
            return sync([query])[0]

        async def _aget_query_embedding(self, query: str) -> Any:
            return (await asynchronous([query]))[0]

        def _get_text_embedding(self, text: str) -> Any:
            return sync([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> Any:
            return sync(texts)

        async def _aget_text_embeddings(self, texts: list[str]) -> Any:
            return await asynchronous(texts)

    return RawEmbedding(model_name="raw", embed_batch_size=BATCH, num_workers=CONCURRENCY)


@_workload("embed: llama-index-core over raw requests", "floor")
def _li_floor_embed(url: str, texts: list[str]) -> Any:
    session = _requests_session()
    model = _li_embedding(lambda t: raw_embed(session, url, t), None)
    return lambda: model.get_text_embedding_batch(texts)


@_workload("embed: llama-index-core over raw aiohttp", "floor", asynchronous=True)
def _li_afloor_embed(url: str, texts: list[str]) -> Any:
    session = _aiohttp_session()

    async def one_request(t: list[str]) -> Any:  # LlamaIndex sends a batch of 32, num_workers at once
        async with session.post(url + "/embed", json={"inputs": t, "truncate": False}) as r:
            r.raise_for_status()
            return await r.json()

    model = _li_embedding(None, one_request)
    return _closing(lambda: model.aget_text_embedding_batch(texts), session.close)


# ----------------------------------------------------------------------------------------------------- peers
# LlamaIndex's own TEI class (httpx, a new client per call) is the peer on its side; langchain-huggingface's
# HuggingFaceEndpointEmbeddings refuses an endpoint URL ("must be a HuggingFace repo ID"), so it has no row.


@_workload("embed: huggingface_hub feature_extraction", "peer")
def _hub(url: str, texts: list[str]) -> Any:
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=url)
    return lambda: [client.feature_extraction(part) for part in chunks(texts)]  # one array a request


def _tei_class(url: str) -> Any:
    from llama_index.embeddings.text_embeddings_inference import TextEmbeddingsInference

    return TextEmbeddingsInference(
        model_name="bench/embedder", base_url=url, embed_batch_size=BATCH, truncate_text=False
    )


@_workload("embed: LlamaIndex TextEmbeddingsInference", "peer")
def _li_tei(url: str, texts: list[str]) -> Any:
    model = _tei_class(url)
    return lambda: model.get_text_embedding_batch(texts)


@_workload("embed: LlamaIndex TextEmbeddingsInference (async)", "peer", asynchronous=True)
def _li_atei(url: str, texts: list[str]) -> Any:
    model = _tei_class(url)
    model.num_workers = CONCURRENCY  # (its constructor does not take it)
    return lambda: model.aget_text_embedding_batch(texts)
