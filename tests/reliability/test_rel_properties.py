"""Property tests over generated VALID TGI payloads, shaped like TGI's own (``StreamResponse`` and ``GenerateResponse``
of the native route, ``chat.completion(.chunk)`` of the Messages API, in current and older versions), through the
native parsers and the stream converters.

Invariants: the streamed text concatenates to the final text (after the stop sequence is cut, as OpenAI does);
finish reasons are normalised (``eos_token``/``stop_sequence`` -> ``stop``, tool calls -> ``tool_calls``); exactly
one finishing chunk; usage is kept; a valid payload never raises, and a corrupted one raises only our errors.
Each test counts the examples it ran (``-s`` prints them).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hf_endpoint import ChatCompletionChunk, GenerateResponse, HFEndpointError
from hf_endpoint._chat_route import ChatStreamConverter, parse_chat_completion
from hf_endpoint._endpoint import EndpointState
from hf_endpoint._native_chat import NativeChatPlan, NativeChatStreamConverter, native_chat_completion
from hf_endpoint._plan import Response
from hf_endpoint._tgi import _GenerateStream, generate_plan

EXAMPLES = 250
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
STOP_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "stop": "stop", "length": "length"}

texts = st.text(max_size=6)  # any unicode, including newlines, quotes and emoji
logprobs = st.floats(max_value=0, allow_nan=False, allow_infinity=False, width=32)


def token(text: str, special: bool, draw: Any) -> dict[str, Any]:
    return {
        "id": draw(st.integers(0, 300_000)),
        "text": text,
        "logprob": draw(st.none() | logprobs),
        "special": special,
    }


@st.composite
def native_stream(draw: Any, stop: str | None = None) -> tuple[list[dict[str, Any]], str, str]:
    """``/generate_stream`` events (tokens, then the final one with ``generated_text`` and ``details``), the full
    generated text, and TGI's finish reason. With ``stop``, the generation ends on that stop sequence."""
    pieces = draw(st.lists(texts, max_size=12))
    special_at = draw(st.sets(st.integers(0, max(len(pieces) - 1, 0)), max_size=2)) if pieces else set()
    if stop is not None:
        before = "".join(p for i, p in enumerate(pieces) if i not in special_at)
        assume((before + stop).find(stop) == len(before))  # TGI stops at the first occurrence
        pieces = [*pieces, stop]
        reason = "stop_sequence"
    else:
        reason = draw(st.sampled_from(["length", "eos_token"]))
    if reason == "eos_token":
        pieces, special_at = [*pieces, "</s>"], {*special_at, len(pieces)}
    tokens = [token(p, i in special_at, draw) for i, p in enumerate(pieces)]
    generated = "".join(t["text"] for t in tokens if not t["special"])
    with_top = draw(st.booleans())
    events: list[dict[str, Any]] = []
    for i, tok in enumerate(tokens):
        event: dict[str, Any] = {"index": i + 1, "token": tok, "generated_text": None, "details": None}
        if with_top:
            event["top_tokens"] = [token(draw(texts), False, draw) for _ in range(draw(st.integers(0, 2)))]
        events.append(event)
    if not events:  # a zero-token answer still has its final event
        events.append({"index": 1, "token": token("", True, draw), "generated_text": None, "details": None})
    events[-1]["generated_text"] = generated
    events[-1]["details"] = {
        "finish_reason": reason,
        "generated_tokens": len(tokens),
        "seed": draw(st.none() | st.integers(0, 2**63)),
        "input_length": draw(st.integers(0, 4096)),
    }
    if draw(st.booleans()):  # unknown fields (newer TGI): tolerated
        events[0]["extra_field"] = draw(texts)
    return events, generated, reason


def plan(strip: tuple[str, ...] = ()) -> NativeChatPlan:
    return NativeChatPlan(prompt="p", parameters={}, tools_mode=False, strip=strip, want_logprobs=True, model="m")


