"""``ChatHFEndpoint``'s transport clients: the transport's shared pool (``hf_endpoint._pool``, whose docstring says
why clients are shared by options and never closed under a caller), keyed by the model's options.

The options are the transport's own frozen :class:`~hf_endpoint._options.ConnectionOptions` and
:class:`~hf_endpoint._options.ChatOptions` (the model builds them once and remembers them while its fields stay the
same); request parameters such as temperature or the model/adapter name are per call and not part of them.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, NamedTuple

from hf_endpoint._options import ChatOptions, ConnectionOptions
from hf_endpoint._pool import shared

if TYPE_CHECKING:  # imported when first used: aiohttp is slow to import, and sync users never need it
    from hf_endpoint import AsyncTGIClient, TGIClient

__all__ = [
    "ClientSettings",
    "aclose_all",
    "aclose_async_client",
    "close_sync_client",
    "get_async_client",
    "get_sync_client",
    "known_served_model",
    "served_model",
    "token_ids",
]


class ClientSettings(NamedTuple):
    """What shapes a model's clients (hashable: the key of the shared ones)."""

    connection: ConnectionOptions
    chat: ChatOptions


@functools.cache  # (the import statement, once: asked on every call)
def _sync_class() -> type[TGIClient]:
    from hf_endpoint import TGIClient

    return TGIClient


@functools.cache
def _async_class() -> type[AsyncTGIClient]:
    from hf_endpoint import AsyncTGIClient

    return AsyncTGIClient


def get_sync_client(settings: ClientSettings) -> TGIClient:
    """The shared :class:`TGIClient` for ``settings`` (created on first use; thread-safe)."""
    return shared.get(_sync_class(), settings.connection, settings.chat)


def get_async_client(settings: ClientSettings) -> AsyncTGIClient:
    """The shared :class:`AsyncTGIClient` for ``settings`` (one aiohttp session per event loop, inside it)."""
    return shared.get(_async_class(), settings.connection, settings.chat)


@functools.lru_cache(maxsize=4096)
def token_ids(settings: ClientSettings, text: str) -> tuple[int, ...]:
    """The server's token ids for ``text`` (``POST /tokenize``), remembered per endpoint and text: LangChain's
    ``trim_messages`` counts the same messages again and again while it searches for the cut."""
    if not text:
        return ()
    from hf_endpoint import NotFoundError

    try:
        return tuple(token.id for token in get_sync_client(settings).tokenize(text))
    except NotFoundError as err:
        raise NotFoundError(
            f"{err.message}. Counting tokens needs the server's /tokenize (TGI's), which this server does not have: "
            "pass custom_get_token_ids= (e.g. a Hugging Face tokenizer's encode) to count with your own",
            status_code=err.status_code,
            error_type=err.error_type,
            request_id=err.request_id,
            url=err.url,
        ) from err


def served_model(client: TGIClient | AsyncTGIClient) -> str | None:
    """The model id the server reported in ``/info`` (or ``/v1/models``), once the client has asked; else None."""
    return client.served_model


def known_served_model(settings: ClientSettings) -> str | None:
    """The served model id if a client for ``settings`` already learned it; never creates a client or a request."""
    classes: list[type[TGIClient] | type[AsyncTGIClient]] = [_sync_class()]
    if "hf_endpoint._async_client" in sys.modules:  # (no async client exists unless its module was imported)
        classes.insert(0, _async_class())
    for cls in classes:
        client = shared.peek(cls, settings.connection, settings.chat)
        if client is not None and client.served_model:
            return client.served_model
    return None


def close_sync_client(settings: ClientSettings) -> None:
    """Close and forget the shared sync client for ``settings``; the next call anywhere opens a new one."""
    shared.close(_sync_class(), settings.connection, settings.chat)


async def aclose_async_client(settings: ClientSettings) -> None:
    """Close the calling event loop's connections of the shared async client for ``settings``."""
    if "hf_endpoint._async_client" in sys.modules:
        await shared.aclose(_async_class(), settings.connection, settings.chat)


async def aclose_all() -> None:
    """Close every shared client (for test suites and shutdown hooks; models reconnect if used again)."""
    await shared.aclose_all()
