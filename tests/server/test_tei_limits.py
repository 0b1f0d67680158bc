"""The local TEI server's limits, error shapes, auth and scripted faults, over real HTTP.

Limits are set small through the server options (``max_client_batch_size=3`` ...) so each one is hit
with a few bytes. Messages are TEI 1.9's (router/src/http/server.rs, core/src/tokenization.rs).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hf_endpoint.server import LocalServer


def post(url: str, path: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(url + path, json=body, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def small() -> Iterator[LocalServer]:
    """Scripted TEI with tiny limits: 3 inputs a request, 12 tokens an input, 4 permits, 2 kB bodies."""
    with LocalServer(
        "scripted",
        mode="tei",
        max_client_batch_size=3,
        max_input_length=12,
        max_concurrent_requests=4,
        payload_limit=2000,
        api_key="sk-test",
    ) as server:
        yield server


AUTH = {"Authorization": "Bearer sk-test"}
LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"  # 14 words + 2 specials


def test_batch_over_the_client_limit_is_a_422_validation(small: LocalServer) -> None:
    r = post(small.url, "/embed", {"inputs": ["a", "b", "c", "d"]}, headers=AUTH)
    assert (r.status_code, r.json()) == (
        422,
        {"error": "batch size 4 > maximum allowed batch size 3", "error_type": "Validation"},
    )
    assert "x-compute-tokens" not in r.headers
    r = post(small.url, "/v1/embeddings", {"input": ["a", "b", "c", "d"]}, headers=AUTH)
    assert r.json() == {"message": "batch size 4 > maximum allowed batch size 3", "code": 422, "type": "Validation"}
    # /rerank counts texts, /similarity sentences + 1, /tokenize and /decode their lists.
    assert post(small.url, "/rerank", {"query": "q", "texts": list("abcd")}, headers=AUTH).status_code == 422
    body = {"inputs": {"source_sentence": "s", "sentences": ["a", "b", "c"]}}
    assert post(small.url, "/similarity", body, headers=AUTH).json()["error"].startswith("batch size 4 >")
    assert post(small.url, "/tokenize", {"inputs": list("abcd")}, headers=AUTH).status_code == 422
    assert post(small.url, "/decode", {"ids": [[5]] * 4}, headers=AUTH).status_code == 422
    # A batch at the limit passes, and a single input is never counted.
    assert post(small.url, "/embed", {"inputs": ["a", "b", "c"]}, headers=AUTH).status_code == 200


def test_too_long_input_is_cut_or_refused_as_asked(small: LocalServer) -> None:
    refused = post(small.url, "/embed", {"inputs": LONG, "truncate": False}, headers=AUTH)
    assert (refused.status_code, refused.json()) == (
        422,
        {
            "error": "Input validation error: `inputs` must have less than 12 tokens. Given: 16",
            "error_type": "Validation",
        },
    )
    cut = post(small.url, "/embed", {"inputs": LONG}, headers=AUTH)  # auto_truncate (TEI >= 1.9 default)
    assert cut.status_code == 200 and cut.headers["x-compute-tokens"] == "12"
    right = post(small.url, "/embed", {"inputs": LONG, "truncate": True, "truncation_direction": "Right"}, headers=AUTH)
    first_ten = post(small.url, "/embed", {"inputs": " ".join(LONG.split()[:10])}, headers=AUTH)
    assert right.json() == cut.json() == first_ten.json()
    left = post(small.url, "/embed", {"inputs": LONG, "truncate": True, "truncation_direction": "left"}, headers=AUTH)
    last_ten = post(small.url, "/embed", {"inputs": " " + " ".join(LONG.split()[-10:])}, headers=AUTH)
    assert left.json() == last_ten.json() != right.json()
    # Exactly max_input_length tokens is accepted ("less than" in TEI's message is inaccurate).
    exact = post(small.url, "/embed", {"inputs": " ".join(LONG.split()[:10]), "truncate": False}, headers=AUTH)
    assert exact.status_code == 200


def test_character_precheck_refuses_without_truncation() -> None:
    text = "x" * (12 * 250 + 1)
    with LocalServer("scripted", mode="tei", max_input_length=12) as server:
        r = post(server.url, "/embed", {"inputs": text, "truncate": False})
        assert r.json()["error"] == "Input validation error: `inputs` must have less than 3000 characters. Given: 3001"
        assert post(server.url, "/embed", {"inputs": text}).status_code == 200
        r = post(server.url, "/tokenize", {"inputs": text})  # /tokenize never truncates
        assert r.status_code == 422


def test_server_without_auto_truncate_refuses_by_default() -> None:
    with LocalServer("scripted", mode="tei", max_input_length=12, auto_truncate=False, subprocess=True) as server:
        info = requests.get(server.url + "/info", timeout=10).json()
        assert info["auto_truncate"] is False
        assert post(server.url, "/embed", {"inputs": LONG}).status_code == 422
        assert post(server.url, "/embed", {"inputs": LONG, "truncate": True}).status_code == 200
        # The OpenAI route has no truncate field: the server's setting decides.
        r = post(server.url, "/v1/embeddings", {"input": LONG})
        assert r.json()["message"].startswith("Input validation error: `inputs` must have less than 12 tokens")


def test_max_input_length_above_max_batch_tokens() -> None:
    with LocalServer("scripted", mode="tei", max_batch_tokens=100) as capped:
        info = requests.get(capped.url + "/info", timeout=10).json()
        assert (info["max_input_length"], info["max_batch_tokens"]) == (100, 100)
    argv = [sys.executable, "-m", "hf_endpoint.server", "--backend", "scripted", "--mode", "tei", "--port", "0"]
    argv += ["--max-batch-tokens", "100", "--no-auto-truncate"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "The maximum input length is `512` which exceeds `--max-batch-tokens=100`" in done.stderr


def test_payload_limit_is_a_plain_text_413(small: LocalServer) -> None:
    r = post(small.url, "/embed", {"inputs": "x" * 3000}, headers=AUTH)
    assert (r.status_code, r.text) == (413, "Failed to buffer the request body: length limit exceeded")
    assert r.headers["Content-Type"].startswith("text/plain")
    assert post(small.url, "/embed", {"inputs": "x" * 1900}, headers=AUTH).status_code == 200


def test_concurrency_permits_are_counted_per_input() -> None:
    # TEI >= 1.9 takes one permit per input and fails at once when they run out, even for a batch.
    with LocalServer("scripted", mode="tei", max_concurrent_requests=2) as server:
        r = post(server.url, "/embed", {"inputs": ["a", "b", "c"]})
        assert (r.status_code, r.json()) == (429, {"error": "Model is overloaded", "error_type": "Overloaded"})
        assert post(server.url, "/embed", {"inputs": ["a", "b"]}).status_code == 200
        r = post(server.url, "/rerank", {"query": "q", "texts": ["a", "b", "c"]})
        assert r.status_code == 429
        r = post(server.url, "/v1/embeddings", {"input": ["a", "b", "c"]})
        assert r.json() == {"message": "Model is overloaded", "code": 429, "type": "Overloaded"}
        # /tokenize and /decode take no permits.
        assert post(server.url, "/tokenize", {"inputs": ["a", "b", "c"]}).status_code == 200


def test_api_key_guards_post_routes_and_info(small: LocalServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "bearer sk-test"}):
        r = post(small.url, "/embed", {"inputs": "x"}, headers=headers)
        assert (r.status_code, r.content) == (401, b"")
        assert requests.get(small.url + "/info", headers=headers, timeout=10).status_code == 401
        assert post(small.url, "/tokenize", {"inputs": "x"}, headers=headers).status_code == 401
    assert requests.get(small.url + "/health", timeout=10).status_code == 200
    assert requests.get(small.url + "/info", headers=AUTH, timeout=10).status_code == 200
    # The key is checked before the body is read: a huge body without the key is a 401, not a 413.
    assert post(small.url, "/embed", {"inputs": "x" * 3000}).status_code == 401


def test_the_api_key_stays_out_of_reprs() -> None:
    from hf_endpoint.server._tei_app import TeiConfig

    with LocalServer("scripted", mode="tei", api_key="sk-very-secret") as server:
        assert "sk-very-secret" not in repr(server)
    assert "sk-very-secret" not in repr(TeiConfig(api_key="sk-very-secret"))
