"""Every public call of both shells against a real TGI-protocol server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import jsonschema
import pytest

from hf_endpoint import (
    ChatCompletion,
    ContextWindowExceededError,
    GenerateResponse,
    InvalidRequestError,
    NotFoundError,
    StreamResponse,
    TGIClient,
    completion,
)
from hf_endpoint.server import LocalServer

from ._twin import Twin

HI = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "tags"],
}


def sent_body(srv: LocalServer) -> dict:
    last = srv.last_request()
    assert last is not None
    body = last["body"]
    return json.loads(body) if isinstance(body, str) else body


# ------------------------------------------------------------------------------------------------ server facts


def test_info_is_cached(twin: Twin, srv: LocalServer) -> None:
    info = twin.info()
    assert info.model_id == "hf-endpoint/scripted" and info.max_total_tokens == 4096
    assert twin.info() is info
    assert srv.stats()["requests"].get("/info") == 1


def test_info_before_2_1_reads_max_input_length(twin: Twin, srv: LocalServer) -> None:
    srv.configure(legacy=["info_max_input_length"])
    assert twin.info().max_input_tokens == 4095


def test_info_missing_means_openai_compatible_engine(
    twin: Twin, srv: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    srv.configure(mode="openai")
    with caplog.at_level(logging.INFO, logger="hf_endpoint"):
        assert twin.info() is None
        result = twin.chat(HI)
    assert result.route == "chat" and result.content
    assert "OpenAI-compatible engine" in caplog.text
    assert sent_body(srv)["model"] == "hf-endpoint/scripted"  # vLLM-like servers want their model's name


def test_native_calls_on_an_openai_compatible_server_say_it_has_no_native_routes(twin: Twin, srv: LocalServer) -> None:
    srv.configure(mode="openai")
    with pytest.raises(NotFoundError, match=r"base_url is not the server.s root.*OpenAI-compatible only"):
        twin.generate("Hello", max_new_tokens=3)  # before anything told the client what the server is: both causes
    assert twin.info() is None  # now it knows: no /info, so not TGI
    for call, args in (("generate", ("Hello",)), ("tokenize", ("Hello",)), ("generate_stream", ("Hello",))):
        with pytest.raises(NotFoundError) as info:
            getattr(twin, call)(*args)
        assert "no native" in str(info.value) or "without TGI's native routes" in str(info.value)
        assert "check the endpoint URL" not in str(info.value) and "use chat()" in str(info.value).lower()


def test_health_and_tokenize(twin: Twin) -> None:
    assert twin.health() is True
    tokens = twin.tokenize("Hello world")
    assert [t.text for t in tokens] and all(isinstance(t.id, int) for t in tokens)


# ----------------------------------------------------------------------------------------------- native route


def test_generate_with_details_and_fixups(twin: Twin, srv: LocalServer) -> None:
    result = twin.generate("Hello", max_new_tokens=4, details=True, temperature=0, top_p=1.0, stop="zzz")
    assert isinstance(result, GenerateResponse)
    assert result.details is not None and result.details.finish_reason == "length"
    assert len(result.details.tokens) == result.details.generated_tokens == 4
    assert result.generated_text == "".join(t.text for t in result.details.tokens)
    assert result.prompt_tokens == 1  # from the server's x-prompt-tokens header
    params = sent_body(srv)["parameters"]
    # temperature=0 -> greedy, top_p=1.0 dropped (TGI rejects both), stop as a list
    assert params == {"max_new_tokens": 4, "details": True, "do_sample": False, "stop": ["zzz"]}


def test_generate_best_of_top_tokens_prefill(twin: Twin) -> None:
    result = twin.generate(
        "Hello there", max_new_tokens=3, details=True, best_of=2, top_n_tokens=2, decoder_input_details=True
    )
    details = result.details
    assert details.best_of_sequences and len(details.best_of_sequences) == 1
    assert details.top_tokens and len(details.top_tokens) == 3 and len(details.top_tokens[0]) == 2
    assert details.prefill and details.prefill[0].logprob is None


def test_generate_stop_sequence(twin: Twin) -> None:
    result = twin.generate("Hello", max_new_tokens=20, details=True, stop=[" scripted"])
    assert result.details.finish_reason == "stop_sequence"
    assert result.generated_text.endswith(" scripted")  # TGI keeps the stop text on /generate


def test_generate_stream_tokens_concatenate(twin: Twin) -> None:
    events = twin.generate_stream("Hello", max_new_tokens=6, details=True)
    assert all(isinstance(e, StreamResponse) for e in events)
    assert events[-1].generated_text == "".join(e.token.text for e in events if not e.token.special)
    assert events[-1].details.generated_tokens == len(events) and events[-1].details.input_length == 1
    assert all(e.generated_text is None for e in events[:-1])
    # The last event: time to first token and tokens per second, measured by the client.
    assert events[-1].timings.time_to_first_token > 0 and events[-1].timings.tokens_per_second > 0
    assert all(e.timings is None for e in events[:-1])


# -------------------------------------------------------------------------------------------------- chat route


def test_chat_returns_openai_shape(twin: Twin, srv: LocalServer) -> None:
    result = twin.chat(HI, max_tokens=50, logprobs=True)
    assert isinstance(result, ChatCompletion) and result.route == "chat"
    assert result.content == "Hello from the scripted backend."
    choice = result.choices[0]
    assert choice.finish_reason == "stop"
    assert (
        result.usage.prompt_tokens > 0
        and result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    )
    assert choice.logprobs.sum_logprob == pytest.approx(sum(t.logprob for t in choice.logprobs.content))
    assert sent_body(srv)["model"] == "tgi"  # any other name would select a LoRA adapter on TGI


@pytest.fixture(params=["chat", "generate"])
def routed(srv: LocalServer, kind: str, request: pytest.FixtureRequest) -> Iterator[Twin]:
    """A client on either chat route: the Messages API, or the native route with a chat template."""
    options = {"route": "generate", "chat_template": "chatml"} if request.param == "generate" else {"route": "chat"}
    twin = Twin(kind, srv.url, **options)
    yield twin
    twin.close()


def test_chat_stream_matches_non_stream(routed: Twin) -> None:
    chunks = routed.chat_stream(HI, max_tokens=50)
    # Every chunk has a choice, as OpenAI and LiteLLM send them without stream_options: code that reads
    # part.choices[0].delta.content on each chunk works (it used to meet a usage-only chunk at the end).
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == routed.chat(HI, max_tokens=50).content
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.usage.completion_tokens > 0
    assert sum(1 for c in chunks if c.usage is not None) == 1
    # The stream's client-side timings ride on the last chunk.
    assert last.timings.time_to_first_token > 0 and last.timings.tokens_per_second > 0
    assert all(c.timings is None for c in chunks[:-1])


def test_results_carry_the_servers_timing_headers(routed: Twin) -> None:
    """TGI's x-* timing headers, in seconds, on chat and generate results (a growing queue_time: saturation)."""
    result = routed.chat(HI, max_tokens=5)
    t = result.timings
    assert t is not None and t.queue_time is not None and t.validation_time is not None
    assert t.total_time is not None and t.inference_time is not None and t.total_time >= t.inference_time >= 0
    assert t.compute_time is not None and t.time_per_token is not None
    assert (t.prompt_tokens, t.generated_tokens) == (result.usage.prompt_tokens, result.usage.completion_tokens)
    generated = routed.generate("Hello", max_new_tokens=4, details=True)
    assert generated.timings is not None and generated.timings.generated_tokens == generated.details.generated_tokens


