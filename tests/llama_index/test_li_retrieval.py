"""``HFEndpointEmbedding`` and ``HFEndpointRerank`` against the local TEI-protocol servers over real HTTP.

Retrieval runs the real embedding model (``embed_url``), so the right node is found by meaning among distractors;
the rerank bookkeeping, batch sizes and events run on the scripted TEI mode (deterministic scores and vectors).
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import llama_index.core.instrumentation as instrument
import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent, EmbeddingStartEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from hf_endpoint import (
    ContextWindowExceededError,
    HFEndpointError,
    InvalidRequestError,
    Rank,
    RateLimitError,
    TEIClient,
)
from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint, HFEndpointEmbedding, HFEndpointRerank
from llama_index_hf_endpoint._embedding import batching_from
from llama_index_hf_endpoint._rerank import ranked_nodes

QUESTION = "What is the capital of France?"
FRANCE = "The capital of France is Paris. Paris is on the Seine."
TEXTS = [
    "The capital of Germany is Berlin. Berlin is on the Spree.",
    "Text-embeddings-inference (TEI) serves embedding and reranker models.",
    FRANCE,
    "The capital of Italy is Rome. Rome is on the Tiber.",
    "Gemma 3 270M is a small open model from Google with 270 million parameters.",
    "The capital of Spain is Madrid. Madrid is on the Manzanares.",
]
KEY = "hf_RetrievalSecret_0123456789abcdef"


class Events(BaseEventHandler):
    """Every instrumentation event, by class name."""

    names: list[str] = []

    @classmethod
    def class_name(cls) -> str:
        return "Events"

    def handle(self, event: Any, **kwargs: Any) -> None:
        self.names.append(type(event).__name__)


@pytest.fixture
def events() -> Any:
    handler = Events(names=[])
    root = instrument.get_dispatcher()
    root.add_event_handler(handler)
    yield handler
    root.event_handlers.remove(handler)


@pytest.fixture
async def embed_model(embed_url: str) -> Any:
    model = HFEndpointEmbedding(base_url=embed_url, query_prompt_name="query")
    yield model
    await model.aclose()


# ------------------------------------------------------------------------------------------- real model


def test_a_query_engine_finds_the_right_document(
    embed_model: HFEndpointEmbedding, embed_url: str, llm: HFEndpoint
) -> None:
    index = VectorStoreIndex.from_documents([Document(text=t) for t in TEXTS], embed_model=embed_model)
    assert index.as_retriever(similarity_top_k=1).retrieve(QUESTION)[0].node.get_content() == FRANCE
    rerank = HFEndpointRerank(base_url=embed_url, top_n=1)
    engine = index.as_query_engine(llm=llm, similarity_top_k=3, node_postprocessors=[rerank])
    response = engine.query(QUESTION)
    assert [n.node.get_content() for n in response.source_nodes] == [FRANCE]
    assert str(response)  # the scripted LLM's answer


async def test_a_query_engine_async(embed_model: HFEndpointEmbedding, embed_url: str, llm: HFEndpoint) -> None:
    index = VectorStoreIndex.from_documents([Document(text=t) for t in TEXTS], embed_model=embed_model, use_async=True)
    rerank = HFEndpointRerank(base_url=embed_url, top_n=1)
    response = await index.as_query_engine(llm=llm, similarity_top_k=3, node_postprocessors=[rerank]).aquery(QUESTION)
    assert [n.node.get_content() for n in response.source_nodes] == [FRANCE]
    await rerank.aclose()


def test_settings_embed_model(embed_model: HFEndpointEmbedding, restore_settings: None) -> None:
    Settings.embed_model = embed_model
    index = VectorStoreIndex.from_documents([Document(text=t) for t in TEXTS])
    assert index.as_retriever(similarity_top_k=1).retrieve(QUESTION)[0].node.get_content() == FRANCE


# ------------------------------------------------------------------------------------------- batching, events


async def test_batch_size_comes_from_the_server(tei: LocalServer) -> None:
    limit = TEIClient(tei.url).info().max_client_batch_size  # type: ignore[union-attr]
    texts = [f"text number {i}" for i in range(limit + 1)]
    debug = LlamaDebugHandler()
    model = HFEndpointEmbedding(base_url=tei.url, callback_manager=CallbackManager([debug]))
    tei.reset()
    vectors = model.get_text_embedding_batch(texts)
    assert model.embed_batch_size == limit
    assert len(debug.get_event_pairs(CBEventType.EMBEDDING)) == 2  # one LlamaIndex batch = one request
    assert tei.stats()["requests"].get("/embed") == 2
    assert vectors == [model.get_text_embedding(t) for t in texts]
    assert await model.aget_text_embedding_batch(texts) == vectors
    await model.aclose()


async def test_an_explicit_batch_size_is_kept(tei: LocalServer) -> None:
    model = HFEndpointEmbedding(base_url=tei.url, embed_batch_size=3)
    texts = [f"text {i}" for i in range(7)]
    assert await model.aget_text_embedding_batch(texts) == model.get_text_embedding_batch(texts)
    assert model.embed_batch_size == 3
    await model.aclose()


def test_a_batch_larger_than_the_server_limit_is_split_by_the_transport(tei: LocalServer) -> None:
    limit = TEIClient(tei.url).info().max_client_batch_size  # type: ignore[union-attr]
    model = HFEndpointEmbedding(base_url=tei.url, embed_batch_size=min(2048, 3 * limit))
    texts = [f"text {i}" for i in range(3 * limit)]
    tei.reset()
    assert model.get_text_embedding_batch(texts) == [model.get_query_embedding(t) for t in texts]
    assert tei.stats()["requests"]["/embed"] == 3 + len(texts)


async def test_objects_with_the_same_options_share_clients_and_info() -> None:
    """Two embedding models and a reranker on one server: one /info request, the transport's shared clients."""
    with LocalServer("scripted", mode="tei") as server:  # its own: no client of the session knows it yet
        first, second = HFEndpointEmbedding(base_url=server.url), HFEndpointEmbedding(base_url=server.url)
        assert first.get_text_embedding_batch(["a", "b"]) == second.get_text_embedding_batch(["a", "b"])
        assert await first.aget_text_embedding_batch(["c"]) == await second.aget_text_embedding_batch(["c"])
        assert first._client is second._client and first._aclient is second._aclient
        assert server.stats()["requests"]["/info"] == 2  # once for the sync client, once for the async one
        await first.aclose()


