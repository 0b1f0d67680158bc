"""The SSE decoder and line splitter, fed bytes the way the network delivers them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_endpoint._sse import SSEDecoder, split_lines


def decode_all(chunks: list[bytes]) -> list[bytes]:
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


def test_data_with_and_without_space_and_keepalive() -> None:
    stream = b'data: {"a":1}\n\n:\n\ndata:{"b":2}\n\ndata: [DONE]\n\n'
    assert decode_all([stream]) == [b'{"a":1}', b'{"b":2}', b"[DONE]"]


def test_only_one_space_is_stripped_and_data_letters_survive() -> None:
    # lstrip("data:") would eat the leading "d", "a", "t" of the payload: the bug in TGI's own client.
    assert decode_all([b"data:  data\n\n", b"data:tada\n\n"]) == [b" data", b"tada"]


def test_crlf_and_cr_line_endings() -> None:
    assert decode_all([b'data: {"x":1}\r\n\r\ndata: {"y":2}\r\rdata: 3\n\n']) == [b'{"x":1}', b'{"y":2}', b"3"]


def test_multi_line_data_is_joined_and_other_fields_ignored() -> None:
    assert decode_all([b"event: message\nid: 7\ndata: a\ndata: b\nretry: 10\n\n"]) == [b"a\nb"]


def test_truncated_stream_yields_last_event() -> None:
    assert decode_all([b'data: {"a":1}\n\ndata: {"b":2}']) == [b'{"a":1}', b'{"b":2}']


events = st.lists(
    st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(events=events, data=st.data(), crlf=st.booleans(), space=st.booleans())
def test_any_chunking_gives_the_same_events(events: list[bytes], data: st.DataObject, crlf: bool, space: bool) -> None:
    eol = b"\r\n" if crlf else b"\n"
    prefix = b"data: " if space else b"data:"
    stream = b"".join(prefix + e + eol + b":" + eol + eol for e in events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected = [e[1:] if (not space and e[:1] == b" ") else e for e in events]
    assert decode_all(chunks) == expected


# --------------------------------------------- SSEDecoder.feed (the hot path) against line-by-line decoding


def _fed_events(chunks: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    out: list[bytes] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.close()


_PIECES = st.sampled_from(
    [b"data:", b"data: ", b"\n", b"\r", b"\r\n", b"\n\n", b"x", b"{}", b" ", b":", b"id: 1", b"da", b"ta:", b"[DONE]"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=12).map(b"".join), max_size=8))
def test_feed_matches_line_by_line_decoding(chunks: list[bytes]) -> None:
    assert _fed_events(chunks) == decode_all(chunks)


def test_feed_fast_path_shapes() -> None:
    assert _fed_events([b'data: {"a":1}\n\n', b"data:{}\n\n", b"data:  x\n\n"]) == [b'{"a":1}', b"{}", b" x"]
    # a pending partial line or event disables the shortcut
    assert _fed_events([b"data: a", b"data: b\n\n"]) == decode_all([b"data: a", b"data: b\n\n"])
    assert _fed_events([b"data: a\n", b"data: b\n\n"]) == [b"a\nb"]
