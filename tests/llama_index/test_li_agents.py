"""Agents on ``HFEndpoint``: FunctionAgent and AgentWorkflow call a Python tool and finish; ReActAgent runs.

The scripted server calls the first tool unless the last message is a tool result, then answers in text, so a
function-calling agent loop takes exactly two LLM calls. Each agent runs twice on the same LLM object, streamed
and not.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentOutput,
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCall,
    ToolCallResult,
)
from llama_index.core.tools import FunctionTool

from hf_endpoint import LengthLimitError
from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint

# Constructing a workflow agent runs ``inspect.getmembers`` over the pydantic instance, which touches pydantic's
# deprecated class attributes (llama-index-workflows 2.26 / pydantic 2.13): third-party, harmless.
pytestmark = [
    pytest.mark.filterwarnings(
        r"ignore:The `__fields\w*` attribute is deprecated:pydantic.warnings.PydanticDeprecatedSince20"
    ),
    pytest.mark.filterwarnings(
        r"ignore:Accessing the 'model_\w+' attribute on the instance is deprecated"
        ":pydantic.warnings.PydanticDeprecatedSince211"
    ),
]

REPLY = "Hello from the scripted backend."
calls: list[dict[str, int]] = []


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    calls.append({"a": a, "b": b})
    return a + b


TOOL = FunctionTool.from_defaults(add)


async def _run(agent: Any, message: str = "What is 1 + 1?") -> tuple[Any, list[Any]]:
    handler = agent.run(user_msg=message)
    events = [event async for event in handler.stream_events()]
    return await handler, events


def _check_tool_run(result: Any, events: list[Any], streaming: bool, reply: str = REPLY) -> None:
    assert isinstance(result, AgentOutput)
    assert result.response.content == reply
    assert [c.tool_name for c in result.tool_calls] == ["add"]  # the calls made during the run
    (tool_result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert tool_result.tool_name == "add"
    assert tool_result.tool_kwargs == {"a": 1, "b": 1}
    assert tool_result.tool_output.content == "2"
    assert not tool_result.tool_output.is_error
    streams = [e for e in events if isinstance(e, AgentStream)]
    if streaming:
        assert "".join(e.delta for e in streams) == reply
        assert any(e.tool_calls for e in streams)  # the tool call was visible while it streamed
    else:
        assert not streams


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
async def test_function_agent(llm: HFEndpoint, streaming: bool) -> None:
    agent = FunctionAgent(tools=[TOOL], llm=llm, streaming=streaming, system_prompt="You are a calculator.")
    for _ in range(2):
        calls.clear()
        result, events = await _run(agent)
        _check_tool_run(result, events, streaming)
        assert calls == [{"a": 1, "b": 1}]  # the Python function really ran, once


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
async def test_function_agent_native_route(make_llm: Any, streaming: bool) -> None:
    """On the native route a grammar offers the tools and a ``no_tool`` answer; after the tool result the
    transport offers the answer first, so the scripted server (which takes the first option) answers with the
    schema's sample string."""
    llm = make_llm(route="generate", chat_template="chatml")
    agent = FunctionAgent(tools=[TOOL], llm=llm, streaming=streaming)
    for _ in range(2):
        result, events = await _run(agent)
        _check_tool_run(result, events, streaming, reply="example")


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
async def test_agent_workflow(llm: HFEndpoint, streaming: bool) -> None:
    calculator = FunctionAgent(
        name="calculator", description="Adds numbers.", tools=[TOOL], llm=llm, streaming=streaming
    )
    workflow = AgentWorkflow(agents=[calculator], root_agent="calculator")
    for _ in range(2):
        result, events = await _run(workflow)
        _check_tool_run(result, events, streaming)
        assert any(isinstance(e, ToolCall) and e.tool_name == "add" for e in events)