def test_batching_from_the_servers_limits() -> None:
    from hf_endpoint import TEIInfo

    def info(batch: int, permits: int) -> TEIInfo:
        return TEIInfo(max_client_batch_size=batch, max_concurrent_requests=permits)

    assert batching_from(info(32, 512), None, None) == (32, 4)  # TEI's defaults: 4 requests of 32 at once
    assert batching_from(info(32, 40), None, None) == (20, 2)  # two batches must fit the permits
    assert batching_from(info(32, 512), 256, None) == (256, 4)  # 128 inputs a call in flight: 4 calls
    assert batching_from(info(32, 200), 256, None) == (256, 2)
    assert batching_from(info(32, 512), None, 8) == (32, 8)  # the user's choices stay
    assert batching_from(info(4096, 100_000), None, None) == (2048, 4)  # LlamaIndex's own limit
    assert batching_from(None, None, None) == (None, None)  # an OpenAI-compatible server: LlamaIndex's defaults


async def test_async_batches_stay_within_the_servers_permits() -> None:
    """LlamaIndex's async path starts every batch at once unless num_workers bounds it: 4 batches of 32 are 100
    inputs in flight, more than a server with 40 permits takes (it answers 429 at once, raised here with no retry)."""
    with LocalServer("embed", subprocess=True, max_concurrent_requests=40) as server:
        model = HFEndpointEmbedding(base_url=server.url, max_retries=0)
        texts = [f"text number {i}" for i in range(100)]
        assert len(await model.aget_text_embedding_batch(texts)) == len(texts)
        assert (model.embed_batch_size, model.num_workers) == (20, 2)
        await model.aclose()


