"""Images from ``HFEndpoint`` on both TGI routes: chat, stream_chat, achat, astream_chat, and a tool's image output.

``ImageBlock`` with bytes, a path or a URL reaches the server, which reports how it split the request: the test
compares that with the text around each image, so the image arrived byte for byte, at its place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from imagedata import digest, image_host, make_png, pieces
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock
from llama_index.core.tools import FunctionTool

from hf_endpoint.server import LocalServer

RED = make_png(2, 2, (255, 0, 0))
BLUE = make_png(1, 3, (0, 0, 255))

# As in test_li_agents.py: constructing a workflow agent touches pydantic's deprecated attributes (third-party).
_FIELDS_WARNING = r"ignore:The `__fields\w*` attribute is deprecated:pydantic.warnings.PydanticDeprecatedSince20"
_MODEL_WARNING = (
    r"ignore:Accessing the 'model_\w+' attribute on the instance is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211"
)


def question(blue: ImageBlock) -> list[ChatMessage]:
    blocks = [TextBlock(text="first "), ImageBlock(image=RED), TextBlock(text=" second "), blue, TextBlock(text=" end")]
    return [ChatMessage(role="system", content="Describe images."), ChatMessage(role="user", blocks=blocks)]


def check(server: LocalServer) -> None:
    got = pieces(server.last_request())
    assert got[1:4] == [f"<image {digest(RED)}>", " second ", f"<image {digest(BLUE)}>"]
    assert got[0].endswith("first ") and got[4].startswith(" end")


@pytest.fixture
def scripted_llm(make_llm: Any, scripted: LocalServer, route_options: dict[str, Any]) -> Any:
    """An ``HFEndpoint`` on the (reset) scripted server, on each route in turn."""
    return make_llm(scripted.url, **route_options)


def test_chat_and_stream_chat_send_images(scripted_llm: Any, scripted: LocalServer, tmp_path: Path) -> None:
    path = tmp_path / "blue.png"
    path.write_bytes(BLUE)
    llm = scripted_llm
    assert llm.chat(question(ImageBlock(path=path))).message.content
    check(scripted)
    scripted.reset()
    assert list(llm.stream_chat(question(ImageBlock(image=BLUE, image_mimetype="image/jpeg"))))  # label ignored
    check(scripted)


async def test_achat_and_astream_chat_send_images(scripted_llm: Any, scripted: LocalServer) -> None:
    llm = scripted_llm
    assert (await llm.achat(question(ImageBlock(image=BLUE)))).message.content
    check(scripted)
    scripted.reset()
    assert [r async for r in await llm.astream_chat(question(ImageBlock(image=BLUE)))]
    check(scripted)


def test_image_urls_are_fetched_by_the_server(scripted_llm: Any, scripted: LocalServer) -> None:
    with image_host({"/blue.png": BLUE}) as host:
        scripted_llm.chat(question(ImageBlock(url=host.url("/blue.png"))))
        check(scripted)


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming"])
@pytest.mark.filterwarnings(_FIELDS_WARNING)
@pytest.mark.filterwarnings(_MODEL_WARNING)
async def test_a_tools_image_output_reaches_the_server(
    scripted_llm: Any, scripted: LocalServer, streaming: bool
) -> None:
    def snapshot() -> list[Any]:
        """Take a picture."""
        return [TextBlock(text="the picture: "), ImageBlock(image=RED)]

    agent = FunctionAgent(tools=[FunctionTool.from_defaults(snapshot)], llm=scripted_llm, streaming=streaming)
    handler = agent.run(user_msg="Take a picture and describe it.")
    events = [event async for event in handler.stream_events()]
    await handler
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert result.tool_name == "snapshot"
    # The second LLM call carried the tool result: its text, then the image, decoded intact.
    got = pieces(scripted.last_request())
    image = got.index(f"<image {digest(RED)}>")
    assert got[image - 1].endswith("the picture: ")


def test_payload_limit_reaches_the_transport(make_llm: Any, scripted: LocalServer) -> None:
    from hf_endpoint import InvalidRequestError

    big = [ChatMessage(role="user", blocks=[ImageBlock(image=RED + bytes(1_600_000))])]
    with pytest.raises(InvalidRequestError, match="TGI's default --payload-limit"):
        make_llm(scripted.url).chat(big)
    with pytest.raises(InvalidRequestError, match="over 3,000,000 bytes, the server's --payload-limit"):
        make_llm(scripted.url, payload_limit=3_000_000).chat(big + big)
