"""The eight LLM methods, sync and async, on both routes: text, deltas, usage, logprobs, repeated calls."""

from __future__ import annotations

import json
from typing import Any

import llama_index.core.instrumentation as instrument
import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse, LogProb
from llama_index.core.instrumentation.event_handlers import BaseEventHandler

from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint

REPLY = "Hello from the scripted backend."
USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}  # the scripted server's own counts
MESSAGES = [ChatMessage(role="user", content="hi")]


def _check_final(response: ChatResponse | CompletionResponse) -> None:
    """Usage where LlamaIndex integrations put it: in ``raw`` and in ``additional_kwargs``."""
    assert isinstance(response.raw, dict)
    assert response.raw["usage"]["prompt_tokens"] > 0
    for key in USAGE:
        assert response.additional_kwargs[key] == response.raw["usage"][key]


def test_chat_and_complete(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        chat = route_llm.chat(MESSAGES)
        assert chat.message.role == "assistant"
        assert chat.message.content == REPLY
        _check_final(chat)
        completion = route_llm.complete("hi")
        assert completion.text == REPLY
        _check_final(completion)
        # The server's timing headers (seconds), where a saturated endpoint shows its queue.
        for response in (chat, completion):
            timings = response.additional_kwargs["timings"]
            assert timings["queue_time"] >= 0 and timings["total_time"] >= timings["inference_time"] >= 0
            assert {k: v for k, v in response.raw["timings"].items() if v is not None} == timings


async def test_achat_and_acomplete(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        chat = await route_llm.achat(MESSAGES)
        assert chat.message.content == REPLY
        _check_final(chat)
        completion = await route_llm.acomplete("hi")
        assert completion.text == REPLY
        _check_final(completion)


def _check_stream(responses: list[Any], text_of: Any) -> None:
    """Running text, deltas that add up to it, and a final piece holding everything plus the usage."""
    assert len(responses) >= 3
    running = ""
    for response in responses:
        running += response.delta or ""
        assert text_of(response) == running
    assert running == REPLY
    _check_final(responses[-1])
    # Measured by the client: time to first token and decoding speed, on the last response.
    timings = responses[-1].additional_kwargs["timings"]
    assert timings["time_to_first_token"] > 0 and timings["tokens_per_second"] > 0


def test_stream_chat_and_stream_complete(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        _check_stream(list(route_llm.stream_chat(MESSAGES)), lambda r: r.message.content)
        _check_stream(list(route_llm.stream_complete("hi")), lambda r: r.text)


async def test_astream_chat_and_astream_complete(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        _check_stream([r async for r in await route_llm.astream_chat(MESSAGES)], lambda r: r.message.content)
        _check_stream([r async for r in await route_llm.astream_complete("hi")], lambda r: r.text)


def test_async_methods_in_fresh_event_loops(llm: HFEndpoint) -> None:
    """``asyncio.run`` twice (notebooks, sync-over-async helpers): the second loop gets a working pool."""
    import asyncio

    async def both() -> str:
        text = "".join([r.delta or "" async for r in await llm.astream_complete("hi")])
        return (await llm.achat(MESSAGES)).message.content + text

    assert asyncio.run(both()) == REPLY * 2
    assert asyncio.run(both()) == REPLY * 2
    asyncio.run(llm.aclose())


def test_parameters_reach_the_server(make_llm: Any, scripted: LocalServer) -> None:
    llm = make_llm(temperature=0.5, max_tokens=12, additional_kwargs={"top_p": 0.9, "seed": 7})
    llm.chat(MESSAGES, stop=["\n"], seed=8)
    body = json.loads(scripted.last_request()["body"])
    assert body["temperature"] == 0.5
    assert body["max_tokens"] == 12
    assert body["top_p"] == 0.9
    assert body["seed"] == 8  # the call's own kwargs win over additional_kwargs
    assert body["stop"] == ["\n"]


def test_logprobs(make_llm: Any, route_options: dict[str, Any]) -> None:
    llm = make_llm(logprobs=True, top_logprobs=2, **route_options)
    chat = llm.chat(MESSAGES)
    assert chat.logprobs is not None
    assert len(chat.logprobs) in (6, 7)  # one list per generated token: 6 words (and EOS on the Messages API)
    first = chat.logprobs[0]
    assert len(first) == 2
    assert all(isinstance(lp, LogProb) and lp.logprob <= 0 for lp in first)
    assert first[0].token == "Hello"
    streamed = list(llm.stream_chat(MESSAGES))
    assert streamed[-1].logprobs is not None
    assert [lp[0].token for lp in streamed[-1].logprobs] == [lp[0].token for lp in chat.logprobs]
    assert llm.complete("hi").logprobs == chat.logprobs


def test_logprobs_without_alternatives(make_llm: Any) -> None:
    chat = make_llm(logprobs=True).chat(MESSAGES)
    assert chat.logprobs is not None
    assert [len(lp) for lp in chat.logprobs] == [1] * 7
    assert "".join(lp[0].token for lp in chat.logprobs[:-1]) == REPLY


def test_no_logprobs_unless_asked(llm: HFEndpoint) -> None:
    assert llm.chat(MESSAGES).logprobs is None


def test_system_user_assistant_history(llm: HFEndpoint, scripted: LocalServer) -> None:
    history = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="hello"),
        ChatMessage(role="user", content="again"),
    ]
    assert llm.chat(history).message.content == REPLY
    sent = json.loads(scripted.last_request()["body"])["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]


@pytest.mark.parametrize("kwargs", [{"temperature": 0.0}, {"temperature": 1.0, "seed": 1}])
async def test_sampling_options(make_llm: Any, kwargs: dict[str, Any]) -> None:
    assert (await make_llm(**kwargs).achat(MESSAGES)).message.content == REPLY


class _Events(BaseEventHandler):
    """Collects LlamaIndex instrumentation events."""

    events: list[Any] = []

    def handle(self, event: Any, **kwargs: Any) -> None:
        self.events.append(event)


async def test_instrumentation_events(llm: HFEndpoint) -> None:
    """Start, in-progress and end events for every method; each end event carries the final response."""
    handler = _Events(events=[])
    root = instrument.get_dispatcher()
    root.add_event_handler(handler)
    try:
        llm.chat(MESSAGES)
        list(llm.stream_chat(MESSAGES))
        await llm.acomplete("hi")
        [r async for r in await llm.astream_complete("hi")]
    finally:
        root.event_handlers.remove(handler)
    names = [type(e).__name__ for e in handler.events]
    assert names.count("LLMChatStartEvent") == names.count("LLMChatEndEvent") == 2
    assert names.count("LLMCompletionStartEvent") == names.count("LLMCompletionEndEvent") == 2
    assert "LLMChatInProgressEvent" in names
    assert "LLMCompletionInProgressEvent" in names
    ends = [e for e in handler.events if type(e).__name__ in ("LLMChatEndEvent", "LLMCompletionEndEvent")]
    for end in ends:
        assert end.response.raw["usage"] == USAGE
    starts = [e for e in handler.events if type(e).__name__.endswith("StartEvent")]
    assert starts[-1].model_dict["model_name"] == "hf-endpoint/scripted"  # known once /info was fetched
