"""Model behaviour on a real model: Gemma 3 270M (a base model) on llama.cpp, through ``HFEndpoint``.

The scripted backend proves the plumbing; these tests prove that what reaches the model makes sense to it: the
question/answer prompt, grammar-constrained JSON and tool calls, retrieval-augmented answers. Greedy decoding
keeps them deterministic.
"""

from __future__ import annotations

from typing import Literal

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import AgentOutput, AgentStream, FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

from hf_endpoint import LengthLimitError
from llama_index_hf_endpoint import HFEndpoint, HFEndpointEmbedding

pytestmark = [
    pytest.mark.tiny,
    # Workflow agents touch pydantic's deprecated attributes and Context.is_running (third-party, harmless).
    pytest.mark.filterwarnings(
        r"ignore:The `__fields\w*` attribute is deprecated:pydantic.warnings.PydanticDeprecatedSince20"
    ),
    pytest.mark.filterwarnings(
        r"ignore:Accessing the 'model_\w+' attribute on the instance is deprecated"
        ":pydantic.warnings.PydanticDeprecatedSince211"
    ),
    pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning"),
]

QUESTION = "What is the capital of France?"


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 25 degrees in {city}."


async def test_answers_a_question_by_every_method(tiny_llm: HFEndpoint) -> None:
    texts = [
        tiny_llm.complete(QUESTION).text,
        tiny_llm.chat([ChatMessage(role="user", content=QUESTION)]).message.content or "",
        "".join(r.delta or "" for r in tiny_llm.stream_complete(QUESTION)),
        (await tiny_llm.acomplete(QUESTION)).text,
        "".join(
            [r.delta or "" async for r in await tiny_llm.astream_chat([ChatMessage(role="user", content=QUESTION)])]
        ),
    ]
    assert all("Paris" in text for text in texts), texts
    assert len(set(texts)) == 1  # greedy: the same answer whichever way it was asked


async def test_a_base_model_continues_a_prompt(tiny_url: str) -> None:
    """Issue 13, item 11: the prompt went through the chat template ("One, two, three," -> "\nQuestion:"); sent
    as is (formatted=True, or is_chat_model=False, the class docstring's example) the model continues it."""
    async with HFEndpoint(base_url=tiny_url, temperature=0, max_tokens=4, timeout=120) as chat_model:
        continued = chat_model.complete("One, two, three,", formatted=True).text
        assert continued.startswith(" four, five"), continued
        assert (await chat_model.acomplete("One, two, three,", formatted=True)).text == continued
    async with HFEndpoint(base_url=tiny_url, is_chat_model=False, temperature=0, max_tokens=4, timeout=120) as base:
        assert base.complete("One, two, three,").text == continued
        assert "".join(r.delta or "" for r in base.stream_complete("One, two, three,")) == continued


def test_usage_and_metadata_from_the_server(tiny_llm: HFEndpoint) -> None:
    response = tiny_llm.complete(QUESTION)
    assert response.additional_kwargs["prompt_tokens"] > 5
    assert 0 < response.additional_kwargs["completion_tokens"] <= 24
    assert tiny_llm.metadata.model_name == "google/gemma-3-270m"
    assert tiny_llm.metadata.context_window > 1000


class Country(BaseModel):
    name: str
    continent: Literal["Africa", "Asia", "Europe", "North America", "Oceania", "South America"]
    population_millions: int = Field(ge=0, le=2000)  # bounded: unbounded digits let a tiny model ramble


async def test_structured_output_is_schema_valid(tiny_llm: HFEndpoint) -> None:
    """A 270M base model does not produce this JSON on its own; the grammar makes every output valid."""
    prompt = PromptTemplate("Describe the country {country} as JSON.")
    room = {"max_tokens": 64}
    country = tiny_llm.structured_predict(Country, prompt, llm_kwargs=room, country="Japan")
    assert isinstance(country, Country)
    assert isinstance(await tiny_llm.astructured_predict(Country, prompt, llm_kwargs=room, country="Japan"), Country)
    with pytest.raises(LengthLimitError, match="cut off by the token limit"):
        tiny_llm.structured_predict(Country, prompt, llm_kwargs={"max_tokens": 5}, country="Japan")


