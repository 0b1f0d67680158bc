"""The one place that reaches into aiohttp's internals: closing a session whose event loop is gone.

Why it is needed: an aiohttp session belongs to the loop that made it, and its ``close()`` is a coroutine on that
loop. When the loop has closed (``asyncio.run`` returned, a notebook cell's loop ended) while a shared client keeps
the session, nothing public can close its kept-alive sockets any more: they would leak until garbage collection,
each with a ``ResourceWarning``, and aiohttp would warn "Unclosed client session". Here the connector's pooled
connections are closed directly, by the transport's own last step.

The internals used (``BaseConnector._conns``, ``BaseConnector._close``, ``BaseConnector._closed``, asyncio's
``_SelectorTransport._call_connection_lost``, ``_SSLProtocolTransport._ssl_protocol``) are stable across
aiohttp 3.9 to 3.14 and CPython 3.10 to 3.13; pyproject bounds aiohttp below 4, and
``tests/reliability/test_rel_aiohttp_cleanup.py`` checks that every socket is closed, without a warning, on the
installed versions. A live loop never takes this path: its sessions are closed with the public ``close()``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp

__all__ = ["abandon_session"]


def abandon_session(session: aiohttp.ClientSession) -> None:
    """Drop ``session`` without the 'Unclosed client session' warning; when its loop is closed or idle, close its
    pooled sockets directly (they cannot be closed through the loop any more)."""
    connector = session.connector
    session.detach()  # public: the session forgets its connector and no longer counts as unclosed
    if connector is None or connector.closed:
        return
    loop = getattr(connector, "_loop", None)
    if loop is not None and (loop.is_closed() or not loop.is_running()):
        for conns in list(connector._conns.values()):
            for protocol, _ in conns:
                _close_dead_transport(protocol.transport)
    # The old loop is closed: its transports cannot schedule their close (RuntimeError).
    with contextlib.suppress(RuntimeError):
        connector._close()
    connector._closed = True


def _close_dead_transport(transport: Any) -> None:
    """Close a pooled connection of a closed loop, whose ``close()`` cannot schedule the socket's close.

    Runs the transport's own last step (``_call_connection_lost``: protocol notified, socket closed); without it
    every kept-alive socket leaks until garbage collection, with a ResourceWarning each.
    """
    ssl_protocol = getattr(transport, "_ssl_protocol", None)
    if ssl_protocol is not None:  # TLS: the application transport wraps the socket transport
        transport._closed = True
        transport = getattr(ssl_protocol, "_transport", None)
    lost = getattr(transport, "_call_connection_lost", None)
    if lost is not None:
        with contextlib.suppress(Exception):
            lost(None)
