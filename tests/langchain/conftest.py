"""Fixtures for the LangChain tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from langchain_hf_endpoint import _clients


@pytest.fixture(scope="session")
async def close_pooled_clients() -> AsyncIterator[None]:
    """Close the pooled connections at the end, on the session's event loop, where the async ones live.

    Used by the modules that talk to a server (``pytestmark``), not autouse: an async fixture creates the event
    loop, which opens a socket pair, and the unit suite must run with sockets disabled (pytest-socket).
    """
    yield
    await _clients.aclose_all()  # the shared pool: the TEI clients too
