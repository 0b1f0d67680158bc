"""End to end against the local server: a prompt | model | parser chain, a structured-output chain and a
tool-using agent (``langchain.agents.create_agent``, on LangGraph), sync and async, on both TGI routes."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel

from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint

pytestmark = pytest.mark.usefixtures("close_pooled_clients")

ROUTES = {"chat": {}, "generate": {"route": "generate", "chat_template": "chatml"}}
PROMPT = ChatPromptTemplate.from_messages([("system", "You answer briefly."), ("human", "{question}")])


class Answer(BaseModel):
    answer: str
    confidence: float


def _llm(server: LocalServer, route: str) -> ChatHFEndpoint:
    return ChatHFEndpoint(base_url=server.url, temperature=0, max_tokens=64, **ROUTES[route])


@pytest.mark.parametrize("route", list(ROUTES))
def test_prompt_model_parser_chain(scripted: LocalServer, route: str) -> None:
    chain = PROMPT | _llm(scripted, route) | StrOutputParser()
    assert chain.invoke({"question": "Why is the sky blue?"}) == "Hello from the scripted backend."
    assert "".join(chain.stream({"question": "Why?"})) == "Hello from the scripted backend."


@pytest.mark.parametrize("route", list(ROUTES))
async def test_prompt_model_parser_chain_async(scripted: LocalServer, route: str) -> None:
    chain = PROMPT | _llm(scripted, route) | StrOutputParser()
    assert await chain.ainvoke({"question": "Why is the sky blue?"}) == "Hello from the scripted backend."
    assert "".join([piece async for piece in chain.astream({"question": "Why?"})]) == "Hello from the scripted backend."


@pytest.mark.parametrize("route", list(ROUTES))
async def test_structured_output_chain(scripted: LocalServer, route: str) -> None:
    chain = PROMPT | _llm(scripted, route).with_structured_output(Answer)
    assert isinstance(chain.invoke({"question": "Capital of France?"}), Answer)
    assert isinstance(await chain.ainvoke({"question": "Capital of France?"}), Answer)


def _weather_agent(server: LocalServer, route: str) -> tuple[Any, list[str]]:
    calls: list[str] = []

    @tool
    def get_weather(location: str) -> str:
        """Get the weather at a location."""
        calls.append(location)
        return "It's sunny."

    agent = create_agent(model=_llm(server, route), tools=[get_weather], system_prompt="Use the tools.")
    return agent, calls


def _check_run(messages: list[Any], calls: list[str]) -> None:
    assert len(calls) == 1  # the tool really ran, once
    kinds = [type(m) for m in messages]
    assert kinds == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    ai_call, tool_result, final = messages[1], messages[2], messages[3]
    assert ai_call.tool_calls[0]["name"] == "get_weather"
    assert tool_result.tool_call_id == ai_call.tool_calls[0]["id"]
    assert tool_result.content == "It's sunny."
    assert final.content and not final.tool_calls


@pytest.mark.parametrize("route", list(ROUTES))
def test_agent_calls_the_tool(scripted: LocalServer, route: str) -> None:
    agent, calls = _weather_agent(scripted, route)
    result = agent.invoke({"messages": [HumanMessage("What is the weather in San Francisco?")]})
    _check_run(result["messages"], calls)


@pytest.mark.parametrize("route", list(ROUTES))
async def test_agent_calls_the_tool_async(scripted: LocalServer, route: str) -> None:
    agent, calls = _weather_agent(scripted, route)
    result = await agent.ainvoke({"messages": [HumanMessage("What is the weather in San Francisco?")]})
    _check_run(result["messages"], calls)


async def test_agent_streams_tokens(scripted: LocalServer) -> None:
    agent, calls = _weather_agent(scripted, "chat")
    pieces = []
    async for message, _meta in agent.astream(
        {"messages": [HumanMessage("What is the weather in San Francisco?")]}, stream_mode="messages"
    ):
        pieces.append(message)
    assert len(calls) == 1
    assert any(getattr(p, "tool_call_chunks", None) for p in pieces)
    assert "".join(p.text for p in pieces if isinstance(p, AIMessage) and not p.tool_call_chunks)
