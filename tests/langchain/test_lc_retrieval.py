"""``HFEndpointEmbeddings`` and ``HFEndpointReranker`` against the local TEI-protocol servers over real HTTP.

The retrieval tests run the real embedding model (``embed_url``: multilingual-e5-small on the CPU), so "the right
document" is found by meaning, among distractors about the same thing. The reranker's bookkeeping runs on the
scripted TEI mode, whose scores are a deterministic function of (query, text): each document's score from a batch
must equal its score reranked alone, whatever order the server returns the batch in.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.load import dumpd, dumps
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from hf_endpoint import (
    AuthenticationError,
    ContextWindowExceededError,
    HFEndpointError,
    InvalidRequestError,
    RateLimitError,
    TEIClient,
)
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint, HFEndpointEmbeddings, HFEndpointReranker
from langchain_hf_endpoint._reranker import ranked_documents

pytestmark = pytest.mark.usefixtures("close_pooled_clients")

QUESTION = "What is the capital of France?"
FRANCE = "The capital of France is Paris. Paris is on the Seine."
DOCS = [
    "The capital of Germany is Berlin. Berlin is on the Spree.",
    "Text-embeddings-inference (TEI) serves embedding and reranker models.",
    FRANCE,
    "The capital of Italy is Rome. Rome is on the Tiber.",
    "Gemma 3 270M is a small open model from Google with 270 million parameters.",
    "The capital of Spain is Madrid. Madrid is on the Manzanares.",
]
KEY = "hf_RetrievalSecret_0123456789abcdef"


@pytest.fixture
def embeddings(embed_url: str) -> HFEndpointEmbeddings:
    return HFEndpointEmbeddings(base_url=embed_url, query_prompt_name="query")


# ------------------------------------------------------------------------------------------- real model


def test_retriever_finds_the_right_document_among_distractors(embeddings: HFEndpointEmbeddings) -> None:
    store = InMemoryVectorStore.from_texts(DOCS, embeddings)
    found = store.as_retriever(search_kwargs={"k": 2}).invoke(QUESTION)
    assert found[0].page_content == FRANCE


async def test_retriever_finds_the_right_document_async(embeddings: HFEndpointEmbeddings) -> None:
    store = await InMemoryVectorStore.afrom_texts(DOCS, embeddings)
    found = await store.as_retriever(search_kwargs={"k": 2}).ainvoke(QUESTION)
    assert found[0].page_content == FRANCE


def test_a_rag_chain_puts_the_retrieved_document_in_the_prompt(
    embeddings: HFEndpointEmbeddings, embed_url: str, scripted: LocalServer
) -> None:
    """retriever -> reranker -> prompt -> ChatHFEndpoint: the LLM is asked with the right document."""
    retriever = InMemoryVectorStore.from_texts(DOCS, embeddings).as_retriever(search_kwargs={"k": 3})
    reranker = HFEndpointReranker(base_url=embed_url, top_n=1)

    def rerank(inputs: dict[str, Any]) -> str:
        return "\n".join(d.page_content for d in reranker.compress_documents(inputs["docs"], inputs["question"]))

    prompt = ChatPromptTemplate.from_messages([("user", "Context: {context}\n\nQuestion: {question}")])
    chain = (
        {"docs": retriever, "question": RunnablePassthrough()}
        | RunnablePassthrough.assign(context=RunnableLambda(rerank))
        | prompt
        | ChatHFEndpoint(base_url=scripted.url)
        | StrOutputParser()
    )
    assert chain.invoke(QUESTION)  # the scripted reply
    sent = scripted.last_request()
    assert sent is not None
    content = json.loads(sent["body"])["messages"][-1]["content"]
    assert f"Context: {FRANCE}\n\nQuestion: {QUESTION}" == content  # the reranked best document, alone


def test_embed_documents_equal_one_by_one(embeddings: HFEndpointEmbeddings) -> None:
    together = embeddings.embed_documents(DOCS)
    alone = [embeddings.embed_documents([d])[0] for d in DOCS]
    assert len(together) == len(DOCS)
    for a, b in zip(together, alone, strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_query_and_document_prompts_differ(embeddings: HFEndpointEmbeddings) -> None:
    """E5 marks queries ("query: ") and passages differently: the same text embeds differently as each."""
    assert embeddings.embed_query(FRANCE) != pytest.approx(embeddings.embed_documents([FRANCE])[0], abs=1e-4)


# ------------------------------------------------------------------------------------------- scripted TEI


def test_many_texts_in_requests_of_max_client_batch_size(tei: LocalServer) -> None:
    """33 texts with max_client_batch_size=4: 9 requests, the vectors in input order, equal to one by one."""
    texts = [f"text number {i}" for i in range(33)]
    emb = HFEndpointEmbeddings(base_url=tei.url)
    batch_limit = TEIClient(tei.url).info().max_client_batch_size  # type: ignore[union-attr]
    assert batch_limit is not None and batch_limit < len(texts)
    tei.reset()
    together = emb.embed_documents(texts)
    assert tei.stats()["requests"].get("/embed") == -(-len(texts) // batch_limit)
    assert together == [emb.embed_query(t) for t in texts]


async def test_many_texts_async(tei: LocalServer) -> None:
    texts = [f"text number {i}" for i in range(33)]
    emb = HFEndpointEmbeddings(base_url=tei.url)
    assert await emb.aembed_documents(texts) == [await emb.aembed_query(t) for t in texts]


async def test_objects_with_the_same_options_share_clients_and_info() -> None:
    with LocalServer("scripted", mode="tei") as server:  # its own: no client of the session knows it yet
        first, second = HFEndpointEmbeddings(base_url=server.url), HFEndpointEmbeddings(base_url=server.url)
        assert first.embed_documents(["a", "b"]) == second.embed_documents(["a", "b"])
        assert await first.aembed_documents(["c"]) == await second.aembed_documents(["c"])
        assert first.client is second.client and first.async_client is second.async_client
        assert server.stats()["requests"]["/info"] == 2  # once for the sync client, once for the async one
        await first.aclose()
        first.close()


def test_empty_list_sends_nothing(tei: LocalServer) -> None:
    emb = HFEndpointEmbeddings(base_url=tei.url)
    tei.reset()
    assert emb.embed_documents([]) == []
    assert tei.stats()["total"] == 0


def _docs_with_metadata() -> list[Document]:
    return [
        Document(page_content=f"document {i}: {text}", metadata={"n": i}, id=f"id-{i}") for i, text in enumerate(DOCS)
    ]


def _alone_scores(url: str, docs: list[Document]) -> dict[str, float]:
    with TEIClient(url) as client:
        return {d.page_content: client.rerank(QUESTION, [d.page_content])[0].score for d in docs}


def _check_ranked(result: list[Document], docs: list[Document], alone: dict[str, float], top_n: int) -> None:
    assert len(result) == top_n
    for doc in result:
        assert doc.metadata["relevance_score"] == pytest.approx(alone[doc.page_content])
        original = next(d for d in docs if d.page_content == doc.page_content)
        assert doc.metadata["n"] == original.metadata["n"] and doc.id == original.id
    scores = [d.metadata["relevance_score"] for d in result]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == max(alone.values())


def test_rerank_scores_go_to_the_right_documents(tei_reranker: LocalServer) -> None:
    docs = _docs_with_metadata()
    alone = _alone_scores(tei_reranker.url, docs)
    # The test means something only if the server's sorted order is not the input order.
    assert sorted(alone, key=alone.__getitem__, reverse=True) != [d.page_content for d in docs]
    result = list(HFEndpointReranker(base_url=tei_reranker.url, top_n=4).compress_documents(docs, QUESTION))
    _check_ranked(result, docs, alone, 4)
    assert all("relevance_score" not in d.metadata for d in docs)  # the inputs are not modified


async def test_rerank_scores_go_to_the_right_documents_async(tei_reranker: LocalServer) -> None:
    docs = _docs_with_metadata()
    alone = _alone_scores(tei_reranker.url, docs)
    reranker = HFEndpointReranker(base_url=tei_reranker.url, top_n=None)
    _check_ranked(list(await reranker.acompress_documents(docs, QUESTION)), docs, alone, len(docs))


def test_rerank_of_nothing_is_nothing(tei_reranker: LocalServer) -> None:
    assert HFEndpointReranker(base_url=tei_reranker.url).compress_documents([], QUESTION) == []


def test_ranked_documents_maps_by_index_not_position() -> None:
    from hf_endpoint import Rank

    docs = [Document(page_content=t) for t in ("a", "b", "c")]
    ranks = [Rank(index=2, score=0.9), Rank(index=0, score=0.5), Rank(index=1, score=0.1)]
    out = ranked_documents(docs, ranks, top_n=2)
    assert [(d.page_content, d.metadata["relevance_score"]) for d in out] == [("c", 0.9), ("a", 0.5)]
    with pytest.raises(HFEndpointError, match="index 5"):
        ranked_documents(docs, [Rank(index=5, score=1.0)], top_n=None)


# ------------------------------------------------------------------------------------------- errors


def test_too_long_input_names_truncate(tei: LocalServer) -> None:
    long_text = "word " * 2000
    emb = HFEndpointEmbeddings(base_url=tei.url)
    with pytest.raises(ContextWindowExceededError, match="truncate=True"):
        emb.embed_documents([long_text])
    assert len(HFEndpointEmbeddings(base_url=tei.url, truncate=True).embed_documents([long_text])) == 1


async def test_too_long_input_async(tei: LocalServer) -> None:
    with pytest.raises(ContextWindowExceededError, match="truncate=True"):
        await HFEndpointEmbeddings(base_url=tei.url).aembed_query("word " * 2000)


def test_embedding_on_a_reranker_endpoint_says_which_class(tei_reranker: LocalServer) -> None:
    with pytest.raises(HFEndpointError, match="HFEndpointReranker"):
        HFEndpointEmbeddings(base_url=tei_reranker.url).embed_query("hello")


BOOM = {
    "code": 500,
    "count": -1,
    "content_type": "application/json",
    "body": json.dumps({"error": "the backend failed", "error_type": "Backend"}),
}
OVERLOADED = {
    "code": 429,
    "count": -1,
    "content_type": "application/json",
    "headers": {"Retry-After": "0"},
    "body": json.dumps({"error": "Model is overloaded", "error_type": "Overloaded"}),
}


def test_a_cold_start_is_retried_and_a_server_error_is_typed(tei: LocalServer) -> None:
    emb = HFEndpointEmbeddings(base_url=tei.url, max_retries=1)
    emb.embed_query("warm up")  # /info is asked once
    tei.reset()
    tei.configure(cold_start=2)
    assert emb.embed_documents(["a", "b"]) == [emb.embed_query("a"), emb.embed_query("b")]
    assert tei.stats()["requests"]["/embed"] == 3 + 2
    tei.configure(status=BOOM)
    with pytest.raises(HFEndpointError, match="the backend failed") as info:
        emb.embed_documents(["a"])
    assert info.value.status_code == 500


async def test_server_errors_are_typed_async(tei: LocalServer, tei_reranker: LocalServer) -> None:
    tei.configure(status=BOOM)
    with pytest.raises(HFEndpointError, match="the backend failed"):
        await HFEndpointEmbeddings(base_url=tei.url).aembed_documents(["a"])
    tei_reranker.configure(status=OVERLOADED)
    reranker = HFEndpointReranker(base_url=tei_reranker.url, max_retries=1)
    with pytest.raises(RateLimitError, match="overloaded"):
        await reranker.acompress_documents([Document(page_content="a")], QUESTION)


@pytest.fixture
def tei_with_key() -> Iterator[LocalServer]:
    with LocalServer("scripted", mode="tei", api_key=KEY) as server:
        yield server


def test_wrong_key_is_an_authentication_error(tei_with_key: LocalServer) -> None:
    with pytest.raises(AuthenticationError) as info:
        HFEndpointEmbeddings(base_url=tei_with_key.url, api_key="hf_wrong").embed_query("hello")
    assert KEY not in str(info.value)
    assert HFEndpointEmbeddings(base_url=tei_with_key.url, api_key=KEY).embed_query("hello")
    sent = tei_with_key.last_request()
    assert sent is not None and sent["headers"]["Authorization"] == f"Bearer {KEY}"


# ------------------------------------------------------------------------------------------- construction


def test_unknown_arguments_are_refused_by_name() -> None:
    with pytest.raises(InvalidRequestError, match="unknown argument 'timout': did you mean 'timeout'"):
        HFEndpointEmbeddings(base_url="http://127.0.0.1:9", timout=3)
    with pytest.raises(InvalidRequestError, match="unknown argument 'topn': did you mean 'top_n'"):
        HFEndpointReranker(base_url="http://127.0.0.1:9", topn=3)
    with pytest.raises(InvalidRequestError, match="unknown argument 'repo_id': pass base_url="):
        HFEndpointEmbeddings(repo_id="intfloat/multilingual-e5-small")
    with pytest.raises(InvalidRequestError, match="'huggingfacehub_api_token' and 'api_key' mean the same thing"):
        HFEndpointEmbeddings(base_url="http://127.0.0.1:9", api_key=KEY, huggingfacehub_api_token=KEY)


def test_langchain_huggingface_names_are_accepted() -> None:
    emb = HFEndpointEmbeddings(
        model="http://127.0.0.1:9",
        huggingfacehub_api_token=KEY,
        task="feature-extraction",
        model_kwargs={"normalize": False, "prompt_name": "query"},
    )
    assert emb.base_url == "http://127.0.0.1:9"
    assert emb.api_key is not None and emb.api_key.get_secret_value() == KEY
    assert (emb.normalize, emb.query_prompt_name, emb.document_prompt_name) == (False, "query", "query")
    with pytest.raises(ValueError, match="model_kwargs\\['pooling'\\] is not an embedding option"):
        HFEndpointEmbeddings(base_url="http://127.0.0.1:9", model_kwargs={"pooling": "mean"})


def test_endpoint_url_alias_and_a_missing_url() -> None:
    assert HFEndpointReranker(endpoint_url="http://127.0.0.1:9").base_url == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="needs base_url="):
        HFEndpointEmbeddings()


@pytest.mark.parametrize("cls", [HFEndpointEmbeddings, HFEndpointReranker])
def test_the_key_is_in_no_output(cls: type[Any]) -> None:
    obj = cls(base_url="http://127.0.0.1:9", api_key=KEY)
    outputs = [repr(obj), str(obj), obj.model_dump_json(), repr(obj.model_dump()), dumps(obj), repr(dumpd(obj))]
    assert not [o for o in outputs if KEY in o]
    assert KEY.encode() not in pickle.dumps(obj)
    with pytest.raises(ValueError, match="not an http") as info:  # the error does not print the arguments
        cls(base_url="ftp://x", api_key=KEY)
    assert KEY not in str(info.value)
