"""The transport's hot-path shortcuts, made for the benchmarks, behave exactly as the plain code they replace.

Each shortcut is checked against a reference written the plain way: ``SSEDecoder.feed`` against ``split_lines`` +
``decode`` line by line, ``StopTrimmer`` against the original suffix search, ``assign`` and ``_trusted`` against
pydantic's ``__setattr__`` and ``model_construct``.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hf_endpoint._chat_route import assign
from hf_endpoint._native_chat import _trusted
from hf_endpoint._protocol import StopTrimmer
from hf_endpoint._sse import SSEDecoder, split_lines
from hf_endpoint._types import ChatCompletion, ChatCompletionChunk, ChoiceDelta, ChunkChoice


def _reference_events(chunks: list[bytes]) -> list[bytes]:
    decoder, buffer, out = SSEDecoder(), bytearray(), []
    for chunk in chunks:
        for line in split_lines(buffer, chunk):
            data = decoder.decode(line)
            if data is not None:
                out.append(data)
    if buffer:
        decoder.decode(bytes(buffer).rstrip(b"\r"))
    last = decoder.flush()
    if last is not None:
        out.append(last)
    return out


def _fed_events(chunks: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    out: list[bytes] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.close()


_PIECES = st.sampled_from([b"data:", b"data: ", b"\n", b"\r", b"\r\n", b"\n\n", b"x", b"{}", b" ", b":", b"id: 1",
                           b"da", b"ta:", b"[DONE]"])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=12).map(b"".join), max_size=8))
def test_sse_feed_matches_line_by_line_decoding(chunks: list[bytes]) -> None:
    assert _fed_events(chunks) == _reference_events(chunks)


def test_sse_feed_fast_path_shapes() -> None:
    assert _fed_events([b'data: {"a":1}\n\n', b"data:{}\n\n", b"data:  x\n\n"]) == [b'{"a":1}', b"{}", b" x"]
    # a pending partial line or event disables the shortcut
    assert _fed_events([b"data: a", b"data: b\n\n"]) == _reference_events([b"data: a", b"data: b\n\n"])
    assert _fed_events([b"data: a\n", b"data: b\n\n"]) == [b"a\nb"]


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


def test_assign_is_pydantic_setattr() -> None:
    body = b'{"id":"","choices":[{"message":{"content":"hi"},"finish_reason":"eos_token"}]}'
    a, b = ChatCompletion.model_validate_json(body), ChatCompletion.model_validate_json(body)
    a.object, a.id, a.request_id, a.route = "chat.completion", "x", "r", "chat"
    assign(b, object="chat.completion", id="x", request_id="r", route="chat")
    assert a.__dict__ == b.__dict__ and a.model_fields_set == b.model_fields_set
    assert a.model_dump(exclude_unset=True) == b.model_dump(exclude_unset=True)


def test_trusted_is_model_construct() -> None:
    delta = dict(role="assistant", content="x", tool_calls=None)
    assert _trusted(ChoiceDelta, **delta).__dict__ == ChoiceDelta.model_construct(**delta).__dict__
    d = ChoiceDelta.model_construct(**delta)
    choice = dict(index=0, delta=d, finish_reason=None, logprobs=None)
    a, b = _trusted(ChunkChoice, **choice), ChunkChoice.model_construct(**choice)
    assert list(a.__dict__.items()) == list(b.__dict__.items()) and a.model_fields_set == b.model_fields_set
    chunk = dict(id="c", object="chat.completion.chunk", created=1, model="m", system_fingerprint=None,
                 choices=[a], usage=None)  # fmt: skip
    x, y = _trusted(ChatCompletionChunk, **chunk), ChatCompletionChunk.model_construct(**chunk)
    assert list(x.__dict__.items()) == list(y.__dict__.items()) and x.model_fields_set == y.model_fields_set
    assert x.model_dump_json() == y.model_dump_json()
    assert x.__pydantic_extra__ == y.__pydantic_extra__ and x.__pydantic_private__ == y.__pydantic_private__
