"""``ChatHFEndpoint`` against the local scripted TGI server: construction, secrets, parameters, metadata,
streaming, callbacks, async and errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from lc_helpers import TokenRecorder, last_body
from pydantic import ValidationError

import hf_endpoint
from hf_endpoint import AsyncTGIClient, TGIClient
from hf_endpoint._pool import shared
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint

pytestmark = pytest.mark.usefixtures("close_pooled_clients")

SERVED = "hf-endpoint/scripted"  # the scripted server's /info model_id


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in hf_endpoint.TOKEN_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------------------------- construction


def test_construction_by_name_and_alias() -> None:
    a = ChatHFEndpoint(base_url="http://127.0.0.1:9", temperature=0.2, max_tokens=7, stop="END", timeout=5)
    b = ChatHFEndpoint(endpoint_url="http://127.0.0.1:9")
    assert a.base_url == b.base_url == "http://127.0.0.1:9"
    assert a.stop == ["END"]  # a single stop string is accepted as a list
    assert (a.temperature, a.max_tokens, a.timeout) == (0.2, 7, 5)


@pytest.mark.parametrize(
    ("kwargs", "base_url", "model"),
    [
        (
            {"model": "huggingface/https://xyz.endpoints.huggingface.cloud"},
            "https://xyz.endpoints.huggingface.cloud",
            None,
        ),
        ({"model": "huggingface/my-adapter", "base_url": "http://127.0.0.1:9"}, "http://127.0.0.1:9", "my-adapter"),
        ({"model": "my-adapter", "base_url": "http://127.0.0.1:9"}, "http://127.0.0.1:9", "my-adapter"),
    ],
)
def test_seed_style_model_string(kwargs: dict[str, Any], base_url: str, model: str | None) -> None:
    llm = ChatHFEndpoint(**kwargs)
    assert (llm.base_url, llm.model) == (base_url, model)


@pytest.mark.parametrize("kwargs", [{}, {"base_url": "xyz.endpoints.huggingface.cloud"}])
def test_base_url_is_required_and_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="base_url"):
        ChatHFEndpoint(**kwargs)


@pytest.mark.parametrize("env_var", hf_endpoint.TOKEN_ENV_VARS)
def test_api_key_from_each_environment_variable(
    env_var: str, no_token_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env_var, f"hf_{env_var}")
    llm = ChatHFEndpoint(base_url="http://127.0.0.1:9")
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == f"hf_{env_var}"


def test_explicit_api_key_wins_and_none_is_fine(no_token_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ChatHFEndpoint(base_url="http://127.0.0.1:9").api_key is None  # local servers need no token
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    llm = ChatHFEndpoint(base_url="http://127.0.0.1:9", api_key="hf_explicit")
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == "hf_explicit"


def test_key_never_in_repr_str_dumps_or_dumpd(no_token_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = ChatHFEndpoint(base_url="http://127.0.0.1:9", api_key="hf_SECRET_explicit")
    monkeypatch.setenv("HUGGINGFACEHUB_API_TOKEN", "hf_SECRET_env")
    from_env = ChatHFEndpoint(base_url="http://127.0.0.1:9")
    for llm in (explicit, from_env):
        for text in (repr(llm), str(llm), dumps(llm), str(dumpd(llm)), repr(llm.client), str(llm._identifying_params)):
            assert "SECRET" not in text
        assert dumpd(llm)["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["HF_TOKEN"]}


@pytest.mark.filterwarnings("ignore:The function `load` is in beta")
def test_dumpd_round_trip_without_the_key() -> None:
    llm = ChatHFEndpoint(base_url="http://127.0.0.1:9", api_key="hf_secret", temperature=0, stop=["x"], route="chat")
    data = dumpd(llm)
    assert data["id"] == ["langchain_hf_endpoint", "ChatHFEndpoint"]
    loaded = load(
        data,
        valid_namespaces=["langchain_hf_endpoint"],
        allowed_objects=[ChatHFEndpoint],
        secrets_map={"HF_TOKEN": "hf_secret"},
    )
    assert isinstance(loaded, ChatHFEndpoint)
    assert loaded._identifying_params == llm._identifying_params
    assert loaded.api_key is not None
    assert loaded.api_key.get_secret_value() == "hf_secret"


def test_clients_are_lazy_pooled_and_shared(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, timeout=41)
    assert scripted.stats()["total"] == 0  # constructing sends nothing
    twin = ChatHFEndpoint(base_url=scripted.url, timeout=41, temperature=0.5)  # request params do not matter
    other = ChatHFEndpoint(base_url=scripted.url, timeout=42)
    assert llm.client is twin.client
    assert llm.client is not other.client
    assert "client" not in dumpd(llm)["kwargs"]
    llm.invoke("hi")
    twin.invoke("hi")
    llm.close()
    assert twin.invoke("hi").content  # closing only drops the pool: the next call reconnects


async def test_changed_connection_fields_take_effect(scripted: LocalServer) -> None:
    """The settings a model's calls are pooled by are remembered, but a field changed after construction (or in a
    copy) is seen by the next call."""
    with LocalServer(backend="scripted") as second:
        llm = ChatHFEndpoint(base_url=scripted.url)
        assert llm.invoke("hi").content
        llm.base_url = second.url
        assert llm.invoke("hi").content and (await llm.ainvoke("hi")).content
        assert second.stats()["requests"]["/v1/chat/completions"] == 2
        copy = llm.model_copy(update={"base_url": scripted.url, "timeout": 7})
        before = scripted.stats()["requests"]["/v1/chat/completions"]
        assert copy.invoke("hi").content
        assert scripted.stats()["requests"]["/v1/chat/completions"] == before + 1
        assert copy.client is not llm.client and copy.client.base_url == scripted.url
        await llm.aclose()


# --------------------------------------------------------------------------------------------- requests


def test_parameters_reach_the_server(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(
        base_url=scripted.url,
        temperature=0.3,
        max_tokens=11,
        top_p=0.9,
        seed=4,
        stop=["END"],
        model_kwargs={"frequency_penalty": 0.5},
    )
    llm.invoke([SystemMessage("be brief"), HumanMessage("hi")])
    body = last_body(scripted)
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == (0.3, 11, 0.9, 4)
    assert body["stop"] == ["END"]  # stop= at construction is sent (ChatHuggingFace ignored it)
    assert body["frequency_penalty"] == 0.5
    llm.invoke("hi", stop=["STOP"], max_tokens=5)
    body = last_body(scripted)
    assert (body["stop"], body["max_tokens"]) == (["STOP"], 5)  # per-call values win


def test_unknown_parameter_is_a_typed_error(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url)
    with pytest.raises(hf_endpoint.InvalidRequestError, match="bogus"):
        llm.invoke("hi", bogus=1)
    assert scripted.stats()["total"] == 0  # refused before sending


# --------------------------------------------------------------------------------------------- responses


def test_invoke_usage_and_response_metadata(scripted: LocalServer) -> None:
    msg = ChatHFEndpoint(base_url=scripted.url).invoke("hi")
    assert msg.content == "Hello from the scripted backend."
    usage = msg.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    meta = msg.response_metadata
    assert meta["model_name"] == SERVED  # the served model, not the URL
    assert meta["model_provider"] == "huggingface"
    assert meta["finish_reason"] == "stop"
    assert "logprobs" not in meta
    # The server's timing headers (seconds): a saturated endpoint shows its queue here.
    assert meta["timings"]["queue_time"] >= 0 and meta["timings"]["total_time"] >= meta["timings"]["inference_time"]
    assert meta["timings"]["generated_tokens"] == usage["output_tokens"]


def test_stream_timings_in_response_metadata(scripted: LocalServer) -> None:
    """Time to first token and tokens per second, measured by the client, on the stream's last chunk."""
    chunks = list(ChatHFEndpoint(base_url=scripted.url).stream("hi"))
    assert all("timings" not in c.response_metadata for c in chunks[:-1])
    timings = _aggregate(iter(chunks)).response_metadata["timings"]
    assert timings["time_to_first_token"] > 0 and timings["tokens_per_second"] > 0


