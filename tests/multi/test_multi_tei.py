"""Several TEI endpoints behind one client and behind the retrieval adapters (scripted TEI servers, real HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hf_endpoint import AsyncTEIClient, TEIClient
from hf_endpoint.server import LocalServer

DOWN = {"reset": 1000}  # every inference request's connection is reset before an answer


@pytest.fixture(scope="module")
def tei_pair() -> Iterator[list[LocalServer]]:
    with LocalServer("scripted", mode="tei") as a, LocalServer("scripted", mode="tei") as b:
        yield [a, b]


@pytest.fixture
def pair(tei_pair: list[LocalServer]) -> Iterator[list[LocalServer]]:
    for s in tei_pair:
        s.reset()
    yield tei_pair
    for s in tei_pair:
        s.reset()


def test_one_url_is_the_plain_tei_client() -> None:
    assert type(TEIClient(["http://127.0.0.1:9"])) is TEIClient
    assert type(AsyncTEIClient("http://127.0.0.1:9")) is AsyncTEIClient


def test_tei_calls_fail_over(pair: list[LocalServer]) -> None:
    down, up = pair
    down.configure(**DOWN)
    with TEIClient([down.url, up.url], max_retries=0, max_batch_size=8) as client:
        alone = TEIClient(up.url, max_batch_size=8)
        texts = [f"text {i}" for i in range(30)]
        for _ in range(4):  # (whichever endpoint a call starts on, it ends on the one that answers)
            assert client.embed(texts) == alone.embed(texts)
            assert [r.index for r in client.rerank("q", texts[:5])] == [r.index for r in alone.rerank("q", texts[:5])]
        stats = {s["url"]: s for s in client.endpoint_stats()}
        assert stats[up.url]["answered"] == 8 and stats[down.url]["answered"] == 0
        alone.close()


async def test_async_tei_calls_fail_over(pair: list[LocalServer]) -> None:
    down, up = pair
    down.configure(**DOWN)
    client = AsyncTEIClient([down.url, up.url], max_retries=0)
    results = await asyncio.gather(*(client.embed(["a", "b"]) for _ in range(10)))
    assert all(len(r) == 2 for r in results)
    assert {s["url"]: s["answered"] for s in client.endpoint_stats()}[up.url] == 10
    await client.aclose()


def test_retrieval_adapters_take_several_endpoints(pair: list[LocalServer]) -> None:
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode

    from langchain_hf_endpoint import HFEndpointEmbeddings, HFEndpointReranker
    from llama_index_hf_endpoint import HFEndpointEmbedding, HFEndpointRerank

    down, up = pair
    down.configure(**DOWN)
    urls = [down.url, up.url]
    for _ in range(3):
        assert len(HFEndpointEmbeddings(base_url=urls, max_retries=0).embed_documents(["x", "y"])) == 2
        docs = [Document(page_content="a"), Document(page_content="b")]
        assert len(HFEndpointReranker(base_url=urls, max_retries=0, top_n=1).compress_documents(docs, "q")) == 1
        li = HFEndpointEmbedding(base_url=urls, max_retries=0)
        assert li.model_name == down.url and len(li.get_text_embedding_batch(["x", "y", "z"])) == 3
        nodes = [NodeWithScore(node=TextNode(text="a")), NodeWithScore(node=TextNode(text="b"))]
        assert len(HFEndpointRerank(base_url=urls, max_retries=0, top_n=1).postprocess_nodes(nodes, query_str="q")) == 1
    assert up.stats()["requests"].get("/embed", 0) >= 6