def chat_text(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def finishes(chunks: list[ChatCompletionChunk]) -> list[str | None]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


def encode(events: list[Any]) -> list[bytes]:
    return [e if isinstance(e, bytes) else json.dumps(e).encode() for e in events]


def report(name: str, count: int) -> None:
    print(f"\n[properties] {name}: {count} examples")
    assert count >= EXAMPLES * 0.8  # hypothesis really explored (it stops early only on an exhausted space)


# ------------------------------------------------------------------------------------------------ native route


def test_native_stream_to_events_and_chat_chunks() -> None:
    count = [0]

    @SETTINGS
    @given(case=native_stream())
    def prop(case: tuple[list[dict[str, Any]], str, str]) -> None:
        events, generated, reason = case
        raw = encode(events)
        stream = _GenerateStream(None, "u")
        out = [e for data in raw for e in stream.feed(data)] + stream.finish()
        assert len(out) == len(events)
        assert out[-1].generated_text == generated
        assert all(e.generated_text is None for e in out[:-1])
        streamed = "".join(e.token.text for e in out if not e.token.special)
        assert streamed == generated  # the tokens' text adds up to the final text
        conv = NativeChatStreamConverter(plan())
        chunks = [c for data in raw for c in conv.feed(data)] + conv.finish()
        assert chat_text(chunks) == generated
        assert finishes(chunks) == [STOP_FINISH[reason]]
        usage = [c.usage for c in chunks if c.usage is not None]
        assert len(usage) == 1
        assert usage[0].completion_tokens == events[-1]["details"]["generated_tokens"]
        assert chunks[-1].usage is not None  # the usage chunk comes last, with no choices
        assert chunks[-1].choices == []
        count[0] += 1  # an example that ran every check

    prop()
    report("native stream -> StreamResponse events and chat chunks", count[0])


def test_native_stream_with_a_stop_sequence() -> None:
    count = [0]

    @SETTINGS
    @given(data=st.data(), stop=st.text(min_size=1, max_size=4))
    def prop(data: st.DataObject, stop: str) -> None:
        events, generated, reason = data.draw(native_stream(stop=stop))
        assert reason == "stop_sequence"
        assert generated.endswith(stop)  # TGI keeps the stop text
        conv = NativeChatStreamConverter(plan(strip=(stop,)))
        chunks = [c for data in encode(events) for c in conv.feed(data)] + conv.finish()
        assert chat_text(chunks) == generated[: -len(stop)]  # streamed without the stop text, nothing lost
        assert finishes(chunks) == ["stop"]
        # The non-stream answer for the same generation says the same.
        body = {
            "generated_text": generated,
            "details": {**events[-1]["details"], "prefill": [], "tokens": [e["token"] for e in events]},
        }
        response = GenerateResponse.model_validate(body)
        completion = native_chat_completion(response, plan(strip=(stop,)))
        assert completion.content == generated[: -len(stop)]
        assert completion.choices[0].finish_reason == "stop"
        count[0] += 1  # an example that ran every check

    prop()
    report("native stream and answer with a stop sequence", count[0])


def test_native_generate_answer() -> None:
    """``/generate`` (and ``POST /``'s one-element list) through the generate plan's parser, then to a chat
    completion."""
    count = [0]
    parse = generate_plan(EndpointState("u"), "x", {}, stream=False).parse
    assert parse is not None

    @SETTINGS
    @given(case=native_stream(), as_list=st.booleans(), prompt_tokens=st.none() | st.integers(0, 9999))
    def prop(case: tuple[list[dict[str, Any]], str, str], as_list: bool, prompt_tokens: int | None) -> None:
        events, generated, reason = case
        body: Any = {
            "generated_text": generated,
            "details": {**events[-1]["details"], "prefill": [], "tokens": [e["token"] for e in events]},
        }
        headers = {"x-prompt-tokens": str(prompt_tokens)} if prompt_tokens is not None else {}
        resp = parse(Response(200, headers, json.dumps([body] if as_list else body).encode(), "u"))
        assert resp.generated_text == generated
        assert resp.prompt_tokens == prompt_tokens
        completion = native_chat_completion(resp, plan())
        assert completion.content == generated
        assert completion.choices[0].finish_reason == STOP_FINISH[reason]
        assert completion.usage.completion_tokens == events[-1]["details"]["generated_tokens"]
        lps = completion.choices[0].logprobs
        assert lps is not None
        assert len(lps.content) == sum(1 for e in events if not e["token"]["special"])
        count[0] += 1  # an example that ran every check

    prop()
    report("/generate answers -> GenerateResponse -> chat completion", count[0])


# ---------------------------------------------------------------------------------------------- Messages API


@st.composite
def chat_stream(draw: Any) -> tuple[list[Any], str, str, dict[str, int] | None]:
    """A Messages API stream: text chunks, the finishing chunk, maybe a usage chunk, and ``[DONE]`` (TGI >= 2.2;
    older ones: ``object: "text_completion"``, ``eos_token``, no ``[DONE]``)."""
    pieces = draw(st.lists(texts, max_size=12))
    legacy = draw(st.booleans())
    reason = draw(st.sampled_from(["stop", "length", "stop_sequence"] + (["eos_token"] if legacy else [])))
    base = {
        "object": "text_completion" if legacy else "chat.completion.chunk",
        "id": "",
        "created": 1741265133,
        "model": draw(texts),
        "system_fingerprint": "3.3.6-native",
    }

    def chunk(content: str, finish: str | None) -> dict[str, Any]:
        delta = {"role": "assistant", "content": content}
        return {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }

    events: list[Any] = [chunk(p, None) for p in pieces] + [chunk("", reason)]
    usage = None
    if draw(st.booleans()):
        n = draw(st.integers(0, 999))
        usage = {"prompt_tokens": n, "completion_tokens": len(pieces), "total_tokens": n + len(pieces)}
        events.append({**base, "choices": [], "usage": usage})
    if not legacy or draw(st.booleans()):
        events.append(b"[DONE]")
    return events, "".join(pieces), reason, usage


def test_chat_stream_chunks() -> None:
    count = [0]

    @SETTINGS
    @given(case=chat_stream())
    def prop(case: tuple[list[Any], str, str, dict[str, int] | None]) -> None:
        events, text, reason, usage = case
        conv = ChatStreamConverter()
        chunks = [c for data in encode(events) for c in conv.feed(data)] + conv.finish()
        assert chat_text(chunks) == text
        assert finishes(chunks) == [STOP_FINISH[reason]]
        assert all(c.object == "chat.completion.chunk" for c in chunks)
        got = [
            c.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"})
            for c in chunks
            if c.usage is not None
        ]
        assert got == ([usage] if usage else [])
        count[0] += 1  # an example that ran every check

    prop()
    report("Messages API stream -> chunks", count[0])


def test_chat_stream_with_a_stop_sequence_cut_anywhere() -> None:
    """The stop text may arrive split over chunks, or inside one: it is cut, and only it."""
    count = [0]

    @SETTINGS
    @given(before=st.text(max_size=20), stop=st.text(min_size=1, max_size=4), cuts=st.lists(st.integers(0, 30)))
    def prop(before: str, stop: str, cuts: list[int]) -> None:
        assume((before + stop).find(stop) == len(before))
        full = before + stop
        bounds = sorted({0, len(full), *(c for c in cuts if c <= len(full))})
        pieces = [full[a:b] for a, b in itertools.pairwise(bounds)]
        base = {"object": "chat.completion.chunk", "id": "", "created": 1, "model": "m", "usage": None}
        events: list[Any] = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": p}, "finish_reason": None}]}
            for p in pieces
        ]
        events.append(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop_sequence"}
                ],
            }
        )
        events.append(b"[DONE]")
        conv = ChatStreamConverter(stops=(stop,))
        chunks = [c for data in encode(events) for c in conv.feed(data)] + conv.finish()
        assert chat_text(chunks) == before
        assert finishes(chunks) == ["stop"]
        count[0] += 1  # an example that ran every check

    prop()
    report("Messages API stream with a stop sequence split anywhere", count[0])


