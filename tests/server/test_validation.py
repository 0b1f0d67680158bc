"""Every validation rule answers with TGI's status, error_type and message (TGI's router/src/validation.rs and server.rs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hf_endpoint.server import LocalServer

from ._helpers import sse_events, validate

PREFIX = "Input validation error: "
GENERATE_RULES: list[tuple[dict[str, Any], str]] = [
    ({"temperature": 0}, "`temperature` must be strictly positive"),
    ({"temperature": -1.0}, "`temperature` must be strictly positive"),
    ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
    ({"top_p": 0.0}, "`top_p` must be > 0.0 and < 1.0"),
    ({"top_k": 0}, "`top_k` must be strictly positive"),
    ({"typical_p": 1.0}, "`typical_p` must be > 0.0 and < 1.0"),
    ({"repetition_penalty": 0}, "`repetition_penalty` must be strictly positive"),
    ({"frequency_penalty": 2.5}, "`frequency_penalty` must be >= -2.0 and <= 2.0"),
    ({"max_new_tokens": 0}, "`max_new_tokens` must be strictly positive"),
    (
        {"max_new_tokens": 5000},
        "`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 2 `inputs` tokens and 5000 `max_new_tokens`",
    ),
    ({"stop": ["a", "b", "c", "d", "e"]}, "`stop` supports up to 4 stop sequences. Given: 5"),
    ({"best_of": 3, "do_sample": True}, "`best_of` must be > 0 and <= 2. Given: 3"),
    ({"best_of": 2}, "you must use sampling when `best_of` is > 1"),
    ({"best_of": 2, "do_sample": True, "seed": 1}, "`seed` must not be set when `best_of` > 1"),
    ({"top_n_tokens": 6}, "`top_n_tokens` must be >= 0 and <= 5. Given: 6"),
    ({"truncate": 0}, "`truncate` must be strictly positive and less than 4095. Given: 0"),
    (
        {"grammar": {"type": "json", "value": {"type": "object"}}},
        "grammar is not valid: Grammar must have a 'properties' field",
    ),
    (
        {"grammar": {"type": "json", "value": '{"type": "object"}'}},
        "grammar is not valid: Grammar must have a 'properties' field",
    ),
]


def post(url: str, path: str, body: object) -> requests.Response:
    return requests.post(url + path, json=body, timeout=30)


def assert_error(r: requests.Response, status: int, message: str, error_type: str = "validation") -> None:
    assert r.status_code == status, r.text
    body = r.json()
    validate(body, "ErrorResponse")
    assert body == {"error": message, "error_type": error_type}


@pytest.mark.parametrize(("params", "message"), GENERATE_RULES)
def test_generate_rule(scripted_url: str, params: dict[str, Any], message: str) -> None:
    assert_error(post(scripted_url, "/generate", {"inputs": "Hi there", "parameters": params}), 422, PREFIX + message)


@pytest.mark.parametrize(("params", "message"), GENERATE_RULES[:6])
def test_compat_route_validates_too(scripted_url: str, params: dict[str, Any], message: str) -> None:
    assert_error(post(scripted_url, "/", {"inputs": "Hi there", "parameters": params}), 422, PREFIX + message)


def test_empty_inputs(scripted_url: str) -> None:
    assert_error(post(scripted_url, "/generate", {"inputs": ""}), 422, PREFIX + "`inputs` cannot be empty")


def test_valid_edge_values_pass(scripted_url: str) -> None:
    params = {
        "top_p": 0.999,
        "typical_p": 0.5,
        "frequency_penalty": -2.0,
        "top_k": 1,
        "top_n_tokens": 5,
        "stop": ["a", "b", "c", "d"],
        "max_new_tokens": 4094,
    }
    assert post(scripted_url, "/generate", {"inputs": "Hi there", "parameters": params}).status_code == 200


@pytest.fixture(scope="module")
def small_server() -> Iterator[LocalServer]:
    with LocalServer("scripted", max_total_tokens=16, max_input_tokens=8) as server:
        yield server


def test_input_length_limit(small_server: LocalServer) -> None:
    inputs = " ".join(["word"] * 10)
    r = post(small_server.url, "/generate", {"inputs": inputs, "parameters": {"max_new_tokens": 2}})
    assert_error(r, 422, PREFIX + "`inputs` must have less than 8 tokens. Given: 10")
    info = requests.get(small_server.url + "/info", timeout=10).json()
    assert (info["max_input_tokens"], info["max_total_tokens"]) == (8, 16)


def test_default_max_new_tokens_fills_the_context(small_server: LocalServer) -> None:
    r = post(small_server.url, "/generate", {"inputs": "one two", "parameters": {"details": True}})
    assert r.json()["details"]["finish_reason"] == "eos_token"
    inputs = " ".join(["word"] * 17)
    r = post(small_server.url, "/generate", {"inputs": inputs, "parameters": {}})
    message = "`inputs` tokens + `max_new_tokens` must be <= 16. Given: 17 `inputs` tokens and 0 `max_new_tokens`"
    assert_error(r, 422, PREFIX + message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"best_of": 2, "do_sample": True}, "`best_of` != 1 is not supported when streaming tokens"),
        ({"decoder_input_details": True}, "`decoder_input_details` == true is not supported when streaming tokens"),
        ({"temperature": 0}, "`temperature` must be strictly positive"),
        (
            {"max_new_tokens": 5000},
            "`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 2 `inputs` tokens and 5000 `max_new_tokens`",
        ),
    ],
)
def test_stream_errors_are_events_in_a_200_stream(scripted_url: str, params: dict[str, Any], message: str) -> None:
    r = post(scripted_url, "/generate_stream", {"inputs": "Hi there", "parameters": params})
    assert r.status_code == 200
    events = sse_events(r)
    assert [json.loads(e) for e in events] == [{"error": PREFIX + message, "error_type": "validation"}]


def test_missing_content_type_is_415_plain_text(scripted_url: str) -> None:
    r = requests.post(scripted_url + "/generate", data=b'{"inputs": "x"}', timeout=10)
    assert r.status_code == 415
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == "Expected request with `Content-Type: application/json`"


def test_invalid_json_is_400_plain_text(scripted_url: str) -> None:
    r = requests.post(
        scripted_url + "/generate", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert r.status_code == 400
    assert r.text.startswith("Failed to parse the request body as JSON: ")


@pytest.mark.parametrize(
    ("path", "body", "text"),
    [
        (
            "/generate",
            {"inputs": "x", "parameters": {"seed": -1}},
            "parameters.seed: invalid value: integer `-1`, expected u64",
        ),
        ("/generate", {"parameters": {}}, "missing field `inputs`"),
        (
            "/generate",
            {"inputs": "x", "parameters": {"max_new_tokens": "ten"}},
            'parameters.max_new_tokens: invalid type: string "ten", expected u32',
        ),
        (
            "/generate",
            {"inputs": "x", "parameters": {"stop": "\n"}},
            'parameters.stop: invalid type: string "\\n", expected a sequence',
        ),
        (
            "/generate",
            {"inputs": "x", "parameters": {"grammar": {"type": "json"}}},
            "parameters.grammar: missing field `value`",
        ),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "x"}], "stop": "\n"},
            'stop: invalid type: string "\\n", expected a sequence',
        ),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "x"}], "seed": -5},
            "seed: invalid value: integer `-5`, expected u64",
        ),
        ("/v1/chat/completions", {"model": "tgi"}, "missing field `messages`"),
        (
            "/v1/chat/completions",
            {
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            },
            "response_format: missing field `value`",
        ),
    ],
)
def test_deserialization_errors_are_plain_text_422(scripted_url: str, path: str, body: object, text: str) -> None:
    r = post(scripted_url, path, body)
    assert r.status_code == 422
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text.startswith("Failed to deserialize the JSON body into the target type: " + text + " at line 1 column ")


def test_chat_response_format_with_tools_is_a_tool_error(scripted_url: str) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": tools,
        "response_format": {"type": "json", "value": {"properties": {"a": {"type": "string"}}}},
    }
    assert_error(
        post(scripted_url, "/v1/chat/completions", body),
        422,
        "Tool error: Grammar and tools are mutually exclusive",
        "tool_error",
    )


@pytest.mark.parametrize("choice", ["nope", {"type": "function", "function": {"name": "nope"}}])
def test_chat_unknown_tool_is_a_tool_error(scripted_url: str, choice: object) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    body = {"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice}
    for stream in (False, True):  # tool errors come before the stream starts
        r = post(scripted_url, "/v1/chat/completions", {**body, "stream": stream})
        assert_error(r, 422, "Tool error: Tool with name nope not found", "tool_error")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
        ({"top_logprobs": 6}, "`top_n_tokens` must be >= 0 and <= 5. Given: 6"),
        ({"frequency_penalty": -3}, "`frequency_penalty` must be >= -2.0 and <= 2.0"),
        ({"stop": ["1", "2", "3", "4", "5"]}, "`stop` supports up to 4 stop sequences. Given: 5"),
    ],
)
def test_chat_validation(scripted_url: str, extra: dict[str, Any], message: str) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], **extra}
    assert_error(post(scripted_url, "/v1/chat/completions", body), 422, PREFIX + message)


def test_chat_temperature_zero_is_greedy_not_an_error(scripted_url: str) -> None:
    r = post(scripted_url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "temperature": 0})
    assert r.status_code == 200


def test_chat_stream_validation_error_is_an_openai_event(scripted_url: str) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 5000, "stream": True}
    r = post(scripted_url, "/v1/chat/completions", body)
    assert r.status_code == 200
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    error = json.loads(events[0])["error"]
    assert error["http_status_code"] == 422
    assert error["message"].startswith(PREFIX + "`inputs` tokens + `max_new_tokens` must be <= 4096. Given: ")


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LocalServer]:
    with LocalServer("scripted", api_key="s3cret") as server:
        yield server


PROTECTED = [
    ("POST", "/generate"),
    ("POST", "/generate_stream"),
    ("POST", "/"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/tokenize"),
]
OPEN = [("GET", "/info"), ("GET", "/health"), ("GET", "/"), ("GET", "/v1/models"), ("POST", "/chat_tokenize")]


def _call(url: str, method: str, path: str, headers: dict[str, str]) -> requests.Response:
    body = {"inputs": "hi", "messages": [{"role": "user", "content": "hi"}]}
    return requests.request(method, url + path, json=body if method == "POST" else None, headers=headers, timeout=10)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_api_key_protects_generation_routes(keyed_server: LocalServer, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        r = _call(keyed_server.url, method, path, headers)
        assert r.status_code == 401
        assert r.content == b""
    for value in ("Bearer s3cret", "bearer S3CRET"):  # the whole value compares case-insensitively
        assert _call(keyed_server.url, method, path, {"Authorization": value}).status_code == 200


@pytest.mark.parametrize(("method", "path"), OPEN)
def test_api_key_leaves_open_routes_open(keyed_server: LocalServer, method: str, path: str) -> None:
    assert _call(keyed_server.url, method, path, {}).status_code == 200
