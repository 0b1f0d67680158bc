"""Every recorded TGI response (tests/data/tgi, real TGI output) through the parsers, stream and non-stream."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hf_endpoint import ChatCompletionChunk, GenerateResponse, IncompleteStreamError, RequestValidationError
from hf_endpoint._chat_route import ChatStreamConverter, parse_chat_completion
from hf_endpoint._plan import Response
from hf_endpoint._sse import SSEDecoder, split_lines
from hf_endpoint._tgi import _GenerateStream, parse_generate_response
from hf_endpoint._types import GenerateSummary

DATA = Path(__file__).resolve().parent.parent / "data" / "tgi"
FILES = sorted(p for p in DATA.glob("*.json") if p.name != "openapi.json")


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def kind(doc: Any) -> str:
    first = doc[0] if isinstance(doc, list) else doc
    return str(first.get("object") or ("generate" if "generated_text" in first else "?"))


def sse(events: list[Any], *, space: bool = True, done: bool = True) -> bytes:
    prefix = b"data: " if space else b"data:"
    out = b"".join(prefix + json.dumps(e).encode() + b"\n\n" for e in events)
    return out + (prefix + b"[DONE]\n\n" if done else b"")


def run_chat_stream(stream: bytes, **kw: Any) -> list[ChatCompletionChunk]:
    conv, decoder, buffer, out = ChatStreamConverter(**kw), SSEDecoder(), bytearray(), []
    for line in split_lines(buffer, stream):
        data = decoder.decode(line)
        if data is not None:
            out.extend(conv.feed(data))
    out.extend(conv.finish())
    return out


def collect(chunks: list[ChatCompletionChunk]) -> tuple[str, str, list[str | None], list[Any]]:
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    args = "".join(
        (tc.function.arguments or "") for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()
    )
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = [c.usage for c in chunks if c.usage is not None]
    return text, args, reasons, usage


def test_every_recording_is_covered() -> None:
    kinds = {p.name: kind(json.loads(p.read_text())) for p in FILES}
    assert set(kinds.values()) == {"generate", "chat.completion", "chat.completion.chunk", "text_completion"}
    assert len(kinds) == 38


@pytest.mark.parametrize("path", [p for p in FILES if kind(json.loads(p.read_text())) == "generate"], ids=str)
def test_generate_recordings_parse(path: Path) -> None:
    doc = json.loads(path.read_text())
    for item in doc if isinstance(doc, list) else [doc]:
        result = GenerateResponse.model_validate(item)
        assert isinstance(result.generated_text, str)
        assert result.details is not None
        assert result.details.finish_reason in ("length", "eos_token", "stop_sequence")
        assert len(result.details.tokens) == result.details.generated_tokens
        assert all(t.logprob is None or t.logprob <= 0 for t in result.details.tokens)
        # Non-special tokens concatenate to the generated text (all_params prepends the prompt: return_full_text).
        text = "".join(t.text for t in result.details.tokens if not t.special)
        # (mt0 decodes without the leading space, gemma3 with a trailing newline: compare the stripped texts)
        assert result.generated_text.strip().endswith(text.strip())
        # The native chat route's lighter parse (no per-token objects) reads the same answer from the same bytes.
        summary = parse_generate_response(
            Response(200, {}, json.dumps(item).encode(), "u"), "/generate", GenerateSummary
        )
        assert summary.generated_text == result.generated_text and summary.details is not None
        assert summary.details.finish_reason == result.details.finish_reason
        assert summary.details.generated_tokens == result.details.generated_tokens


@pytest.mark.parametrize("path", [p for p in FILES if kind(json.loads(p.read_text())) == "generate"], ids=str)
def test_generate_recordings_replayed_as_native_streams(path: Path) -> None:
    doc = json.loads(path.read_text())
    item = doc[0] if isinstance(doc, list) else doc
    tokens = item["details"]["tokens"]
    events = [{"index": i + 1, "token": t, "generated_text": None, "details": None} for i, t in enumerate(tokens[:-1])]
    events.append(
        {
            "index": len(tokens),
            "token": tokens[-1],
            "generated_text": item["generated_text"],
            "details": {
                "finish_reason": item["details"]["finish_reason"],
                "generated_tokens": len(tokens),
                "seed": item["details"]["seed"],
                "input_length": 7,
            },
        }
    )
    for space in (True, False):  # TGI >= 2.1 writes "data: ", older servers "data:"
        conv, decoder, buffer, out = _GenerateStream(None, "u"), SSEDecoder(), bytearray(), []
        for line in split_lines(buffer, sse(events, space=space, done=False)):
            data = decoder.decode(line)
            if data is not None:
                out.extend(conv.feed(data))
        out.extend(conv.finish())
        assert [e.token.id for e in out] == [t["id"] for t in tokens]
        assert out[-1].generated_text == item["generated_text"]
        assert out[-1].details is not None and out[-1].details.input_length == 7


def test_native_stream_without_final_event_is_incomplete() -> None:
    item = load("test_flash_llama_simple.json")
    events = [{"index": 1, "token": t, "generated_text": None, "details": None} for t in item["details"]["tokens"]]
    conv = _GenerateStream(None, "u")
    for e in events:
        conv.feed(json.dumps(e).encode())
    with pytest.raises(IncompleteStreamError, match="without its final event"):
        conv.finish()


@pytest.mark.parametrize("path", [p for p in FILES if kind(json.loads(p.read_text())) == "chat.completion"], ids=str)
def test_chat_recordings_parse_to_openai_shape(path: Path) -> None:
    raw = json.loads(path.read_text())
    result = parse_chat_completion(path.read_bytes())
    assert result.object == "chat.completion"
    assert result.id  # TGI sends "": we give every result an id
    choice = result.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls")
    raw_calls = raw["choices"][0]["message"].get("tool_calls")
    if raw_calls:
        assert choice.finish_reason == "tool_calls"  # TGI says "stop"; OpenAI-shaped results say tool_calls
        assert choice.message.tool_calls is not None
        for call in choice.message.tool_calls:
            assert isinstance(json.loads(call.function.arguments), dict)  # a JSON string, also from TGI <= 3.1
    else:
        assert choice.message.content == raw["choices"][0]["message"]["content"]
    if raw.get("usage"):
        assert result.usage is not None and result.usage.total_tokens == raw["usage"]["total_tokens"]


def test_legacy_object_arguments_become_a_json_string() -> None:
    result = parse_chat_completion((DATA / "legacy_v3.1.1__test_flash_llama_grammar_tools.json").read_bytes())
    calls = result.choices[0].message.tool_calls
    assert calls is not None
    assert json.loads(calls[0].function.arguments) == {"format": "celsius", "location": "Brooklyn, New York"}


@pytest.mark.parametrize(
    "path", [p for p in FILES if kind(json.loads(p.read_text())) == "chat.completion.chunk"], ids=str
)
def test_chat_stream_recordings(path: Path) -> None:
    doc = json.loads(path.read_text())
    if not isinstance(doc, list):
        # Only the last chunk was recorded: it must parse, with a legacy tool_calls object turned into a list.
        chunk = ChatCompletionChunk.model_validate(doc)
        delta = chunk.choices[0].delta
        assert delta.tool_calls is None or isinstance(delta.tool_calls, list)
        assert (delta.content or "") == (doc["choices"][0]["delta"].get("content") or "")
        return
    text, args, reasons, usage = collect(run_chat_stream(sse(doc)))
    raw_text = "".join(c["choices"][0]["delta"].get("content") or "" for c in doc if c["choices"])
    assert text == raw_text
    has_calls = any(c["choices"] and c["choices"][0]["delta"].get("tool_calls") for c in doc)
    if has_calls:
        assert reasons == ["tool_calls"]  # TGI sends no finish_reason for tool-call streams
        assert isinstance(json.loads(args), dict)
    else:
        assert len(reasons) == 1 and reasons[0] in ("stop", "length")
    raw_usage = [c["usage"] for c in doc if c.get("usage")]
    assert len(usage) == len(raw_usage)


def test_usage_chunk_has_no_choices() -> None:
    chunks = run_chat_stream(sse(load("test_chat_openai_usage.json")))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 39


def _legacy_stream(template: dict[str, Any], pieces: list[str]) -> list[dict[str, Any]]:
    events = []
    for i, piece in enumerate(pieces):
        e = copy.deepcopy(template)
        e["choices"][0]["delta"]["tool_calls"] = {
            "function": {"arguments": piece, "name": None},
            "id": "",
            "index": 0,
            "type": "function",
        }
        e["choices"][0]["finish_reason"] = "stop" if i == len(pieces) - 1 else None
        events.append(e)
    return events


def test_legacy_tool_call_stream_is_normalised() -> None:
    # TGI <= 3.1 streamed the raw grammar text, one object per chunk, ending with the EOS text (TGI#2794).
    last = load("legacy_v3.1.1__test_flash_llama_grammar_tools_stream.json")
    raw = '{"function": {"_name": "get_current_weather", "location": "Brooklyn, NY", "format": "fahrenheit"}}'
    pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)] + ["<|eot_id|>"]
    chunks = run_chat_stream(sse(_legacy_stream(last, pieces), done=False))
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert len(calls) == 1
    assert calls[0].function.name == "get_current_weather"
    assert json.loads(calls[0].function.arguments or "") == {"location": "Brooklyn, NY", "format": "fahrenheit"}
    assert calls[0].id
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_legacy_notify_error_becomes_text() -> None:
    last = load("legacy_v3.1.1__test_flash_llama_grammar_tools_stream.json")
    raw = '{"function": {"_name": "notify_error", "error": "Cannot get current weather forecast"}}'
    chunks = run_chat_stream(sse(_legacy_stream(last, [raw, "<|eot_id|>"]), done=False))
    text, args, reasons, _ = collect(chunks)
    assert text == "Cannot get current weather forecast" and args == "" and reasons == ["stop"]


def test_stream_tool_call_ids_are_sent_once() -> None:
    chunks = run_chat_stream(sse(load("test_flash_llama_grammar_tools_choice_stream.json")))
    ids = [tc.id for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert ids[0] == "0" and all(i is None for i in ids[1:])


def test_error_event_inside_a_chat_stream_raises_typed_error() -> None:
    doc = load("test_chat_openai_usage.json")
    err = {
        "error": {
            "message": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. "
            "Given: 4000 `inputs` tokens and 200 `max_new_tokens`",
            "http_status_code": 422,
        }
    }
    with pytest.raises(RequestValidationError, match="must be <= 4096") as info:
        run_chat_stream(sse([doc[0], err]))
    assert info.value.status_code == 422


def test_stream_without_done_or_finish_is_incomplete() -> None:
    doc = load("test_chat_openai_usage.json")
    with pytest.raises(IncompleteStreamError):
        run_chat_stream(sse(doc[:2], done=False))


def test_stop_sequences_are_removed_like_openai() -> None:
    doc = load("test_chat_openai_nousage.json")
    text, *_ = collect(run_chat_stream(sse(doc), stops=("!",)))
    raw = "".join(c["choices"][0]["delta"].get("content") or "" for c in doc)
    assert "!" in raw and text == raw.split("!")[0]
