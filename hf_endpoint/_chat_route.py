"""The Messages API route (``/v1/chat/completions``): request body, and normalisation of TGI's answers.

Normalised here, once for both shells: OpenAI finish reasons (``eos_token``/``stop_sequence`` -> ``stop``, a tool
call -> ``tool_calls``, which TGI never sends), legacy tool-call shapes (arguments as an object, streamed
``tool_calls`` as one object with the raw ``{"function": {"_name": ...}}`` text), ``text_completion`` objects,
empty ids, TGI's hidden ``no_tool``/``notify_error`` tool turned back into text, and stop sequences removed from
the text as OpenAI does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from random import getrandbits
from typing import Any

from pydantic import ValidationError

from ._errors import HFEndpointError, LengthLimitError, ResponseError
from ._protocol import StopTrimmer, error_from_event, normalize_finish_reason, parse_json, strip_stop
from ._types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChoiceDelta,
    ChoiceDeltaFunction,
    ChoiceDeltaToolCall,
    ChunkChoice,
    FunctionCall,
    ToolCall,
    assign,
)

__all__ = ["ChatStreamConverter", "build_chat_body", "cut_tool_call_error", "parse_chat_completion"]

_FALLBACK_TOOLS = frozenset({"no_tool", "notify_error"})

# chat() parameters that go into the body under the same name.
_PASSTHROUGH = (
    "temperature",
    "top_p",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
    "tool_prompt",
    "n",
    "user",
    "logit_bias",
    "parallel_tool_calls",
    "top_k",
    "repetition_penalty",
    "typical_p",
    "truncate",
    "watermark",
    "adapter_id",
)
_PASSTHROUGH_SET = frozenset(_PASSTHROUGH)


def new_id() -> str:
    # 24 random hex digits. An id names a response, it guards nothing: the random module's generator (re-seeded in
    # forked children) instead of os.urandom, which is a system call on every response.
    return f"chatcmpl-{getrandbits(96):024x}"


def build_chat_body(
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
    *,
    model: str,
    tools: list[dict[str, Any]] | None,
    tool_choice: str | dict[str, Any] | None,
    grammar: dict[str, Any] | None,
    stream: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": messages}
    max_tokens = params.get("max_tokens")
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if not _PASSTHROUGH_SET.isdisjoint(params):  # (usually none: skip 18 lookups per request)
        for name in _PASSTHROUGH:
            if params.get(name) is not None:
                body[name] = params[name]
    if params.get("stop"):
        body["stop"] = params["stop"]
    if params.get("do_sample") is False and "temperature" not in body:
        body["temperature"] = 0  # the Messages API reads temperature 0 as greedy
    if tools:
        body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    elif tool_choice == "none":
        pass
    if grammar is not None:
        body["response_format"] = grammar
    if stream:
        body["stream"] = True
        body["stream_options"] = params.get("stream_options") or {"include_usage": True}
    extra = params.get("extra_body")
    if extra:
        body.update(extra)
    return body


def _fallback_text(name: str, arguments: str) -> str:
    try:
        args = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(args, Mapping):
        for key in ("content", "error"):
            if isinstance(args.get(key), str):
                return str(args[key])
    return arguments


def finish_message(
    message: ChatMessage, finish_reason: str | None, stops: tuple[str, ...]
) -> tuple[ChatMessage, str | None]:
    """One normalised message and finish reason (shared by both routes' non-stream results)."""
    raw_reason = finish_reason
    reason = normalize_finish_reason(finish_reason)
    calls = message.tool_calls
    if calls and len(calls) == 1 and calls[0].function.name in _FALLBACK_TOOLS:
        # TGI < 2.4 answered "I have no tool for this" as a call to its hidden tool: give the text back.
        message = ChatMessage(
            role="assistant", content=_fallback_text(calls[0].function.name, calls[0].function.arguments)
        )
        calls = None
    if calls:
        for i, call in enumerate(calls):
            if not call.id:
                call.id = f"call_{uuid.uuid4().hex[:12]}_{i}"
        if reason in ("stop", None):
            reason = "tool_calls"
    elif message.content and stops and raw_reason in ("stop_sequence", "stop", None):
        message.content = strip_stop(message.content, stops)
    return message, reason


def parse_chat_completion(
    body: bytes, *, stops: tuple[str, ...] = (), request_id: str | None = None, url: str | None = None
) -> ChatCompletion:
    try:
        result: ChatCompletion = ChatCompletion.__pydantic_validator__.validate_json(body)
    except ValidationError as exc:
        doc = parse_json(body, "chat completion", url)
        if isinstance(doc, Mapping):
            err = error_from_event(doc, request_id=request_id, url=url)
            if err is not None:
                raise err from None
        raise ResponseError(f"unexpected chat completion shape: {exc.errors()[:2]}", url=url) from exc
    # TGI <= 2.0 said "text_completion"; TGI sends an empty id.
    assign(result, object="chat.completion", id=result.id or new_id(), request_id=request_id, route="chat")
    for choice in result.choices:
        message, reason = finish_message(choice.message, choice.finish_reason, stops)
        assign(choice, message=message, finish_reason=reason)
    return result


class ChatStreamConverter:
    """Turns the Messages API's SSE data payloads into normalised :class:`ChatCompletionChunk` objects."""

    def __init__(
        self,
        *,
        stops: tuple[str, ...] = (),
        request_id: str | None = None,
        url: str | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.id = new_id()
        self._max_tokens = max_tokens  # (named in the errors about answers cut off by it)
        self.done = False
        self._url = url
        self._request_id = request_id
        self._trimmers: dict[int, StopTrimmer] = {}
        self._stops = stops
        self._tool_choices: set[int] = set()
        self._finished: set[int] = set()
        self._legacy: dict[int, list[str]] = {}  # choice index -> raw argument text of a legacy tool-call stream
        self._template: ChatCompletionChunk | None = None
        self._seen_calls: set[tuple[int, int]] = set()
        # (choice index, call index) -> the argument pieces so far: a call whose arguments do not parse when its
        # choice finishes was cut off (TGI >= 3.2 sends no finish_reason for tool calls, so none says "length").
        self._arguments: dict[tuple[int, int], list[str]] = {}
        self._answered = False  # a chunk with a choice arrived (usage-only chunks carry no answer)
        self._completion_tokens: int | None = None
        self.chunks = 0

    def feed(self, data: bytes) -> list[ChatCompletionChunk]:
        if data == b"[DONE]":
            self.done = True
            if not self._answered:
                raise self._empty_error()
            return self._close()
        if self.done:
            return []
        if b'"error"' in data:
            doc = parse_json(data, "stream event", self._url)
            if isinstance(doc, Mapping):
                err = error_from_event(doc, request_id=self._request_id, url=self._url)
                if err is not None:
                    raise err
        try:
            # (the model's documented validator, without model_validate_json's argument checks: 6% of a chat-route
            # stream's instructions per token)
            chunk = ChatCompletionChunk.__pydantic_validator__.validate_json(data)
        except ValidationError as exc:
            parse_json(data, "stream event", self._url)  # raises ResponseError for malformed JSON
            raise ResponseError(f"unexpected chat chunk shape: {exc.errors()[:2]}", url=self._url) from exc
        self.chunks += 1
        chunk.id = self.id
        if chunk.object != "chat.completion.chunk" or "object" not in chunk.__pydantic_fields_set__:
            chunk.object = "chat.completion.chunk"
        if self._template is None:
            self._template = chunk
        choices = chunk.choices
        if chunk.usage is not None:
            self._completion_tokens = chunk.usage.completion_tokens
        if choices:
            self._answered = True
        for choice in choices:
            self._fix_choice(choice)
        if (
            choices
            and self._legacy
            and all(c.index in self._legacy and c.finish_reason is None and c.delta.content is None for c in choices)
        ):
            return []  # legacy tool-call text is buffered until the end
        if choices or chunk.usage is not None:
            return [chunk]
        return []

    def _fix_choice(self, choice: ChunkChoice) -> None:
        delta = choice.delta
        index = choice.index
        if delta.tool_calls:
            self._tool_choices.add(index)
            call = delta.tool_calls[0]
            if index in self._legacy or (call.id == "" and call.function.name is None and index not in self._legacy):
                # TGI <= 3.1 stream: one object, no name, raw '{"function": {"_name": ...}}<|eot_id|>' text.
                self._legacy.setdefault(index, []).append(call.function.arguments or "")
                delta.tool_calls = None
            else:
                # OpenAI sends id/type once per call; TGI repeats them on every piece, which frameworks that
                # merge chunks (LangChain) would concatenate into "000...".
                for piece in delta.tool_calls:
                    key = (index, piece.index)
                    if key in self._seen_calls:
                        piece.id = None
                        piece.type = None
                    else:
                        self._seen_calls.add(key)
                        if not piece.id:
                            piece.id = f"call_{uuid.uuid4().hex[:12]}"
                    self._arguments.setdefault(key, []).append(piece.function.arguments or "")
        if delta.content and (self._stops and index not in self._tool_choices):
            trimmer = self._trimmers.setdefault(index, StopTrimmer(self._stops))
            delta.content = trimmer.feed(delta.content)
        reason = choice.finish_reason
        if reason is not None:
            if reason and index in self._trimmers:
                delta.content = (delta.content or "") + self._trimmers.pop(index).finish()
            if index in self._legacy:
                self._legacy_close(choice)
            reason = normalize_finish_reason(reason)
            if index in self._tool_choices:
                if self._cut_off(index):
                    reason = "length"
                elif reason in ("stop", None):
                    reason = "tool_calls"
            choice.finish_reason = reason
            if reason is not None:
                self._finished.add(index)

    def _cut_off(self, index: int) -> bool:
        """Whether a tool call of choice ``index`` stopped before its arguments were complete JSON."""
        for (choice, _), pieces in self._arguments.items():
            text = "".join(pieces)
            if choice == index and text.strip():
                try:
                    json.loads(text)
                except ValueError:
                    return True
        return False

    def _empty_error(self) -> ResponseError:
        """The stream said [DONE] without a single choice: no text, no tool call, no finish_reason."""
        from ._errors import IncompleteStreamError

        limit = self._max_tokens
        if limit is not None and self._completion_tokens is not None and self._completion_tokens >= limit:
            # TGI streams a tool call only once its name is complete: one cut off before that streams nothing.
            return LengthLimitError(
                f"the answer stopped on the length limit (max_tokens={limit}) after {self._completion_tokens} tokens "
                "before anything could be streamed (a tool call whose name was not complete); raise max_tokens",
                url=self._url,
                request_id=self._request_id,
            )
        return IncompleteStreamError(
            "the chat stream ended with [DONE] without any answer (no text, no tool call, no finish_reason); "
            "the answer is incomplete",
            url=self._url,
            request_id=self._request_id,
        )

    def _legacy_close(self, choice: ChunkChoice) -> None:
        text = "".join(self._legacy.pop(choice.index))
        end = text.rfind("}")
        try:
            doc = json.loads(text[: end + 1])
            fn = doc.get("function", doc)
            name = fn.pop("_name", None) or fn.pop("name", None)
            args = fn.get("arguments", fn) if isinstance(fn, dict) else fn
        except (ValueError, AttributeError) as exc:
            # The text is constrained by the tools' grammar: it stops short of JSON only on the length limit.
            limit = f"max_tokens={self._max_tokens}" if self._max_tokens is not None else "max_tokens"
            raise LengthLimitError(
                f"the streamed tool call stopped before it was complete (the length limit, {limit}): "
                f"{text[:200]!r}; raise max_tokens",
                url=self._url,
                request_id=self._request_id,
            ) from exc
        if name in _FALLBACK_TOOLS:
            choice.delta.content = _fallback_text(str(name), json.dumps(args))
            self._tool_choices.discard(choice.index)
            return
        choice.delta.tool_calls = [
            ChoiceDeltaToolCall(
                index=0,
                id=f"call_{uuid.uuid4().hex[:12]}",
                function=ChoiceDeltaFunction(name=name, arguments=json.dumps(args)),
            )
        ]

    def _close(self) -> list[ChatCompletionChunk]:
        """At [DONE]: close choices the server left open (a tool-call stream never sends a finish_reason)."""
        out: list[ChatCompletionChunk] = []
        base = self._template
        open_choices = (self._tool_choices | set(self._trimmers) | set(self._legacy)) - self._finished
        for index in sorted(open_choices):
            choice = ChunkChoice(index=index, delta=ChoiceDelta(role="assistant"), finish_reason="stop")
            self._fix_choice(choice)
            chunk = ChatCompletionChunk(
                id=self.id,
                created=base.created if base else 0,
                model=base.model if base else "",
                system_fingerprint=base.system_fingerprint if base else None,
                choices=[choice],
            )
            out.append(chunk)
        return out

    def finish(self) -> list[ChatCompletionChunk]:
        """The stream ended. TGI before 2.2 sent no [DONE]; without it, a choice with no finish_reason is a
        stream that was cut short."""
        if self.done:
            return []
        from ._errors import IncompleteStreamError

        if self.chunks and not self._tool_choices - self._finished and self._finished:
            self.done = True
            return []
        raise IncompleteStreamError(
            f"the chat stream ended after {self.chunks} chunks without a finish_reason or [DONE]; "
            "the answer is incomplete (connection dropped or server failure)",
            url=self._url,
            request_id=self._request_id,
        )


def cut_tool_call_error(
    err: HFEndpointError, *, max_tokens: int | None, stops: tuple[str, ...]
) -> LengthLimitError | None:
    """TGI's answer to a non-stream tool call it cannot parse, 422 ``tool_error`` "Failed to parse generated text",
    as the :class:`LengthLimitError` it stands for. The output is constrained by the tools' grammar, so it only
    fails to parse when the generation stopped early: on the length limit, or on a stop sequence (then the server's
    error is left as it is)."""
    if err.error_type != "tool_error" or "failed to parse generated text" not in err.message.lower() or stops:
        return None
    limit = f"max_tokens={max_tokens}" if max_tokens is not None else "the server's default max_new_tokens"
    return LengthLimitError(
        f"the tool call stopped on the length limit ({limit}) before it was complete; raise max_tokens. "
        f"The server said: {err.message}",
        status_code=err.status_code,
        error_type=err.error_type,
        request_id=err.request_id,
        url=err.url,
    )


def tool_call(name: str, arguments: str, call_id: str) -> ToolCall:
    return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments))