def test_stream_options_include_usage_adds_the_usage_only_chunk(routed: Twin) -> None:
    chunks = routed.chat_stream(HI, max_tokens=50, stream_options={"include_usage": True})
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0  # OpenAI's shape, as asked
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].usage is None
    assert chunks[-1].timings.time_to_first_token > 0


def test_chat_stop_is_removed_like_openai(twin: Twin) -> None:
    result = twin.chat(HI, stop=[" backend"])
    assert result.content == "Hello from the scripted" and result.choices[0].finish_reason == "stop"
    chunks = twin.chat_stream(HI, stop=[" backend"])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from the scripted"


def test_legacy_chat_formats_are_normalised(twin: Twin, srv: LocalServer) -> None:
    srv.configure(
        legacy=[
            "object_text_completion",
            "finish_reason_eos_token",
            "data_no_space",
            "tool_arguments_object",
            "tool_call_id_int",
        ]
    )
    result = twin.chat(HI)
    assert result.object == "chat.completion" and result.choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in twin.chat_stream(HI) if c.choices)
    assert text == result.content
    call = twin.chat(HI, tools=[WEATHER]).choices[0].message.tool_calls[0]
    assert call.id == "0" and json.loads(call.function.arguments)["unit"] in ("c", "f")


@pytest.mark.parametrize("route", ["chat", "generate"])
def test_tool_call_round_trip(srv: LocalServer, kind: str, route: str) -> None:
    twin = Twin(kind, srv.url, chat_template="chatml")
    try:
        first = twin.chat([{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER, TIME], route=route)
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        call = choice.message.tool_calls[0]
        assert call.function.name == "get_weather" and call.id
        jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])
        history = [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"},
        ]
        second = twin.chat(history, tools=[WEATHER, TIME], route=route)
        assert second.choices[0].finish_reason == "stop" and second.content
        assert second.choices[0].message.tool_calls is None
        if route == "chat":
            sent = sent_body(srv)["messages"][1]
            assert "content" not in sent and sent["tool_calls"]  # TGI drops tool_calls when content is also sent
    finally:
        twin.close()


