"""TEI transport clients shared by every ``HFEndpointEmbeddings`` / ``HFEndpointReranker`` with the same connection
settings: the policy of ``_clients`` (which see) for the chat model, applied to ``TEIClient`` / ``AsyncTEIClient``.

Shared by settings because LangChain code makes these objects freely (one per retriever, per chain, per test), and
each client owns a connection pool; async clients are additionally keyed by thread (one event loop each).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hf_endpoint import Secret

if TYPE_CHECKING:  # loaded with the first call (aiohttp alone costs ~100 ms to import)
    from hf_endpoint import AsyncTEIClient, TEIClient

__all__ = ["TEISettings", "aclose_all", "get_async_client", "get_sync_client"]


@dataclass(frozen=True)
class TEISettings:
    """Everything that shapes a connection to a TEI server (hashable: the key of the shared clients)."""

    base_url: str
    api_key: Secret | None = field(default=None, repr=False)
    timeout: float = 300.0
    max_retries: int = 3
    cold_start_timeout: float = 300.0
    verify: bool | str = True
    allow_insecure_http: bool = False
    route: Literal["auto", "tei", "openai"] = "auto"
    #: The key came from the environment: the transport then withholds it from a remote plain-HTTP URL instead of
    #: refusing the call (as for ``ChatHFEndpoint``).
    token_from_env: bool = False

    def _options(self) -> dict[str, Any]:
        return {
            "api_key": None if self.token_from_env else self.api_key, "timeout": self.timeout,
            "max_retries": self.max_retries, "cold_start_timeout": self.cold_start_timeout, "verify": self.verify,
            "allow_insecure_http": self.allow_insecure_http, "route": self.route,
        }  # fmt: skip

    def sync_client(self) -> TEIClient:
        from hf_endpoint import TEIClient

        return TEIClient(self.base_url, **self._options())

    def async_client(self) -> AsyncTEIClient:
        from hf_endpoint import AsyncTEIClient

        return AsyncTEIClient(self.base_url, **self._options())


_lock = threading.Lock()
_sync_clients: dict[TEISettings, TEIClient] = {}
_async_clients: dict[tuple[TEISettings, int], AsyncTEIClient] = {}


def get_sync_client(settings: TEISettings) -> TEIClient:
    """The shared :class:`TEIClient` for ``settings`` (created on first use)."""
    with _lock:
        client = _sync_clients.get(settings)
        if client is None:
            client = _sync_clients[settings] = settings.sync_client()
        return client


def get_async_client(settings: TEISettings) -> AsyncTEIClient:
    """The shared :class:`AsyncTEIClient` for ``settings`` in the calling thread (created on first use)."""
    key = (settings, threading.get_ident())
    with _lock:
        client = _async_clients.get(key)
        if client is None:
            client = _async_clients[key] = settings.async_client()
        return client


async def aclose_all() -> None:
    """Close every pooled TEI client: the sync ones and the calling thread's async ones."""
    me = threading.get_ident()
    with _lock:
        sync = list(_sync_clients.values())
        _sync_clients.clear()
        async_clients = [_async_clients.pop(key) for key in [k for k in _async_clients if k[1] == me]]
    for client in sync:
        client.close()
    for aclient in async_clients:
        await aclient.aclose()
