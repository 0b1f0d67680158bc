"""Typed results: TGI's native shapes and the OpenAI-shaped chat result both routes map to.

Every model ignores unknown fields and treats missing keys as null, so that responses from any TGI version and
from OpenAI-compatible engines parse. Validators normalise the known version drift, each naming the TGI version it
comes from (tests/data/tgi holds recordings of old versions too).

(Over 400 lines: one small class per shape TGI answers with, and the OpenAI-shaped result both routes map to, kept
together because the mapping reads one against the other; TEI's shapes are apart, in ``_tei_types``.)
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, field_validator, model_validator
from pydantic_core import core_schema

from ._render import render_chat_completion_html

__all__ = [
    "BestOfSequence",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaFunction",
    "ChoiceDeltaToolCall",
    "ChoiceLogprobs",
    "ChunkChoice",
    "Details",
    "FunctionCall",
    "GenerateResponse",
    "Info",
    "StreamDetails",
    "StreamResponse",
    "Timings",
    "Token",
    "TokenLogprob",
    "TokenizedToken",
    "ToolCall",
    "TopLogprob",
    "Usage",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # Item access, as LiteLLM's ModelResponse allows: code written for it reads
    # ``response["choices"][0]["message"]["content"]``. Fields only (not methods or properties).
    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in type(self).model_fields

    def get(self, key: str, default: Any = None) -> Any:
        """``result.get("usage")``: a field's value, or ``default`` for a name that is not a field."""
        return getattr(self, key) if key in type(self).model_fields else default


