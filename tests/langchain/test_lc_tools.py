"""Tool calling: ``bind_tools`` and every ``tool_choice`` form, tool calls and chunks, ids, ToolMessage round trips,
on both TGI routes (the Messages API, and ``/generate`` with TGI's grammar)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from lc_helpers import last_body
from pydantic import BaseModel, Field

from hf_endpoint import LengthLimitError
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint

pytestmark = pytest.mark.usefixtures("close_pooled_clients")

ROUTES = {
    "chat": {},
    "generate": {"route": "generate", "chat_template": "chatml"},
}


@tool
def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


@tool
def get_weather(location: str) -> str:
    """Get the weather at a location."""
    return "It's sunny."


class Customer(BaseModel):
    """Create a customer."""

    customer_name: str = Field(json_schema_extra={"enum": ["你好啊集团"]})


def _llm(server: LocalServer, route: str, **kwargs: Any) -> ChatHFEndpoint:
    return ChatHFEndpoint(base_url=server.url, **ROUTES[route], **kwargs)


def _aggregate(chunks: Any) -> AIMessageChunk:
    full = None
    for chunk in chunks:
        full = chunk if full is None else full + chunk
    assert isinstance(full, AIMessageChunk)
    return full


@pytest.mark.parametrize(
    ("tool_choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_forms(scripted: LocalServer, tool_choice: Any, sent: Any) -> None:
    msg = _llm(scripted, "chat").bind_tools([magic_function, get_weather], tool_choice=tool_choice).invoke("hi")
    body = last_body(scripted)
    assert body["tool_choice"] == sent  # "any" is "required", not a tool named "any" (ChatHuggingFace's bug)
    assert [t["function"]["name"] for t in body["tools"]] == ["magic_function", "get_weather"]
    if sent == "none":
        assert not msg.tool_calls and msg.content
    elif isinstance(sent, dict):
        assert [c["name"] for c in msg.tool_calls] == ["get_weather"]
    elif sent == "required":
        assert len(msg.tool_calls) == 1


def test_unknown_tool_choice_fails_at_bind_time() -> None:
    llm = ChatHFEndpoint(base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="not one of the tools"):
        llm.bind_tools([magic_function], tool_choice="nope")


def test_many_tools_and_a_forced_one(scripted: LocalServer) -> None:
    tools = [magic_function, get_weather, Customer, {"type": "function", "function": {"name": "raw", "parameters": {}}}]
    msg = _llm(scripted, "chat").bind_tools(tools, tool_choice="Customer").invoke("hi")
    assert len(last_body(scripted)["tools"]) == 4
    assert msg.tool_calls[0]["name"] == "Customer"


@pytest.mark.parametrize("route", list(ROUTES))
def test_tool_calls_invoke_and_stream(scripted: LocalServer, route: str) -> None:
    bound = _llm(scripted, route).bind_tools([magic_function], tool_choice="any")
    msg = bound.invoke("What is the value of magic_function(3)? Use the tool.")
    assert isinstance(msg, AIMessage)
    [call] = msg.tool_calls
    assert call["name"] == "magic_function"
    assert isinstance(call["args"]["input"], int)  # the scripted backend's value from the schema, not from the prompt
    assert call["id"]
    assert call["type"] == "tool_call"
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    assert [b["type"] for b in msg.content_blocks] == ["tool_call"]

    chunks = list(bound.stream("What is the value of magic_function(3)? Use the tool."))
    assert any(c.tool_call_chunks for c in chunks)
    full = _aggregate(chunks)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [(call["name"], call["args"])]
    assert full.tool_calls[0]["id"]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.usage_metadata is not None


@pytest.mark.parametrize("route", list(ROUTES))
async def test_tool_calls_async(scripted: LocalServer, route: str) -> None:
    bound = _llm(scripted, route).bind_tools([magic_function], tool_choice="magic_function")
    msg = await bound.ainvoke("magic_function(3)?")
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls[0]["name"] == "magic_function"
    full = None
    async for chunk in bound.astream("magic_function(3)?"):
        full = chunk if full is None else full + chunk
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls[0]["name"] == "magic_function"


@pytest.mark.parametrize("route", list(ROUTES))
def test_tool_message_round_trip(scripted: LocalServer, route: str) -> None:
    bound = _llm(scripted, route).bind_tools([magic_function])
    question = HumanMessage("What is magic_function(3)?")
    ai = bound.invoke([question])
    assert isinstance(ai, AIMessage)
    [call] = ai.tool_calls
    result = magic_function.invoke(call)
    assert isinstance(result, ToolMessage)
    assert result.tool_call_id == call["id"]
    answer = bound.invoke([question, ai, result])
    assert isinstance(answer, AIMessage)
    assert answer.content and not answer.tool_calls  # after a tool result the scripted backend answers in text
    if route == "chat":
        sent = last_body(scripted)["messages"]
        assert sent[1]["role"] == "assistant"
        assert sent[1]["tool_calls"][0]["id"] == call["id"]
        assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == call["args"]
        assert "content" not in sent[1]  # TGI drops tool calls that come with content
        assert sent[2] == {
            "role": "tool",
            "content": result.content,
            "tool_call_id": call["id"],
            "name": "magic_function",
        }
    else:
        assert str(call["args"]["input"]) in last_body(scripted)["inputs"]


def test_unicode_tool_arguments_round_trip(scripted: LocalServer) -> None:
    bound = _llm(scripted, "chat").bind_tools([Customer], tool_choice="any")
    msg = bound.invoke("Create a customer named '你好啊集团'")
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls[0]["args"] == {"customer_name": "你好啊集团"}  # decoded, not \\u escapes
    full = _aggregate(bound.stream("Create a customer named '你好啊集团'"))
    assert full.tool_calls[0]["args"] == {"customer_name": "你好啊集团"}
    bound.invoke([HumanMessage("again"), msg, ToolMessage("created", tool_call_id=msg.tool_calls[0]["id"])])
    arguments = last_body(scripted)["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert "你好啊集团" in arguments


def test_tool_message_with_error_status_and_list_content(scripted: LocalServer) -> None:
    bound = _llm(scripted, "chat").bind_tools([magic_function])
    history = [
        HumanMessage("magic_function(3)?"),
        AIMessage(
            [
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "t1", "name": "magic_function", "input": {"input": 3}},
            ],
            tool_calls=[{"name": "magic_function", "args": {"input": 3}, "id": "t1", "type": "tool_call"}],
        ),
        ToolMessage("Error: boom", tool_call_id="t1", status="error"),
    ]
    assert isinstance(bound.invoke(history), AIMessage)
    sent = last_body(scripted)["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == "t1"


# get_weather's scripted call, one word or mark per token, cut inside the location's value (which LangChain's
# partial-JSON parser would complete): {"location":"example
CUT_IN_VALUE = {"chat": 20, "generate": 25}


@pytest.mark.parametrize("route", list(ROUTES))
def test_tool_call_cut_off_by_max_tokens(scripted: LocalServer, route: str) -> None:
    """Issue 13, item 2: a call cut off by max_tokens is never reported as complete, streamed or not."""
    bound = _llm(scripted, route, max_tokens=CUT_IN_VALUE[route]).bind_tools([get_weather], tool_choice="any")
    # Streamed: an error, because LangChain adds the chunks up and completes the partial arguments.
    with pytest.raises(LengthLimitError, match=r"length limit.*raise max_tokens"):
        list(bound.stream("Weather in Paris?"))
    if route == "chat":  # TGI answers the same call without streaming with a 422 tool_error: the same error
        with pytest.raises(LengthLimitError, match=r"length limit \(max_tokens=20\)"):
            bound.invoke("Weather in Paris?")
        return
    msg = bound.invoke("Weather in Paris?")
    assert msg.response_metadata["finish_reason"] == "length"
    assert msg.tool_calls == []
    [bad] = msg.invalid_tool_calls
    assert (bad["name"], bad["args"]) == ("get_weather", '{"location":"example')
    assert "length limit" in (bad["error"] or "")


async def test_tool_call_cut_off_async(scripted: LocalServer) -> None:
    bound = _llm(scripted, "chat", max_tokens=CUT_IN_VALUE["chat"]).bind_tools([get_weather], tool_choice="any")
    with pytest.raises(LengthLimitError):
        _ = [chunk async for chunk in bound.astream("Weather in Paris?")]
