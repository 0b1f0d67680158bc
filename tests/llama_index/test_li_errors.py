"""Failures reach LlamaIndex callers as the transport's typed exceptions, from every method and from agents."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.tools import FunctionTool

from hf_endpoint import (
    APIConnectionError,
    AuthenticationError,
    ContextWindowExceededError,
    GenerationError,
    HFEndpointError,
    InvalidRequestError,
    RateLimitError,
)
from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint

MESSAGES = [ChatMessage(role="user", content="hi")]
LONG = [ChatMessage(role="user", content="word " * 200)]


async def _all_methods(llm: HFEndpoint, messages: list[ChatMessage]) -> list[Any]:
    """Call each of the eight methods (consuming streams); return what each raised."""
    prompt = messages[-1].content or ""
    calls: list[Any] = [
        lambda: llm.chat(messages),
        lambda: llm.complete(prompt),
        lambda: list(llm.stream_chat(messages)),
        lambda: list(llm.stream_complete(prompt)),
    ]
    errors = []
    for call in calls:
        with pytest.raises(HFEndpointError) as info:
            call()
        errors.append(info.value)
    acalls: list[Any] = [
        lambda: llm.achat(messages),
        lambda: llm.acomplete(prompt),
        lambda: _drain(llm.astream_chat(messages)),
        lambda: _drain(llm.astream_complete(prompt)),
    ]
    for acall in acalls:
        with pytest.raises(HFEndpointError) as info:
            await acall()
        errors.append(info.value)
    return errors


async def _drain(stream: Any) -> list[Any]:
    return [item async for item in await stream]


@pytest.fixture(scope="module")
def narrow_server() -> Iterator[LocalServer]:
    with LocalServer("scripted", max_total_tokens=64, max_input_tokens=32) as srv:
        yield srv


async def test_context_window_exceeded(make_llm: Any, narrow_server: LocalServer) -> None:
    errors = await _all_methods(make_llm(narrow_server.url), LONG)
    assert all(isinstance(e, ContextWindowExceededError) for e in errors), errors
    assert all(e.status_code == 422 for e in errors)


async def test_authentication(make_llm: Any) -> None:
    with LocalServer("scripted", api_key="right-key") as srv:
        errors = await _all_methods(make_llm(srv.url, api_key="wrong-key"), MESSAGES)
        assert all(isinstance(e, AuthenticationError) for e in errors), errors
        assert not any("wrong-key" in str(e) for e in errors)
        assert make_llm(srv.url, api_key="right-key").complete("hi").text


async def test_rate_limited_after_retries(make_llm: Any, scripted: LocalServer) -> None:
    scripted.configure(
        status={"code": 429, "body": {"error": "Model is overloaded", "error_type": "overloaded"}, "count": -1}
    )
    errors = await _all_methods(make_llm(max_retries=0), MESSAGES)
    assert all(isinstance(e, RateLimitError) for e in errors), errors


async def test_error_inside_a_stream(make_llm: Any, scripted: LocalServer) -> None:
    """The pieces before the error arrive once; then the error, typed, not a truncated 'success'."""
    scripted.configure(stream_error={"after": 3, "message": "Request failed during generation: boom"})
    llm = make_llm()
    seen: list[str] = []

    def consume() -> None:
        for response in llm.stream_chat(MESSAGES):
            seen.append(response.delta or "")

    async def aconsume() -> None:
        async for response in await llm.astream_complete("hi"):
            aseen.append(response.delta or "")

    with pytest.raises(GenerationError, match="boom"):
        consume()
    assert "".join(seen) == "Hello from the"
    aseen: list[str] = []
    with pytest.raises(GenerationError, match="boom"):
        await aconsume()
    assert aseen == seen


def test_connection_refused(make_llm: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: nothing listens there
    llm = make_llm(f"http://127.0.0.1:{port}", max_retries=0, context_window=4096)
    with pytest.raises(APIConnectionError):
        llm.chat(MESSAGES)


def test_invalid_parameters(llm: HFEndpoint, make_llm: Any) -> None:
    with pytest.raises(InvalidRequestError, match="unknown chat parameter") as info:
        llm.chat(MESSAGES, bogus=1)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidRequestError, match="chat_template"):
        make_llm(route="generate").chat(MESSAGES)  # the scripted model has no built-in template


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        super().__init__([], [])
        self.ends: list[dict[str, Any]] = []

    def on_event_start(
        self, event_type: CBEventType, payload: Any = None, event_id: str = "", parent_id: str = "", **kwargs: Any
    ) -> str:
        return event_id

    def on_event_end(self, event_type: CBEventType, payload: Any = None, event_id: str = "", **kwargs: Any) -> None:
        if event_type == CBEventType.LLM:
            self.ends.append(payload or {})

    def start_trace(self, trace_id: str | None = None) -> None:
        return None

    def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
        return None


def test_callbacks_see_the_exception(make_llm: Any, scripted: LocalServer) -> None:
    scripted.configure(stream_error={"after": 1, "message": "Request failed during generation: boom"})
    recorder = _Recorder()
    llm = make_llm(callback_manager=CallbackManager([recorder]))
    with pytest.raises(GenerationError):
        list(llm.stream_chat(MESSAGES))
    assert isinstance(recorder.ends[-1][EventPayload.EXCEPTION], GenerationError)


@pytest.mark.filterwarnings(
    r"ignore:The `__fields\w*` attribute is deprecated:pydantic.warnings.PydanticDeprecatedSince20",
    r"ignore:Accessing the 'model_\w+' attribute on the instance is deprecated:pydantic.warnings.PydanticDeprecatedSince211",
)
async def test_agent_surfaces_typed_error(make_llm: Any, scripted: LocalServer) -> None:
    scripted.configure(
        status={
            "code": 424,
            "body": {"error": "Request failed during generation: boom", "error_type": "generation"},
            "count": -1,
        }
    )
    tool = FunctionTool.from_defaults(lambda a, b: a + b, name="add", description="Add two numbers.")
    agent = FunctionAgent(tools=[tool], llm=make_llm(), streaming=False)
    with pytest.raises(GenerationError, match="boom"):
        await agent.run(user_msg="What is 1 + 1?")