async def test_tool_call_with_the_right_argument(tiny_llm: HFEndpoint) -> None:
    tool = FunctionTool.from_defaults(get_weather)
    responses = [
        tiny_llm.chat_with_tools([tool], user_msg="What is the weather in Paris?"),
        await tiny_llm.achat_with_tools([tool], user_msg="What is the weather in Paris?"),
        list(tiny_llm.stream_chat_with_tools([tool], user_msg="What is the weather in Paris?"))[-1],
    ]
    for response in responses:
        (selection,) = tiny_llm.get_tool_calls_from_response(response)
        assert selection.tool_name == "get_weather"
        assert selection.tool_kwargs == {"city": "Paris"}


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
async def test_function_agent_calls_the_tool(tiny_llm: HFEndpoint, streaming: bool) -> None:
    # return_direct: the tool's output is the answer. Without it the tiny base model keeps calling the tool
    # after the result instead of answering (it hits max_iterations), which is model quality, not plumbing.
    tool = FunctionTool.from_defaults(get_weather, return_direct=True)
    agent = FunctionAgent(tools=[tool], llm=tiny_llm, streaming=streaming)
    for _ in range(2):
        handler = agent.run(user_msg="What is the weather in Paris?")
        events = [event async for event in handler.stream_events()]
        result = await handler
        assert isinstance(result, AgentOutput)
        (call,) = [e for e in events if isinstance(e, ToolCallResult)]
        assert call.tool_kwargs == {"city": "Paris"}
        assert result.response.content == "It is sunny and 25 degrees in Paris."


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
async def test_react_agent_runs(tiny_llm: HFEndpoint, streaming: bool) -> None:
    agent = ReActAgent(tools=[FunctionTool.from_defaults(get_weather)], llm=tiny_llm, streaming=streaming)
    for _ in range(2):
        result = await agent.run(user_msg=QUESTION)
        assert isinstance(result, AgentOutput)
        assert result.response.content


async def test_react_agent_ends_with_the_text_of_a_model_that_ignores_its_format(tiny_llm: HFEndpoint) -> None:
    """Gemma 3 270M is a base model: it answers in plain text instead of ReAct's Thought/Action lines (ReAct uses no
    grammar, so nothing constrains it). The streamed run still ends cleanly, its answer being exactly the text that
    streamed, and no tool call is made up."""
    agent = ReActAgent(tools=[FunctionTool.from_defaults(get_weather)], llm=tiny_llm)
    handler = agent.run(user_msg="What is the weather in Paris?")
    events = [event async for event in handler.stream_events()]
    result = await handler
    assert isinstance(result, AgentOutput)
    assert not result.tool_calls and not [e for e in events if isinstance(e, ToolCallResult)]
    streamed = "".join(e.delta for e in events if isinstance(e, AgentStream))
    assert "Paris" in streamed
    assert result.response.content == streamed


async def test_query_engine_answers_from_the_documents(tiny_llm: HFEndpoint, embed_url: str) -> None:
    """The real LLM over real embeddings: the right document is retrieved among others, then answered from."""
    docs = [
        Document(text="The Eiffel Tower was finished in 1889. It is 330 metres tall."),
        Document(text="The Statue of Liberty was dedicated in 1886. It stands in New York Harbor."),
        Document(text="The Brandenburg Gate in Berlin was finished in 1791."),
    ]
    # LlamaIndex's default QA prompt is for instruction-tuned models (a base model continues its "-----" lines);
    # a base model needs a completion-style prompt, like any base model behind any integration.
    qa = PromptTemplate("Context: {context_str}\nUsing the context, answer: {query_str}")
    embed_model = HFEndpointEmbedding(base_url=embed_url, query_prompt_name="query")
    index = VectorStoreIndex.from_documents(docs, embed_model=embed_model)
    engine = index.as_query_engine(llm=tiny_llm, text_qa_template=qa, similarity_top_k=1)
    response = engine.query("In which year was the Eiffel Tower finished?")
    assert "1889" in str(response)
    assert [n.node.get_content() for n in response.source_nodes] == [docs[0].text]
    assert "1889" in str(await engine.aquery("In which year was the Eiffel Tower finished?"))
