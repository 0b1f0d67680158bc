"""``ChatHFEndpoint`` on a real model: Gemma 3 270M (base) on llama.cpp behind the local TGI-protocol server.

These are the tests whose assertion needs a model that reads the prompt. The model is small and a base model, so
the questions are the kind it answers ("What is the capital of France?"), with greedy decoding.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel

from hf_endpoint import LengthLimitError
from langchain_hf_endpoint import ChatHFEndpoint

pytestmark = [pytest.mark.tiny, pytest.mark.usefixtures("close_pooled_clients")]

ROUTES = {"chat": {}, "generate": {"route": "generate"}}  # generate: the transport's built-in template for Gemma
QUESTION = "What is the capital of France?"
SERVED = "google/gemma-3-270m"


class City(BaseModel):
    city: str
    country: str


@tool
def get_weather(location: str) -> str:
    """Get the weather at a location."""
    return "It's sunny."


def _llm(url: str, route: str, max_tokens: int = 24) -> ChatHFEndpoint:
    return ChatHFEndpoint(base_url=url, temperature=0, max_tokens=max_tokens, **ROUTES[route])


@pytest.mark.parametrize("route", list(ROUTES))
def test_the_model_reads_the_prompt(tiny_url: str, route: str) -> None:
    msg = _llm(tiny_url, route).invoke(QUESTION)
    assert "Paris" in msg.text
    assert msg.response_metadata["model_name"] == SERVED  # from /info, not the URL
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] > 5 and msg.usage_metadata["output_tokens"] >= 1


@pytest.mark.parametrize("route", list(ROUTES))
def test_stream_matches_invoke(tiny_url: str, route: str) -> None:
    llm = _llm(tiny_url, route)
    chunks = list(llm.stream(QUESTION))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    assert full.text == llm.invoke(QUESTION).text  # greedy decoding: the same text both ways
    assert [i for i, c in enumerate(chunks) if c.usage_metadata] == [len(chunks) - 1]


async def test_async_chain(tiny_url: str) -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "What is the capital of {country}?")])
    chain = prompt | _llm(tiny_url, "chat") | StrOutputParser()
    assert "Paris" in await chain.ainvoke({"country": "France"})


@pytest.mark.parametrize("route", list(ROUTES))
def test_structured_output_from_a_real_model(tiny_url: str, route: str) -> None:
    structured = _llm(tiny_url, route, max_tokens=40).with_structured_output(City)
    result = structured.invoke("Paris is the capital of France. Which city and country?")
    assert isinstance(result, City)  # the grammar kept a 270M base model to the schema
    assert result.city == "Paris"


@pytest.mark.parametrize("route", list(ROUTES))
def test_forced_tool_call_from_a_real_model(tiny_url: str, route: str) -> None:
    msg = (
        _llm(tiny_url, route, max_tokens=40)
        .bind_tools([get_weather], tool_choice="any")
        .invoke("What is the weather in Paris?")
    )
    assert isinstance(msg, AIMessage)
    [call] = msg.tool_calls
    assert call["name"] == "get_weather"
    assert isinstance(call["args"]["location"], str)
    assert call["id"]


class Person(BaseModel):
    name: str
    bio: str


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_cut_off_by_max_tokens_is_an_error(tiny_url: str, method: str) -> None:
    """Issue 13, item 1, as reported: Person(name='Ada Lovelace', bio='Ada') came back from the cut-off
    {"name":"Ada Lovelace","bio":"Ada, repaired by langchain-core's partial-JSON parser."""
    llm = ChatHFEndpoint(base_url=tiny_url, temperature=0, max_tokens=10)
    structured = llm.with_structured_output(Person, method=method)  # type: ignore[arg-type]
    with pytest.raises(LengthLimitError, match=r"length limit.*raise max_tokens"):
        structured.invoke("Write a short profile of Ada Lovelace as JSON.")
