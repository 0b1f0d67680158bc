"""The LiteLLM-style entry point: ``completion(model="huggingface/<endpoint-url>", messages=[...])``."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from ._auth import resolve_token
from ._client import TGIClient
from ._errors import InvalidRequestError
from ._options import normalize_base_url
from ._types import ChatCompletion, ChatCompletionChunk

__all__ = ["acompletion", "completion"]

_CLIENT_OPTIONS = ("timeout", "max_retries", "cold_start_timeout", "route", "chat_template", "headers", "verify",
                   "allow_insecure_http")  # fmt: skip
_clients: OrderedDict[tuple[Any, ...], TGIClient] = OrderedDict()
_lock = threading.Lock()


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


def _split(kwargs: dict[str, Any]) -> dict[str, Any]:
    options = {k: kwargs.pop(k) for k in _CLIENT_OPTIONS if k in kwargs}
    if "timeout" in options and options["timeout"] is None:
        del options["timeout"]
    return options


def _client(url: str, api_key: str | None, options: dict[str, Any]) -> TGIClient:
    # One pooled client per (endpoint, token, options): repeated calls reuse keep-alive connections. The token
    # is resolved now (it may come from the environment, which can change) and kept only as a digest.
    token = resolve_token(api_key)
    digest = hashlib.sha256(token.get_secret_value().encode()).hexdigest() if token else None
    key = (url, digest, tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = TGIClient(url, api_key=token if api_key else None, **options)
            _clients[key] = client
            if len(_clients) > 16:
                _clients.popitem(last=False)[1].close()
        else:
            _clients.move_to_end(key)
        return client


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
    client = _client(url, api_key, _split(kwargs))
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

    options = _split(kwargs)
    if stream:
        return _astream(AsyncTGIClient(url, api_key=api_key, **options), messages, logprobs=logprobs or None,
                        **kwargs)  # fmt: skip
    async with AsyncTGIClient(url, api_key=api_key, **options) as client:
        return await client.chat(messages, logprobs=logprobs or None, **kwargs)


async def _astream(client: Any, messages: Sequence[Any], **kwargs: Any) -> AsyncIterator[ChatCompletionChunk]:
    # The client lives as long as the stream: closed when it ends, fails or is closed early (aclose()).
    async with client:
        async for chunk in client.chat_stream(messages, **kwargs):
            yield chunk
