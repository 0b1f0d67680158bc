"""The LiteLLM-style entry point: ``completion(model="huggingface/<endpoint-url>", messages=[...])``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from ._auth import resolve_token
from ._client import TGIClient
from ._errors import InvalidRequestError
from ._options import ChatOptions, ConnectionOptions, normalize_base_url
from ._pool import shared
from ._types import ChatCompletion, ChatCompletionChunk

__all__ = ["acompletion", "completion"]

# The keyword arguments that configure the client rather than the request: the options' own fields, except those
# completion() sets itself (the URL, the token; ``model`` here names the endpoint, not a LoRA adapter).
_CONNECTION_FIELDS = frozenset(f.name for f in dataclasses.fields(ConnectionOptions) if f.init) - {
    "base_url",
    "api_key",
    "token_from_env",
}
_CHAT_FIELDS = frozenset(f.name for f in dataclasses.fields(ChatOptions) if f.init) - {"model"}


def _endpoint(model: str | None, api_base: str | None) -> str:
    if api_base:
        return normalize_base_url(api_base)
    if not model:
        raise InvalidRequestError('completion() needs model="huggingface/<endpoint-url>" (or api_base=...)')
    name = model[len("huggingface/") :] if model.startswith("huggingface/") else model
    if name.startswith(("http://", "https://")):
        return normalize_base_url(name)
    env_url = os.environ.get("HF_ENDPOINT_URL")
    if env_url:
        return normalize_base_url(env_url)
    raise InvalidRequestError(
        f"model={model!r} names no endpoint: pass model='huggingface/https://<your-endpoint>' or api_base=..., "
        "or set HF_ENDPOINT_URL"
    )


def _options(url: str, api_key: str | None, kwargs: dict[str, Any]) -> tuple[ConnectionOptions, ChatOptions]:
    """The client's options, taken out of ``kwargs`` (the rest are chat parameters). The token is resolved now (the
    environment may have changed since the last call) and is part of the key of the shared clients."""
    conn = {k: kwargs.pop(k) for k in _CONNECTION_FIELDS & kwargs.keys()}
    chat = {k: kwargs.pop(k) for k in _CHAT_FIELDS & kwargs.keys()}
    if "timeout" in conn and conn["timeout"] is None:
        del conn["timeout"]
    token = resolve_token(api_key)
    return ConnectionOptions(url, api_key=token, token_from_env=not api_key, **conn), ChatOptions(**chat)


def completion(
    model: str | None = None,
    messages: Sequence[Any] = (),
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    stream: bool = False,
    logprobs: bool = True,
    **kwargs: Any,
) -> ChatCompletion | Iterator[ChatCompletionChunk]:
    """Chat with a TGI server or Inference Endpoint, LiteLLM-style; returns the OpenAI-shaped result.

    The token is ``api_key``, else ``HF_TOKEN``/``HUGGING_FACE_HUB_TOKEN``/``HUGGINGFACEHUB_API_TOKEN``/
    ``HUGGINGFACE_API_KEY``. Per-token ``logprobs`` (and their ``sum_logprob``) are returned by default.
    """
    url = _endpoint(model, api_base)
    client = shared.get(TGIClient, *_options(url, api_key, kwargs))  # (see _pool: why shared, never closed here)
    if stream:
        return client.chat_stream(messages, logprobs=logprobs or None, **kwargs)
    return client.chat(messages, logprobs=logprobs or None, **kwargs)


async def acompletion(
    model: str | None = None,
    messages: Sequence[Any] = (),
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    stream: bool = False,
    logprobs: bool = True,
    **kwargs: Any,
) -> ChatCompletion | AsyncIterator[ChatCompletionChunk]:
    """The async twin of :func:`completion`: ``await acompletion(...)`` is the result, or with ``stream=True`` an
    async iterator of chunks (``async for part in await acompletion(..., stream=True)``), as in LiteLLM."""
    url = _endpoint(model, api_base)
    from ._async_client import AsyncTGIClient  # here, so that completion() users never import aiohttp

    client = shared.get(AsyncTGIClient, *_options(url, api_key, kwargs))  # (see _pool: shared, never closed here)
    if stream:
        return client.chat_stream(messages, logprobs=logprobs or None, **kwargs)
    return await client.chat(messages, logprobs=logprobs or None, **kwargs)
