"""The transport's OpenAI-shaped results -> LlamaIndex responses (pure; shared by sync and async).

``raw`` is the result as a plain dict (JSON-serializable, so agents can put it in workflow events) and always
carries ``usage`` when the server sent it; ``additional_kwargs`` carries ``prompt_tokens``,
``completion_tokens`` and ``total_tokens`` too. ``TokenCountingHandler`` reads the first of these, so it
counts the server's own tokens instead of estimating with a foreign tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LogProb,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

if TYPE_CHECKING:
    from hf_endpoint import ChatCompletion, ChatCompletionChunk, ChoiceLogprobs, TokenLogprob, Usage

from ._messages import tool_calls_of

__all__ = [
    "StreamAccumulator",
    "chat_response",
    "completion_response",
    "force_single_tool_call",
    "tool_selections",
    "usage_kwargs",
]


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Token counts the way LlamaIndex integrations report them in ``additional_kwargs``."""
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _token_logprobs(token: TokenLogprob) -> list[LogProb]:
    # One list per generated token: its top alternatives when asked for (OpenAI's shape), else the chosen token
    # alone, so that logprobs=True without top_logprobs still returns something (OpenAI's integration drops it).
    if token.top_logprobs:
        return [LogProb(token=t.token, logprob=_finite(t.logprob), bytes=[]) for t in token.top_logprobs]
    return [LogProb(token=token.token, logprob=_finite(token.logprob), bytes=[])]


def _finite(logprob: float | None) -> float:
    # TGI sends NaN/null for some special tokens; LogProb needs a float.
    return float("-inf") if logprob is None else logprob


def logprobs_of(logprobs: ChoiceLogprobs | None) -> list[list[LogProb]]:
    return [_token_logprobs(t) for t in (logprobs.content or ())] if logprobs else []


@dataclass
class _Call:
    call_id: str
    name: str
    arguments: str


def assistant_message(content: str | None, calls: list[_Call]) -> ChatMessage:
    """An assistant message with a text block (unless it only calls tools) and one ``ToolCallBlock`` per call."""
    blocks: list[Any] = []
    if content or not calls:
        blocks.append(TextBlock(text=content or ""))
    # The arguments stay the model's own JSON text (as in OpenAI's integration), so that a call sent back in the
    # history is exactly what the model wrote; get_tool_calls_from_response parses them.
    blocks.extend(ToolCallBlock(tool_call_id=c.call_id, tool_name=c.name, tool_kwargs=c.arguments) for c in calls)
    extra: dict[str, Any] = {}
    if calls:
        # The OpenAI-shaped list too, for code written against older integrations.
        extra["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ]
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=extra)


def cut_off_error(calls: list[_Call]) -> Exception:
    """A tool call that stopped on the length limit: an error, never a call (``tool_selections`` would complete its
    partial arguments, and an agent would run the tool with them)."""
    from hf_endpoint import LengthLimitError

    partial = "; ".join(f"{c.name}({c.arguments})" for c in calls)
    error = LengthLimitError(
        "the generation stopped on the length limit (finish_reason='length') before the tool call was complete: "
        f"{partial[:120]!r}; raise max_tokens"
    )
    error.partial = partial
    return error


def chat_response(completion: ChatCompletion) -> ChatResponse:
    """A whole chat result -> ``ChatResponse`` (tool calls, logprobs, usage)."""
    if not completion.choices:
        return ChatResponse(
            message=assistant_message("", []),
            raw=completion.model_dump(),
            additional_kwargs=usage_kwargs(completion.usage),
        )
    choice = completion.choices[0]
    calls = [
        _Call(tc.id or f"call_{i}", tc.function.name, tc.function.arguments)
        for i, tc in enumerate(choice.message.tool_calls or ())
    ]
    if calls and choice.finish_reason == "length":
        raise cut_off_error(calls)
    extra: dict[str, Any] = usage_kwargs(completion.usage)
    if completion.timings is not None:  # the server's x-* timing headers, in seconds
        extra["timings"] = completion.timings.model_dump(exclude_none=True)
    if completion.endpoint is not None:  # which of several endpoints answered
        extra["endpoint"] = completion.endpoint
    return ChatResponse(
        message=assistant_message(choice.message.content, calls),
        raw=completion.model_dump(),
        logprobs=logprobs_of(choice.logprobs) or None,
        additional_kwargs=extra,
    )