json_scalars = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=8)
arguments = st.dictionaries(
    st.text(min_size=1, max_size=6), json_scalars | st.lists(json_scalars, max_size=3), max_size=4
)


def test_chat_tool_call_stream() -> None:
    """TGI >= 3.2: the name and ``{`` first, then the rest of the arguments in pieces, no finish_reason, [DONE]."""
    count = [0]

    @SETTINGS
    @given(args=arguments, name=st.from_regex(r"[a-z_]{1,12}", fullmatch=True), cuts=st.lists(st.integers(1, 80)))
    def prop(args: dict[str, Any], name: str, cuts: list[int]) -> None:
        text = json.dumps(args)
        rest = text[1:]
        bounds = sorted({0, len(rest), *(c for c in cuts if c < len(rest))})
        pieces = ["{"] + [rest[a:b] for a, b in itertools.pairwise(bounds)]
        events: list[Any] = []
        for i, piece in enumerate(pieces):
            call = {
                "index": 0,
                "id": "0",
                "type": "function",
                "function": {"name": name if i == 0 else None, "arguments": piece},
            }
            events.append(
                {
                    "object": "chat.completion.chunk",
                    "id": "",
                    "created": 1,
                    "model": "m",
                    "usage": None,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "tool_calls": [call]},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            )
        events.append(b"[DONE]")
        conv = ChatStreamConverter()
        chunks = [c for data in encode(events) for c in conv.feed(data)] + conv.finish()
        calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
        assert "".join(tc.function.arguments or "" for tc in calls) == text
        assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == args
        assert [tc.function.name for tc in calls if tc.function.name] == [name]
        assert len({tc.id for tc in calls if tc.id}) == 1  # the id once, not repeated per piece
        assert finishes(chunks) == ["tool_calls"]
        count[0] += 1  # an example that ran every check

    prop()
    report("Messages API tool-call stream", count[0])


