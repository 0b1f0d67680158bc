"""Images on the local server: found, decoded and checked as TGI's router does, on both routes and both backends.

The messages are TGI's (``router/src/validation.rs``, ``ValidationError``; the base64 ones are Rust's ``base64``
0.22): see ``hf_endpoint/server/_images.py`` for the two deliberate differences (no pixel decoding, no network).
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from imagedata import digest, image_host, make_png, pieces

from hf_endpoint.server import LocalServer

from ._helpers import sse_json

PNG = make_png(3, 2, (0, 128, 255))
GIF = base64.b64decode("R0lGODdhAQABAIEAAP///wAAAAAAAAAAACwAAAAAAQABAAAIBAABBAQAOw==")  # TGI's own test pixel
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
GIF_URI = "data:image/gif;base64," + base64.b64encode(GIF).decode()
PREFIX = "Input validation error: "


def post(url: str, path: str, body: object) -> requests.Response:
    return requests.post(url + path, json=body, timeout=60)


def chat_body(*parts: object, stream: bool = False) -> dict[str, object]:
    content = [{"type": "text", "text": p} if isinstance(p, str) else p for p in parts]
    return {"messages": [{"role": "user", "content": content}], "max_tokens": 4, "stream": stream}


def image(url: str) -> dict[str, object]:
    return {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize("path", ["/generate", "/generate_stream", "/"])
def test_native_inputs_split_into_text_and_decoded_images(scripted: LocalServer, path: str) -> None:
    inputs = f"first ![]({PNG_URI}) middle ![]({GIF_URI}) last"
    resp = post(scripted.url, path, {"inputs": inputs, "parameters": {"max_new_tokens": 3}})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-image-count"] == "2"
    assert resp.headers["x-image-sha256"] == f"{digest(PNG)},{digest(GIF)}"
    assert pieces(scripted.last_request()) == [
        "first ",
        f"<image {digest(PNG)}>",
        " middle ",
        f"<image {digest(GIF)}>",
        " last",
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_chat_image_parts_become_inline_images_at_their_place(scripted: LocalServer, stream: bool) -> None:
    resp = post(
        scripted.url,
        "/v1/chat/completions",
        chat_body("look: ", image(PNG_URI), " and ", image(GIF_URI), stream=stream),
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-image-sha256"] == f"{digest(PNG)},{digest(GIF)}"
    split = pieces(scripted.last_request())
    # The scripted template is "role: text"; TGI joins the parts with nothing between them.
    assert split == ["user: look: ", f"<image {digest(PNG)}>", " and ", f"<image {digest(GIF)}>", "\nassistant:"]


def test_a_request_without_images_reports_none(scripted: LocalServer) -> None:
    resp = post(scripted.url, "/generate", {"inputs": "plain text", "parameters": {"max_new_tokens": 2}})
    assert "x-image-count" not in resp.headers
    record = scripted.last_request()
    assert record is not None and "inputs" not in record


def test_the_model_reads_the_text_without_the_images(scripted: LocalServer) -> None:
    with_image = post(
        scripted.url,
        "/generate",
        {"inputs": f"a ![]({PNG_URI})b", "parameters": {"details": True, "max_new_tokens": 2}},
    )
    without = post(scripted.url, "/generate", {"inputs": "a b", "parameters": {"details": True, "max_new_tokens": 2}})
    assert with_image.headers["x-prompt-tokens"] == without.headers["x-prompt-tokens"]


BAD_IMAGES = [
    ("![](data:image/png;base64,iVBO!RK)", "base64 encoding is invalid: Invalid symbol 33, offset 4."),
    ("![](data:image/png;base64,iVBORw0KG)", "base64 encoding is invalid: Invalid input length: 9"),
    ("![](data:image/png;base64,iVBORw0KGg)", "base64 encoding is invalid: Invalid padding"),
    ("![](data:image/png;base64)", "invalid image content: base64"),
    ("![](data:image/png,iVBORw0KGgo=)", "invalid image content: image/png,iVBORw0KGgo="),
    ("![](data:image/png;utf8,abc)", "invalid image content: utf8,abc"),
    (
        f"![]({GIF_URI.replace('image/gif', 'image/png')})",
        "invalid image: Format error decoding Png: the data is not a Png image",
    ),
    ("![](data:image/bmp;base64,Qk0AAAA=)", "invalid image: The image format could not be determined"),
    ("![](data:text/plain;base64,aGVsbG8=)", "invalid image: The image format could not be determined"),
    ("![](ftp://example.com/cat.png)", "invalid image content: ![](ftp://example.com/cat.png)"),
    ("![]()", "invalid image content: ![]()"),
    (
        "![](https://example.com/cat.png)",
        "Could not fetch image: error sending request for url (https://example.com/cat.png): error trying to "
        "connect: this server fetches only over loopback",
    ),
]


@pytest.mark.parametrize(("inputs", "message"), BAD_IMAGES)
def test_bad_images_get_tgis_422(scripted: LocalServer, inputs: str, message: str) -> None:
    resp = post(scripted.url, "/generate", {"inputs": f"describe {inputs}"})
    assert resp.status_code == 422
    assert resp.json() == {"error": PREFIX + message, "error_type": "validation"}


def test_bad_images_in_streams_and_chat(scripted: LocalServer) -> None:
    bad = "data:image/png;base64,iVBO!RK"
    message = PREFIX + "base64 encoding is invalid: Invalid symbol 33, offset 4."
    # A stream's validation error comes inside the 200 stream, in each route's shape (PROTOCOL.md §4, §7).
    events = sse_json(post(scripted.url, "/generate_stream", {"inputs": f"![]({bad})"}))
    assert events == [{"error": message, "error_type": "validation"}]
    resp = post(scripted.url, "/v1/chat/completions", chat_body("x", image(bad)))
    assert (resp.status_code, resp.json()["error"]) == (422, message)
    events = sse_json(post(scripted.url, "/v1/chat/completions", chat_body("x", image(bad), stream=True)))
    assert [
        e.get("error", {}).get("message") if isinstance(e.get("error"), dict) else e.get("error") for e in events
    ] == [message]


def test_loopback_urls_are_fetched_and_their_size_limited(scripted: LocalServer) -> None:
    with image_host({"/cat.png": PNG, "/page.html": b"<html>not an image</html>"}) as host:
        resp = post(scripted.url, "/generate", {"inputs": f"see ![]({host.url('/cat.png')}) here"})
        assert resp.status_code == 200, resp.text
        assert pieces(scripted.last_request()) == ["see ", f"<image {digest(PNG)}>", " here"]
        assert host.requests == ["/cat.png"]
        # Like reqwest, an error page is read as the image, and fails the format guess.
        for path in ("/page.html", "/missing.png"):
            resp = post(scripted.url, "/generate", {"inputs": f"![]({host.url(path)})"})
            assert resp.json()["error"] == PREFIX + "invalid image: The image format could not be determined"
        scripted.configure(max_image_fetch_size=len(PNG) - 1)
        resp = post(scripted.url, "/generate", {"inputs": f"![]({host.url('/cat.png')})"})
        assert resp.status_code == 422
        assert resp.json()["error"] == (
            PREFIX + f"Image size {len(PNG)} bytes exceeds maximum allowed size of {len(PNG) - 1} bytes"
        )
    gone = host.url("/cat.png")  # the host is stopped: the port refuses connections
    resp = post(scripted.url, "/generate", {"inputs": f"![]({gone})"})
    assert resp.json()["error"].startswith(PREFIX + f"Could not fetch image: error sending request for url ({gone})")


def test_a_body_over_the_payload_limit_gets_axums_413(scripted: LocalServer) -> None:
    big = "data:image/png;base64," + base64.b64encode(PNG + bytes(1_500_000)).decode()
    resp = requests.post(
        scripted.url + "/v1/chat/completions",
        data=json.dumps(chat_body(image(big))),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert (resp.status_code, resp.text) == (413, "Failed to buffer the request body: length limit exceeded")


@pytest.mark.tiny
def test_tiny_answers_without_seeing_the_image(tiny_url: str) -> None:
    question = "Question: What is the capital of France?\nAnswer:"
    params = {"max_new_tokens": 4, "details": True}
    plain = post(tiny_url, "/generate", {"inputs": question, "parameters": params})
    with_image = post(tiny_url, "/generate", {"inputs": f"![]({PNG_URI}){question}", "parameters": params})
    assert with_image.status_code == 200, with_image.text
    assert with_image.headers["x-image-sha256"] == digest(PNG)
    # The model reads the text only: the same prompt tokens and the same greedy answer as without the image.
    assert with_image.headers["x-prompt-tokens"] == plain.headers["x-prompt-tokens"]
    assert with_image.json()["generated_text"] == plain.json()["generated_text"]
    chat = post(tiny_url, "/v1/chat/completions", {**chat_body("What is this? ", image(GIF_URI)), "temperature": 0})
    assert chat.status_code == 200 and chat.headers["x-image-sha256"] == digest(GIF)
    bad = post(tiny_url, "/generate", {"inputs": "![](data:image/png;base64,iVBO!RK)"})
    assert bad.json() == {
        "error": PREFIX + "base64 encoding is invalid: Invalid symbol 33, offset 4.",
        "error_type": "validation",
    }


def test_chat_content_parts_other_than_text_and_image_url_are_a_serde_error(scripted: LocalServer) -> None:
    body = chat_body("hi", {"type": "thinking", "thinking": "hmm"})
    raw = json.dumps(body)
    resp = requests.post(
        scripted.url + "/v1/chat/completions", data=raw, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert resp.status_code == 422
    assert resp.text == (
        "Failed to deserialize the JSON body into the target type: messages[0]: data did not match any variant of "
        f"untagged enum MessageBody at line 1 column {len(raw)}"
    )
