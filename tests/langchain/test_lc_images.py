"""Images from ``ChatHFEndpoint`` on both TGI routes: invoke, stream, ainvoke, astream, and in tool results.

Every LangChain image form (standard ``image`` blocks with base64 or a URL, the ``source_type`` form, Anthropic's
``source``, OpenAI ``image_url`` parts) and a local file path reach the server, which reports how it split the
request: the test compares that with the text around each image, so the image arrived byte for byte, in place.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from imagedata import digest, image_host, make_png, pieces
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from hf_endpoint import InvalidRequestError
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint

pytestmark = pytest.mark.usefixtures("close_pooled_clients")

ROUTES = {"chat": {}, "generate": {"route": "generate", "chat_template": "chatml"}}
RED = make_png(2, 2, (255, 0, 0))
BLUE = make_png(1, 3, (0, 0, 255))
RED64 = base64.b64encode(RED).decode()
BLUE64 = base64.b64encode(BLUE).decode()


def question(blue: Any) -> list[BaseMessage]:
    return [
        SystemMessage("Describe images."),
        HumanMessage(
            [
                {"type": "text", "text": "first "},
                {"type": "image", "base64": RED64, "mime_type": "image/png"},
                {"type": "text", "text": " second "},
                blue,
                {"type": "text", "text": " end"},
            ]
        ),
    ]


def check(server: LocalServer) -> None:
    got = pieces(server.last_request())
    assert got[1:4] == [f"<image {digest(RED)}>", " second ", f"<image {digest(BLUE)}>"]
    assert got[0].endswith("first ") and got[4].startswith(" end")


BLUE_FORMS = {
    "v1-base64": {"type": "image", "base64": BLUE64, "mime_type": "image/png"},
    "source_type": {"type": "image", "source_type": "base64", "data": BLUE64, "mime_type": "image/png"},
    "anthropic": {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": BLUE64}},
    "openai": {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{BLUE64}"}},
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("form", BLUE_FORMS)
def test_every_image_form_arrives_in_place(scripted: LocalServer, route: str, form: str) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, max_tokens=3, **ROUTES[route])
    assert llm.invoke(question(BLUE_FORMS[form])).content
    check(scripted)


@pytest.mark.parametrize("route", ROUTES)
def test_stream_sends_images_and_reads_local_files(scripted: LocalServer, route: str, tmp_path: Path) -> None:
    path = tmp_path / "blue.png"
    path.write_bytes(BLUE)
    llm = ChatHFEndpoint(base_url=scripted.url, max_tokens=3, **ROUTES[route])
    # A local file as a URL block: the transport reads it into a data URI (type from the bytes).
    messages = question({"type": "image", "url": str(path)})
    assert "".join(str(c.content) for c in llm.stream(messages))
    check(scripted)


@pytest.mark.parametrize("route", ROUTES)
async def test_async_invoke_and_stream_send_images(scripted: LocalServer, route: str) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url, max_tokens=3, **ROUTES[route])
    assert (await llm.ainvoke(question(BLUE_FORMS["v1-base64"]))).content
    check(scripted)
    scripted.reset()
    assert "".join([str(c.content) async for c in llm.astream(question(BLUE_FORMS["openai"]))])
    check(scripted)


@pytest.mark.parametrize("route", ROUTES)
def test_image_urls_are_fetched_by_the_server(scripted: LocalServer, route: str) -> None:
    with image_host({"/blue.png": BLUE}) as host:
        llm = ChatHFEndpoint(base_url=scripted.url, max_tokens=3, **ROUTES[route])
        llm.invoke(question({"type": "image", "url": host.url("/blue.png")}))
        check(scripted)
        assert host.requests == ["/blue.png"]


@pytest.mark.parametrize("route", ROUTES)
def test_images_in_tool_messages_reach_the_server(scripted: LocalServer, route: str) -> None:
    def draw() -> str:
        """Draw a picture."""
        return ""

    messages = [
        HumanMessage("draw something"),
        AIMessage("", tool_calls=[{"type": "tool_call", "id": "1", "name": "draw", "args": {}}]),
        ToolMessage(
            [{"type": "text", "text": "drawn: "}, {"type": "image", "base64": RED64, "mime_type": "image/png"}],
            tool_call_id="1",
            name="draw",
        ),
    ]
    llm = ChatHFEndpoint(base_url=scripted.url, **ROUTES[route]).bind_tools([draw])
    assert isinstance(llm.invoke(messages), AIMessage)
    got = pieces(scripted.last_request())
    image = got.index(f"<image {digest(RED)}>")
    assert got[image - 1].endswith("drawn: ")


def test_bad_images_fail_before_sending(scripted: LocalServer) -> None:
    llm = ChatHFEndpoint(base_url=scripted.url)
    gif_as_png = base64.b64encode(
        base64.b64decode("R0lGODdhAQABAIEAAP///wAAAAAAAAAAACwAAAAAAQABAAAIBAABBAQAOw==")
    ).decode()
    for block, message in [
        ({"type": "image", "url": "s3://bucket/cat.png"}, "s3: URL, which TGI cannot fetch"),
        (
            {"type": "image", "base64": gif_as_png, "mime_type": "image/png"},
            "says image/png but its data is of type image/gif",
        ),
        ({"type": "image", "base64": "UklGRg==", "mime_type": "image/bmp"}, "type 'image/bmp'"),
    ]:
        with pytest.raises(InvalidRequestError, match=message):
            llm.invoke([HumanMessage([{"type": "text", "text": "x"}, block])])
    assert scripted.stats()["requests"].get("/v1/chat/completions") is None


@pytest.mark.parametrize("route", ROUTES)
def test_reasoning_blocks_are_not_replayed(scripted: LocalServer, route: str) -> None:
    # TGI's Messages API takes only text and image_url parts: a thinking block would be a 422 there.
    history = [
        HumanMessage("Hello"),
        AIMessage([{"type": "thinking", "thinking": "a greeting", "signature": "x"}, {"type": "text", "text": "Hi!"}]),
        HumanMessage(
            [{"type": "text", "text": "Look: "}, {"type": "image", "base64": RED64, "mime_type": "image/png"}]
        ),
    ]
    ChatHFEndpoint(base_url=scripted.url, max_tokens=3, **ROUTES[route]).invoke(history)
    body = scripted.last_request()
    assert body is not None and "a greeting" not in body["body"] and "Hi!" in body["body"]
    assert pieces(body)[-2] == f"<image {digest(RED)}>"


def test_payload_limit_reaches_the_transport(scripted: LocalServer) -> None:
    big = HumanMessage(
        [{"type": "image", "base64": base64.b64encode(RED + bytes(1_600_000)).decode(), "mime_type": "image/png"}]
    )
    with pytest.raises(InvalidRequestError, match="TGI's default --payload-limit"):
        ChatHFEndpoint(base_url=scripted.url).invoke([big])
    with pytest.raises(InvalidRequestError, match="over 3,000,000 bytes, the server's --payload-limit"):
        ChatHFEndpoint(base_url=scripted.url, payload_limit=3_000_000).invoke([big, big])