def test_chat_completion_answer() -> None:
    count = [0]

    @SETTINGS
    @given(
        content=st.text(max_size=40),
        reason=st.sampled_from(["stop", "length", "stop_sequence", "eos_token"]),
        legacy=st.booleans(),
        n=st.integers(0, 999),
    )
    def prop(content: str, reason: str, legacy: bool, n: int) -> None:
        body = {
            "object": "text_completion" if legacy else "chat.completion",
            "id": "",
            "created": 1,
            "model": "m",
            "system_fingerprint": "x",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": reason,
                }
            ],
            "usage": {"prompt_tokens": n, "completion_tokens": 3, "total_tokens": n + 3},
        }
        completion = parse_chat_completion(json.dumps(body).encode())
        assert completion.content == content
        assert completion.choices[0].finish_reason == STOP_FINISH[reason]
        assert completion.usage.total_tokens == n + 3
        count[0] += 1  # an example that ran every check

    prop()
    report("Messages API answers", count[0])


# ------------------------------------------------------------------------------ corrupted valid payloads


def _corrupt(doc: Any, draw: Any) -> Any:
    """Drop a key, or replace a value with something of another type, somewhere in ``doc``."""
    if isinstance(doc, dict) and doc:
        key = draw(st.sampled_from(sorted(doc)))
        action = draw(st.sampled_from(["drop", "replace", "recurse"]))
        if action == "drop":
            return {k: v for k, v in doc.items() if k != key}
        if action == "replace":
            return {**doc, key: draw(json_scalars | st.just([]) | st.just({}))}
        return {**doc, key: _corrupt(doc[key], draw)}
    if isinstance(doc, list) and doc:
        i = draw(st.integers(0, len(doc) - 1))
        return [*doc[:i], _corrupt(doc[i], draw), *doc[i + 1 :]]
    return draw(json_scalars)


def test_corrupted_payloads_raise_only_our_errors() -> None:
    count = [0]

    @SETTINGS
    @given(data=st.data())
    def prop(data: st.DataObject) -> None:
        events, *_ = data.draw(native_stream())
        chat_events, *_ = data.draw(chat_stream())
        which = data.draw(st.integers(0, len(events) - 1))
        bad = _corrupt(events[which], data.draw)
        native = [*events[:which], bad, *events[which + 1 :]]
        cwhich = data.draw(st.integers(0, max(len(chat_events) - 2, 0)))
        chat = list(chat_events)
        if not isinstance(chat[cwhich], bytes):
            chat[cwhich] = _corrupt(chat[cwhich], data.draw)
        parse = generate_plan(EndpointState("u"), "x", {}, stream=False).parse
        assert parse is not None
        runs: list[Callable[[], object]] = [
            lambda: [e for d in encode(native) for e in _GenerateStream(None, "u").feed(d)],
            lambda: _feed_all(NativeChatStreamConverter(plan()), native),
            lambda: _feed_all(ChatStreamConverter(), chat),
            lambda: native_chat_completion(parse(Response(200, {}, json.dumps(bad).encode(), "u")), plan()),
            lambda: parse_chat_completion(json.dumps(_corrupt(_as_answer(chat_events), data.draw)).encode()),
        ]
        for go in runs:
            with contextlib.suppress(HFEndpointError):
                go()
        count[0] += 1  # an example that ran every check

    prop()
    report("corrupted valid payloads raise only HFEndpointError", count[0])


def _feed_all(conv: Any, events: list[Any]) -> list[Any]:
    return [c for d in encode(events) for c in conv.feed(d)] + conv.finish()


def _as_answer(chat_events: list[Any]) -> dict[str, Any]:
    first = next((e for e in chat_events if isinstance(e, dict) and e["choices"]), None)
    text = "".join(e["choices"][0]["delta"]["content"] for e in chat_events if isinstance(e, dict) and e["choices"])
    return {
        "object": "chat.completion",
        "id": "",
        "created": 1,
        "model": first["model"] if first else "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
