"""``hf_endpoint._aiohttp_cleanup.abandon_session``: the one function that reaches into aiohttp's internals.

A shared async client outlives the event loops that used it (``asyncio.run`` per call, notebooks, threads). Its
session on a finished loop can no longer be closed through the loop; ``abandon_session`` closes the pooled sockets
directly. Checked on the installed aiohttp and Python (pyproject bounds aiohttp below 4): every kept-alive
connection really closed (the kernel's TCP table, not our objects), over plain HTTP and TLS, and no warning
(pytest turns ResourceWarning and aiohttp's "Unclosed client session" into errors).
"""

from __future__ import annotations

import asyncio
import gc
import ssl
from pathlib import Path

import pytest
from rel_helpers import AppServer, established, port_of, scripted_app, tls_files

from hf_endpoint import AsyncTGIClient

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return tls_files(tmp_path_factory.mktemp("tls"))


async def _open_connections(client: AsyncTGIClient, n: int) -> None:
    await asyncio.gather(*[client.chat(HI) for _ in range(n)])  # n requests at once: n kept-alive connections


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connections_of_a_finished_loop_are_closed(scheme: str, tls: tuple[ssl.SSLContext, Path]) -> None:
    with AppServer(scripted_app(), tls[0] if scheme == "https" else None) as server:
        port = port_of(server.url)
        client = AsyncTGIClient(server.url, verify=str(tls[1]) if scheme == "https" else True)
        asyncio.run(_open_connections(client, 4))  # the loop closes; the client (and its pool) stays
        assert established(port) >= 1  # kept alive, on a loop that no longer runs
        asyncio.run(_open_connections(client, 1))  # a new loop: the finished loop's session is abandoned
        assert len(client._sessions) == 1
        client._drop_sessions(keep=None)  # what happens at exit, and when the client is collected
        assert established(port) == 0
        assert client._sessions == {}
        gc.collect()  # nothing left for the garbage collector to warn about


def test_a_client_collected_after_its_loop_closed_closes_its_sockets() -> None:
    with AppServer(scripted_app(), None) as server:
        port = port_of(server.url)
        client = AsyncTGIClient(server.url)
        asyncio.run(_open_connections(client, 3))
        assert established(port) >= 1
        del client
        gc.collect()
        assert established(port) == 0
