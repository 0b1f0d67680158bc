"""TEIClient / AsyncTEIClient over real HTTP: any number of inputs, in order, equal to one-by-one; reranks mapped
by index; every call of both clients against the scripted TEI server (deterministic vectors)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from hf_endpoint import AsyncTEIClient, InvalidRequestError, ModelTypeError, Rank, SparseValue, TEIClient, TEIInfo
from hf_endpoint.server import LocalServer

from ._twin import TeiTwin
from .conftest import served


def texts(n: int, tag: str = "t") -> list[str]:
    return [f"{tag} {i}: a sentence about item number {i}" for i in range(n)]


@pytest.mark.parametrize("n", [1, 32, 33, 1000])
def test_embed_any_number_keeps_order_and_equals_one_by_one(tei: LocalServer, twin: TeiTwin, n: int) -> None:
    items = texts(n)
    vectors = twin.embed(items)
    requests = tei.stats()["requests"].get("/embed", 0)
    assert requests == math.ceil(n / 32)  # split to /info's max_client_batch_size (32), no more
    assert len(vectors) == n and all(len(v) == 384 for v in vectors)
    sample = range(n) if n <= 33 else range(0, n, 37)
    for i in sample:
        assert twin.embed(items[i]) == [vectors[i]]  # a string is one input


def test_info_is_typed_and_asked_once(tei: LocalServer, twin: TeiTwin) -> None:
    info = twin.info()
    assert isinstance(info, TEIInfo) and info.kind == "embedding" and info.max_client_batch_size == 32
    assert info.max_input_length == 512 and info.max_batch_tokens == 16384 and info.auto_truncate is True
    twin.embed(["a", "b"])
    twin.info()
    assert tei.stats()["requests"].get("/info") == 1
    assert twin.client.route == "tei" and twin.client.served_model == info.model_id
    assert twin.health() is True


def test_embed_options_reach_the_server(tei: LocalServer, twin: TeiTwin) -> None:
    short = twin.embed(["hello"], dimensions=64)
    assert len(short[0]) == 64 and math.isclose(math.fsum(x * x for x in short[0]), 1.0, rel_tol=1e-4)
    twin.embed(["hello"], normalize=False, prompt_name="query", truncate=True, truncation_direction="left")
    body = json.loads((tei.last_request() or {})["body"])
    assert body == {
        "inputs": ["hello"],
        "normalize": False,
        "prompt_name": "query",
        "truncate": True,
        "truncation_direction": "Left",
    }
    assert twin.embed(["hello"], prompt_name="query") != twin.embed(["hello"])


def test_empty_inputs_return_empty_without_a_request(tei: LocalServer, twin: TeiTwin) -> None:
    twin.info()
    assert twin.embed([]) == [] and twin.rerank("q", []) == []
    assert set(tei.stats()["requests"]) == {"/info"}


def test_bad_input_refused_before_sending(tei: LocalServer, twin: TeiTwin) -> None:
    with pytest.raises(InvalidRequestError, match=r"texts\[1\] is an empty string"):
        twin.embed(["a", ""])
    with pytest.raises(InvalidRequestError, match="top_n=0"):
        twin.rerank("q", ["a"], top_n=0)
    assert "/embed" not in tei.stats()["requests"]


def test_rerank_scores_are_attached_to_the_right_texts(tei: LocalServer, twin: TeiTwin) -> None:
    docs = texts(45, "doc")  # two requests (32 + 13); TEI sorts each by score
    ranks = twin.rerank("which item?", docs, return_text=True)
    assert tei.stats()["requests"]["/rerank"] == 2
    assert sorted(r.index for r in ranks) == list(range(45))
    assert all(isinstance(r, Rank) and r.text == docs[r.index] for r in ranks)
    assert [r.score for r in ranks] == sorted((r.score for r in ranks), reverse=True)
    for r in ranks[:5] + ranks[-5:]:  # each score is the one that text gets on its own
        alone = twin.rerank("which item?", [docs[r.index]])
        assert alone[0].index == 0 and math.isclose(alone[0].score, r.score, rel_tol=1e-6)
    top = twin.rerank("which item?", docs, top_n=3)
    assert [(r.index, r.score) for r in top] == [(r.index, r.score) for r in ranks[:3]] and top[0].text is None


def test_similarity_and_tokenize(tei: LocalServer, twin: TeiTwin) -> None:
    sentences = texts(40)
    scores = twin.similarity("a sentence", sentences)
    assert len(scores) == 40 and tei.stats()["requests"]["/similarity"] == 2  # 31 + 1 sentences + the source
    assert scores[33] == twin.similarity("a sentence", [sentences[33]])[0]
    tokens = twin.tokenize(["hello world", "a"])
    assert tokens[0][0].text == "[CLS]" and tokens[0][0].special and len(tokens) == 2


def test_openai_route_gives_the_same_vectors(tei: LocalServer, kind: str) -> None:
    twin, native = TeiTwin(kind, tei.url, route="openai"), TeiTwin(kind, tei.url)
    try:
        items = texts(40)
        assert twin.embed(items) == native.embed(items)
        assert tei.stats()["requests"]["/v1/embeddings"] == 2 and tei.stats()["requests"]["/info"] == 1
        with pytest.raises(InvalidRequestError, match="truncate cannot be sent on the /v1/embeddings route"):
            twin.embed(items, truncate=True)
        with pytest.raises(InvalidRequestError, match="rerank"):
            twin.rerank("q", items)
    finally:
        twin.close()
        native.close()


def test_auto_route_picks_openai_where_there_is_no_tei_info(kind: str) -> None:
    with LocalServer("scripted") as tgi:  # a TGI server: /info without TEI's model_type
        twin = TeiTwin(kind, tgi.url)
        try:
            assert twin.info() is None and twin.client.route == "openai"
        finally:
            twin.close()


# ------------------------------------------------------------------------------------- other model types


@pytest.fixture(scope="module")
def splade() -> Iterator[LocalServer]:
    yield from served(pooling="splade")


@pytest.fixture(scope="module")
def classifier() -> Iterator[LocalServer]:
    yield from served(model_type="classifier")


def test_sparse_embeddings(splade: LocalServer, kind: str) -> None:
    twin = TeiTwin(kind, splade.url)
    try:
        out = twin.embed_sparse(texts(40))
        assert len(out) == 40 and all(isinstance(v, SparseValue) for v in out[0])
        assert [v.index for v in out[0]] == sorted(v.index for v in out[0])
        assert twin.embed_sparse(texts(40)[35]) == [out[35]]
        with pytest.raises(ModelTypeError, match=r"SPLADE.*embed_sparse\(\), or embed\(normalize=False\)"):
            twin.embed(["a"])  # TEI's 424: dense vectors of a SPLADE model cannot be normalised
    finally:
        twin.close()


def test_predict_texts_and_pairs(classifier: LocalServer, kind: str) -> None:
    twin = TeiTwin(kind, classifier.url)
    try:
        inputs: list[str | tuple[str, str]] = [*texts(35), ("a premise", "a hypothesis")]
        out = twin.predict(inputs)
        assert len(out) == 36 and all(len(labels) == 3 for labels in out)
        assert out[0][0].score >= out[0][1].score >= out[0][2].score
        assert twin.predict(inputs[34]) == [out[34]] and twin.predict([inputs[35]]) == [out[35]]
    finally:
        twin.close()


def test_clients_hide_the_token_and_refuse_pickling(tei: LocalServer) -> None:
    import pickle

    for cls in (TEIClient, AsyncTEIClient):
        client = cls(tei.url, api_key="hf_secret_value")
        assert "hf_secret_value" not in repr(client)
        with pytest.raises(TypeError, match="pickl"):
            pickle.dumps(client)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"route": "chat"}, "route='chat' is invalid"),
        ({"max_concurrency": 0}, "max_concurrency=0"),
        ({"max_batch_size": True}, "max_batch_size=True"),
        ({"payload_limit": 100}, "payload_limit=100"),
    ],
)
def test_options_checked_when_the_client_is_made(option: dict[str, object], message: str) -> None:
    for cls in (TEIClient, AsyncTEIClient):
        with pytest.raises(InvalidRequestError, match=message):
            cls("http://127.0.0.1:9", **option)  # type: ignore[arg-type]