def test_model_name_on_the_native_route_comes_from_info(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, route="generate", chat_template="chatml")
    assert llm.invoke("hi").response_metadata["model_name"] == SERVED
    assert last_body(scripted)["inputs"].startswith("<|im_start|>user")
    full = _aggregate(llm.stream("hi"))
    assert full.response_metadata["model_name"] == SERVED


def test_adapter_model_is_sent_and_reported(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, model="my-lora")
    msg = llm.invoke("hi")
    assert last_body(scripted)["model"] == "my-lora"
    assert msg.response_metadata["model_name"] == "my-lora"
    assert llm._get_ls_params()["ls_model_name"] == "my-lora"


def test_logprobs_when_requested(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, logprobs=True, top_logprobs=2)
    msg = llm.invoke("hi")
    content = msg.response_metadata["logprobs"]["content"]
    assert "".join(t["token"] for t in content).startswith(msg.text)
    assert all(t["logprob"] <= 0 for t in content)
    assert len(content[0]["top_logprobs"]) == 2
    full = _aggregate(llm.stream("hi"))
    assert [t["token"] for t in full.response_metadata["logprobs"]["content"]] == [t["token"] for t in content]


def _aggregate(chunks: Any) -> AIMessageChunk:
    full = None
    for chunk in chunks:
        full = chunk if full is None else full + chunk
    assert isinstance(full, AIMessageChunk)
    return full


