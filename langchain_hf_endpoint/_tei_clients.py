"""``HFEndpointEmbeddings``' and ``HFEndpointReranker``'s transport clients: the transport's shared pool
(``hf_endpoint._pool``, whose docstring says why clients are shared by options and never closed under a caller),
keyed by the object's options, as for ``ChatHFEndpoint`` (``_clients``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from hf_endpoint._options import ConnectionOptions, TEIOptions
from hf_endpoint._pool import shared

if TYPE_CHECKING:  # imported when first used: aiohttp is slow to import, and sync users never need it
    from hf_endpoint import AsyncTEIClient, TEIClient

__all__ = ["TEISettings", "aclose_async_client", "close_sync_client", "get_async_client", "get_sync_client"]


class TEISettings(NamedTuple):
    """What shapes an object's TEI clients (hashable: the key of the shared ones)."""

    connection: ConnectionOptions
    tei: TEIOptions


def _sync_class() -> type[TEIClient]:
    from hf_endpoint import TEIClient

    return TEIClient


def _async_class() -> type[AsyncTEIClient]:
    from hf_endpoint import AsyncTEIClient

    return AsyncTEIClient


def get_sync_client(settings: TEISettings) -> TEIClient:
    """The shared :class:`TEIClient` for ``settings`` (created on first use; thread-safe)."""
    return shared.get(_sync_class(), settings.connection, settings.tei)


def get_async_client(settings: TEISettings) -> AsyncTEIClient:
    """The shared :class:`AsyncTEIClient` for ``settings`` (one aiohttp session per event loop, inside it)."""
    return shared.get(_async_class(), settings.connection, settings.tei)


def close_sync_client(settings: TEISettings) -> None:
    """Close and forget the shared sync client for ``settings``; the next call anywhere opens a new one."""
    shared.close(_sync_class(), settings.connection, settings.tei)


async def aclose_async_client(settings: TEISettings) -> None:
    """Close the calling event loop's connections of the shared async client for ``settings``."""
    await shared.aclose(_async_class(), settings.connection, settings.tei)