class StreamAccumulator:
    """Turns chunks into running ``ChatResponse``s: ``message`` holds everything so far, ``delta`` the new text.

    Chunks that add nothing (a role-only first chunk, the finish chunk) are not yielded on their own, but the
    last state is always delivered by :meth:`finish`, so the final response has the complete text, the
    finish reason and the usage.
    """

    def __init__(self) -> None:
        self.text = ""
        self.calls: dict[int, _Call] = {}
        self.logprobs: list[list[LogProb]] = []
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._pending: ChatCompletionChunk | None = None

    def feed(self, chunk: ChatCompletionChunk) -> ChatResponse | None:
        delta = ""
        changed = False
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.choices:
            choice = chunk.choices[0]
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
            delta = choice.delta.content or ""
            self.text += delta
            for piece in choice.delta.tool_calls or ():
                changed = True
                call = self.calls.get(piece.index)
                if call is None:
                    call = self.calls[piece.index] = _Call(piece.id or f"call_{piece.index}", "", "")
                if piece.function.name:
                    call.name = piece.function.name
                call.arguments += piece.function.arguments or ""
            self.logprobs.extend(logprobs_of(choice.logprobs))
            if self.finish_reason == "length" and self.calls:
                raise cut_off_error([self.calls[i] for i in sorted(self.calls)])
        if delta or changed or (not chunk.choices and chunk.usage is not None):
            self._pending = None
            return self._response(chunk, delta)
        self._pending = chunk
        return None

    def finish(self) -> ChatResponse | None:
        """The final state, if the last chunk was held back (a stream without a usage chunk)."""
        pending, self._pending = self._pending, None
        return self._response(pending, "") if pending is not None else None

    def _response(self, chunk: ChatCompletionChunk, delta: str) -> ChatResponse:
        calls = [self.calls[i] for i in sorted(self.calls)]
        extra: dict[str, Any] = usage_kwargs(self.usage)
        if self.finish_reason:  # (the last response's raw is often the usage chunk, which has no finish reason)
            extra["finish_reason"] = self.finish_reason
        if chunk.timings is not None:  # the last chunk: time to first token and tokens per second
            extra["timings"] = chunk.timings.model_dump(exclude_none=True)
        if chunk.endpoint is not None:  # which of several endpoints answered
            extra["endpoint"] = chunk.endpoint
        return ChatResponse(
            message=assistant_message(self.text, calls),
            delta=delta,
            raw=chunk.model_dump(),
            logprobs=list(self.logprobs) or None,
            additional_kwargs=extra,
        )


def completion_response(response: ChatResponse) -> CompletionResponse:
    """A chat response as a completion response (text, delta, logprobs, usage and raw kept)."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        logprobs=response.logprobs,
        additional_kwargs={**response.message.additional_kwargs, **response.additional_kwargs},
    )


def tool_selections(response: ChatResponse, *, error_on_no_tool_call: bool = True) -> list[ToolSelection]:
    """The tool calls of a (possibly still streaming) response, with arguments parsed into dicts."""
    calls = tool_calls_of(response.message)
    if not calls:
        if error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got 0 tool calls.")
        return []
    return [
        ToolSelection(
            tool_id=call["id"],
            tool_name=call["function"]["name"],
            tool_kwargs=_parse_arguments(call["function"]["arguments"]),
        )
        for call in calls
    ]


def _parse_arguments(arguments: str) -> dict[str, Any]:
    # Streamed calls are parsed while incomplete (agents inspect every chunk), hence the partial parser.
    try:
        value = parse_partial_json(arguments) if arguments.strip() else {}
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def force_single_tool_call(response: ChatResponse) -> None:
    """Keep only the first tool call (``allow_parallel_tool_calls=False``), in blocks and additional_kwargs."""
    seen = False
    blocks = []
    for block in response.message.blocks:
        if isinstance(block, ToolCallBlock):
            if seen:
                continue
            seen = True
        blocks.append(block)
    response.message.blocks = blocks
    calls = response.message.additional_kwargs.get("tool_calls")
    if isinstance(calls, list) and len(calls) > 1:
        response.message.additional_kwargs["tool_calls"] = calls[:1]
