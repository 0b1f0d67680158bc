"""Transport clients shared by every ``ChatHFEndpoint`` with the same connection settings.

Why shared, not one per model object: LangChain code creates model objects freely (one per chain, per test, per
``with_config``), and each client owns a connection pool. A pool per object would open new connections every time
and leave sockets and aiohttp sessions to the garbage collector (``ResourceWarning``). Sharing by settings keeps the
keep-alive connections warm across objects and bounds the pools by the number of distinct endpoints.

Async clients are additionally keyed by thread: an ``AsyncTGIClient`` binds its session to one event loop and
re-creates it when called from another, so two threads running two loops must not share one. Within a thread, a new
loop (``asyncio.run`` called again) simply replaces the session, as the transport documents.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hf_endpoint import Secret

if TYPE_CHECKING:  # imported when first used: aiohttp alone costs ~100 ms to import, and sync users never need it
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


@dataclass(frozen=True)
class ClientSettings:
    """Everything that shapes a connection (hashable: the key of the shared clients). Request parameters such as
    temperature or the model/adapter name are per call and not part of it."""

    base_url: str
    api_key: Secret | None = field(default=None, repr=False)
    timeout: float = 300.0
    max_retries: int = 3
    cold_start_timeout: float = 300.0
    route: Literal["auto", "chat", "generate"] = "auto"
    chat_template: str | None = None
    verify: bool | str = True
    allow_insecure_http: bool = False
    #: The key came from the environment, not from the caller: the transport then withholds it from a remote
    #: plain-HTTP URL instead of refusing the call.
    token_from_env: bool = False

    def _options(self) -> dict[str, Any]:
        return {
            "api_key": None if self.token_from_env else self.api_key, "timeout": self.timeout,
            "max_retries": self.max_retries, "cold_start_timeout": self.cold_start_timeout, "route": self.route,
            "chat_template": self.chat_template, "verify": self.verify, "allow_insecure_http": self.allow_insecure_http,
        }  # fmt: skip

    def sync_client(self) -> TGIClient:
        from hf_endpoint import TGIClient

        return TGIClient(self.base_url, **self._options())

    def async_client(self) -> AsyncTGIClient:
        from hf_endpoint import AsyncTGIClient

        return AsyncTGIClient(self.base_url, **self._options())


_lock = threading.Lock()
_sync_clients: dict[ClientSettings, TGIClient] = {}
_async_clients: dict[tuple[ClientSettings, int], AsyncTGIClient] = {}


def get_sync_client(settings: ClientSettings) -> TGIClient:
    """The shared :class:`TGIClient` for ``settings`` (created on first use; ``requests`` sessions are
    thread-safe for this use)."""
    with _lock:
        client = _sync_clients.get(settings)
        if client is None:
            client = settings.sync_client()
            _sync_clients[settings] = client
        return client


def get_async_client(settings: ClientSettings) -> AsyncTGIClient:
    """The shared :class:`AsyncTGIClient` for ``settings`` in the calling thread (created on first use)."""
    key = (settings, threading.get_ident())
    with _lock:
        client = _async_clients.get(key)
        if client is None:
            client = settings.async_client()
            _async_clients[key] = client
        return client


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
            status_code=err.status_code, error_type=err.error_type, request_id=err.request_id, url=err.url,
        ) from err


def served_model(client: TGIClient | AsyncTGIClient) -> str | None:
    """The model id the server reported in ``/info`` (or ``/v1/models``), once the client has asked; else None."""
    return client.served_model


def known_served_model(settings: ClientSettings) -> str | None:
    """The served model id if a client for ``settings`` already learned it; never creates a client or a request."""
    # This thread's async client or the sync one, looked up directly (asked by LangChain's tracing on every call);
    # the other threads' clients only when neither knows.
    for client in (_async_clients.get((settings, threading.get_ident())), _sync_clients.get(settings)):
        if client is not None and client.served_model:
            return client.served_model
    with _lock:
        clients: list[TGIClient | AsyncTGIClient] = [c for k, c in _async_clients.items() if k[0] == settings]
        sync = _sync_clients.get(settings)
    if sync is not None:
        clients.insert(0, sync)
    return next((name for name in map(served_model, clients) if name), None)


def close_sync_client(settings: ClientSettings) -> None:
    """Close and forget the shared sync client for ``settings``; the next call anywhere opens a new one."""
    with _lock:
        client = _sync_clients.pop(settings, None)
    if client is not None:
        client.close()


async def aclose_async_client(settings: ClientSettings) -> None:
    """Close and forget the calling thread's shared async client for ``settings`` (its aiohttp session)."""
    with _lock:
        client = _async_clients.pop((settings, threading.get_ident()), None)
    if client is not None:
        await client.aclose()


async def aclose_all() -> None:
    """Close every pooled client: the sync ones and the calling thread's async ones (for test suites and shutdown
    hooks; instances reconnect if used again)."""
    me = threading.get_ident()
    with _lock:
        sync = list(_sync_clients.values())
        _sync_clients.clear()
        mine = [key for key in _async_clients if key[1] == me]
        async_clients = [_async_clients.pop(key) for key in mine]
    for client in sync:
        client.close()
    for aclient in async_clients:
        await aclient.aclose()
