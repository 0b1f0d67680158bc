"""Images through the transport: both routes, sync and async, whole and streamed; conveniences and early errors.

Each loopback test reads back how the server split the request (text and decoded images, in order), so it proves
the image arrived byte for byte and at its place among the text parts.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imagedata import digest, image_host, make_png, pieces

from hf_endpoint import InvalidRequestError, image_data_uri
from hf_endpoint._images import PAYLOAD_LIMIT, sniff_image_type
from hf_endpoint._native_chat import build_native_chat
from hf_endpoint._params import normalize_messages
from hf_endpoint._templates import BUILTIN_TEMPLATES
from hf_endpoint.server import LocalServer

from ._twin import Twin

RED = make_png(2, 2, (255, 0, 0))
BLUE = make_png(3, 1, (0, 0, 255))
GIF = base64.b64decode("R0lGODdhAQABAIEAAP///wAAAAAAAAAAACwAAAAAAQABAAAIBAABBAQAOw==")


@pytest.fixture
def client(srv: LocalServer, kind: str) -> Iterator[Twin]:
    """A client of either kind with a chat template, so that both routes work with the scripted model."""
    twin = Twin(kind, srv.url, chat_template="chatml", max_retries=0)
    yield twin
    twin.close()


def uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def part(url: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def user(*content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": c} if isinstance(c, str) else c for c in content]}]


# ------------------------------------------------------------------------------------------------ pure


def test_the_mime_type_comes_from_the_bytes() -> None:
    assert sniff_image_type(RED) == "image/png"
    assert sniff_image_type(GIF) == "image/gif"
    assert sniff_image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image_type(b"II*\x00rest") == "image/tiff"
    assert sniff_image_type(b"BMxx") == "image/bmp"
    assert sniff_image_type(b"hello") is None
    assert image_data_uri(RED) == uri(RED)


def test_files_and_bytes_become_data_uris(tmp_path: Path) -> None:
    misnamed = tmp_path / "photo.jpg"  # a GIF under a .jpg name: the content decides
    misnamed.write_bytes(GIF)
    red = tmp_path / "red.png"
    red.write_bytes(RED)
    given = [misnamed, str(red), red.as_uri(), RED, bytearray(BLUE)]
    msgs = normalize_messages(user(*[part(g) for g in given]))
    assert [p["image_url"]["url"] for p in msgs[0]["content"]] == [
        uri(GIF, "image/gif"),
        uri(RED),
        uri(RED),
        uri(RED),
        uri(BLUE),
    ]


def test_urls_and_good_data_uris_are_sent_as_given() -> None:
    content = user("a", part("https://example.com/cat.png"), {"type": "image_url", "image_url": uri(RED)})
    msgs = normalize_messages(content)
    assert msgs[0]["content"][1] == part("https://example.com/cat.png")
    assert msgs[0]["content"][2] == part(uri(RED))  # a bare URL string is put in TGI's {"url": ...} form
    # TGI finds an image with !\[\]\([^)]*\): a ")" in a URL would end it early, so it is escaped.
    assert normalize_messages(user(part("https://x.org/a(1).png")))[0]["content"][0] == part("https://x.org/a(1%29.png")


BAD = [
    (part("s3://bucket/cat.png"), "is a s3: URL, which TGI cannot fetch"),
    (part("ftp://example.com/cat.png"), "is a ftp: URL, which TGI cannot fetch"),
    (part("data:image/bmp;base64,Qk0AAAA="), "a data URI of type 'image/bmp'; TGI decodes only image/png"),
    (part("data:image/svg+xml;base64,PHN2Zz4="), "a data URI of type 'image/svg\\+xml'"),
    (part("data:image/png,rawdata"), "a data URI without base64 data"),
    (part("data:image/png;base64,iVBO!RK="), "base64 is invalid"),
    (part(uri(GIF)), "says image/png but its data is of type image/gif"),
    (part(b"BM\x00\x00\x00\x00"), "is of type image/bmp; TGI decodes only"),
    (part(b"just text"), "is not an image TGI recognizes"),
    (part("no/such/file.png"), "cannot read the image file 'no/such/file.png'"),
    (part(None), "must be an http\\(s\\) URL, a data: URI, a file path or bytes"),
    (
        {"type": "image_url", "image_url": {"url": uri(RED + bytes(PAYLOAD_LIMIT))}},
        "over 2,000,000 bytes, TGI's default --payload-limit",
    ),
]


@pytest.mark.parametrize(("bad", "message"), BAD, ids=[m[:30] for _, m in BAD])
def test_bad_images_are_refused_before_sending(client: Twin, srv: LocalServer, bad: Any, message: str) -> None:
    for route in ("chat", "generate"):
        with pytest.raises(InvalidRequestError, match=message) as caught:
            client.chat(user("look", bad), route=route)
        assert "messages[0].content[1]" in str(caught.value) or "payload-limit" in str(caught.value)
    assert set(srv.stats()["requests"]) <= {"/info"}  # nothing was sent (the client may have read /info)


def test_several_images_together_over_the_payload_limit_are_refused() -> None:
    half = uri(RED + bytes(PAYLOAD_LIMIT // 2))
    normalize_messages(user(part(half)))  # one fits
    with pytest.raises(InvalidRequestError, match=r"take 2,66.* bytes as base64 data URIs"):
        normalize_messages(user(part(half)) + user(part(half)))


def test_the_native_prompt_has_each_image_inline_at_its_place() -> None:
    msgs = normalize_messages(
        [{"role": "system", "content": "Be brief."}, *user("first ", part(RED), " then ", part("https://x.org/b.png"))]
    )
    plan = build_native_chat(
        msgs,
        {},
        template=BUILTIN_TEMPLATES["chatml"],
        tools=None,
        tool_choice=None,
        grammar=None,
        max_stop_sequences=4,
        model="m",
    )
    assert plan.prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        f"<|im_start|>user\nfirst ![]({uri(RED)}) then ![](https://x.org/b.png)<|im_end|>\n<|im_start|>assistant\n"
    )


def test_other_part_types_are_refused_on_the_native_route() -> None:
    msgs = normalize_messages(user("hi", {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}))
    with pytest.raises(InvalidRequestError, match="type 'input_audio' has no form on TGI's native route"):
        build_native_chat(
            msgs,
            {},
            template=BUILTIN_TEMPLATES["chatml"],
            tools=None,
            tool_choice=None,
            grammar=None,
            max_stop_sequences=4,
            model="m",
        )


# -------------------------------------------------------------------------------------------- loopback


@pytest.mark.parametrize("route", ["chat", "generate"])
@pytest.mark.parametrize("call", ["chat", "chat_stream"])
def test_images_arrive_intact_at_their_place(
    client: Twin, srv: LocalServer, route: str, call: str, tmp_path: Path
) -> None:
    blue = tmp_path / "blue.png"
    blue.write_bytes(BLUE)
    messages = [
        {"role": "system", "content": "Describe images."},
        *user("first ", part(uri(RED)), " second ", part(blue), " end"),
    ]
    result = getattr(client, call)(messages, route=route, max_tokens=3)
    assert result
    got = pieces(srv.last_request())
    assert got[1:4] == [f"<image {digest(RED)}>", " second ", f"<image {digest(BLUE)}>"]
    assert got[0].endswith("first ") and got[4].startswith(" end")
    assert srv.last_request()["path"] == (
        "/v1/chat/completions" if route == "chat" else "/generate_stream" if call == "chat_stream" else "/generate"
    )


@pytest.mark.parametrize("route", ["chat", "generate"])
def test_images_in_tool_results_reach_the_server(client: Twin, srv: LocalServer, route: str) -> None:
    messages = [
        *user("draw"),
        {
            "role": "assistant",
            "tool_calls": [{"id": "1", "type": "function", "function": {"name": "draw", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "1", "content": [{"type": "text", "text": "here: "}, part(GIF)]},
    ]
    client.chat(messages, route=route, max_tokens=3)
    got = pieces(srv.last_request())
    assert f"<image {digest(GIF)}>" in got
    assert got[got.index(f"<image {digest(GIF)}>") - 1].endswith("here: ")


def test_the_server_fetches_a_loopback_url_and_reports_what_it_got(client: Twin, srv: LocalServer) -> None:
    with image_host({"/red.png": RED}) as host:
        for route in ("chat", "generate"):
            client.chat(user("url: ", part(host.url("/red.png"))), route=route, max_tokens=2)
            assert pieces(srv.last_request())[1] == f"<image {digest(RED)}>"
        assert host.requests == ["/red.png", "/red.png"]


def test_server_side_image_errors_keep_tgis_message(client: Twin, srv: LocalServer) -> None:
    from hf_endpoint import RequestValidationError

    with pytest.raises(RequestValidationError, match="Could not fetch image: error sending request for url"):
        client.chat(user("x", part("https://example.invalid/cat.png")), route="chat")
    items, error = client.collect("chat_stream", user("x", part("https://example.invalid/cat.png")), route="chat")
    assert items == [] and isinstance(error, RequestValidationError)


# ------------------------------------------------------------------------------------------ round trip

# Text with "![](" in it is an image to TGI too (as two texts may join into), so the texts here have no "!".
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="!"), max_size=12)
_IMAGES = st.sampled_from([RED, BLUE, GIF])


@given(st.lists(st.one_of(_TEXT, _IMAGES), max_size=6))
def test_the_inline_form_is_lossless(parts: list[Any]) -> None:
    """What the native route writes, TGI's router reads back as the same text and images in the same order (the
    client's ``text_of`` against the local server's copy of TGI's ``prepare_input``)."""
    from hf_endpoint._params import text_of
    from hf_endpoint.server._images import Image, prepare_input

    content = normalize_messages(user(*[p if isinstance(p, str) else part(p) for p in parts]))[0]["content"]
    chunks = asyncio.run(prepare_input(text_of(content)))
    expected: list[Any] = []
    for p in parts:
        if isinstance(p, bytes):
            expected.append(p)
        elif p and expected and isinstance(expected[-1], str):
            expected[-1] += p
        elif p:
            expected.append(p)
    assert [c.data if isinstance(c, Image) else c for c in chunks if c != ""] == (expected or [])


