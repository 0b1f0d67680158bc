"""Route by route: responses validate against TGI's openapi.json and match the recorded shapes."""

from __future__ import annotations

import json

import pytest
import requests

from ._helpers import assert_shape, snapshot, sse_events, sse_json, validate, validate_list

PROMPT = "Test request"
WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                    "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location", "format"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_n_day_weather_forecast",
            "description": "Get an N-day weather forecast",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "num_days": {"type": "integer", "minimum": 1}},
                "required": ["location", "num_days"],
            },
        },
    },
]


def post(url: str, path: str, body: object) -> requests.Response:
    return requests.post(url + path, json=body, timeout=30)


def test_generate_matches_schema_and_snapshot(scripted_url: str) -> None:
    r = post(
        scripted_url,
        "/generate",
        {"inputs": PROMPT, "parameters": {"max_new_tokens": 10, "decoder_input_details": True}},
    )
    assert r.status_code == 200
    body = r.json()
    validate(body, "GenerateResponse")
    assert_shape(body, snapshot("test_bloom_560m.json"))
    assert body["details"]["prefill"][0]["logprob"] is None
    assert "top_tokens" not in body["details"] and "best_of_sequences" not in body["details"]


def test_generate_without_details_has_no_details_key(scripted_url: str) -> None:
    body = post(scripted_url, "/generate", {"inputs": PROMPT, "parameters": {"max_new_tokens": 3}}).json()
    validate(body, "GenerateResponse")
    assert set(body) == {"generated_text"}


def test_generate_headers_like_tgi(scripted_url: str) -> None:
    r = post(scripted_url, "/generate", {"inputs": PROMPT, "parameters": {"max_new_tokens": 4}})
    for name in (
        "x-compute-type",
        "x-compute-time",
        "x-compute-characters",
        "x-total-time",
        "x-validation-time",
        "x-queue-time",
        "x-inference-time",
        "x-time-per-token",
        "x-prompt-tokens",
        "x-generated-tokens",
    ):
        assert name in r.headers
    assert r.headers["x-generated-tokens"] == "4"
    assert r.headers["x-prompt-tokens"] == "2"