@pytest.mark.parametrize("route", ["chat", "generate"])
def test_streamed_tool_call(srv: LocalServer, kind: str, route: str) -> None:
    twin = Twin(kind, srv.url, chat_template="chatml")
    try:
        chunks = twin.chat_stream(HI, tools=[WEATHER], tool_choice="required", route=route)
        pieces = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
        assert pieces[0].function.name == "get_weather" and pieces[0].id
        args = json.loads("".join(p.function.arguments or "" for p in pieces))
        jsonschema.validate(args, WEATHER["function"]["parameters"])
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert reasons == ["tool_calls"]
    finally:
        twin.close()


@pytest.mark.parametrize("choice", ["none", "get_time", {"type": "function", "function": {"name": "get_time"}}, "any"])
def test_tool_choice_forms(twin: Twin, srv: LocalServer, choice: object) -> None:
    result = twin.chat(HI, tools=[WEATHER, TIME], tool_choice=choice)
    sent = sent_body(srv)["tool_choice"]
    if choice == "none":
        assert result.choices[0].message.tool_calls is None and sent == "none"
    elif choice == "any":
        assert sent == "required" and result.choices[0].finish_reason == "tool_calls"
    else:
        assert result.choices[0].message.tool_calls[0].function.name == "get_time"


@pytest.mark.parametrize("route", ["chat", "generate"])
@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
        {"type": "json", "value": PERSON},
    ],
    ids=["openai", "tgi"],
)
def test_structured_output_validates(srv: LocalServer, kind: str, route: str, fmt: dict) -> None:
    twin = Twin(kind, srv.url, chat_template="chatml")
    try:
        result = twin.chat(HI, response_format=fmt, route=route)
        jsonschema.validate(json.loads(result.content), PERSON)
        grammar = sent_body(srv)["response_format" if route == "chat" else "parameters"]
        grammar = grammar if route == "chat" else grammar["grammar"]
        assert grammar == {"type": "json", "value": PERSON}  # TGI's form, accepted since 1.4.1
    finally:
        twin.close()


def test_native_route_prompt_and_stops(srv: LocalServer, kind: str) -> None:
    twin = Twin(kind, srv.url, chat_template="chatml")
    try:
        result = twin.chat([{"role": "system", "content": "Be brief."}, *HI], route="generate", max_tokens=30)
        assert result.route == "generate" and result.content == "Hello from the scripted backend."
        body = sent_body(srv)
        assert (
            body["inputs"]
            == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        )
        assert (
            body["parameters"]["stop"] == ["<|im_end|>", "<|endoftext|>"] and body["parameters"]["max_new_tokens"] == 30
        )
        assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    finally:
        twin.close()


