"""Chat over the native route (``/generate``): client-side prompt formatting, tools and JSON via TGI's grammar.

This route works with any TGI that has ``/generate`` (and grammar support, 1.4.1+, for tools and JSON), also when
the server has no chat template or no tool support. The model is asked, and constrained by a JSON-schema
grammar, to answer ``{"function": {"name": <tool>, "arguments": {...}}}``; with ``tool_choice="auto"`` a
``no_tool`` alternative carries a plain answer instead.

(A little over 400 lines: the request side, the answer's mapping back to the Messages API's shape and the stream
converter are one route, and each needs the others' conventions: the grammar's JSON, the stop strings, ``no_tool``.)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import SchemaValidator
from typing_extensions import Required, TypedDict

from ._chat_route import finish_message, new_id, tool_call
from ._errors import IncompleteStreamError, InvalidRequestError, LengthLimitError, ResponseError
from ._params import normalize_stop, text_of
from ._protocol import StopTrimmer, error_from_event, normalize_finish_reason, parse_json
from ._templates import ChatTemplate
from ._types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChoiceDeltaFunction,
    ChoiceDeltaToolCall,
    ChoiceLogprobs,
    ChunkChoice,
    Details,
    GenerateResponse,
    GenerateSummary,
    StreamResponse,
    Token,
    TokenLogprob,
    TopLogprob,
    Usage,
    trusted,
)

__all__ = ["NativeChatPlan", "NativeChatStreamConverter", "build_native_chat", "native_chat_completion"]

NO_TOOL = "no_tool"

# chat parameter -> /generate parameter (the rest are refused below, or used by the plan itself)
_GENERATE_FROM_CHAT = {
    name: name
    for name in (
        "temperature",
        "top_p",
        "seed",
        "frequency_penalty",
        "top_k",
        "repetition_penalty",
        "typical_p",
        "truncate",
        "watermark",
        "adapter_id",
        "do_sample",
    )
}
_GENERATE_FROM_CHAT["max_tokens"] = "max_new_tokens"
_REFUSED = frozenset({"presence_penalty", "n", "logit_bias"})


@dataclass(frozen=True)
class NativeChatPlan:
    prompt: str
    parameters: dict[str, Any]
    tools_mode: bool
    strip: tuple[str, ...]
    want_logprobs: bool
    model: str


def _tool_prompt(tools: list[dict[str, Any]], auto: bool, custom: str | None) -> str:
    specs = json.dumps([t["function"] for t in tools], ensure_ascii=False)
    text = custom or (
        "You can call these tools (JSON schema of their arguments given):\n"
        f"{specs}\n"
        'To call a tool, answer only with JSON: {"function": {"name": <tool name>, "arguments": {...}}}.'
    )
    if custom:
        text = f"{custom}\n{specs}"
    if auto:
        fallback = {"function": {"name": NO_TOOL, "arguments": {"content": "<your answer>"}}}
        text += f" If no tool fits, answer {json.dumps(fallback)}."
    return text


def tool_grammar(tools: list[dict[str, Any]], *, auto: bool, answer_first: bool) -> dict[str, Any]:
    """The JSON-schema grammar that forces a call to one of ``tools`` (or, with ``auto``, a plain answer)."""
    alternatives = [
        {
            "type": "object",
            "properties": {"name": {"enum": [t["function"]["name"]]}, "arguments": t["function"]["parameters"]},
            "required": ["name", "arguments"],
        }
        for t in tools
    ]
    if auto:
        answer = {
            "type": "object",
            "properties": {
                "name": {"enum": [NO_TOOL]},
                "arguments": {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]},
            },
            "required": ["name", "arguments"],
        }
        # After a tool result the natural next step is an answer: offer it first.
        alternatives = [answer, *alternatives] if answer_first else [*alternatives, answer]
    function = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    return {"type": "json", "value": {"type": "object", "properties": {"function": function}, "required": ["function"]}}


def _refuse(params: Mapping[str, Any]) -> None:
    if params.get("presence_penalty"):
        raise InvalidRequestError(
            "presence_penalty has no equivalent on TGI's /generate; use repetition_penalty or frequency_penalty, "
            "or route='chat'"
        )
    if (params.get("n") or 1) != 1:
        raise InvalidRequestError("TGI returns one choice per request: n must be 1 (send several requests instead)")
    if params.get("logit_bias"):
        raise InvalidRequestError("TGI does not support logit_bias")


def build_native_chat(
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
    *,
    template: ChatTemplate,
    tools: list[dict[str, Any]] | None,
    tool_choice: str | dict[str, Any] | None,
    grammar: dict[str, Any] | None,
    max_stop_sequences: int | None,
    model: str,
) -> NativeChatPlan:
    if not _REFUSED.isdisjoint(params):
        _refuse(params)
    parameters: dict[str, Any] = {"details": True}
    for name, value in params.items():  # (only what was given: most of the 12 names are absent on most calls)
        target = _GENERATE_FROM_CHAT.get(name)
        if target is not None and value is not None:
            parameters[target] = value
    want_logprobs = bool(params.get("logprobs"))
    if params.get("top_logprobs"):
        parameters["top_n_tokens"] = params["top_logprobs"]
    user_stops = normalize_stop(params.get("stop"), None) or []
    room = (max_stop_sequences or 4) - len(user_stops)
    if room < 0:
        raise InvalidRequestError(f"stop: this server accepts at most {max_stop_sequences} stop sequences")
    stops = user_stops + [s for s in template.stop if s not in user_stops][:room]
    if stops:
        parameters["stop"] = stops

    use_tools = bool(tools) and tool_choice != "none"
    if use_tools and grammar is not None:
        raise InvalidRequestError("tools and response_format cannot be combined (TGI: mutually exclusive)")
    messages = [dict(m, content=text_of(m["content"])) if "content" in m else dict(m) for m in messages]
    render_tools = None
    if use_tools:
        assert tools is not None
        chosen = tools
        if isinstance(tool_choice, Mapping):
            chosen = [t for t in tools if t["function"]["name"] == tool_choice["function"]["name"]]
        auto = tool_choice in (None, "auto")
        after_tool = messages[-1]["role"] == "tool"
        parameters["grammar"] = tool_grammar(chosen, auto=auto, answer_first=auto and after_tool)
        if template.uses_tools:
            render_tools = chosen
        else:
            prompt_text = _tool_prompt(chosen, auto, params.get("tool_prompt"))
            for m in reversed(messages):
                if m["role"] in ("user", "tool"):
                    m["content"] = f"{m['content']}\n\n{prompt_text}"
                    break
    elif grammar is not None:
        parameters["grammar"] = grammar
    extra = params.get("extra_body")
    if extra:
        parameters.update(extra)
    prompt = template.render(messages, tools=render_tools, add_generation_prompt=True)
    if template.bos_token and prompt.startswith(template.bos_token):
        # TGI's /generate adds the tokenizer's special tokens (BOS) itself: a second one would change the answer.
        prompt = prompt[len(template.bos_token) :]
    return NativeChatPlan(
        prompt=prompt,
        parameters=parameters,
        tools_mode=use_tools,
        strip=tuple(stops),
        want_logprobs=want_logprobs,
        model=model,
    )


class _EventToken(TypedDict, total=False):
    id: Required[int]
    text: Required[str]
    special: bool


class _TextEvent(TypedDict, total=False):
    """What a streamed chat answer reads of a ``/generate_stream`` event that is not the last one."""

    token: Required[_EventToken]
    generated_text: str | None


@cache
def _text_event_validator() -> SchemaValidator:
    # Validated into small dicts, not two models per token (event and token) only to read a string and a flag from
    # them. A fast path (a second parse of the same events), kept because it pays: a 2000-token native stream takes
    # 18% more instructions without it; tests/benchmarks/test_fast_paths.py checks it against the full parse.
    return TypeAdapter(_TextEvent).validator  # type: ignore[return-value]


def _logprob(token: Token, top: list[Token] | None) -> TokenLogprob:
    return TokenLogprob(
        token=token.text,
        logprob=token.logprob,
        id=token.id,
        top_logprobs=[TopLogprob(token=t.text, logprob=t.logprob) for t in top or ()],
    )


def _parse_tool_output(text: str) -> tuple[str, str] | None:
    """(name, arguments JSON) of a generated tool call, or None if the text is not one."""
    try:
        doc = json.loads(text)
        fn = doc["function"]
        name, args = fn["name"], fn.get("arguments", {})
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(name, str):
        return None
    return name, json.dumps(args, ensure_ascii=False)


# The start of the grammar's output, up to the arguments: {"function": {"name": "<tool>", "arguments":
_CALL_HEAD = re.compile(r'\s*\{\s*"function"\s*:\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*(,\s*"arguments"\s*:\s*)?')
_CONTENT_HEAD = re.compile(r'\s*\{\s*"content"\s*:\s*"')
_STRING_BODY = re.compile(r'(?:[^"\\]|\\.)*')


def _cut_off_message(text: str, plan: NativeChatPlan) -> ChatMessage:
    """What a tool-mode answer that stopped on the length limit holds: the call so far (its partial arguments
    text, finish_reason "length", as the Messages API streams it), or the text of a ``no_tool`` answer so far."""
    head = _CALL_HEAD.match(text)
    if head is None:  # not even the tool's name: nothing to return
        given = plan.parameters.get("max_new_tokens")
        limit = f"max_tokens={given}" if given is not None else "the server's default max_new_tokens"
        raise LengthLimitError(
            f"the answer stopped on the length limit ({limit}) before the model had named a tool or "
            f"begun its answer: {text[:80]!r}; raise max_tokens"
        )
    name = json.loads(f'"{head.group(1)}"')
    rest = text[head.end() :] if head.group(2) else ""
    if name != NO_TOOL:
        return ChatMessage(tool_calls=[tool_call(name, rest, "")])
    content = _CONTENT_HEAD.match(rest)
    return ChatMessage(content=_json_string_prefix(rest[content.end() :]) if content else "")


def _json_string_prefix(text: str) -> str:
    """The decoded characters of a JSON string literal's body that was cut off (a partial escape is dropped)."""
    body = _STRING_BODY.match(text).group()  # type: ignore[union-attr]  # (matches any text, maybe empty)
    for end in range(len(body), max(len(body) - 6, -1), -1):  # (a partial \uXXXX escape is at most 5 characters)
        try:
            value = json.loads(f'"{body[:end]}"')
        except ValueError:
            continue
        return value if isinstance(value, str) else ""
    return ""