async def test_an_ingestion_pipeline_embeds_its_nodes(tei: LocalServer) -> None:
    """As a ``TransformComponent``: the pipeline's nodes come out embedded, each as its text alone embeds."""
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter

    model = HFEndpointEmbedding(base_url=tei.url)
    pipeline = IngestionPipeline(transformations=[SentenceSplitter(chunk_size=32, chunk_overlap=4), model])
    docs = [Document(text=f"Document {i}. " + "A sentence about retrieval. " * 12) for i in range(3)]
    for nodes in (pipeline.run(documents=docs), await pipeline.arun(documents=docs)):
        assert len(nodes) > len(docs)
        for node in nodes:
            assert node.embedding == model.get_text_embedding(node.get_content(metadata_mode=MetadataMode.EMBED))
    await model.aclose()


def test_embedding_events_and_progress(tei: LocalServer, events: Events, capsys: pytest.CaptureFixture[str]) -> None:
    model = HFEndpointEmbedding(base_url=tei.url)
    model.get_text_embedding_batch(["one", "two", "three"], show_progress=True)
    model.get_query_embedding("four")
    assert events.names.count("EmbeddingStartEvent") == events.names.count("EmbeddingEndEvent") == 2
    assert EmbeddingStartEvent.__name__ in events.names and EmbeddingEndEvent.__name__ in events.names
    assert "Generating embeddings" in capsys.readouterr().err  # LlamaIndex's tqdm bar


def _nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=f"node {i}: {t}", id_=f"n{i}"), score=1.0 - i / 10)
        for i, t in enumerate(TEXTS)
    ]


def _alone(url: str, nodes: list[NodeWithScore]) -> dict[str, float]:
    with TEIClient(url) as client:
        return {n.node.node_id: client.rerank(QUESTION, [n.node.get_content()])[0].score for n in nodes}


def _check(result: list[NodeWithScore], alone: dict[str, float], top_n: int) -> None:
    assert len(result) == top_n
    assert all(n.score == pytest.approx(alone[n.node.node_id]) for n in result)
    scores = [n.score for n in result]
    assert scores == sorted(scores, reverse=True) and scores[0] == max(alone.values())


def test_rerank_scores_go_to_the_right_nodes(tei_reranker: LocalServer, events: Events) -> None:
    nodes = _nodes()
    alone = _alone(tei_reranker.url, nodes)
    assert sorted(alone, key=alone.__getitem__, reverse=True) != [n.node.node_id for n in nodes]  # sorted != input
    debug = LlamaDebugHandler()
    rerank = HFEndpointRerank(
        base_url=tei_reranker.url, top_n=3, keep_retrieval_score=True, callback_manager=CallbackManager([debug])
    )
    result = rerank.postprocess_nodes(nodes, query_str=QUESTION)
    _check(result, alone, 3)
    original = {n.node.node_id: n.score for n in nodes}
    assert all(n.node.metadata["retrieval_score"] == original[n.node.node_id] for n in result)
    assert all("retrieval_score" not in n.node.metadata for n in nodes)  # the inputs are not modified
    assert len(debug.get_event_pairs(CBEventType.RERANKING)) == 1
    assert ReRankStartEvent.__name__ in events.names and ReRankEndEvent.__name__ in events.names


async def test_rerank_async(tei_reranker: LocalServer) -> None:
    nodes = _nodes()
    alone = _alone(tei_reranker.url, nodes)
    rerank = HFEndpointRerank(base_url=tei_reranker.url, top_n=None)
    _check(await rerank.apostprocess_nodes(nodes, query_str=QUESTION), alone, len(nodes))
    assert await rerank.apostprocess_nodes([], query_str=QUESTION) == []
    await rerank.aclose()


def test_rerank_needs_the_query(tei_reranker: LocalServer) -> None:
    with pytest.raises(ValueError, match="needs the query"):
        HFEndpointRerank(base_url=tei_reranker.url).postprocess_nodes(_nodes())


def test_ranked_nodes_maps_by_index_not_position() -> None:
    nodes = [NodeWithScore(node=TextNode(text=t), score=0.0) for t in ("a", "b", "c")]
    ranks = [Rank(index=2, score=0.9), Rank(index=0, score=0.5), Rank(index=1, score=0.1)]
    assert [(n.node.get_content(), n.score) for n in ranked_nodes(nodes, ranks, 2)] == [("c", 0.9), ("a", 0.5)]
    with pytest.raises(HFEndpointError, match="index 3"):
        ranked_nodes(nodes, [Rank(index=3, score=1.0)], None)