def test_auto_falls_back_to_native_route_without_server_template(kind: str) -> None:
    with LocalServer(backend="scripted", model_id="HuggingFaceH4/zephyr-7b-beta") as srv:
        srv.configure(
            status={
                "code": 422,
                "count": 1,
                "content_type": "application/json",
                "body": '{"error":"Template error: template not found","error_type":"template_error"}',
            },
            routes=["/v1/chat/completions"],
        )
        twin = Twin(kind, srv.url)
        try:
            result = twin.chat(HI)
            assert result.route == "generate" and result.content
            assert sent_body(srv)["inputs"].startswith("<|user|>\nHi</s>")  # zephyr's built-in template
        finally:
            twin.close()


def test_per_call_model_survives_the_fallback_to_the_native_route(kind: str) -> None:
    """A LoRA adapter named per call is sent as adapter_id when the Messages API turns out to be missing."""
    with LocalServer(backend="scripted", model_id="HuggingFaceH4/zephyr-7b-beta") as srv:
        srv.configure(
            status={
                "code": 422,
                "count": 1,
                "content_type": "application/json",
                "body": '{"error":"Template error: template not found","error_type":"template_error"}',
            },
            routes=["/v1/chat/completions"],
        )
        twin = Twin(kind, srv.url)
        try:
            result = twin.chat(HI, model="my-lora")
            assert result.route == "generate"
            assert sent_body(srv)["parameters"]["adapter_id"] == "my-lora"
            assert result.model == "my-lora"
        finally:
            twin.close()


# ---------------------------------------------------------------------------------------------- context budget