def test_generate_all_params_stop_sequence(scripted_url: str) -> None:
    params = {
        "max_new_tokens": 10,
        "repetition_penalty": 1.2,
        "return_full_text": True,
        "stop": ["scripted"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 10,
        "truncate": 5,
        "typical_p": 0.9,
        "watermark": True,
        "seed": 0,
        "details": True,
    }
    body = post(scripted_url, "/generate", {"inputs": PROMPT, "parameters": params}).json()
    validate(body, "GenerateResponse")
    assert_shape(body, snapshot("test_flash_llama_all_params.json"))
    assert body["details"]["finish_reason"] == "stop_sequence"
    assert body["generated_text"] == PROMPT + "Hello from the scripted"  # stop text kept, prompt prepended
    assert body["details"]["seed"] == 0


def test_top_n_tokens_and_best_of(scripted_url: str) -> None:
    params = {"max_new_tokens": 5, "top_n_tokens": 3, "best_of": 2, "do_sample": True, "details": True}
    body = post(scripted_url, "/generate", {"inputs": PROMPT, "parameters": params}).json()
    validate(body, "GenerateResponse")
    details = body["details"]
    assert len(details["top_tokens"]) == details["generated_tokens"] == 5
    assert all(len(tops) == 3 for tops in details["top_tokens"])
    assert len(details["best_of_sequences"]) == 1
    validate(details["best_of_sequences"][0], "BestOfSequence")
    assert isinstance(details["seed"], int)


def test_compat_route_returns_a_list(scripted_url: str) -> None:
    r = post(scripted_url, "/", {"inputs": PROMPT, "parameters": {"max_new_tokens": 3, "details": True}})
    body = r.json()
    validate_list(body, "GenerateResponse")
    assert len(body) == 1
    assert body[0]["generated_text"].startswith(PROMPT)  # return_full_text defaults to true on POST /


def test_compat_route_streams(scripted_url: str) -> None:
    r = post(scripted_url, "/", {"inputs": PROMPT, "parameters": {"max_new_tokens": 3}, "stream": True})
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = sse_json(r)
    assert len(events) == 3
    for event in events:
        validate(event, "StreamResponse")


def test_generate_stream_events(scripted_url: str) -> None:
    r = post(
        scripted_url, "/generate_stream", {"inputs": PROMPT, "parameters": {"max_new_tokens": 20, "details": True}}
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["X-Accel-Buffering"] == "no"
    assert "x-generated-tokens" not in r.headers
    raw = sse_events(r)
    assert "[DONE]" not in raw
    assert r.text.startswith("data: {")
    events = [json.loads(e) for e in raw]
    for event in events:
        validate(event, "StreamResponse")
    *middle, last = events
    assert all(e["generated_text"] is None and e["details"] is None for e in middle)
    assert [e["index"] for e in events] == list(range(1, len(events) + 1))
    validate(last["details"], "StreamDetails")
    assert last["details"]["input_length"] == 2
    assert last["token"]["special"] is True and last["details"]["finish_reason"] == "eos_token"
    text = "".join(e["token"]["text"] for e in events if not e["token"]["special"])
    assert text == last["generated_text"] == "Hello from the scripted backend."


def test_generate_stream_details_null_unless_asked(scripted_url: str) -> None:
    r = post(
        scripted_url, "/generate_stream", {"inputs": PROMPT, "parameters": {"max_new_tokens": 3, "top_n_tokens": 2}}
    )
    events = sse_json(r)
    assert events[-1]["details"] is None
    assert events[-1]["generated_text"] == "Hello from the"
    assert all(len(e["top_tokens"]) == 2 for e in events)


def test_info(scripted_url: str) -> None:
    body = requests.get(scripted_url + "/info", timeout=10).json()
    validate(body, "Info")
    for key in (
        "max_input_tokens",
        "max_total_tokens",
        "max_stop_sequences",
        "max_best_of",
        "max_client_batch_size",
        "version",
        "model_id",
        "model_pipeline_tag",
        "router",
        "sha",
        "docker_label",
        "model_sha",
    ):
        assert key in body
    assert body["max_total_tokens"] == 4096 and body["max_stop_sequences"] == 4 and body["max_best_of"] == 2


@pytest.mark.parametrize("path", ["/health", "/"])
def test_health_and_root(scripted_url: str, path: str) -> None:
    r = requests.get(scripted_url + path, timeout=10)
    assert r.status_code == 200
    assert r.content == b""


def test_tokenize(scripted_url: str) -> None:
    body = post(scripted_url, "/tokenize", {"inputs": "Hello, world!"}).json()
    validate(body, "TokenizeResponse")
    assert [t["text"] for t in body] == ["Hello", ",", " world", "!"]
    assert [(t["start"], t["stop"]) for t in body] == [(0, 5), (5, 6), (6, 12), (12, 13)]


def test_chat_tokenize(scripted_url: str) -> None:
    body = post(scripted_url, "/chat_tokenize", {"messages": [{"role": "user", "content": "Hi"}]}).json()
    validate(body, "ChatTokenizeResponse")
    assert "Hi" in body["templated_text"]


def test_models(scripted_url: str) -> None:
    body = requests.get(scripted_url + "/v1/models", timeout=10).json()
    assert body["object"] == "list"
    validate(body["data"][0], "ModelInfo")
    assert body["data"][0]["id"] == "hf-endpoint/scripted"


def test_chat_completion(scripted_url: str) -> None:
    body = post(
        scripted_url,
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 100, "seed": 1},
    ).json()
    validate(body, "ChatCompletion")
    assert_shape(body, snapshot("test_chat_llama__test_flash_llama_simple.json"))
    assert body["id"] == "" and body["object"] == "chat.completion"
    assert body["system_fingerprint"].endswith("-native")
    message = body["choices"][0]["message"]
    assert "tool_calls" not in message and message["content"] == "Hello from the scripted backend."
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_model_is_echoed(scripted_url: str) -> None:
    body = post(
        scripted_url, "/v1/chat/completions", {"model": "my-adapter", "messages": [{"role": "user", "content": "Hi"}]}
    ).json()
    assert body["model"] == "my-adapter"
    body = post(
        scripted_url, "/v1/chat/completions", {"model": "tgi", "messages": [{"role": "user", "content": "Hi"}]}
    ).json()
    assert body["model"] == "hf-endpoint/scripted"


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_stream(scripted_url: str, include_usage: bool) -> None:
    request = {
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": include_usage},
    }
    r = post(scripted_url, "/v1/chat/completions", request)
    raw = sse_events(r)
    assert raw[-1] == "[DONE]"
    chunks = [json.loads(e) for e in raw[:-1]]
    for chunk in chunks:
        validate(chunk, "ChatCompletionChunk")
    recorded = snapshot("test_chat_openai_usage.json" if include_usage else "test_chat_openai_nousage.json")
    optional = frozenset({"function_call", "refusal", "tool_calls", "service_tier"})
    assert_shape(chunks[0], recorded[0], optional=optional)
    if include_usage:
        usage_chunk = chunks.pop()
        assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] == 7
        assert_shape(usage_chunk, recorded[-1], optional=optional)
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"][0]["delta"]["content"] == ""
    assert all(c["usage"] is None for c in chunks)
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Hello from the scripted backend."


