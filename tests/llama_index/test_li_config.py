"""Construction, ``metadata`` from ``/info``, and keeping the API key secret."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage

from hf_endpoint import Info, InvalidRequestError
from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint

KEY = "hf_topsecret_0123456789"
MESSAGES = [ChatMessage(role="user", content="hi")]


@pytest.fixture(scope="module")
def small_server() -> Iterator[LocalServer]:
    """A scripted server with a window where max_input_tokens binds: 2048 total, prompts up to 1024."""
    with LocalServer("scripted", model_id="acme/small-model", max_total_tokens=2048, max_input_tokens=1024) as srv:
        yield srv


def test_metadata_from_info(llm: HFEndpoint) -> None:
    meta = llm.metadata
    assert meta.model_name == "hf-endpoint/scripted"
    assert meta.context_window == 4096  # max_total_tokens (the server accepts prompts up to 4095)
    assert meta.num_output == 256
    assert meta.is_chat_model
    assert meta.is_function_calling_model


@pytest.mark.parametrize("legacy", [[], ["info_max_input_length"]], ids=["max_input_tokens", "max_input_length"])
def test_metadata_both_field_generations(make_llm: Any, small_server: LocalServer, legacy: list[str]) -> None:
    small_server.configure(legacy=legacy)
    try:
        llm = make_llm(small_server.url, max_tokens=100)
        meta = llm.metadata
    finally:
        small_server.reset()
    assert meta.model_name == "acme/small-model"
    assert meta.context_window == 1024 + 100  # the largest prompt the server accepts, plus the answer
    assert meta.num_output == 100


def test_metadata_fetched_once_and_overridable(make_llm: Any, scripted: LocalServer) -> None:
    llm = make_llm()
    for _ in range(3):
        assert llm.metadata.context_window == 4096
        llm.chat(MESSAGES)
    assert scripted.stats()["requests"].get("/info") == 1
    fixed = make_llm(context_window=1000, max_tokens=50)
    assert (fixed.metadata.context_window, fixed.metadata.num_output) == (1000, 50)
    assert fixed.metadata.model_name == "hf-endpoint/scripted"  # still the server's


async def test_metadata_after_async_call_needs_no_sync_request(make_llm: Any, scripted: LocalServer) -> None:
    llm = make_llm()
    await llm.achat(MESSAGES)
    assert llm.metadata.model_name == "hf-endpoint/scripted"
    assert scripted.stats()["requests"].get("/info") == 1  # fetched by the async client, not again by metadata


def test_payload(make_llm: Any) -> None:
    payload = make_llm(api_key=KEY).to_payload()
    assert payload["class_name"] == "HFEndpoint"
    assert payload["model_name"] == "hf-endpoint/scripted"
    assert KEY not in json.dumps(payload)


def test_payload_follows_changed_fields(make_llm: Any) -> None:
    llm = make_llm()
    first = llm.to_payload()
    first["num_output"] = -1  # each caller gets its own dict
    assert llm.to_payload()["num_output"] != -1
    llm.max_tokens, llm.context_window = 77, 1000
    assert (llm.to_payload()["num_output"], llm.to_payload()["context_window"]) == (77, 1000)


async def test_payload_in_an_event_loop_makes_no_blocking_request(make_llm: Any, scripted: LocalServer) -> None:
    llm = make_llm()
    assert llm.to_payload()["model_name"] == "unknown"  # not known yet, and not fetched with a blocking call
    assert scripted.stats()["requests"].get("/info") is None
    await llm.achat(MESSAGES)
    assert llm.to_payload()["model_name"] == "hf-endpoint/scripted"


def test_no_info_falls_back_loudly(make_llm: Any, scripted: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    scripted.configure(mode="openai")  # a vLLM-like engine: /v1 only
    llm = make_llm()
    with caplog.at_level(logging.WARNING, logger="llama_index_hf_endpoint"):
        assert llm.metadata.context_window == 3900
    assert "Pass context_window=" in caplog.text
    assert llm.chat(MESSAGES).message.content == "Hello from the scripted backend."


def test_api_key_never_shown_or_serialized(make_llm: Any, scripted: LocalServer) -> None:
    llm = make_llm(api_key=KEY, headers={"X-Extra": "1"})
    shown = [repr(llm), str(llm), llm.to_json(), json.dumps(llm.to_dict()), llm.model_dump_json()]
    for text in shown:
        assert KEY not in text
        assert "X-Extra" not in text
    assert "api_key" not in llm.to_dict()
    llm.chat(MESSAGES)
    headers = scripted.last_request()["headers"]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["X-Extra"] == "1"


def test_pickle_drops_the_key(make_llm: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    llm = make_llm(api_key=KEY)
    with caplog.at_level(logging.WARNING):
        data = pickle.dumps(llm)
    assert KEY.encode() not in data
    clone = pickle.loads(data)
    assert clone.base_url == llm.base_url
    assert clone.chat(MESSAGES).message.content == "Hello from the scripted backend."
    asyncio.run(clone.aclose())


def test_api_key_from_environment(make_llm: Any, scripted: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUGGINGFACEHUB_API_TOKEN", KEY)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    make_llm().chat(MESSAGES)
    assert scripted.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"


def test_deepcopy(make_llm: Any, scripted: LocalServer) -> None:
    llm = make_llm(api_key=KEY, max_tokens=7)
    clone = copy.deepcopy(llm)
    try:
        assert clone.max_tokens == 7
        assert clone.metadata.num_output == 7
        assert clone._client is llm._client  # the same options share one client (hf_endpoint._pool)
        clone.chat(MESSAGES)
        assert scripted.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"
    finally:
        clone.close()


def test_round_trip_through_to_dict(llm: HFEndpoint) -> None:
    clone = HFEndpoint.from_dict(llm.to_dict())
    try:
        assert clone.to_dict() == llm.to_dict()
        assert clone.complete("hi").text == "Hello from the scripted backend."
    finally:
        clone.close()


def test_invalid_construction() -> None:
    with pytest.raises(InvalidRequestError, match="not an http"):
        HFEndpoint(base_url="localhost:8080")
    with pytest.raises(ValueError, match="route"):
        HFEndpoint(base_url="http://127.0.0.1:1", route="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens"):
        HFEndpoint(base_url="http://127.0.0.1:1", max_tokens=0)


def test_context_manager(scripted_url: str) -> None:
    with HFEndpoint(base_url=scripted_url) as llm:
        assert llm.complete("hi").text


async def test_async_context_manager(scripted_url: str) -> None:
    async with HFEndpoint(base_url=scripted_url) as llm:
        assert (await llm.acomplete("hi")).text


def test_imports_no_langchain() -> None:
    """A LlamaIndex user never imports LangChain (checked in a fresh interpreter)."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, llama_index_hf_endpoint; print([m for m in sys.modules if m.startswith('langchain')])"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("max_tokens"), st.none() | st.integers(1, 4096)),
            st.tuples(st.just("context_window"), st.none() | st.integers(16, 8192)),
            st.tuples(st.just("model"), st.none() | st.sampled_from(["a", "b"])),
            st.tuples(st.just("is_chat_model"), st.booleans()),
            st.tuples(
                st.just("_info"),
                st.none()
                | st.builds(Info, model_id=st.sampled_from(["m1", "m2"]), max_total_tokens=st.integers(64, 4096)),
            ),
        ),
        max_size=6,
    )
)
def test_payload_follows_every_change(changes: list[tuple[str, Any]]) -> None:
    """to_payload reads its private attributes through __pydantic_private__ (a fast path) and remembers its result:
    after any change it is what the plain attribute reads give (``metadata``)."""
    llm = HFEndpoint(base_url="http://127.0.0.1:9")
    llm._info_known = True  # (nothing to fetch: the server is not there)
    for name, value in changes:
        setattr(llm, name, value)
        assert llm.to_payload() == {"class_name": "HFEndpoint", **llm.metadata.model_dump()}
