"""The transport's hot-path shortcuts, made for the benchmarks, behave exactly as the plain code they replace.

Each shortcut is checked against a reference written the plain way: ``StopTrimmer`` against the original suffix
search, ``trusted`` against pydantic's ``model_construct``, the native stream's dict events and ``GenerateSummary``
against the full parse. (``SSEDecoder.feed`` is checked against line-by-line decoding in tests/transport/test_sse.py,
the built-in templates' Python renderers against Jinja in tests/transport/test_templates.py.)
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hf_endpoint import HFEndpointError
from hf_endpoint._native_chat import NativeChatPlan, NativeChatStreamConverter
from hf_endpoint._protocol import StopTrimmer
from hf_endpoint._types import ChatCompletionChunk, ChoiceDelta, ChunkChoice, trusted


class _ReferenceTrimmer:
    """StopTrimmer before the fast paths."""

    def __init__(self, stops: list[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""

    def feed(self, text: str) -> str:
        if not self._stops:
            return text
        held = self._held + text
        for stop in self._stops:
            at = held.find(stop)
            if at >= 0:
                self._held = held[at:]
                return held[:at]
        keep = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(held)), 0, -1):
                if held.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        self._held = held[len(held) - keep :] if keep else ""
        return held[: len(held) - keep] if keep else held

    def finish(self) -> str:
        rest, self._held = self._held, ""
        for stop in self._stops:
            at = rest.find(stop)
            if at >= 0:
                return rest[:at]
        return rest


_TEXT = st.text(alphabet="ab<|>x ", max_size=6)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TEXT, max_size=3), st.lists(_TEXT, max_size=8))
def test_stop_trimmer_matches_the_reference(stops: list[str], pieces: list[str]) -> None:
    fast, ref = StopTrimmer(stops), _ReferenceTrimmer(stops)
    assert [fast.feed(p) for p in pieces] == [ref.feed(p) for p in pieces]
    assert fast.finish() == ref.finish()


def _same_as_constructed(m: object) -> None:
    """``m`` (and every model inside it) is what ``model_construct`` of the same values gives: same fields in the
    same order, same fields set, same extra/private, same JSON."""
    from pydantic import BaseModel

    assert isinstance(m, BaseModel)
    cls = type(m)
    ref = cls.model_construct(**{k: v for k, v in m.__dict__.items() if k in m.model_fields_set})
    assert list(m.__dict__) == list(cls.model_fields) == list(ref.__dict__)
    assert m.__dict__ == ref.__dict__ and m.model_fields_set == ref.model_fields_set
    assert m.__pydantic_extra__ == ref.__pydantic_extra__ and m.__pydantic_private__ == ref.__pydantic_private__
    assert m.model_dump_json() == ref.model_dump_json()
    for value in m.__dict__.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                _same_as_constructed(item)


def test_trusted_is_model_construct() -> None:
    d = trusted(ChoiceDelta, {"role": "assistant", "content": "x", "tool_calls": None})
    choice = trusted(ChunkChoice, {"index": 0, "delta": d, "finish_reason": None, "logprobs": None})
    chunk = trusted(
        ChatCompletionChunk,
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "system_fingerprint": None,
            "choices": [choice],
            "usage": None,
            "timings": None,
            "endpoint": None,
        },
    )
    _same_as_constructed(chunk)
    # a field left out or out of order is caught by the check the call sites are tested with
    try:
        _same_as_constructed(trusted(ChoiceDelta, {"content": "x", "role": "assistant", "tool_calls": None}))
    except AssertionError:
        pass
    else:
        raise AssertionError("field order not checked")


_EVENT = (
    b'{"index":%d,"token":{"id":7,"text":%s,"logprob":-0.25,"special":false},'
    b'"generated_text":%s,"details":%s,"top_tokens":%s}'
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["a", " b", "<|im", "_end|>", "\u00e9"]), min_size=1, max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_native_stream_chunks_are_well_formed(texts: list[str], logprobs: bool, tools: bool) -> None:
    plan = NativeChatPlan(
        prompt="p", parameters={}, tools_mode=tools, strip=("<|im_end|>",), want_logprobs=logprobs, model="m"
    )
    conv = NativeChatStreamConverter(plan)
    if tools:  # a tool call (or, for no_tool, an answer) arrives in pieces and is sent whole at the end
        name = "no_tool" if logprobs else "f"
        texts = ['{"function": {"name": "' + name + '", ', '"arguments": {"content": "', *texts, '"}}}']
    chunks = []
    for i, text in enumerate(texts):
        last = i == len(texts) - 1
        final = json.dumps("".join(texts)).encode() if last else b"null"
        details = (
            b'{"finish_reason":"eos_token","generated_tokens":%d,"input_length":3}' % len(texts) if last else b"null"
        )
        top = b'[{"id":1,"text":"a","logprob":-1.0,"special":false}]' if logprobs else b"null"
        chunks += conv.feed(_EVENT % (i, json.dumps(text).encode(), final, details, top))
    assert chunks and chunks[-1].usage is not None
    for chunk in chunks:
        _same_as_constructed(chunk)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["Hello", "Hi<|im_end|>", '{"function": {"name": "f", "arguments": {"a": 1}}}']),
    st.booleans(),
    st.booleans(),
)
def test_native_completions_are_well_formed(text: str, logprobs: bool, tools: bool) -> None:
    from hf_endpoint._native_chat import native_chat_completion
    from hf_endpoint._plan import Response
    from hf_endpoint._tgi import parse_generate_response
    from hf_endpoint._types import GenerateResponse, GenerateSummary

    plan = NativeChatPlan(
        prompt="p",
        parameters={},
        tools_mode=tools and text.startswith("{"),
        strip=("<|im_end|>",),
        want_logprobs=logprobs,
        model="m",
    )
    body = json.dumps(
        {
            "generated_text": text,
            "details": {
                "finish_reason": "eos_token",
                "generated_tokens": 1,
                "tokens": [{"id": 1, "text": text, "logprob": -0.5, "special": False}],
            },
        }
    ).encode()
    cls = GenerateResponse if logprobs else GenerateSummary
    result = native_chat_completion(parse_generate_response(Response(200, {}, body, "u"), "/generate", cls), plan)
    _same_as_constructed(result)
    assert result.usage is not None and result.usage.completion_tokens == 1
    assert (result.choices[0].logprobs is not None) == logprobs


_TOKEN = st.fixed_dictionaries(
    {"id": st.integers(0, 9), "text": st.text(max_size=4) | st.integers() | st.none()},
    optional={"special": st.booleans(), "logprob": st.floats(allow_nan=False) | st.none()},
)
_EVENTS = st.lists(
    st.fixed_dictionaries(
        {"token": _TOKEN},
        optional={
            "index": st.integers(0, 9),
            "generated_text": st.none(),
            "details": st.none(),
            "top_tokens": st.none(),
        },
    ),
    max_size=6,
)


def _outcome(conv: NativeChatStreamConverter, events: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for data in events:
        try:
            out += [c.model_dump() for c in conv.feed(data)]
        except HFEndpointError as err:
            return [*out, type(err), err.message]
    return out


@settings(max_examples=300, deadline=None)
@given(_EVENTS, st.booleans())
def test_native_text_events_read_as_dicts_match_the_full_parse(events: list[dict[str, Any]], error: bool) -> None:
    """A text-only native stream reads its events as small dicts (a fast path); any event, also a malformed one or an
    error event, gives the same chunks or the same error as the full StreamResponse parse."""
    raw = [json.dumps(e).encode() for e in events]
    if error:
        raw.append(
            b'{"error":"Request failed during generation: Server error: out of memory","error_type":"generation"}'
        )
    raw.append(
        b'{"token":{"id":2,"text":"","special":true},"generated_text":"x",'
        b'"details":{"finish_reason":"length","generated_tokens":9,"input_length":3}}'
    )
    plan = NativeChatPlan(
        prompt="p", parameters={}, tools_mode=False, strip=("<|im_end|>",), want_logprobs=False, model="m"
    )
    fast = NativeChatStreamConverter(plan)
    full = NativeChatStreamConverter(plan)
    full._light = None  # the plain path: every event through parse_stream_event
    got, want = _outcome(fast, raw), _outcome(full, raw)
    for outcome in (got, want):
        for c in outcome:
            if isinstance(c, dict):
                c.pop("id"), c.pop("created")
    assert got == want


_TGI_TOKEN = st.fixed_dictionaries(
    {"id": st.integers(0, 9), "text": st.text(max_size=4)},
    optional={"special": st.booleans(), "logprob": st.floats(allow_nan=False) | st.none()},
)
_GENERATE_BODY = st.fixed_dictionaries(
    {
        "generated_text": st.sampled_from(
            ["Hello", "Hi<|im_end|>", "", '{"function": {"name": "f", "arguments": {"a": 1}}}']
        )
    },
    optional={
        "details": st.none()
        | st.fixed_dictionaries(
            {
                "finish_reason": st.sampled_from(["eos_token", "length", "stop_sequence"]),
                "generated_tokens": st.integers(0, 50),
            },
            optional={
                "tokens": st.none() | st.lists(_TGI_TOKEN, max_size=4),
                "prefill": st.none() | st.just([]),
                "seed": st.none() | st.integers(0, 9),
                "top_tokens": st.none(),
            },
        ),
    },
)


@settings(max_examples=200, deadline=None)
@given(_GENERATE_BODY, st.booleans(), st.sampled_from([{}, {"x-prompt-tokens": "7"}]))
def test_generate_summary_gives_the_completion_the_full_parse_gives(
    body: dict[str, Any], tools: bool, headers: dict[str, str]
) -> None:
    """Without logprobs the native route validates /generate's answer as GenerateSummary (a fast path: the token list
    is skipped by the JSON parser); the completion is the one the full GenerateResponse gives, for any answer TGI
    sends. (A malformed token list, which TGI does not send, is an error only for the full parse: the summary never
    reads it.)"""
    from hf_endpoint._native_chat import native_chat_completion
    from hf_endpoint._plan import Response
    from hf_endpoint._tgi import parse_generate_response
    from hf_endpoint._types import GenerateResponse, GenerateSummary

    plan = NativeChatPlan(
        prompt="p",
        parameters={},
        tools_mode=tools and body["generated_text"].startswith("{"),
        strip=("<|im_end|>",),
        want_logprobs=False,
        model="m",
    )
    resp = Response(200, headers, json.dumps(body).encode(), "u")

    def completion(cls: type[Any]) -> Any:
        try:
            out = native_chat_completion(parse_generate_response(resp, "/generate", cls), plan).model_dump()
        except HFEndpointError as err:
            return type(err), err.message
        out.pop("id"), out.pop("created"), out.pop("elapsed", None)
        for call in out["choices"][0]["message"]["tool_calls"] or ():
            call.pop("id")  # random
        return out

    assert completion(GenerateSummary) == completion(GenerateResponse)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"index": st.integers(0, 64), "score": st.floats(allow_nan=False, allow_infinity=False)},
            optional={"text": st.one_of(st.none(), st.text(max_size=5))},
        ),
        max_size=8,
    ),
    st.integers(0, 10_000),
)
def test_rank_offset_is_the_plain_assignment(items: list[dict[str, Any]], offset: int) -> None:
    """``parse_ranks`` shifts each index in the Rank's ``__dict__``: the result equals Ranks whose index was set
    the plain way (pydantic's setattr), field by field, fields set and JSON."""
    from hf_endpoint._tei_protocol import parse_ranks
    from hf_endpoint._tei_types import Rank

    fast = parse_ranks(json.dumps(items).encode(), None, offset)
    plain = [Rank.model_validate(item) for item in items]
    for r in plain:
        r.index = r.index + offset
    assert [(r.__dict__, r.model_fields_set, r.model_dump_json()) for r in fast] == [
        (r.__dict__, r.model_fields_set, r.model_dump_json()) for r in plain
    ]
    assert all(type(r.index) is int for r in fast)
