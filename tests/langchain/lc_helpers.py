"""Small helpers shared by the LangChain tests."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from hf_endpoint.server import LocalServer


def last_body(server: LocalServer) -> dict[str, Any]:
    """The JSON body of the last request the server received."""
    record = server.last_request()
    assert record is not None, "the server received no request"
    body = record["body"]
    parsed: dict[str, Any] = json.loads(body) if isinstance(body, (str, bytes)) else body
    return parsed


class TokenRecorder(BaseCallbackHandler):
    """Records every ``on_llm_new_token`` call (token text and the chunk passed with it)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []
        self.chunks: list[Any] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.chunks.append(chunk)


class ImageSupport:
    """What ``ChatHFEndpoint`` declares to LangChain's standard suites about images, on both TGI routes.

    Images in human messages (base64 and URLs, which the server fetches) and in tool messages, and Anthropic-style
    histories (``tool_use``/``tool_result`` blocks, ``source`` images). PDFs, audio and video: TGI takes none.
    """

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True