# ------------------------------------------------------------------------------------------- errors, construction


async def test_errors_are_the_transports(tei: LocalServer, tei_reranker: LocalServer) -> None:
    model = HFEndpointEmbedding(base_url=tei.url)
    with pytest.raises(ContextWindowExceededError, match="truncate=True"):
        model.get_text_embedding("word " * 2000)
    with pytest.raises(ContextWindowExceededError, match="truncate=True"):
        await model.aget_query_embedding("word " * 2000)
    assert len(HFEndpointEmbedding(base_url=tei.url, truncate_text=True).get_text_embedding("word " * 2000)) > 0
    with pytest.raises(HFEndpointError, match="HFEndpointRerank"):
        HFEndpointEmbedding(base_url=tei_reranker.url).get_query_embedding("hello")
    await model.aclose()


async def test_a_cold_start_is_retried_and_overload_is_typed(tei: LocalServer, tei_reranker: LocalServer) -> None:
    model = HFEndpointEmbedding(base_url=tei.url, max_retries=1)
    model.get_query_embedding("warm up")  # /info is asked once
    tei.reset()
    tei.configure(cold_start=2)
    assert await model.aget_text_embedding_batch(["a", "b"]) == [model.get_text_embedding(t) for t in ("a", "b")]
    assert tei.stats()["requests"]["/embed"] == 3 + 2
    overloaded = {
        "code": 429,
        "count": -1,
        "content_type": "application/json",
        "headers": {"Retry-After": "0"},
        "body": json.dumps({"error": "Model is overloaded", "error_type": "Overloaded"}),
    }
    tei_reranker.configure(status=overloaded)
    rerank = HFEndpointRerank(base_url=tei_reranker.url, max_retries=1)
    with pytest.raises(RateLimitError, match="overloaded"):
        rerank.postprocess_nodes(_nodes(), query_str=QUESTION)
    with pytest.raises(RateLimitError, match="overloaded"):
        await rerank.apostprocess_nodes(_nodes(), query_str=QUESTION)
    await model.aclose()
    await rerank.aclose()


def test_unknown_arguments_are_refused_by_name() -> None:
    with pytest.raises(
        InvalidRequestError, match="unknown argument 'embed_batchsize': did you mean 'embed_batch_size'"
    ):
        HFEndpointEmbedding(base_url="http://127.0.0.1:9", embed_batchsize=3)
    with pytest.raises(InvalidRequestError, match="unknown argument 'topn': did you mean 'top_n'"):
        HFEndpointRerank(base_url="http://127.0.0.1:9", topn=3)
    with pytest.raises(InvalidRequestError, match="unknown argument 'endpoint': the route follows the method"):
        HFEndpointEmbedding(base_url="http://127.0.0.1:9", endpoint="/embed")
    with pytest.raises(InvalidRequestError, match="needs base_url="):
        HFEndpointRerank()
    # LlamaIndex's TEI class's names
    model = HFEndpointEmbedding(model_url="http://127.0.0.1:9", auth_token=KEY, truncate_text=True)
    assert (model.base_url, model.truncate, model._api_key.get_secret_value()) == ("http://127.0.0.1:9", True, KEY)


@pytest.mark.parametrize("cls", [HFEndpointEmbedding, HFEndpointRerank])
@pytest.mark.parametrize("key_name", ["api_key", "auth_token", "token"])
def test_the_key_is_in_no_output(cls: type[Any], key_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    obj = cls(base_url="http://127.0.0.1:9", **{key_name: KEY})
    assert obj._api_key.get_secret_value() == KEY
    outputs = [repr(obj), str(obj), obj.to_json(), repr(obj.to_dict()), repr(obj.model_dump())]
    if isinstance(obj, HFEndpointEmbedding):
        outputs.append(repr(obj.to_payload()))
    assert not [o for o in outputs if KEY in o]
    blob = pickle.dumps(obj)
    assert KEY.encode() not in blob
    assert pickle.loads(blob)._api_key is None  # the copy reads HF_TOKEN again, or is given the key anew
    assert copy.deepcopy(obj)._api_key.get_secret_value() == KEY