def _chat_store_serializes_messages() -> bool:
    """False where llama-index-core's chat store cannot serialize a message (every 0.14 release under pydantic
    2.14: its wrap serializer passes pydantic's SerializationInfo where pydantic 2.14 requires an index key)."""
    from llama_index.core.llms import ChatMessage
    from llama_index.core.storage.chat_store import SimpleChatStore

    try:
        SimpleChatStore(store={"k": [ChatMessage(role="user", content="x")]}).model_dump()
    except Exception:
        return False
    return True


async def _second_run_sends_the_first(llm: HFEndpoint, scripted: LocalServer, **run: Any) -> None:
    """A second run on the same Context sends the first run's tool call and result back to the server."""
    import json

    from llama_index.core.workflow import Context

    agent = FunctionAgent(tools=[TOOL], llm=llm, streaming=False)
    ctx = Context(agent)
    await agent.run(user_msg="What is 1 + 1?", ctx=ctx, **run)
    await agent.run(user_msg="And again?", ctx=ctx, **run)
    sent = json.loads(scripted.last_request()["body"])["messages"]
    roles = [m["role"] for m in sent]
    assert roles.count("tool") == 2
    assert "tool_calls" in sent[roles.index("tool") - 1]


# llama-index-workflows continues a run on a Context by serializing its state and reading it back; it skips (with this
# warning) the agent's memory when that cannot be serialized (see _chat_store_serializes_messages).
@pytest.mark.filterwarnings("ignore::workflows.context.state_store.UnserializableKeyWarning")
async def test_function_agent_remembers_with_its_own_memory(llm: HFEndpoint, scripted: LocalServer) -> None:
    from llama_index.core.memory import ChatMemoryBuffer

    await _second_run_sends_the_first(llm, scripted, memory=ChatMemoryBuffer.from_defaults())


# The README's LlamaIndex section says what to do while this fails. strict: when llama-index fixes its chat store,
# this passes, fails the run as XPASS, and the README's note and this marker go.
@pytest.mark.xfail(
    not _chat_store_serializes_messages(),
    reason="llama-index-core's chat store cannot serialize messages under pydantic >= 2.14: the Context drops memory",
    strict=True,
)
@pytest.mark.filterwarnings("ignore::workflows.context.state_store.UnserializableKeyWarning")
async def test_function_agent_remembers_with_context(llm: HFEndpoint, scripted: LocalServer) -> None:
    await _second_run_sends_the_first(llm, scripted)


# ReActAgent.take_step calls ctx.is_running, deprecated inside a step (llama-index-workflows 2.26).
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
async def test_react_agent(llm: HFEndpoint, scripted: LocalServer, streaming: bool) -> None:
    # A fixed reply in ReAct's answer format: the scripted server never reads the prompt, so it cannot
    # alternate between an action and an answer (a ReAct tool loop needs a model; see test_li_tiny.py).
    scripted.configure(reply="Thought: I can answer without using any more tools.\nAnswer: 2")
    agent = ReActAgent(tools=[TOOL], llm=llm, streaming=streaming)
    for _ in range(2):
        result, events = await _run(agent)
        assert isinstance(result, AgentOutput)
        assert result.response.content == "2"
        assert not [e for e in events if isinstance(e, ToolCallResult)]
        if streaming:
            assert "Answer: 2" in "".join(e.delta for e in events if isinstance(e, AgentStream))


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
async def test_function_agent_stops_on_a_tool_call_cut_off(make_llm: Any, streaming: bool) -> None:
    """Issue 13, item 2: the streamed call {"a":1 cut off by max_tokens made the agent loop to its iteration
    limit (the call looked complete); now the run fails with the reason."""
    llm = make_llm(max_tokens=19)
    agent = FunctionAgent(tools=[TOOL], llm=llm, streaming=streaming)
    calls.clear()
    with pytest.raises(LengthLimitError, match="raise max_tokens"):
        await _run(agent)
    assert calls == []  # the tool never ran with repaired arguments
