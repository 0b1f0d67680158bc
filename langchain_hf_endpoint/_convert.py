"""Pure conversions between LangChain's types and the transport's OpenAI-shaped ones.

Shared by the sync and async paths of :class:`~langchain_hf_endpoint.ChatHFEndpoint`, so that a message, a tool
call or a streamed chunk is converted in exactly one place. No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    InvalidToolCall,
    ToolCallChunk,
    UsageMetadata,
    convert_to_openai_messages,
)
from langchain_core.messages import ToolCall as LCToolCall
from langchain_core.messages.tool import invalid_tool_call, tool_call_chunk
from langchain_core.messages.tool import tool_call as lc_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

if TYPE_CHECKING:
    from hf_endpoint import ChatCompletion, ChatCompletionChunk, ChoiceLogprobs, Timings, ToolCall, Usage

__all__ = [
    "PROVIDER",
    "StreamAccumulator",
    "completion_to_result",
    "to_openai_messages",
    "usage_metadata",
]

#: ``model_provider`` / ``ls_provider``: the name LangChain uses for Hugging Face integrations.
PROVIDER = "huggingface"

#: The error of a tool call that stopped on the length limit (in ``invalid_tool_calls``).
CUT_OFF = (
    "the generation stopped on the length limit (finish_reason='length') before the tool call was complete; "
    "raise max_tokens"
)


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as OpenAI-shaped dicts, the format the transport takes.

    langchain-core's own converter already handles every content-block dialect (v1 blocks, Anthropic ``tool_use``,
    images as base64 or URLs); text-only content becomes a plain string, which every TGI chat template accepts.
    """
    out = convert_to_openai_messages(list(messages), text_format="string")
    return [_without_reasoning(dict(d)) for d in out]


# Reasoning blocks a model wrote (Anthropic's thinking, OpenAI's reasoning): not replayed, and TGI's Messages API
# takes only text and image_url parts (any other type is a 422).
_REASONING = frozenset({"thinking", "redacted_thinking", "reasoning"})