M = TypeVar("M", bound=BaseModel)
_new = object.__new__
# trusted() reaches into pydantic: BaseModel's own slots, written through their descriptors, instead of
# model_construct (whose __setattr__ calls cost more than the rest of a streamed token's conversion). Kept because it
# pays where it targets: the native route's 2000-token stream takes twice the instructions with model_construct.
# tests/benchmarks/test_fast_paths.py checks every call site against model_construct.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """``cls.model_construct(**values)`` for ``values`` that give every field of ``cls``, in field order, already
    of the right types (the caller's promise; tests/benchmarks/test_fast_paths.py checks every call site).

    ``values`` becomes the instance's ``__dict__`` (not copied). Valid for our models: no aliases, no private
    attributes, no extra values, no post-init.
    """
    m = _new(cls)
    _set_dict(m, values)
    _set_fields_set(m, set(values))
    _set_extra(m, None)
    _set_private(m, None)
    return m


def assign(model: BaseModel, **values: Any) -> None:
    """``model.name = value`` for each. (Plain ``setattr``: writing ``__dict__`` and the fields-set directly saved 3%
    of a chat request's instructions at 50 in flight, under the 5% a shortcut into pydantic must pay.)"""
    for name, value in values.items():
        setattr(model, name, value)


def _none_as_empty_list(v: Any) -> Any:
    # The recordings (pydantic dumps) write null where TGI leaves a list empty or out.
    return [] if v is None else v


class _NullAsEmpty:
    """``Annotated[list[X], NULL_AS_EMPTY]``: a JSON null reads as ``[]``, inside pydantic-core.

    (A ``mode="before"`` validator would do the same in Python, but to call it pydantic-core first turns the whole
    JSON list into Python dicts and then validates those again, for every ``/generate`` answer with details.)
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            _none_as_empty_list, core_schema.nullable_schema(handler(source))
        )


NULL_AS_EMPTY = _NullAsEmpty()


# ------------------------------------------------------------------------------------------------- timings


class Timings(_Model):
    """Where the time of one call went, in seconds (``None`` where nobody said).

    From the server's headers on non-stream answers (TGI's ``x-validation-time``, ``x-queue-time``,
    ``x-inference-time``, ``x-total-time``, ``x-time-per-token`` in ms, ``x-compute-time`` in s,
    ``x-prompt-tokens``, ``x-generated-tokens``): a growing ``queue_time`` is a saturated endpoint. Measured by the
    client on streams (TGI sends no timing headers there): ``time_to_first_token`` from the call, and
    ``tokens_per_second`` after the first token.
    """

    validation_time: float | None = None
    queue_time: float | None = None
    inference_time: float | None = None
    total_time: float | None = None
    time_per_token: float | None = None
    compute_time: float | None = None
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None


# --------------------------------------------------------------------------------------------- native route


class Token(_Model):
    """One token with its log-probability (``None`` when the server sent NaN or nothing)."""

    id: int
    text: str
    logprob: float | None = None
    special: bool = False


class BestOfSequence(_Model):
    generated_text: str
    finish_reason: str
    generated_tokens: int
    seed: int | None = None
    prefill: Annotated[list[Token], NULL_AS_EMPTY] = Field(default_factory=list)
    tokens: Annotated[list[Token], NULL_AS_EMPTY] = Field(default_factory=list)
    top_tokens: list[list[Token]] | None = None


class Details(_Model):
    """``details`` of a ``/generate`` response (present when ``details=True``)."""

    finish_reason: str
    generated_tokens: int
    seed: int | None = None
    prefill: Annotated[list[Token], NULL_AS_EMPTY] = Field(default_factory=list)
    tokens: Annotated[list[Token], NULL_AS_EMPTY] = Field(default_factory=list)
    top_tokens: list[list[Token]] | None = None
    best_of_sequences: list[BestOfSequence] | None = None


class GenerateResponse(_Model):
    """Result of ``generate``. ``prompt_tokens`` comes from the server's ``x-prompt-tokens`` header."""

    generated_text: str
    details: Details | None = None
    prompt_tokens: int | None = None
    request_id: str | None = None
    #: The server's timing headers (queue, inference, per token...).
    timings: Timings | None = None
    #: The endpoint that answered, on a client for several endpoints.
    endpoint: str | None = None


class DetailsSummary(_Model):
    """What the native chat route reads of ``details`` when no logprobs were asked (not exported)."""

    finish_reason: str
    generated_tokens: int


class GenerateSummary(_Model):
    """A ``/generate`` answer without its per-token details: validated from the same bytes, the token list skipped
    by the JSON parser instead of becoming ``Token`` objects. A fast path (a second shape of one answer), kept because
    it pays: sequential native-route chats take 5.7% more instructions with ``GenerateResponse``; property-tested
    against it in tests/benchmarks/test_fast_paths.py."""

    generated_text: str
    details: DetailsSummary | None = None
    prompt_tokens: int | None = None
    request_id: str | None = None
    timings: Timings | None = None


class StreamDetails(_Model):
    finish_reason: str
    generated_tokens: int
    seed: int | None = None
    input_length: int | None = None


class StreamResponse(_Model):
    """One event of ``generate_stream``; the last one has ``generated_text`` (and ``details`` if asked)."""

    index: int = 0
    token: Token
    top_tokens: list[Token] | None = None
    generated_text: str | None = None
    details: StreamDetails | None = None
    #: On the last event: the client-side time to first token and tokens per second.
    timings: Timings | None = None
    #: The endpoint that answered, on a client for several endpoints.
    endpoint: str | None = None


class Info(_Model):
    """``GET /info``. Every field is optional; ``max_input_length`` (TGI < 2.1) is read as ``max_input_tokens``."""

    model_id: str | None = None
    model_sha: str | None = None
    model_pipeline_tag: str | None = None
    max_concurrent_requests: int | None = None
    max_best_of: int | None = None
    max_stop_sequences: int | None = None
    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    max_client_batch_size: int | None = None
    router: str | None = None
    version: str | None = None
    sha: str | None = None
    docker_label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _renamed_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("max_input_tokens") is None and "max_input_length" in data:
            data = {**data, "max_input_tokens": data["max_input_length"]}
        return data

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """``"3.3.6-dev0"`` -> ``(3, 3, 6)``; ``()`` when unknown."""
        head = (self.version or "").split("-")[0]
        parts = []
        for piece in head.split("."):
            if not piece.isdigit():
                break
            parts.append(int(piece))
        return tuple(parts)


class TokenizedToken(_Model):
    id: int
    text: str
    start: int = 0
    stop: int = 0


# ---------------------------------------------------------------------------------- OpenAI-shaped results


class TopLogprob(_Model):
    token: str
    logprob: float | None = None


class TokenLogprob(_Model):
    token: str
    logprob: float | None = None
    top_logprobs: Annotated[list[TopLogprob], NULL_AS_EMPTY] = Field(default_factory=list)
    id: int | None = None


class ChoiceLogprobs(_Model):
    """Per-token log-probabilities, and their sum (what LiteLLM's Hugging Face provider returned)."""

    content: list[TokenLogprob] | None = None

    @property
    def sum_logprob(self) -> float:
        return sum(t.logprob for t in self.content or () if t.logprob is not None)


def _arguments_as_string(v: Any) -> Any:
    # TGI <= 3.1 sent arguments as a JSON object; OpenAI and every framework expect a JSON string.
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return v


def _id_as_string(v: Any) -> Any:
    # TGI <= 2.0.3 sent an integer id.
    return str(v) if isinstance(v, int) else v


class FunctionCall(_Model):
    name: str
    arguments: str = "{}"
    _norm_arguments = field_validator("arguments", mode="before")(_arguments_as_string)


class ToolCall(_Model):
    id: str = ""
    type: Literal["function"] = "function"
    function: FunctionCall
    _norm_id = field_validator("id", mode="before")(_id_as_string)

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> Any:
        return "function" if v is None else v


class ChatMessage(_Model):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _tool_calls_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else (v or None)


class Usage(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Choice(_Model):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(_Model):
    """The OpenAI-shaped chat result, from either route.

    ``finish_reason`` is normalised to OpenAI's values (``stop``, ``length``, ``tool_calls``); tool-call
    ``arguments`` are JSON strings; ``usage`` holds the server's own token counts.
    """

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[Choice] = Field(default_factory=list)
    usage: Usage | None = None
    request_id: str | None = None
    route: str | None = None
    #: Seconds the client spent on the call (retries and cold-start waits included); set by ``chat()``.
    elapsed: float | None = None
    #: The server's timing headers (queue, inference, per token...), when it sent them.
    timings: Timings | None = None
    #: The endpoint that answered, on a client for several endpoints (``base_url=[...]``).
    endpoint: str | None = None

    @property
    def content(self) -> str | None:
        """Shortcut for ``choices[0].message.content``."""
        return self.choices[0].message.content if self.choices else None

    def __str__(self) -> str:
        """``print(result)``: the JSON LiteLLM's Hugging Face docs show, with each message's summed ``logprobs``
        (the per-token list stays on ``choices[i].logprobs``; ``model_dump()`` has everything)."""
        meta = {"request_id", "route", "elapsed", "timings", "endpoint"}
        doc = self.model_dump(mode="json", exclude=meta, exclude_none=True)
        for choice, out in zip(self.choices, doc["choices"], strict=True):
            out.pop("logprobs", None)
            if choice.logprobs is not None:
                out["message"]["logprobs"] = choice.logprobs.sum_logprob
        return json.dumps(doc, indent=2, ensure_ascii=False)

    def _repr_html_(self) -> str:
        return render_chat_completion_html(self)


class ChoiceDeltaFunction(_Model):
    name: str | None = None
    arguments: str | None = None
    _norm_arguments = field_validator("arguments", mode="before")(_arguments_as_string)


class ChoiceDeltaToolCall(_Model):
    index: int = 0
    id: str | None = None
    type: str | None = "function"
    function: ChoiceDeltaFunction = Field(default_factory=ChoiceDeltaFunction)
    _norm_id = field_validator("id", mode="before")(_id_as_string)


class ChoiceDelta(_Model):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _tool_calls_list(cls, v: Any) -> Any:
        # TGI <= 3.1 streamed tool_calls as one object, not a list.
        return [v] if isinstance(v, dict) else v


class ChunkChoice(_Model):
    index: int = 0
    delta: ChoiceDelta = Field(default_factory=ChoiceDelta)
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(_Model):
    """One streamed piece of a chat result. A usage-only chunk has ``choices == []``."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
    #: On a stream's last chunk: the client-side time to first token and tokens per second.
    timings: Timings | None = None
    #: The endpoint that answered, on a client for several endpoints.
    endpoint: str | None = None

    def __str__(self) -> str:
        """``print(chunk)``: its JSON, as LiteLLM prints a streamed chunk."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True, exclude={"endpoint"}), ensure_ascii=False)
