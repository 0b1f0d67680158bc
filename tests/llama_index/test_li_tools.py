"""Tool calling: the FunctionCallingLLM flows, streamed and not, and tool results sent back to the server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools import FunctionTool

from hf_endpoint import LengthLimitError
from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def shout(text: str) -> str:
    """Repeat the text in capitals."""
    return text.upper()


TOOLS = [FunctionTool.from_defaults(add), FunctionTool.from_defaults(shout)]


def _check_call(response: ChatResponse, llm: HFEndpoint) -> ToolSelection:
    """The scripted server calls the first tool with schema-valid arguments (1 for each integer)."""
    (selection,) = llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "add"
    assert selection.tool_kwargs == {"a": 1, "b": 1}  # parsed, not a JSON string, not {}
    assert selection.tool_id
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_name, json.loads(b.tool_kwargs)) for b in blocks] == [("add", {"a": 1, "b": 1})]  # type: ignore[arg-type]
    assert response.message.additional_kwargs["tool_calls"][0]["function"]["name"] == "add"
    assert response.additional_kwargs["completion_tokens"] > 0
    return selection


def test_chat_with_tools(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        _check_call(route_llm.chat_with_tools(TOOLS, user_msg="What is 1 + 1?"), route_llm)


async def test_achat_with_tools(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        _check_call(await route_llm.achat_with_tools(TOOLS, user_msg="What is 1 + 1?"), route_llm)


def test_stream_chat_with_tools(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        responses = list(route_llm.stream_chat_with_tools(TOOLS, user_msg="What is 1 + 1?"))
        # Pieces of arguments on the Messages API; the native route sends the call whole, when its JSON is complete.
        assert len(responses) > (2 if route_llm.route == "chat" else 1)
        for partial in responses:  # agents parse every partial response: this must never raise
            route_llm.get_tool_calls_from_response(partial, error_on_no_tool_call=False)
        _check_call(responses[-1], route_llm)


async def test_astream_chat_with_tools(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        stream = await route_llm.astream_chat_with_tools(TOOLS, user_msg="What is 1 + 1?")
        responses = [r async for r in stream]
        assert len(responses) > (2 if route_llm.route == "chat" else 1)
        _check_call(responses[-1], route_llm)


def test_tool_required_and_tool_choice(llm: HFEndpoint, scripted: LocalServer) -> None:
    llm.chat_with_tools(TOOLS, user_msg="hi", tool_required=True)
    body = json.loads(scripted.last_request()["body"])
    assert body["tool_choice"] == "required"
    assert [t["function"]["name"] for t in body["tools"]] == ["add", "shout"]
    assert body["tools"][0]["function"]["parameters"]["required"] == ["a", "b"]

    response = llm.chat_with_tools(TOOLS, user_msg="hi", tool_choice="shout")
    body = json.loads(scripted.last_request()["body"])
    assert body["tool_choice"] == {"type": "function", "function": {"name": "shout"}}
    (selection,) = llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "shout"
    assert isinstance(selection.tool_kwargs["text"], str)

    llm.chat_with_tools(TOOLS, user_msg="hi")
    assert "tool_choice" not in json.loads(scripted.last_request()["body"])  # TGI's default: auto


def test_tool_result_round_trip(llm: HFEndpoint, scripted: LocalServer) -> None:
    """The assistant's call and the tool's result go back in OpenAI's shape; the model then answers in text."""
    history = [ChatMessage(role="user", content="What is 1 + 1?")]
    first = llm.chat_with_tools(TOOLS, chat_history=history)
    selection = _check_call(first, llm)
    assert len(history) == 1  # the caller's list is not modified
    output = TOOLS[0].call(**selection.tool_kwargs)
    history += [
        first.message,
        ChatMessage(role="tool", content=str(output), additional_kwargs={"tool_call_id": selection.tool_id}),
    ]
    final = llm.chat_with_tools(TOOLS, chat_history=history)
    assert final.message.content == "Hello from the scripted backend."
    assert llm.get_tool_calls_from_response(final, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        llm.get_tool_calls_from_response(final)
    sent = json.loads(scripted.last_request()["body"])["messages"]
    assert sent[1] == {
        "role": "assistant",
        "tool_calls": [
            {"id": selection.tool_id, "type": "function", "function": {"name": "add", "arguments": '{"a":1,"b":1}'}}
        ],
    }
    assert sent[2] == {"role": "tool", "content": "2", "tool_call_id": selection.tool_id}


def test_tool_calls_from_older_integrations_are_sent(llm: HFEndpoint, scripted: LocalServer) -> None:
    """Tool calls kept only in additional_kwargs (as dicts, e.g. from serialized memory) are sent too."""
    call = {"id": "call_9", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    history = [
        ChatMessage(role="user", content="2 + 3?"),
        ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]}),
        ChatMessage(role="tool", content="5", additional_kwargs={"tool_call_id": "call_9"}),
    ]
    llm.chat(history)
    sent = json.loads(scripted.last_request()["body"])["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 2, "b": 3}'}


def test_predict_and_call(llm: HFEndpoint) -> None:
    result = llm.predict_and_call(TOOLS, user_msg="What is 1 + 1?")
    assert result.response == "2"
    assert result.sources[0].tool_name == "add"


async def test_apredict_and_call(llm: HFEndpoint) -> None:
    result = await llm.apredict_and_call(TOOLS, user_msg="What is 1 + 1?")
    assert result.response == "2"


def test_single_tool_call_unless_parallel_allowed(llm: HFEndpoint) -> None:
    from llama_index_hf_endpoint._responses import force_single_tool_call

    blocks: list[Any] = [ToolCallBlock(tool_call_id=str(i), tool_name="add", tool_kwargs={"a": i}) for i in range(2)]
    response = ChatResponse(message=ChatMessage(role="assistant", blocks=blocks))
    assert len(llm.get_tool_calls_from_response(response)) == 2
    force_single_tool_call(response)
    assert [s.tool_id for s in llm.get_tool_calls_from_response(response)] == ["0"]


# add's scripted call, one word or mark per token, cut inside its arguments ({"a":1), which LlamaIndex's
# partial-JSON parser would complete into {"a": 1}.
CUT_IN_ARGUMENTS = {"chat": 19, "generate": 24}


def test_tool_call_cut_off_by_max_tokens_is_an_error(route_options: dict[str, Any], make_llm: Any) -> None:
    """Issue 13, item 2: streamed or not, a call cut off by max_tokens is an error, never a call to make."""
    llm = make_llm(max_tokens=CUT_IN_ARGUMENTS[route_options["route"]], **route_options)
    with pytest.raises(LengthLimitError, match=r"length limit.*raise max_tokens"):
        llm.chat_with_tools(TOOLS, user_msg="What is 1 + 1?", tool_required=True)
    with pytest.raises(LengthLimitError, match=r"length limit.*raise max_tokens"):
        list(llm.stream_chat_with_tools(TOOLS, user_msg="What is 1 + 1?", tool_required=True))


async def test_tool_call_cut_off_async(make_llm: Any) -> None:
    llm = make_llm(max_tokens=CUT_IN_ARGUMENTS["chat"])
    with pytest.raises(LengthLimitError):
        await llm.achat_with_tools(TOOLS, user_msg="What is 1 + 1?", tool_required=True)
    with pytest.raises(LengthLimitError):
        _ = [r async for r in await llm.astream_chat_with_tools(TOOLS, user_msg="What is 1 + 1?", tool_required=True)]