def test_max_tokens_is_clamped_to_the_window(twin: Twin, srv: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hf_endpoint"):
        result = twin.chat(HI, max_tokens=100_000)
    assert result.content
    assert "does not fit" in caplog.text
    assert sent_body(srv)["max_tokens"] == 4096 - result.usage.prompt_tokens
    events = twin.generate_stream("Hello", max_new_tokens=5000)
    assert events[-1].generated_text


def test_clamping_can_be_turned_off(srv: LocalServer, kind: str) -> None:
    twin = Twin(kind, srv.url, clamp_max_tokens=False)
    try:
        with pytest.raises(ContextWindowExceededError, match="lower max_tokens") as info:
            twin.chat(HI, max_tokens=100_000)
        assert info.value.max_total_tokens == 4096 and info.value.prompt_tokens
    finally:
        twin.close()


def test_prompt_longer_than_the_window(twin: Twin) -> None:
    with pytest.raises(ContextWindowExceededError, match="shorten it") as info:
        twin.generate("word " * 5000, max_new_tokens=5)
    assert info.value.status_code == 422 and info.value.prompt_tokens and info.value.prompt_tokens > 4000


# ------------------------------------------------------------------------------------------------ seed style


def test_completion_seed_style(srv: LocalServer) -> None:
    result = completion(model=f"huggingface/{srv.url}", messages=[{"role": "user", "content": "Hi"}])
    assert isinstance(result, ChatCompletion)
    assert result.content and result.choices[0].finish_reason == "stop"
    assert result.usage.total_tokens > 0
    lp = result.choices[0].logprobs
    assert lp.content and lp.sum_logprob < 0


def test_completion_reads_huggingface_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalServer(backend="scripted", api_key="hf_secret_test_key") as srv:
        for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_secret_test_key")
        assert completion(model=f"huggingface/{srv.url}", messages=HI).content
        monkeypatch.setenv("HUGGINGFACE_API_KEY", "wrong")
        from hf_endpoint import AuthenticationError

        with pytest.raises(
            AuthenticationError, match="refused the token from the HUGGINGFACE_API_KEY variable"
        ) as info:
            completion(model=f"huggingface/{srv.url}", messages=HI)
        assert info.value.status_code == 401 and "wrong" not in str(info.value)


async def test_acompletion(srv: LocalServer) -> None:
    from hf_endpoint import acompletion

    result = await acompletion(model=f"huggingface/{srv.url}", messages=HI, max_tokens=20)
    assert result.content and result.usage.completion_tokens > 0 and result.choices[0].logprobs.content


def test_code_written_for_litellm_works(srv: LocalServer) -> None:
    """LiteLLM's documented ways of reading a result and a stream (issue 13 item 5)."""
    response = completion(model=f"huggingface/{srv.url}", messages=HI, max_tokens=20)
    assert response["choices"][0]["message"]["content"] == response.content
    assert response["usage"]["total_tokens"] == response.usage.total_tokens
    assert response.get("usage") is response.usage and response.get("nothing", 1) == 1 and "choices" in response
    with pytest.raises(KeyError):
        response["content"]  # a property, not a field: item access reads fields only
    # print(response): the JSON LiteLLM's Hugging Face docs show, the summed logprobs on the message
    printed = json.loads(str(response))
    assert printed["choices"][0]["message"]["content"] == response.content
    assert printed["choices"][0]["message"]["logprobs"] == pytest.approx(response.choices[0].logprobs.sum_logprob)
    assert printed["usage"]["completion_tokens"] == response.usage.completion_tokens
    # The documented stream loop reads choices[0] on every chunk.
    parts = [
        part.choices[0].delta.content
        for part in completion(model=f"huggingface/{srv.url}", messages=HI, max_tokens=20, stream=True)
    ]
    assert "".join(p or "" for p in parts) == response.content
    first = next(iter(completion(model=f"huggingface/{srv.url}", messages=HI, max_tokens=20, stream=True)))
    assert first["choices"][0]["delta"]["role"] == "assistant" and json.loads(str(first))["object"]


async def test_acompletion_streams(srv: LocalServer) -> None:
    from hf_endpoint import acompletion

    stream = await acompletion(model=f"huggingface/{srv.url}", messages=HI, max_tokens=20, stream=True)
    text = "".join([part.choices[0].delta.content or "" async for part in stream])
    whole = await acompletion(model=f"huggingface/{srv.url}", messages=HI, max_tokens=20)
    assert text and text == whole.content


def test_completion_without_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT_URL", raising=False)
    with pytest.raises(InvalidRequestError, match="names no endpoint"):
        completion(model="huggingface/meta-llama/Llama-3.1-8B-Instruct", messages=HI)


def test_base_url_suffixes_are_tolerated(srv: LocalServer) -> None:
    with TGIClient(srv.url + "/v1/") as client:
        assert client.base_url == srv.url and client.chat(HI).content


# ---------------------------------------------------------------------------------------------- import hygiene


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("hf_endpoint", ("langchain_core", "langchain", "llama_index", "xllamacpp", "aiohttp.web")),
        ("langchain_hf_endpoint", ("llama_index", "xllamacpp")),
        ("llama_index_hf_endpoint", ("langchain_core", "langchain", "xllamacpp")),
    ],
)
def test_each_package_imports_only_its_own_framework(package: str, forbidden: tuple[str, ...]) -> None:
    code = (
        f"import sys, {package}; bad = sorted(m for m in sys.modules if m in {forbidden!r} "
        f"or m.split('.')[0] in {forbidden!r}); print(bad); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_native_route_sends_the_model_as_adapter_id(srv: LocalServer, kind: str) -> None:
    twin = Twin(kind, srv.url, chat_template="chatml", model="my-lora")
    try:
        result = twin.chat(HI, route="generate")
        assert sent_body(srv)["parameters"]["adapter_id"] == "my-lora"
        assert result.model == "my-lora"
        twin.chat(HI, route="generate", model="other-lora")
        assert sent_body(srv)["parameters"]["adapter_id"] == "other-lora"
    finally:
        twin.close()


def test_one_async_client_from_several_threads_and_loops(srv: LocalServer) -> None:
    import asyncio
    import threading

    from hf_endpoint import AsyncTGIClient

    client = AsyncTGIClient(srv.url)
    results: list[str] = []
    errors: list[BaseException] = []

    async def work() -> None:
        for _ in range(10):
            text = "".join([c.choices[0].delta.content or "" async for c in client.chat_stream(HI) if c.choices])
            results.append(text)

    def thread() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=thread) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert results == ["Hello from the scripted backend."] * 30
    asyncio.run(client.aclose())  # sessions of the finished loops are dropped without warnings
    assert client._sessions == {}
