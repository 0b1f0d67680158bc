"""The pure conversions (no server): transport results and chunks to LangChain messages, tool choices."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_openai_messages,
)

from hf_endpoint import ChatCompletion, ChatCompletionChunk
from langchain_hf_endpoint import ChatHFEndpoint
from langchain_hf_endpoint._convert import (
    StreamAccumulator,
    completion_to_result,
    to_openai_messages,
)

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def _completion(message: dict[str, Any], model: str = "served/model", finish: str = "stop") -> ChatCompletion:
    return ChatCompletion.model_validate(
        {"id": "c1", "model": model, "choices": [{"message": message, "finish_reason": finish}], "usage": USAGE}
    )


def _call(arguments: str, name: str = "f") -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_completion_to_message() -> None:
    result = completion_to_result(_completion({"role": "assistant", "content": "hi"}), fallback_model="url")
    msg = result.generations[0].message
    assert isinstance(msg, AIMessage)
    assert msg.content == "hi"
    assert msg.usage_metadata == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert msg.response_metadata == {
        "model_name": "served/model",
        "model_provider": "huggingface",
        "finish_reason": "stop",
    }
    assert result.generations[0].generation_info == {"finish_reason": "stop"}


def test_fallback_model_name_when_the_response_has_none() -> None:
    result = completion_to_result(_completion({"content": "hi"}, model=""), fallback_model="from/info")
    assert result.generations[0].message.response_metadata["model_name"] == "from/info"


@pytest.mark.parametrize(
    ("arguments", "valid"),
    [('{"a": 1}', {"a": 1}), ("", {}), ("{not json", None), ("[1, 2]", None), ('"text"', None)],
)
def test_tool_call_arguments(arguments: str, valid: dict[str, Any] | None) -> None:
    completion = _completion({"role": "assistant", "tool_calls": [_call(arguments)]}, finish="tool_calls")
    msg = completion_to_result(completion, fallback_model="x").generations[0].message
    assert isinstance(msg, AIMessage)
    if valid is not None:
        assert msg.tool_calls == [{"name": "f", "args": valid, "id": "call_1", "type": "tool_call"}]
        assert not msg.invalid_tool_calls
    else:
        assert not msg.tool_calls
        [bad] = msg.invalid_tool_calls
        assert (bad["name"], bad["args"], bad["id"]) == ("f", arguments, "call_1")  # kept, with the reason
        assert bad["error"]


def _chunk(
    content: str | None = None, finish: str | None = None, usage: bool = False, **delta: Any
) -> ChatCompletionChunk:
    choices = [] if usage else [{"index": 0, "delta": {"content": content, **delta}, "finish_reason": finish}]
    return ChatCompletionChunk.model_validate(
        {"id": "s1", "model": "served/model", "choices": choices, "usage": USAGE if usage else None}
    )


@pytest.mark.parametrize("usage_first", [True, False])
def test_stream_usage_and_finish_once_on_the_last_chunk(usage_first: bool) -> None:
    raw = [_chunk("Hel"), _chunk("lo")]
    tail = [_chunk("", finish="stop"), _chunk(usage=True)]
    raw += tail[::-1] if usage_first else tail  # TGI and other engines send these two in either order
    acc = StreamAccumulator(fallback_model="x", stream_usage=True)
    out = [g.message for c in raw if (g := acc.feed(c)) is not None] + [acc.finish().message]
    assert [m.content for m in out] == ["Hel", "lo", ""]
    last = out[-1]
    assert isinstance(last, AIMessageChunk)
    assert last.chunk_position == "last"
    assert last.usage_metadata == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert last.response_metadata["finish_reason"] == "stop"
    assert all(not m.usage_metadata and "model_name" not in m.response_metadata for m in out[:-1])


def test_stream_without_usage_and_without_chunks() -> None:
    acc = StreamAccumulator(fallback_model="from/info", stream_usage=False)
    assert acc.feed(_chunk(usage=True)) is None
    last = acc.finish().message
    assert isinstance(last, AIMessageChunk)
    assert last.usage_metadata is None
    assert last.response_metadata["model_name"] == "served/model"
    assert (
        StreamAccumulator(fallback_model="from/info", stream_usage=True)
        .finish()
        .message.response_metadata["model_name"]
        == "from/info"
    )


def test_stream_tool_call_pieces_become_tool_calls() -> None:
    pieces = [
        _chunk(tool_calls=[{"index": 0, "id": "call_9", "function": {"name": "f", "arguments": '{"a"'}}]),
        _chunk(tool_calls=[{"index": 0, "function": {"arguments": ": 1}"}}]),
        _chunk(finish="tool_calls"),
    ]
    acc = StreamAccumulator(fallback_model="x", stream_usage=True)
    messages = [g.message for c in pieces if (g := acc.feed(c)) is not None] + [acc.finish().message]
    full = messages[0]
    for m in messages[1:]:
        full = full + m
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls == [{"name": "f", "args": {"a": 1}, "id": "call_9", "type": "tool_call"}]
    assert full.response_metadata["finish_reason"] == "tool_calls"


@given(st.lists(st.text(min_size=1, max_size=5), max_size=12))
def test_any_split_of_the_text_adds_up(pieces: list[str]) -> None:
    acc = StreamAccumulator(fallback_model="x", stream_usage=True)
    out = [g.message for p in pieces if (g := acc.feed(_chunk(p))) is not None]
    acc.feed(_chunk(usage=True))
    out.append(acc.finish().message)
    full = out[0]
    for m in out[1:]:
        full = full + m
    assert full.content == "".join(pieces)
    assert full.usage_metadata is not None and full.usage_metadata["input_tokens"] == 3


_TOOLS = [
    {"type": "function", "function": {"name": n, "description": "", "parameters": {"type": "object"}}}
    for n in ("f", "g")
]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        ("auto", "auto"),
        ("none", "none"),
        (False, "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("f", {"type": "function", "function": {"name": "f"}}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}),
        ({"name": "f"}, {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_bind_tools_takes_every_tool_choice_spelling(choice: Any, expected: Any) -> None:
    bound = ChatHFEndpoint(base_url="http://127.0.0.1:9").bind_tools(_TOOLS, tool_choice=choice)
    assert bound.kwargs.get("tool_choice") == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize("choice", ["h", 3, {"type": "function"}])
def test_bind_tools_refuses_a_bad_tool_choice_where_it_is_written(choice: Any) -> None:
    with pytest.raises(ValueError, match="tool_choice"):
        ChatHFEndpoint(base_url="http://127.0.0.1:9").bind_tools(_TOOLS, tool_choice=choice)


_MESSAGE = st.one_of(
    st.builds(HumanMessage, content=st.text(max_size=8), name=st.none() | st.text(min_size=1, max_size=4)),
    st.builds(SystemMessage, content=st.text(max_size=8)),
    st.builds(HumanMessage, content=st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text()}))),
    st.builds(AIMessage, content=st.text(max_size=8)),
    st.builds(ToolMessage, content=st.text(max_size=8), tool_call_id=st.text(min_size=1, max_size=4)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_MESSAGE, max_size=4))
def test_messages_convert_as_langchain_converts_them(messages: list[BaseMessage]) -> None:
    """langchain-core's own conversion (which only drops reasoning parts, absent here)."""
    assert to_openai_messages(messages) == convert_to_openai_messages(messages, text_format="string")