def _message_from_text(text: str, plan: NativeChatPlan, finish: str | None) -> ChatMessage:
    if plan.tools_mode:
        parsed = _parse_tool_output(text)
        if parsed is not None:
            name, args = parsed
            if name == NO_TOOL:
                content = json.loads(args).get("content", "")
                return ChatMessage(content=content if isinstance(content, str) else json.dumps(content))
            return ChatMessage(tool_calls=[tool_call(name, args, "")])  # finish_message gives it a unique id
        if finish == "length":
            return _cut_off_message(text, plan)
        raise ResponseError(f"the model's tool call is not valid JSON: {text[:200]!r}")
    return trusted(ChatMessage, {"role": "assistant", "content": text, "tool_calls": None})


def native_chat_completion(resp: GenerateResponse | GenerateSummary, plan: NativeChatPlan) -> ChatCompletion:
    details = resp.details
    finish = details.finish_reason if details else None
    message, reason = finish_message(_message_from_text(resp.generated_text, plan, finish), finish, plan.strip)
    logprobs = None
    if plan.want_logprobs and isinstance(details, Details):
        tops = details.top_tokens or []
        logprobs = ChoiceLogprobs(
            content=[
                _logprob(tok, tops[i] if i < len(tops) else None)
                for i, tok in enumerate(details.tokens)
                if not tok.special
            ]
        )
    completion_tokens = details.generated_tokens if details else 0
    prompt_tokens = resp.prompt_tokens or 0
    # Every value is ours and of the right type: built without validation (trusted(), field order as declared).
    usage = trusted(
        Usage,
        {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    )
    choice = trusted(Choice, {"index": 0, "message": message, "finish_reason": reason, "logprobs": logprobs})
    return trusted(
        ChatCompletion,
        {
            "id": new_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": plan.model,
            "system_fingerprint": None,
            "choices": [choice],
            "usage": usage,
            "request_id": resp.request_id,
            "route": "generate",
            "elapsed": None,
            "timings": resp.timings,
            "endpoint": None,
        },
    )


class NativeChatStreamConverter:
    """``/generate_stream`` events -> :class:`ChatCompletionChunk` objects (text streamed token by token; a tool
    call is sent whole once its JSON is complete)."""

    def __init__(self, plan: NativeChatPlan, *, request_id: str | None = None, url: str | None = None) -> None:
        self.plan = plan
        self.id = new_id()
        self.created = int(time.time())
        self.done = False
        self.events = 0
        self._trimmer = StopTrimmer(plan.strip)
        self._url = url
        self._request_id = request_id
        # Text-only streams (no logprobs, no tools) read each event as a small dict; the last event, an error
        # event or any event that does not fit takes the full path (parse_stream_event), with its own errors.
        self._light = _text_event_validator().validate_json if not (plan.want_logprobs or plan.tools_mode) else None

    def _text_chunk(self, piece: str, logprobs: ChoiceLogprobs | None = None) -> ChatCompletionChunk:
        delta = trusted(ChoiceDelta, {"role": "assistant", "content": piece, "tool_calls": None})
        return self._chunk(delta, logprobs=logprobs)

    def _chunk(
        self,
        delta: ChoiceDelta,
        finish: str | None = None,
        logprobs: ChoiceLogprobs | None = None,
        usage: Usage | None = None,
    ) -> ChatCompletionChunk:
        # Field order as declared (trusted() takes the dict as the instance's __dict__).
        choices = (
            []
            if usage is not None
            else [trusted(ChunkChoice, {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs})]
        )
        return trusted(
            ChatCompletionChunk,
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.plan.model,
                "system_fingerprint": None,
                "choices": choices,
                "usage": usage,
                "timings": None,
                "endpoint": None,
            },
        )

    def feed(self, data: bytes) -> list[ChatCompletionChunk]:
        if self.done:
            return []
        if self._light is not None and b'"error"' not in data:
            try:
                light: _TextEvent | None = self._light(data)
            except ValidationError:
                light = None
            if light is not None and light.get("generated_text") is None:
                self.events += 1
                tok = light["token"]
                piece = "" if tok.get("special") else self._trimmer.feed(tok["text"])
                return [self._text_chunk(piece)] if piece else []
        event = parse_stream_event(data, request_id=self._request_id, url=self._url)
        self.events += 1
        out: list[ChatCompletionChunk] = []
        token = event.token
        if not self.plan.tools_mode:
            piece = "" if token.special else self._trimmer.feed(token.text)
            lp = None
            if self.plan.want_logprobs and not token.special:
                lp = ChoiceLogprobs.model_construct(content=[_logprob(token, event.top_tokens)])
            if piece or lp is not None:
                out.append(self._text_chunk(piece, lp))
        if event.generated_text is None:
            return out
        self.done = True
        details = event.details
        finish = details.finish_reason if details else None
        if self.plan.tools_mode:
            message, reason = finish_message(
                _message_from_text(event.generated_text, self.plan, finish), finish, self.plan.strip
            )
            if message.tool_calls:
                calls = [
                    ChoiceDeltaToolCall(
                        index=i,
                        id=c.id,
                        function=ChoiceDeltaFunction(name=c.function.name, arguments=c.function.arguments),
                    )
                    for i, c in enumerate(message.tool_calls)
                ]
                out.append(self._chunk(ChoiceDelta(role="assistant", tool_calls=calls)))
            else:
                out.append(self._chunk(ChoiceDelta(role="assistant", content=message.content or "")))
        else:
            reason = normalize_finish_reason(finish) or "stop"
            out.append(self._chunk(ChoiceDelta(role="assistant", content=self._trimmer.finish())))
        out.append(self._chunk(ChoiceDelta(role="assistant", content=""), finish=reason))
        prompt_tokens = (details.input_length if details else None) or 0
        completion = details.generated_tokens if details else self.events
        out.append(
            self._chunk(
                ChoiceDelta(),
                usage=Usage(
                    prompt_tokens=prompt_tokens, completion_tokens=completion, total_tokens=prompt_tokens + completion
                ),
            )
        )
        return out

    def finish(self) -> list[ChatCompletionChunk]:
        if not self.done:
            raise IncompleteStreamError(
                f"the stream ended after {self.events} tokens without its final event; the answer is incomplete",
                url=self._url,
                request_id=self._request_id,
            )
        return []


def parse_stream_event(data: bytes, *, request_id: str | None, url: str | None) -> StreamResponse:
    """One ``/generate_stream`` event; an error event (checked first) raises its mapped exception."""
    if b'"error"' not in data:
        try:
            return StreamResponse.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]
        except ValidationError:
            pass
    doc = parse_json(data, "stream event", url)
    if isinstance(doc, Mapping):
        err = error_from_event(doc, request_id=request_id, url=url)
        if err is not None:
            raise err
    try:
        return StreamResponse.model_validate(doc)
    except ValidationError as exc:
        raise ResponseError(f"unexpected stream event shape: {exc.errors()[:2]}", url=url) from exc