def test_stream_usage_once_on_the_last_chunk(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url)
    chunks = list(llm.stream("hi"))
    assert len(chunks) > 2
    with_usage = [i for i, c in enumerate(chunks) if c.usage_metadata]
    assert with_usage == [len(chunks) - 1]
    last = chunks[-1]
    assert last.chunk_position == "last"
    assert last.response_metadata["model_name"] == SERVED
    assert last.response_metadata["finish_reason"] == "stop"
    assert sum(1 for c in chunks if "model_name" in c.response_metadata) == 1
    assert "".join(c.text for c in chunks) == "Hello from the scripted backend."
    assert llm.invoke("hi").usage_metadata == last.usage_metadata


def test_stream_usage_can_be_turned_off(scripted: LocalServer) -> None:
    assert not any(c.usage_metadata for c in ChatHFEndpoint(base_url=scripted.url, stream_usage=False).stream("hi"))
    assert not any(c.usage_metadata for c in ChatHFEndpoint(base_url=scripted.url).stream("hi", stream_usage=False))


def test_on_llm_new_token_per_chunk(scripted: LocalServer) -> None:
    recorder = TokenRecorder()
    chunks = list(ChatHFEndpoint(base_url=scripted.url).stream("hi", config={"callbacks": [recorder]}))
    assert recorder.tokens == [c.text for c in chunks]
    assert [c.message for c in recorder.chunks] == chunks


async def test_on_llm_new_token_per_chunk_async(scripted: LocalServer) -> None:
    recorder = TokenRecorder()
    llm = ChatHFEndpoint(base_url=scripted.url)
    chunks = [c async for c in llm.astream("hi", config={"callbacks": [recorder]})]
    assert recorder.tokens == [c.text for c in chunks]


def test_streaming_true_makes_invoke_stream(scripted: LocalServer) -> None:
    recorder = TokenRecorder()
    msg = ChatHFEndpoint(base_url=scripted.url, streaming=True).invoke("hi", config={"callbacks": [recorder]})
    assert len(recorder.tokens) > 2
    assert msg.content == "".join(recorder.tokens)
    assert msg.usage_metadata is not None
    assert last_body(scripted)["stream"] is True


def test_batch(scripted: LocalServer) -> None:
    results = ChatHFEndpoint(base_url=scripted.url).batch(["a", "b", "c"])
    assert [r.content for r in results] == ["Hello from the scripted backend."] * 3


async def test_real_async_on_the_event_loop_thread(scripted: LocalServer) -> None:
    # Unique settings, so that this test sees only its own pooled clients.
    llm = ChatHFEndpoint(base_url=scripted.url, timeout=77)
    settings = llm._settings()
    results = await asyncio.gather(llm.ainvoke("a"), llm.ainvoke("b"), *[llm.ainvoke("c") for _ in range(8)])
    assert all(r.content for r in results)
    full = None
    async for chunk in llm.astream("hi"):
        full = chunk if full is None else full + chunk
    assert full is not None and full.usage_metadata is not None
    # The shared async client did the work; no sync client was made for a thread pool.
    assert shared.peek(AsyncTGIClient, *settings) is not None
    assert shared.peek(TGIClient, *settings) is None
    await llm.aclose()


async def test_abatch(scripted: LocalServer) -> None:
    results = await ChatHFEndpoint(base_url=scripted.url).abatch(["a", "b"])
    assert [r.content for r in results] == ["Hello from the scripted backend."] * 2