# --------------------------------------------------------------------------------------- payload_limit


def test_payload_limit_follows_the_servers(srv: LocalServer, kind: str) -> None:
    from hf_endpoint import BadRequestError

    big = [*user("x", part(RED + bytes(1_600_000)))]  # 2.1 MB as a data URI
    default = Twin(kind, srv.url, max_retries=0)
    raised = Twin(kind, srv.url, max_retries=0, payload_limit=4_000_000)
    try:
        with pytest.raises(InvalidRequestError, match="over 2,000,000 bytes, TGI's default --payload-limit"):
            default.chat(big, route="chat")
        assert set(srv.stats()["requests"]) <= {"/info"}
        # A client told the server takes more sends it; this server has TGI's default limit, so axum's 413 answers.
        with pytest.raises(BadRequestError) as caught:
            raised.chat(big, route="chat")
        assert caught.value.status_code == 413
        with pytest.raises(InvalidRequestError, match="over 4,000,000 bytes, the server's --payload-limit"):
            raised.chat(big + big, route="chat")
    finally:
        default.close()
        raised.close()


@pytest.mark.parametrize("bad", [0, 100, "big", True])
def test_a_bad_payload_limit_is_refused(bad: Any) -> None:
    from hf_endpoint import TGIClient

    with pytest.raises(InvalidRequestError, match="payload_limit="):
        TGIClient("http://127.0.0.1:9", payload_limit=bad)


@pytest.mark.parametrize("call", ["chat", "chat_stream"])
def test_a_large_image_arrives_intact(client: Twin, srv: LocalServer, call: str) -> None:
    # Over 1 MiB: aiohttp warns about a bytes body that large, so the async shell streams it from memory.
    large = RED + bytes(1_200_000)
    assert getattr(client, call)(user("big: ", part(large)), route="chat", max_tokens=2)
    assert pieces(srv.last_request())[1] == f"<image {digest(large)}>"
