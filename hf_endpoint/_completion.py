"""The LiteLLM-style entry point: ``completion(model="huggingface/<endpoint-url>", messages=[...])``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from ._auth import resolve_token
from ._client import TGIClient
from ._errors import InvalidRequestError
from ._options import ChatOptions, ConnectionOptions, EndpointSpec, normalize_base_url, parse_endpoints
from ._pool import shared
from ._types import ChatCompletion, ChatCompletionChunk

__all__ = ["acompletion", "completion"]

# The keyword arguments that configure the client rather than the request: the options' own fields, except those
# completion() sets itself (the URL, the token; ``model`` here names the endpoint, not a LoRA adapter).
_CONNECTION_FIELDS = frozenset(f.name for f in dataclasses.fields(ConnectionOptions) if f.init) - {
    "base_url",
    "api_key",
    "token_from_env",
    "endpoints",
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


def _fallbacks(url: str, fallbacks: Sequence[Any] | None) -> tuple[EndpointSpec, ...]:
    """LiteLLM's ``fallbacks=[...]`` as endpoints tried in order after ``url``: each a ``"huggingface/<url>"``
    model name, a URL, a ``{"model": ..., "api_key": ...}`` dict (LiteLLM's form) or a ``(url, options)`` pair."""
    if not fallbacks:
        return ()
    if isinstance(fallbacks, str):
        fallbacks = [fallbacks]
    specs = [EndpointSpec(url)]
    for n, item in enumerate(fallbacks, start=1):
        if isinstance(item, Mapping):
            item = dict(item)
            target = item.pop("model", None) or item.pop("api_base", None)
            if not isinstance(target, str):
                raise InvalidRequestError(f"fallbacks[{n - 1}] needs 'model': 'huggingface/<endpoint-url>'")
            item = (target, item)
        if isinstance(item, str):
            item = (item, {})
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)):
            raise InvalidRequestError(
                f"fallbacks[{n - 1}]={item!r} is invalid: a 'huggingface/<endpoint-url>' model name, a URL, or a "
                "{'model': ..., 'api_key': ...} dict"
            )
        specs.append(EndpointSpec(_endpoint(item[0], None), **{"priority": n, **dict(item[1])}))
    return parse_endpoints(specs)[1]


def _options(
    url: str, api_key: str | None, kwargs: dict[str, Any], fallbacks: Sequence[Any] | None = None
) -> tuple[ConnectionOptions, ChatOptions]:
    """The client's options, taken out of ``kwargs`` (the rest are chat parameters). The token is resolved now (the
    environment may have changed since the last call) and is part of the key of the shared clients."""
    conn: dict[str, Any] = {k: kwargs.pop(k) for k in _CONNECTION_FIELDS & kwargs.keys()}
    conn["endpoints"] = _fallbacks(url, fallbacks)
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
    fallbacks: Sequence[Any] | None = None,
    **kwargs: Any,
) -> ChatCompletion | Iterator[ChatCompletionChunk]:
    """Chat with a TGI server or Inference Endpoint, LiteLLM-style; returns the OpenAI-shaped result.

    The token is ``api_key``, else ``HF_TOKEN``/``HUGGING_FACE_HUB_TOKEN``/``HUGGINGFACEHUB_API_TOKEN``/
    ``HUGGINGFACE_API_KEY``. Per-token ``logprobs`` (and their ``sum_logprob``) are returned by default.
    ``fallbacks=["huggingface/<url>", ...]``: endpoints used in order while the ones before them fail or cool down
    (``result.endpoint`` says which answered); for balancing between equals, use ``TGIClient([url, url])``.
    """
    url = _endpoint(model, api_base)
    # (see _pool: why shared, never closed here)
    client = shared.get(TGIClient, *_options(url, api_key, kwargs, fallbacks))
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
    fallbacks: Sequence[Any] | None = None,
    **kwargs: Any,
) -> ChatCompletion | AsyncIterator[ChatCompletionChunk]:
    """The async twin of :func:`completion`: ``await acompletion(...)`` is the result, or with ``stream=True`` an
    async iterator of chunks (``async for part in await acompletion(..., stream=True)``), as in LiteLLM."""
    url = _endpoint(model, api_base)
    from ._async_client import AsyncTGIClient  # here, so that completion() users never import aiohttp

    # (see _pool: shared, never closed here)
    client = shared.get(AsyncTGIClient, *_options(url, api_key, kwargs, fallbacks))
    if stream:
        return client.chat_stream(messages, logprobs=logprobs or None, **kwargs)
    return await client.chat(messages, logprobs=logprobs or None, **kwargs)