IMAGE = HumanMessage(
    [{"type": "text", "text": "What is this?"}, {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"}]
)


def test_images_go_to_the_messages_api(scripted: LocalServer) -> None:
    assert ChatHFEndpoint(base_url=scripted.url).invoke([IMAGE]).content
    parts = last_body(scripted)["messages"][0]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def test_images_on_the_native_route_are_inline(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, route="generate", chat_template="chatml")
    assert llm.invoke([IMAGE]).content
    assert "What is this?![](data:image/png;base64,iVBORw0KGgo=)<|im_end|>" in last_body(scripted)["inputs"]


# --------------------------------------------------------------------------------------------- tracing


def test_ls_params_and_identifying_params(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, temperature=0.1, max_tokens=9, stop=["x"], timeout=63)
    ls = llm._get_ls_params()
    assert ls["ls_provider"] == "huggingface"
    assert ls["ls_model_type"] == "chat"
    assert (ls["ls_temperature"], ls["ls_max_tokens"], ls["ls_stop"]) == (0.1, 9, ["x"])
    assert ls["ls_model_name"] == scripted.url  # before any call only the URL is known; tracing sends nothing
    llm.invoke("hi")
    assert llm._get_ls_params()["ls_model_name"] == SERVED  # once /info was read: the served model
    assert llm._get_ls_params(stop=["y"])["ls_stop"] == ["y"]
    assert llm._get_ls_params(model="adapter-2")["ls_model_name"] == "adapter-2"
    assert llm._identifying_params["base_url"] == scripted.url
    assert llm._llm_type == "hf-endpoint-chat"


# --------------------------------------------------------------------------------------------- errors


def test_server_errors_are_typed_with_the_server_message(scripted: LocalServer) -> None:
    scripted.configure(
        status={"code": 422, "body": {"error": "Input validation error: too long", "error_type": "validation"}}
    )
    with pytest.raises(hf_endpoint.RequestValidationError, match="too long") as info:
        ChatHFEndpoint(base_url=scripted.url).invoke("hi")
    assert info.value.status_code == 422


@pytest.mark.parametrize(
    ("shape", "error"),
    # TGI's OpenAI-shaped in-stream error always says 422 and has no type: without a known message prefix it is the
    # generation's error (the README's promise); the native shape carries the real error type.
    [("openai", hf_endpoint.GenerationError), ("tgi", hf_endpoint.GenerationError)],
)
def test_error_inside_a_stream_is_typed(scripted: LocalServer, shape: str, error: type[Exception]) -> None:
    fault = {"after": 2, "shape": shape, "message": "CUDA out of memory", "error_type": "generation"}
    scripted.configure(stream_error=fault)
    received: list[AIMessageChunk] = []

    def consume() -> None:
        for chunk in ChatHFEndpoint(base_url=scripted.url).stream("hi"):
            received.append(chunk)

    with pytest.raises(error, match="CUDA out of memory"):
        consume()
    assert len(received) == 2  # what arrived before the error was delivered, once


async def test_rate_limit_without_retries_is_typed(scripted: LocalServer) -> None:
    scripted.configure(status={"code": 429, "body": {"error": "Model is overloaded", "error_type": "overloaded"}})
    with pytest.raises(hf_endpoint.RateLimitError, match="overloaded"):
        await ChatHFEndpoint(base_url=scripted.url, max_retries=0).ainvoke("hi")


def test_cold_start_is_retried(scripted: LocalServer) -> None:
    scripted.configure(cold_start=2)
    assert ChatHFEndpoint(base_url=scripted.url, max_retries=3).invoke("hi").content


_CHANGES = st.lists(
    st.one_of(
        st.tuples(
            st.just("base_url"), st.sampled_from(["http://127.0.0.1:9", "http://127.0.0.1:8/v1", "http://[::1]:7"])
        ),
        st.tuples(st.just("timeout"), st.none() | st.floats(1, 600)),
        st.tuples(st.just("max_retries"), st.integers(0, 5)),
        st.tuples(st.just("cold_start_timeout"), st.floats(0, 600)),
        st.tuples(st.just("route"), st.sampled_from(["auto", "chat", "generate"])),
        st.tuples(st.just("chat_template"), st.sampled_from([None, "chatml", "qa"])),
        st.tuples(st.just("verify"), st.booleans()),
        st.tuples(st.just("allow_insecure_http"), st.booleans()),
    ),
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(_CHANGES)
def test_settings_follow_every_field_change(changes: list[tuple[str, Any]]) -> None:
    """``_settings()`` reads its private attributes through ``__pydantic_private__`` and remembers its result (a fast
    path): after any field changes it equals what a fresh model with those fields builds."""
    llm = ChatHFEndpoint(base_url="http://127.0.0.1:9")
    llm._settings()
    for name, value in changes:
        setattr(llm, name, value)
        fresh = ChatHFEndpoint(
            **{
                f: getattr(llm, f)
                for f in (
                    "base_url",
                    "timeout",
                    "max_retries",
                    "cold_start_timeout",
                    "route",
                    "chat_template",
                    "verify",
                    "allow_insecure_http",
                )
            }
        )
        assert llm._settings() == fresh._settings()
