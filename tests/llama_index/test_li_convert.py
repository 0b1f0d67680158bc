"""The pure conversions between LlamaIndex objects and the transport's OpenAI-shaped ones (no server)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imagedata import make_png
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from hf_endpoint import ChatCompletionChunk
from llama_index_hf_endpoint._messages import resolve_tool_choice, to_tgi_messages
from llama_index_hf_endpoint._responses import StreamAccumulator, completion_response, tool_selections


def test_roles_text_and_tool_results() -> None:
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", blocks=[TextBlock(text="line 1"), TextBlock(text="line 2")]),
        ChatMessage(role="chatbot", content="ok"),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="hmm"), TextBlock(text="visible")]),
        ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "c1", "name": "add"}),
        ChatMessage(role="user"),
    ]
    assert to_tgi_messages(messages) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "line 1\nline 2"},  # joined like ChatMessage.content
        {"role": "assistant", "content": "ok"},
        {"role": "assistant", "content": "visible"},  # reasoning is not replayed
        {"role": "tool", "content": "42", "tool_call_id": "c1", "name": "add"},
        {"role": "user", "content": ""},
    ]


def test_images_become_content_parts() -> None:
    png = make_png()
    gif = base64.b64decode("R0lGODdhAQABAIEAAP///wAAAAAAAAAAACwAAAAAAQABAAAIBAABBAQAOw==")
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="What is this?"),
            ImageBlock(url="https://example.com/cat.png"),
            ImageBlock(image=png, image_mimetype="image/png"),
            ImageBlock(image=gif, image_mimetype="image/png"),  # a wrong label: the bytes decide
        ],
    )
    (sent,) = to_tgi_messages([message])
    assert sent["content"][0] == {"type": "text", "text": "What is this?"}
    assert sent["content"][1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert sent["content"][2]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(png).decode()
    assert sent["content"][3]["image_url"]["url"] == "data:image/gif;base64," + base64.b64encode(gif).decode()


def test_unsupported_blocks_are_refused() -> None:
    with pytest.raises(ValueError, match="AudioBlock"):
        to_tgi_messages([ChatMessage(role="user", blocks=[AudioBlock(audio=b"abc", format="wav")])])


def test_tool_call_blocks_win_over_additional_kwargs() -> None:
    message = ChatMessage(
        role="assistant",
        blocks=[ToolCallBlock(tool_call_id="a", tool_name="add", tool_kwargs={"a": 1})],
        additional_kwargs={"tool_calls": [{"id": "a", "function": {"name": "add", "arguments": '{"a": 1}'}}]},
    )
    (sent,) = to_tgi_messages([message])
    assert sent["tool_calls"] == [{"id": "a", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}]


def test_tool_choice() -> None:
    assert resolve_tool_choice(None, False) is None
    assert resolve_tool_choice(None, True) == "required"
    assert resolve_tool_choice("add", True) == "add"


def _chunk(content: str | None = None, call: dict[str, Any] | None = None, usage: bool = False) -> ChatCompletionChunk:
    if usage:
        return ChatCompletionChunk.model_validate(
            {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
        )
    delta: dict[str, Any] = {"role": "assistant", "content": content}
    if call is not None:
        delta["tool_calls"] = [call]
    return ChatCompletionChunk.model_validate({"choices": [{"delta": delta}]})


def _pieces(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@given(text=st.text(min_size=1), cuts=st.lists(st.integers(min_value=0)))
def test_streamed_text_adds_up_whatever_the_split(text: str, cuts: list[int]) -> None:
    acc = StreamAccumulator()
    out = [acc.feed(_chunk(piece)) for piece in _pieces(text, cuts)]
    out.append(acc.feed(_chunk(usage=True)))
    responses = [r for r in out if r is not None]
    assert "".join(r.delta or "" for r in responses) == text
    assert responses[-1].message.content == text
    assert responses[-1].additional_kwargs == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert acc.finish() is None


@given(
    arguments=st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.booleans())),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_streamed_tool_arguments_parse_whatever_the_split(arguments: dict[str, Any], cuts: list[int]) -> None:
    acc = StreamAccumulator()
    text = json.dumps(arguments)
    last = None
    for i, piece in enumerate(_pieces(text, cuts)):
        call = {
            "index": 0,
            "id": "0" if i == 0 else None,
            "function": {"name": "f" if i == 0 else None, "arguments": piece},
        }
        response = acc.feed(_chunk(call=call))
        if response is not None:
            tool_selections(response, error_on_no_tool_call=False)  # partial JSON never raises
            last = response
    assert last is not None
    (selection,) = tool_selections(last)
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == ("0", "f", arguments)


def test_stream_without_usage_chunk_still_ends_with_the_final_state() -> None:
    acc = StreamAccumulator()
    assert acc.feed(_chunk("Hi")) is not None
    finish = ChatCompletionChunk.model_validate({"choices": [{"delta": {}, "finish_reason": "length"}]})
    assert acc.feed(finish) is None  # nothing new to show
    last = acc.finish()
    assert last is not None
    assert last.message.content == "Hi"
    assert last.raw["choices"][0]["finish_reason"] == "length"


def test_completion_response_keeps_everything() -> None:
    acc = StreamAccumulator()
    acc.feed(_chunk("Hi"))
    response = acc.feed(_chunk(usage=True))
    assert response is not None
    completion = completion_response(response)
    assert (completion.text, completion.delta, completion.raw) == ("Hi", "", response.raw)
    assert completion.additional_kwargs["total_tokens"] == 7
