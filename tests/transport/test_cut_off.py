"""Answers cut off by the length limit inside a tool call, and streams that end with nothing: never passed off as
complete (issue 13, item 2). Both routes, stream and not, sync and async, against the scripted server.

The scripted backend answers a tool call with the grammar's JSON, one word or punctuation mark per token, so
``max_tokens`` cuts it at a known place: the Messages API streams a call only once its name is complete (TGI >= 3.2)
and sends no finish_reason for tool calls; the native route's grammar output is ``{"function": {"name": ...,
"arguments": {...}}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hf_endpoint import IncompleteStreamError, LengthLimitError
from hf_endpoint._chat_route import ChatStreamConverter
from hf_endpoint.server import LocalServer

from ._twin import Twin

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather at a place.",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
        },
    }
]
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]
ROUTES = {"chat": {"route": "chat"}, "generate": {"route": "generate", "chat_template": "chatml"}}
# Cut after the tool's name, inside the arguments (both routes), and before the name is complete.
INSIDE_ARGUMENTS = {"chat": 17, "generate": 22}
BEFORE_NAME = 3


@pytest.fixture(params=[(kind, route) for kind in ("sync", "async") for route in ROUTES], ids=lambda p: "-".join(p))
def client(request: pytest.FixtureRequest, srv: LocalServer) -> Iterator[tuple[Twin, str]]:
    kind, route = request.param
    twin = Twin(kind, srv.url, max_retries=0, **ROUTES[route])
    yield twin, route
    twin.close()


def _tool_call(chunks: list[Any]) -> tuple[str, str, str | None]:
    """(name, arguments, finish reason) of a streamed tool call."""
    name, arguments, reason = "", "", None
    for chunk in chunks:
        for choice in chunk.choices:
            for piece in choice.delta.tool_calls or ():
                name += piece.function.name or ""
                arguments += piece.function.arguments or ""
            reason = choice.finish_reason or reason
    return name, arguments, reason


def test_a_streamed_tool_call_cut_off_ends_with_length(client: tuple[Twin, str]) -> None:
    twin, route = client
    chunks, error = twin.collect(
        "chat_stream", MESSAGES, tools=TOOLS, tool_choice="required", max_tokens=INSIDE_ARGUMENTS[route]
    )
    assert error is None
    name, arguments, reason = _tool_call(chunks)
    assert reason == "length"  # was "tool_calls" on the Messages API
    assert (name, arguments) == ("get_weather", '{"location"')  # the partial text as generated: not completed


def test_the_same_call_whole_still_ends_with_tool_calls(client: tuple[Twin, str]) -> None:
    twin, _ = client
    chunks, error = twin.collect("chat_stream", MESSAGES, tools=TOOLS, tool_choice="required", max_tokens=60)
    assert error is None
    name, arguments, reason = _tool_call(chunks)
    assert (name, json.loads(arguments), reason) == ("get_weather", {"location": "example"}, "tool_calls")


def test_a_tool_call_cut_off_without_streaming(client: tuple[Twin, str]) -> None:
    twin, route = client
    if route == "chat":
        # TGI answers a call it cannot parse with a 422 tool_error, and gives no text: the error says why.
        with pytest.raises(LengthLimitError, match=r"length limit \(max_tokens=17\).*raise max_tokens") as info:
            twin.chat(MESSAGES, tools=TOOLS, tool_choice="required", max_tokens=INSIDE_ARGUMENTS[route])
        assert info.value.status_code == 422
        return
    result = twin.chat(MESSAGES, tools=TOOLS, tool_choice="required", max_tokens=INSIDE_ARGUMENTS[route])
    choice = result.choices[0]
    assert choice.finish_reason == "length"
    (call,) = choice.message.tool_calls
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"location"')


def test_cut_off_before_the_tool_is_named(client: tuple[Twin, str]) -> None:
    """Nothing of the call can be returned: an error on every path (on the Messages API the stream is empty)."""
    twin, _ = client
    chunks, error = twin.collect("chat_stream", MESSAGES, tools=TOOLS, tool_choice="required", max_tokens=BEFORE_NAME)
    assert isinstance(error, LengthLimitError)
    assert "max_tokens=3" in str(error)
    assert not any(chunk.choices for chunk in chunks)
    with pytest.raises(LengthLimitError, match="max_tokens=3"):
        twin.chat(MESSAGES, tools=TOOLS, tool_choice="required", max_tokens=BEFORE_NAME)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_stream_of_only_done_is_incomplete(srv: LocalServer, kind: str) -> None:
    srv.configure(status={"code": 200, "body": "data: [DONE]\n\n", "content_type": "text/event-stream", "count": 1})
    twin = Twin(kind, srv.url, route="chat", max_retries=0)
    try:
        chunks, error = twin.collect("chat_stream", MESSAGES)
    finally:
        twin.close()
    assert chunks == []
    assert isinstance(error, IncompleteStreamError)
    assert "without any answer" in str(error)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_tool_calls_as_one_object_cut_off(srv: LocalServer, kind: str) -> None:
    """TGI <= 3.1 streamed delta.tool_calls as one object, not a list: the same answer."""
    srv.configure(legacy=["tool_calls_object"])
    twin = Twin(kind, srv.url, route="chat", max_retries=0)
    try:
        chunks, error = twin.collect("chat_stream", MESSAGES, tools=TOOLS, tool_choice="required", max_tokens=17)
    finally:
        twin.close()
    assert error is None
    assert _tool_call(chunks) == ("get_weather", '{"location"', "length")


def _event(arguments: str) -> bytes:
    call = {"index": 0, "id": "", "type": "function", "function": {"name": None, "arguments": arguments}}
    return json.dumps(
        {
            "id": "",
            "created": 1,
            "model": "tgi",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": call}}],
        }
    ).encode()


def test_a_raw_text_tool_stream_cut_off() -> None:
    """TGI <= 3.1 streamed a call as the raw text '{"function": {"_name": ...', parsed when the stream ends (the
    local server does not produce this shape: the converter is fed its events)."""
    converter = ChatStreamConverter(max_tokens=9)
    for piece in ['{"function": {"_name": "get_weather", ', '"location": "Par']:
        assert converter.feed(_event(piece)) == []  # buffered until the end
    with pytest.raises(LengthLimitError, match=r"max_tokens=9.*raise max_tokens"):
        converter.feed(b"[DONE]")
    whole = ChatStreamConverter(max_tokens=9)
    whole.feed(_event('{"function": {"_name": "get_weather", "location": "Paris"}}<|eot_id|>'))
    (chunk,) = whole.feed(b"[DONE]")
    (call,) = chunk.choices[0].delta.tool_calls or []
    assert (call.function.name, call.function.arguments, chunk.choices[0].finish_reason) == (
        "get_weather",
        '{"location": "Paris"}',
        "tool_calls",
    )


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_plain_answer_cut_off_on_the_native_tool_route(srv: LocalServer, kind: str) -> None:
    """With tool_choice="auto" the native route's grammar wraps a plain answer as a no_tool call; cut off, it is
    the answer's text so far with finish_reason "length" (as any cut-off text), not the wrapper's JSON."""
    messages = [
        *MESSAGES,
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    # After a tool result the answer is offered first: {"function":{"name":"no_tool","arguments":{"content":"example
    twin = Twin(kind, srv.url, route="generate", chat_template="chatml", max_retries=0)
    try:
        result = twin.chat(messages, tools=TOOLS, max_tokens=25)
        chunks, error = twin.collect("chat_stream", messages, tools=TOOLS, max_tokens=25)
    finally:
        twin.close()
    choice = result.choices[0]
    assert (choice.message.content, choice.message.tool_calls, choice.finish_reason) == ("example", None, "length")
    assert error is None
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (text, _tool_call(chunks)[2]) == ("example", "length")