def _without_reasoning(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if type(content) is list and any(isinstance(p, Mapping) and p.get("type") in _REASONING for p in content):
        message["content"] = [p for p in content if not (isinstance(p, Mapping) and p.get("type") in _REASONING)]
    return message


def usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    """The server's own token counts as LangChain's ``usage_metadata``."""
    if usage is None:
        return None
    # A cast, because mypy run for Python 3.10 cannot see the NotRequired details keys langchain-core declares.
    return cast(
        UsageMetadata,
        {
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        },
    )


def _logprobs_dict(logprobs: ChoiceLogprobs | None) -> dict[str, Any] | None:
    if logprobs is None or logprobs.content is None:
        return None
    return {"content": [t.model_dump(exclude_none=True) for t in logprobs.content]}


def _split_tool_calls(
    calls: Sequence[ToolCall] | None, *, cut_off: bool = False
) -> tuple[list[LCToolCall], list[InvalidToolCall]]:
    """Tool calls whose arguments parse as a JSON object, and the others (kept, with the reason, not dropped).
    With ``cut_off`` (the generation stopped on the length limit) every call is invalid, with its partial text."""
    valid: list[LCToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls or ():
        raw = call.function.arguments
        if cut_off:
            invalid.append(invalid_tool_call(name=call.function.name, args=raw, id=call.id, error=CUT_OFF))
            continue
        try:
            args = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            invalid.append(invalid_tool_call(name=call.function.name, args=raw, id=call.id, error=str(exc)))
            continue
        if not isinstance(args, dict):
            error = f"the arguments are a JSON {type(args).__name__}, not an object"
            invalid.append(invalid_tool_call(name=call.function.name, args=raw, id=call.id, error=error))
            continue
        valid.append(lc_tool_call(name=call.function.name, args=args, id=call.id))
    return valid, invalid


def _metadata(model_name: str, finish_reason: str | None, fingerprint: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"model_name": model_name, "model_provider": PROVIDER, "finish_reason": finish_reason}
    if fingerprint:
        meta["system_fingerprint"] = fingerprint
    return meta


def completion_to_result(completion: ChatCompletion, *, fallback_model: str) -> ChatResult:
    """A transport :class:`ChatCompletion` as LangChain's :class:`ChatResult` (one generation per choice)."""
    model_name = completion.model or fallback_model
    usage = usage_metadata(completion.usage)
    generations = []
    for choice in completion.choices:
        calls, invalid = _split_tool_calls(choice.message.tool_calls, cut_off=choice.finish_reason == "length")
        meta = _metadata(model_name, choice.finish_reason, completion.system_fingerprint)
        logprobs = _logprobs_dict(choice.logprobs)
        if logprobs is not None:
            meta["logprobs"] = logprobs
        if completion.request_id:
            meta["request_id"] = completion.request_id
        if completion.timings is not None:  # the server's x-* timing headers, in seconds
            meta["timings"] = completion.timings.model_dump(exclude_none=True)
        if completion.endpoint is not None:  # which of several endpoints answered
            meta["endpoint"] = completion.endpoint
        message = AIMessage(
            content=choice.message.content or "",
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata=usage,
            response_metadata=meta,
            id=completion.id or None,
        )
        info: dict[str, Any] = {"finish_reason": choice.finish_reason}
        if logprobs is not None:
            info["logprobs"] = logprobs
        generations.append(ChatGeneration(message=message, generation_info=info))
    llm_output = {"model_name": model_name, "token_usage": completion.usage.model_dump() if completion.usage else {}}
    return ChatResult(generations=generations, llm_output=llm_output)


class StreamAccumulator:
    """Turns transport chunks into LangChain chunks, holding back what must appear once.

    Text, tool-call pieces and logprobs go out as they arrive. The finish reason, the model name and the usage
    are sent once, on a final ``chunk_position="last"`` chunk: LangChain adds chunks together, so a model name on
    two chunks would be concatenated and usage counted twice; and TGI sends the usage chunk and the finish chunk
    in either order.
    """

    def __init__(self, *, fallback_model: str, stream_usage: bool) -> None:
        self._fallback_model = fallback_model
        self._stream_usage = stream_usage
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self._model = ""
        self._fingerprint: str | None = None
        self._id: str | None = None
        self._tool_arguments: dict[int, str] = {}
        self._timings: Timings | None = None
        self._endpoint: str | None = None

    def feed(self, chunk: ChatCompletionChunk) -> ChatGenerationChunk | None:
        """The LangChain chunk for one transport chunk, or None when it carries nothing to show yet."""
        self._model = self._model or chunk.model
        self._fingerprint = self._fingerprint or chunk.system_fingerprint
        self._id = self._id or chunk.id or None
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.timings is not None:
            self._timings = chunk.timings
        if chunk.endpoint is not None:
            self._endpoint = chunk.endpoint
        choice = next((c for c in chunk.choices if c.index == 0), None)
        if choice is None:
            return None
        if choice.finish_reason is not None:
            self._finish_reason = choice.finish_reason
        delta = choice.delta
        pieces: list[ToolCallChunk] = []
        for p in delta.tool_calls or ():
            pieces.append(tool_call_chunk(name=p.function.name, args=p.function.arguments, id=p.id, index=p.index))
            self._tool_arguments[p.index] = self._tool_arguments.get(p.index, "") + (p.function.arguments or "")
        logprobs = _logprobs_dict(choice.logprobs)
        if not delta.content and not pieces and logprobs is None:
            return None
        # Only the values a chunk has are passed: LangChain validates each value given, on every token.
        extra: dict[str, Any] = {}
        if pieces:
            extra["tool_call_chunks"] = pieces
        if logprobs is not None:
            extra["response_metadata"] = {"logprobs": logprobs}
        message = AIMessageChunk(content=delta.content or "", id=self._id, **extra)
        if logprobs:
            return ChatGenerationChunk(message=message, generation_info={"logprobs": logprobs})
        return ChatGenerationChunk(message=message)

    def finish(self) -> ChatGenerationChunk:
        """The closing chunk: finish reason, served model name and (with ``stream_usage``) the usage, once.

        A tool call that stopped on the length limit raises :class:`~hf_endpoint.LengthLimitError` instead: LangChain
        adds the streamed chunks up and reads the arguments with a partial-JSON parser, so the cut-off call would
        come out as a complete one (``{"city": "Par`` as ``{"city": "Par"}``), and a chunk cannot mark it invalid.
        """
        if self._finish_reason == "length" and self._tool_arguments:
            from hf_endpoint import LengthLimitError

            partial = "; ".join(self._tool_arguments.values())
            error = LengthLimitError(f"{CUT_OFF} (arguments so far: {partial[:120]!r})")
            error.partial = partial
            raise error
        model_name = self._model or self._fallback_model
        meta = _metadata(model_name, self._finish_reason, self._fingerprint)
        if self._timings is not None:  # time to first token and tokens per second, measured by the client
            meta["timings"] = self._timings.model_dump(exclude_none=True)
        if self._endpoint is not None:  # which of several endpoints answered
            meta["endpoint"] = self._endpoint
        usage = usage_metadata(self._usage) if self._stream_usage else None
        message = AIMessageChunk(
            content="", usage_metadata=usage, response_metadata=meta, id=self._id, chunk_position="last"
        )
        return ChatGenerationChunk(message=message, generation_info={"finish_reason": self._finish_reason})
