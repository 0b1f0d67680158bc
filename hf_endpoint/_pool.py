"""The one client-caching policy, used by both adapters and by ``completion()`` / ``acompletion()``.

**Shared by options, per process.** A client is looked up by its class and its options (a
:class:`~hf_endpoint._options.ConnectionOptions` and the protocol's options, frozen and hashable; the token is part
of them, resolved by the caller when it builds them). Why: framework code creates model objects freely (one per
chain, per test, per ``with_config`` / ``deepcopy``, one per ``completion()`` call), and each client owns a
connection pool and, once asked, the server's ``/info``. A client per object would open new connections and ask
``/info`` again every time (70 ``acompletion`` calls made 70 ``/info`` requests), and leave sockets to the garbage
collector. Sharing by options keeps connections warm and ``/info`` asked once per endpoint.

**One async client serves every thread and loop.** :class:`~hf_endpoint.AsyncTGIClient` keeps one aiohttp session
per event loop itself, so async clients need no per-thread key (which grew without bound under thread pools).

**Bounded, never closed under a caller.** At most :data:`MAX_CLIENTS` option sets are kept; the least recently
used is forgotten but not closed, since another thread may be in the middle of a call on it: it closes its
connections when the last caller lets go of it (the shells' ``__del__``). Closing is explicit:
:meth:`ClientPool.close` (a sync client, by the adapters' ``close()``), :meth:`ClientPool.aclose` (an async client's
session on the calling loop; sessions other threads' loops are using stay open for them), and
:meth:`ClientPool.aclose_all` (test suites, shutdown hooks). A closed client is forgotten, so the next call opens a
new one.

Concurrent first calls on one client ask ``/info`` once: the shells share the answer of a plan marked ``share``
among the callers waiting for it (per event loop for the async shell).

A new client class joins by having ``from_options(options, protocol_options)`` (see ``_base.TGIBase``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Protocol, TypeVar

from ._options import ConnectionOptions

__all__ = ["MAX_CLIENTS", "ClientPool", "shared"]

#: How many distinct (class, options) clients are kept: far more than the endpoints a process talks to at once.
MAX_CLIENTS = 64


class _Client(Protocol):
    @classmethod
    def from_options(cls, options: ConnectionOptions, extra: Any = ..., /) -> Any: ...


C = TypeVar("C", bound=_Client)


class ClientPool:
    """Clients shared by (class, options), most recently used last."""

    def __init__(self, max_clients: int = MAX_CLIENTS) -> None:
        self._max = max_clients
        self._clients: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cls: type[C], options: ConnectionOptions, extra: Any = None) -> C:
        """The shared ``cls`` client for these options, made on first use (its constructor's errors propagate)."""
        key = (cls, options, extra)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = cls.from_options(options, extra)
                self._clients[key] = client
                if len(self._clients) > self._max:
                    self._clients.popitem(last=False)  # forgotten, not closed: see the module's docstring
            else:
                self._clients.move_to_end(key)
        out: C = client
        return out

    def peek(self, cls: type[C], options: ConnectionOptions, extra: Any = None) -> C | None:
        """The shared client if one exists; never makes one."""
        client: C | None = self._clients.get((cls, options, extra))
        return client

    def close(self, cls: type[Any], options: ConnectionOptions, extra: Any = None) -> None:
        """Close and forget a shared sync client; the next call anywhere opens a new one."""
        with self._lock:
            client = self._clients.pop((cls, options, extra), None)
        if client is not None:
            client.close()

    async def aclose(self, cls: type[Any], options: ConnectionOptions, extra: Any = None) -> None:
        """Forget a shared async client and close its session on the calling loop; sessions other threads' loops
        are using stay open for them, and close when the client is garbage-collected."""
        with self._lock:
            client = self._clients.pop((cls, options, extra), None)
        if client is not None:
            await client._aclose_loop()

    async def aclose_all(self) -> None:
        """Close every shared client: the sync ones, and the async ones' sessions (on the calling loop; those of
        other live loops are closed on their own loop, those of finished loops dropped)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            if hasattr(client, "aclose"):
                await client.aclose()
            else:
                client.close()


#: The process-wide pool.
shared = ClientPool()