def test_chat_tool_call(scripted_url: str) -> None:
    request = {"messages": [{"role": "user", "content": "Weather in Brooklyn?"}], "tools": WEATHER_TOOLS}
    body = post(scripted_url, "/v1/chat/completions", request).json()
    validate(body, "ChatCompletion")
    assert_shape(body, snapshot("test_flash_llama_grammar_tools_nostream.json"))
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "content" not in choice["message"]
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "0" and call["type"] == "function"
    assert call["function"]["name"] == "get_current_weather"
    arguments = json.loads(call["function"]["arguments"])
    assert set(arguments) == {"location", "format"} and arguments["format"] in ("celsius", "fahrenheit")


def test_chat_tool_call_stream(scripted_url: str) -> None:
    request = {
        "messages": [{"role": "user", "content": "Weather?"}],
        "tools": WEATHER_TOOLS,
        "tool_choice": "get_n_day_weather_forecast",
        "stream": True,
    }
    r = post(scripted_url, "/v1/chat/completions", request)
    raw = sse_events(r)
    assert raw[-1] == "[DONE]"
    chunks = [json.loads(e) for e in raw[:-1]]
    recorded = snapshot("test_flash_llama_grammar_tools_choice_stream.json")
    for chunk in chunks:
        validate(chunk, "ChatCompletionChunk")
        assert_shape(chunk, recorded[1])
        assert chunk["choices"][0]["finish_reason"] is None  # no finish chunk for tool-call streams
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks]
    assert calls[0]["function"] == {"name": "get_n_day_weather_forecast", "arguments": "{"}
    assert all(c["function"]["name"] is None for c in calls[1:])
    arguments = json.loads("".join(c["function"]["arguments"] for c in calls))
    assert set(arguments) == {"location", "num_days"} and arguments["num_days"] >= 1


def test_chat_response_format(scripted_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {"firstName": {"type": "string"}, "numCats": {"type": "integer"}},
        "required": ["firstName", "numCats"],
    }
    request = {
        "messages": [{"role": "user", "content": "Me"}],
        "response_format": {"type": "json_schema", "value": {"name": "person", "strict": True, "schema": schema}},
    }
    body = post(scripted_url, "/v1/chat/completions", request).json()
    validate(body, "ChatCompletion")
    assert_shape(body, snapshot("test_json_schema_basic.json"))
    content = json.loads(body["choices"][0]["message"]["content"])
    assert set(content) == {"firstName", "numCats"}


def test_chat_logprobs(scripted_url: str) -> None:
    request = {"messages": [{"role": "user", "content": "Hi"}], "logprobs": True, "top_logprobs": 2}
    body = post(scripted_url, "/v1/chat/completions", request).json()
    validate(body, "ChatCompletion")
    content = body["choices"][0]["logprobs"]["content"]
    assert content and all(item["logprob"] <= 0 and len(item["top_logprobs"]) == 2 for item in content)
    r = post(scripted_url, "/v1/chat/completions", {**request, "stream": True})
    chunks = sse_json(r)
    assert all(c["choices"][0]["logprobs"]["content"][0]["logprob"] <= 0 for c in chunks)
