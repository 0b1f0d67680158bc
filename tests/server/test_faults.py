"""Every scripted fault switch behaves as documented (over real HTTP)."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from hf_endpoint.server import LocalServer

from ._helpers import sse_events, sse_json, validate

CHAT = {"messages": [{"role": "user", "content": "Hi"}]}
GEN = {"inputs": "Hi there", "parameters": {"max_new_tokens": 10, "details": True}}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
]


def post(url: str, path: str, body: object, **kwargs: object) -> requests.Response:
    return requests.post(url + path, json=body, timeout=kwargs.pop("timeout", 30), **kwargs)  # type: ignore[arg-type]


def test_cold_start_proxy_style(scripted: LocalServer) -> None:
    scripted.configure(cold_start=2)
    for _ in range(2):
        r = post(scripted.url, "/generate", GEN)
        assert r.status_code == 503
        assert r.text == "503 Service Unavailable"
    assert requests.get(scripted.url + "/info", timeout=10).status_code == 200  # only generation routes
    assert post(scripted.url, "/generate", GEN).status_code == 200
    assert scripted.stats()["requests"]["/generate"] == 3


def test_cold_start_loading_style_and_other_statuses(scripted: LocalServer) -> None:
    scripted.configure(cold_start=1, cold_start_style="loading", estimated_time=7.5)
    r = post(scripted.url, "/v1/chat/completions", CHAT)
    assert r.status_code == 503
    assert r.json() == {"error": "Model hf-endpoint/scripted is currently loading", "estimated_time": 7.5}
    for code in (502, 504):
        scripted.configure(cold_start=1, cold_start_style="proxy", cold_start_status=code)
        assert post(scripted.url, "/generate", GEN).status_code == code
    assert post(scripted.url, "/generate", GEN).status_code == 200


@pytest.mark.parametrize(
    ("status", "check"),
    [
        ({"code": 400, "body": "Bad Request: Invalid state"}, lambda r: r.text == "Bad Request: Invalid state"),
        ({"code": 401, "body": ""}, lambda r: r.content == b""),
        ({"code": 403, "body": {"error": "forbidden"}}, lambda r: r.json() == {"error": "forbidden"}),
        ({"code": 404, "body": "Not Found"}, lambda r: r.text == "Not Found"),
        ({"code": 413, "body": "Payload Too Large"}, lambda r: r.status_code == 413),
        (
            {"code": 422, "body": "Failed to deserialize the JSON body into the target type: x"},
            lambda r: r.headers["Content-Type"].startswith("text/plain"),
        ),
        (
            {"code": 424, "body": {"error": "Request failed during generation: boom", "error_type": "generation"}},
            lambda r: r.json()["error_type"] == "generation",
        ),
        (
            {
                "code": 429,
                "body": {"error": "Model is overloaded", "error_type": "overloaded"},
                "headers": {"Retry-After": "3"},
            },
            lambda r: r.headers["Retry-After"] == "3",
        ),
        (
            {"code": 429, "body": {"error": "Model is overloaded", "error_type": "overloaded"}},
            lambda r: "Retry-After" not in r.headers,
        ),
        (
            {"code": 500, "body": {"error": "incomplete", "error_type": "incomplete_generation"}},
            lambda r: r.json()["error_type"] == "incomplete_generation",
        ),
    ],
)
def test_injected_status(scripted: LocalServer, status: dict[str, object], check: object) -> None:
    scripted.configure(status=status)
    r = post(scripted.url, "/generate", GEN)
    assert r.status_code == status["code"]
    assert check(r)  # type: ignore[operator]
    assert post(scripted.url, "/generate", GEN).status_code == 200  # count defaults to 1


def test_injected_status_count(scripted: LocalServer) -> None:
    scripted.configure(status={"code": 429, "body": "slow down", "count": 2})
    assert [post(scripted.url, "/generate", GEN).status_code for _ in range(3)] == [429, 429, 200]
    scripted.configure(status={"code": 500, "body": "down", "count": -1})
    assert [post(scripted.url, "/generate", GEN).status_code for _ in range(3)] == [500, 500, 500]


def test_fault_routes_filter(scripted: LocalServer) -> None:
    scripted.configure(status={"code": 500, "body": "x", "count": -1}, routes=["/v1/chat/completions"])
    assert post(scripted.url, "/generate", GEN).status_code == 200
    assert post(scripted.url, "/v1/chat/completions", CHAT).status_code == 500


def test_stream_error_tgi_shape(scripted: LocalServer) -> None:
    scripted.configure(stream_error={"after": 2, "message": "Request failed during generation: CUDA OOM"})
    r = post(scripted.url, "/generate_stream", GEN)
    assert r.status_code == 200
    events = sse_json(r)
    assert len(events) == 3
    assert "token" in events[0] and "token" in events[1]
    assert events[2] == {"error": "Request failed during generation: CUDA OOM", "error_type": "generation"}


def test_stream_error_openai_shape(scripted: LocalServer) -> None:
    scripted.configure(stream_error={"after": 1, "message": "Model is overloaded"})
    r = post(scripted.url, "/v1/chat/completions", {**CHAT, "stream": True})
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    assert json.loads(events[1]) == {"error": {"message": "Model is overloaded", "http_status_code": 422}}
    scripted.configure(
        stream_error={"after": 0, "shape": "tgi", "error_type": "overloaded", "message": "Model is overloaded"}
    )
    events = sse_events(post(scripted.url, "/v1/chat/completions", {**CHAT, "stream": True}))
    assert json.loads(events[0]) == {"error": "Model is overloaded", "error_type": "overloaded"}


def test_drop_connection_mid_stream(scripted: LocalServer) -> None:
    scripted.configure(drop_after=2)
    r = post(scripted.url, "/generate_stream", GEN, stream=True)
    assert r.status_code == 200
    seen: list[bytes] = []

    def read_all() -> None:
        seen.extend(line for line in r.iter_lines() if line)

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        read_all()
    assert len(seen) == 2
    assert post(scripted.url, "/generate", GEN).status_code == 200  # the server lives on


def test_connection_reset_before_response(scripted: LocalServer) -> None:
    scripted.configure(reset=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        post(scripted.url, "/generate", GEN)
    assert post(scripted.url, "/generate", GEN).status_code == 200


def test_stall_before_first_byte(scripted: LocalServer) -> None:
    scripted.configure(stall_before=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        post(scripted.url, "/generate", GEN, timeout=0.2)


def test_stall_between_events(scripted: LocalServer) -> None:
    scripted.configure(stall_between=0.15)
    started = time.perf_counter()
    r = post(scripted.url, "/generate_stream", {"inputs": "x", "parameters": {"max_new_tokens": 3}})
    assert len(sse_json(r)) == 3
    assert time.perf_counter() - started >= 0.3


def test_truncated_streams(scripted: LocalServer) -> None:
    scripted.configure(truncate_stream=True)
    events = sse_json(post(scripted.url, "/generate_stream", GEN))
    assert events and all(e["generated_text"] is None for e in events)
    raw = sse_events(post(scripted.url, "/v1/chat/completions", {**CHAT, "stream": True}))
    assert "[DONE]" not in raw
    assert all(json.loads(e)["choices"][0]["finish_reason"] is None for e in raw)


def test_malformed_event(scripted: LocalServer) -> None:
    scripted.configure(malformed_after=1)
    events = sse_events(post(scripted.url, "/generate_stream", GEN))
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[1])
    assert json.loads(events[-1])["generated_text"] == "Hello from the scripted backend."  # goes on


def test_huge_event(scripted: LocalServer) -> None:
    scripted.configure(huge_token_chars=1_000_000)
    events = sse_json(post(scripted.url, "/generate_stream", GEN))
    assert len(events[0]["token"]["text"]) == 1_000_000
    assert events[-1]["generated_text"].startswith("x" * 1_000_000)


def test_keepalive_comments(scripted: LocalServer) -> None:
    scripted.configure(keepalive=True)
    r = post(scripted.url, "/generate_stream", GEN)
    assert r.text.startswith(":\n\n")
    assert r.text.count(":\n\n") == len(sse_events(r))


def test_token_count_and_reply(scripted: LocalServer) -> None:
    scripted.configure(n_tokens=2000)
    events = sse_json(post(scripted.url, "/generate_stream", {"inputs": "x", "parameters": {"details": True}}))
    assert events[-1]["details"]["generated_tokens"] == 2001  # 2000 tokens + EOS
    scripted.configure(n_tokens=None, reply="Custom answer!")
    assert post(scripted.url, "/generate", GEN).json()["generated_text"] == "Custom answer!"
    scripted.reset()
    assert post(scripted.url, "/generate", GEN).json()["generated_text"] == "Hello from the scripted backend."


def test_legacy_formats(scripted: LocalServer) -> None:
    scripted.configure(legacy=["tool_arguments_object", "tool_call_id_int", "object_text_completion"])
    body = post(scripted.url, "/v1/chat/completions", {**CHAT, "tools": TOOLS}).json()
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert body["object"] == "text_completion"
    assert call["id"] == 0 and call["function"]["arguments"] == {"query": "example"}
    scripted.configure(legacy=["tool_calls_object", "data_no_space", "finish_reason_eos_token"])
    r = post(scripted.url, "/v1/chat/completions", {**CHAT, "tools": TOOLS, "stream": True})
    assert r.text.startswith("data:{")
    assert isinstance(sse_json(r)[0]["choices"][0]["delta"]["tool_calls"], dict)
    chunks = sse_json(post(scripted.url, "/v1/chat/completions", {**CHAT, "stream": True}))
    assert chunks[-1]["choices"][0]["finish_reason"] == "eos_token"
    scripted.configure(legacy=["info_max_input_length"])
    info = requests.get(scripted.url + "/info", timeout=10).json()
    assert "max_input_length" in info and "max_input_tokens" not in info


def test_openai_mode(scripted: LocalServer) -> None:
    scripted.configure(mode="openai")
    assert requests.get(scripted.url + "/info", timeout=10).status_code == 404
    for path in ("/generate", "/generate_stream", "/", "/tokenize"):
        assert post(scripted.url, path, GEN).status_code == 404
    body = post(scripted.url, "/v1/chat/completions", CHAT).json()
    validate(body, "ChatCompletion")
    assert requests.get(scripted.url + "/v1/models", timeout=10).json()["data"][0]["owned_by"] == "vllm"
    assert requests.get(scripted.url + "/health", timeout=10).status_code == 200


def test_tool_loop_terminates_after_a_tool_result(scripted: LocalServer) -> None:
    history = [
        {"role": "user", "content": "Look it up"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "0", "type": "function", "function": {"name": "lookup", "arguments": '{"query": "x"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "0", "content": "42"},
    ]
    for choice in ("auto", "required"):
        body = post(
            scripted.url, "/v1/chat/completions", {"messages": history, "tools": TOOLS, "tool_choice": choice}
        ).json()
        assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello from the scripted backend."}
    body = post(
        scripted.url, "/v1/chat/completions", {"messages": history[:1], "tools": TOOLS, "tool_choice": "none"}
    ).json()
    assert "content" in body["choices"][0]["message"]


def test_stats_and_last_request(scripted: LocalServer) -> None:
    post(scripted.url, "/generate", GEN, headers={"Authorization": "Bearer hf_abc", "X-Custom": "1"})
    requests.get(scripted.url + "/info", timeout=10)
    last = scripted.last_request()
    assert last is not None and last["path"] == "/info" and "Authorization" not in last["headers"]
    post(scripted.url, "/generate", GEN, headers={"Authorization": "Bearer hf_abc"})
    last = scripted.last_request()
    assert last is not None
    assert last["method"] == "POST" and last["headers"]["Authorization"] == "Bearer hf_abc"
    assert json.loads(last["body"]) == GEN
    assert scripted.stats() == {"requests": {"/generate": 2, "/info": 1}, "total": 3}


def test_control_route_rejects_unknown_fields(scripted: LocalServer) -> None:
    with pytest.raises(ValueError, match="unknown fault fields"):
        scripted.configure(cold_starts=1)
    with pytest.raises(ValueError, match="unknown legacy flags"):
        scripted.configure(legacy=["nope"])
    r = requests.get(scripted.url + "/__scripted__/config", timeout=10).json()
    assert "cold_start" in r["fields"] and r["config"]["cold_start"] == 0


def test_raw_socket_sees_rst_on_reset(scripted: LocalServer) -> None:
    scripted.configure(reset=1)
    host, port = scripted.url.removeprefix("http://").split(":")
    body = json.dumps(GEN).encode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

        def drain() -> None:
            while sock.recv(65536):
                pass

        with pytest.raises(ConnectionResetError):
            drain()
