"""The local TEI server's rejections and error shapes, and the scripted faults on TEI's routes.

axum rejects a body before TEI's handler runs, in plain text; TEI's own checks answer
``{"error", "error_type"}`` (``{"message", "code", "type"}`` on the OpenAI route); a route the served
model type lacks is a 424. Over real HTTP against the scripted TEI mode.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hf_endpoint.server import LocalServer


def post(url: str, path: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(url + path, json=body, timeout=60, **kwargs)


def plain(r: requests.Response) -> tuple[int, str]:
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"]
    return r.status_code, r.text


DESERIALIZE = "Failed to deserialize the JSON body into the target type: "


def test_axum_rejections_are_plain_text(tei: LocalServer) -> None:
    url = tei.url
    r = requests.post(url + "/embed", data='{"inputs": "x"}', headers={"Content-Type": "text/plain"}, timeout=10)
    assert plain(r) == (415, "Expected request with `Content-Type: application/json`")
    r = requests.post(url + "/embed", data='{"inputs": ', headers={"Content-Type": "application/json"}, timeout=10)
    status, text = plain(r)
    assert status == 400 and text.startswith("Failed to parse the request body as JSON: ")
    r = requests.post(url + "/embed", data="", headers={"Content-Type": "application/json"}, timeout=10)
    assert plain(r) == (400, "Failed to parse the request body as JSON: EOF while parsing a value at line 1 column 0")
    assert plain(post(url, "/embed", {})) == (422, DESERIALIZE + "missing field `inputs` at line 1 column 2")
    status, text = plain(post(url, "/embed", {"inputs": 5}))
    assert (status, text.split(" at line")[0]) == (
        422,
        DESERIALIZE + "inputs: data did not match any variant of untagged enum Input",
    )
    status, text = plain(post(url, "/embed", {"inputs": "x", "truncation_direction": "up"}))
    assert text.startswith(DESERIALIZE + "truncation_direction: unknown variant `up`")
    status, text = plain(post(url, "/v1/embeddings", {"input": "x", "encoding_format": "Float"}))
    assert text.startswith(DESERIALIZE + "encoding_format: unknown variant `Float`, expected `float` or `base64`")
    status, text = plain(post(url, "/predict", {"inputs": ["a", "b", "c"]}))
    assert status == 422 and "invalid length 3" in text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/embed", {"inputs": "x", "normalize": None}, "normalize"),
        ("/embed", {"inputs": "x", "truncation_direction": None}, "truncation_direction"),
        ("/rerank", {"query": "q", "texts": ["a"], "raw_scores": None}, "raw_scores"),
        ("/rerank", {"query": "q", "texts": ["a"], "return_text": None}, "return_text"),
        ("/tokenize", {"inputs": "x", "add_special_tokens": None}, "add_special_tokens"),
        ("/decode", {"ids": [1], "skip_special_tokens": None}, "skip_special_tokens"),
        ("/v1/embeddings", {"input": "x", "encoding_format": None}, "encoding_format"),
    ],
)
def test_null_where_tei_refuses_it(tei: LocalServer, path: str, body: dict[str, Any], field: str) -> None:
    status, text = plain(post(tei.url, path, body))
    assert status == 422 and text.startswith(f"{DESERIALIZE}{field}: invalid type: null")


def test_null_where_tei_accepts_it(tei: LocalServer) -> None:
    body = {"inputs": "x", "truncate": None, "prompt_name": None, "dimensions": None}
    assert post(tei.url, "/embed", body).status_code == 200
    assert post(tei.url, "/v1/embeddings", {"input": "x", "model": None, "user": None}).status_code == 200
    body = {"inputs": {"source_sentence": "a", "sentences": ["b"]}, "parameters": None}
    assert post(tei.url, "/similarity", body).status_code == 200


def test_empty_inputs(tei: LocalServer) -> None:
    empty = {"error": "Input validation error: `inputs` cannot be empty", "error_type": "Empty"}
    for body in ({"inputs": ""}, {"inputs": []}, {"inputs": ["a", ""]}):
        r = post(tei.url, "/embed", body)
        assert (r.status_code, r.json()) == (400, empty)
    assert post(tei.url, "/rerank", {"query": "q", "texts": []}).json() == {
        "error": "`texts` cannot be empty",
        "error_type": "Empty",
    }
    r = post(tei.url, "/similarity", {"inputs": {"source_sentence": "s", "sentences": []}})
    assert r.json() == {"error": "`inputs.sentences` cannot be empty", "error_type": "Empty"}
    assert post(tei.url, "/tokenize", {"inputs": []}).json() == {
        "error": "`inputs` cannot be empty",
        "error_type": "Empty",
    }
    r = post(tei.url, "/decode", {"ids": []})
    assert r.json() == {"error": "Input validation error: `input_ids` cannot be empty", "error_type": "Empty"}
    assert post(tei.url, "/v1/embeddings", {"input": ""}).json() == {
        "message": "Input validation error: `inputs` cannot be empty",
        "code": 400,
        "type": "Empty",
    }


def test_unknown_prompt_and_dimensions(tei: LocalServer) -> None:
    r = post(tei.url, "/embed", {"inputs": "x", "prompt_name": "doc"})
    assert r.status_code == 422 and r.json()["error"] == (
        "Input validation error: `default-prompt-name` is set to `doc` but it was not found in the Sentence "
        'Transformers prompts. Available prompts: ["query", "passage"]'
    )
    assert post(tei.url, "/embed", {"inputs": "x", "dimensions": 0}).json()["error"] == (
        "Input validation error: `dimensions` should be positive"
    )
    assert post(tei.url, "/embed", {"inputs": "x", "dimensions": 385}).json()["error"] == (
        "Input validation error: `dimensions` should be smaller than the maximum embedding dimension."
    )
    raw = post(tei.url, "/embed", {"inputs": "x", "dimensions": 8, "normalize": False}).json()[0]
    full = post(tei.url, "/embed", {"inputs": "x", "normalize": False}).json()[0]
    assert len(raw) == 8 and raw == full[:8] and abs(sum(v * v for v in full) - 1) > 1e-3
    ids = post(tei.url, "/tokenize", {"inputs": "hello world", "add_special_tokens": False}).json()[0]
    assert [t["text"] for t in ids] == ["hello", " world"]
    assert (
        post(tei.url, "/embed", {"inputs": [t["id"] for t in ids]}).json()
        == post(tei.url, "/embed", {"inputs": "hello world"}).json()
    )
    assert post(
        tei.url, "/decode", {"ids": [101, *(t["id"] for t in ids), 102], "skip_special_tokens": False}
    ).json() == ["[CLS]hello world[SEP]"]


def test_ranks_sorted_by_score_with_their_index(tei: LocalServer) -> None:
    texts = [f"document {i}" for i in range(10)]
    ranks = post(tei.url, "/rerank", {"query": "q", "texts": texts}).json()
    assert sorted(r["index"] for r in ranks) == list(range(10))
    assert [r["score"] for r in ranks] == sorted((r["score"] for r in ranks), reverse=True)
    assert all(list(r) == ["index", "score"] for r in ranks)  # no "text" key unless asked
    with_text = post(tei.url, "/rerank", {"query": "q", "texts": texts, "return_text": True}).json()
    assert all(list(r) == ["index", "text", "score"] and r["text"] == texts[r["index"]] for r in with_text)
    # Equal scores: the higher index first (TEI sorts ascending, then reverses).
    ties = post(tei.url, "/rerank", {"query": "q", "texts": ["same", "same", "same"]}).json()
    assert [r["index"] for r in ties] == [2, 1, 0]


@pytest.fixture(scope="module")
def reranker() -> Iterator[LocalServer]:
    with LocalServer("scripted", mode="tei", model_type="reranker") as server:
        yield server


def test_a_reranker_refuses_embeddings_with_424(reranker: LocalServer) -> None:
    info = requests.get(reranker.url + "/info", timeout=10).json()
    assert info["model_type"] == {"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}}
    not_embedding = {"error": "Backend error: Model is not an embedding model", "error_type": "Backend"}
    for path, body in [
        ("/embed", {"inputs": "x"}),
        ("/embed_all", {"inputs": "x"}),
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b"]}}),
    ]:
        r = post(reranker.url, path, body)
        assert (r.status_code, r.json()) == (424, not_embedding), path
    r = post(reranker.url, "/v1/embeddings", {"input": "x"})
    assert r.json() == {"message": "Backend error: Model is not an embedding model", "code": 424, "type": "Backend"}
    ranks = post(reranker.url, "/rerank", {"query": "q", "texts": ["a", "b"]}).json()
    assert all(0 < r["score"] < 1 for r in ranks)
    raw = post(reranker.url, "/rerank", {"query": "q", "texts": ["a", "b"], "raw_scores": True}).json()
    by_index = {r["index"]: r["score"] for r in ranks}
    for r in raw:  # the raw logit, whose sigmoid is the default score
        assert abs(1 / (1 + math.exp(-r["score"])) - by_index[r["index"]]) < 1e-9
    prediction = post(reranker.url, "/predict", {"inputs": ["q", "a"]}).json()
    assert [p["label"] for p in prediction] == ["LABEL_0"]
    # POST / is /rerank for a reranker.
    assert post(reranker.url, "/", {"query": "q", "texts": ["a"]}).json()[0]["index"] == 0


def test_a_classifier_and_a_splade_model() -> None:
    with (
        LocalServer("scripted", mode="tei", model_type="classifier") as classifier,
        LocalServer("scripted", mode="tei", pooling="splade") as splade,
    ):
        r = post(classifier.url, "/rerank", {"query": "q", "texts": ["a"]})
        assert r.json() == {"error": "Backend error: model is not a re-ranker model", "error_type": "Backend"}
        assert len(post(classifier.url, "/invocations", {"inputs": "x"}).json()) == 3
        r = post(splade.url, "/embed", {"inputs": "x"})
        assert r.json() == {
            "error": "Backend error: `normalize` is not available for SPLADE models",
            "error_type": "Backend",
        }
        sparse = post(splade.url, "/embed_sparse", {"inputs": ["hello world", "x"]}).json()
        assert [list(v) for v in sparse[0]] == [["index", "value"]] * len(sparse[0])
        assert [v["index"] for v in sparse[0]] == sorted(v["index"] for v in sparse[0]) and len(sparse[0]) == 2
        assert post(splade.url, "/embed", {"inputs": "x", "normalize": False}).status_code == 200
        r = post(splade.url, "/embed_all", {"inputs": "x"})
        assert r.json()["error"] == "Backend error: `embed_all` is not available for SPLADE models"
        assert (
            post(splade.url, "/", {"inputs": "x"}).json() == post(splade.url, "/embed_sparse", {"inputs": "x"}).json()
        )


def test_unknown_path_and_wrong_method_have_empty_bodies(tei: LocalServer) -> None:
    assert (
        requests.get(tei.url + "/nope", timeout=10).status_code,
        requests.get(tei.url + "/nope", timeout=10).content,
    ) == (404, b"")
    r = requests.get(tei.url + "/embed", timeout=10)
    assert (r.status_code, r.content) == (405, b"")


def test_faults_apply_to_tei_routes(tei: LocalServer) -> None:
    tei.configure(cold_start=2)
    for _ in range(2):
        r = post(tei.url, "/embed", {"inputs": "x"})
        assert (r.status_code, r.text) == (503, "503 Service Unavailable")
    assert post(tei.url, "/embed", {"inputs": "x"}).status_code == 200
    overloaded = {"error": "Model is overloaded", "error_type": "Overloaded"}
    tei.configure(status={"code": 429, "body": overloaded, "headers": {"Retry-After": "1"}, "count": 1})
    r = post(tei.url, "/rerank", {"query": "q", "texts": ["a"]})
    assert (r.status_code, r.json(), r.headers["Retry-After"]) == (429, overloaded, "1")
    assert post(tei.url, "/rerank", {"query": "q", "texts": ["a"]}).status_code == 200
    tei.configure(reset=1)
    with pytest.raises(requests.ConnectionError):
        post(tei.url, "/v1/embeddings", {"input": "x"})
    tei.configure(stall_before=5.0)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            tei.url + "/similarity", json={"inputs": {"source_sentence": "a", "sentences": ["b"]}}, timeout=0.3
        )
    tei.configure(stall_before=0.0)
    # /info, /health and /tokenize are not faulted by default; the routes field chooses.
    tei.configure(cold_start=1)
    assert requests.get(tei.url + "/info", timeout=10).status_code == 200
    assert post(tei.url, "/tokenize", {"inputs": "x"}).status_code == 200
    assert tei.stats()["requests"]["/embed"] == 3 and tei.stats()["requests"]["/similarity"] == 1
    assert tei.last_request() is not None
    with pytest.raises(ValueError, match="when the server starts"):
        tei.configure(mode="tgi")


def test_lone_surrogate_escape_is_refused_like_serde(tei: LocalServer) -> None:
    body = '{"inputs": "a\\ud800b"}'
    r = requests.post(tei.url + "/embed", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    status, text = plain(r)
    assert status == 400 and "lone surrogate" in text
    paired = '{"inputs": "a\\ud83d\\ude00b"}'  # a valid pair is one character
    r = requests.post(tei.url + "/embed", data=paired, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200


async def test_a_failing_model_answers_teis_424_backend() -> None:
    from aiohttp import web

    from hf_endpoint.server._faults import ControlState
    from hf_endpoint.server._tei_app import TeiConfig, build_tei_app
    from hf_endpoint.server._tei_scripted import ScriptedTeiModel

    class Broken(ScriptedTeiModel):
        def embed(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("out of memory")

    runner = web.AppRunner(build_tei_app(Broken(), TeiConfig(), ControlState(backend_defaults={})))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        import aiohttp

        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://{host}:{port}/embed", json={"inputs": "x"}) as r,
        ):
            assert (r.status, await r.json()) == (
                424,
                {"error": "Backend error: RuntimeError: out of memory", "error_type": "Backend"},
            )
    finally:
        await runner.cleanup()
