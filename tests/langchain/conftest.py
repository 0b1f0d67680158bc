"""Fixtures for the LangChain tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from langchain_hf_endpoint import _clients


@pytest.fixture(scope="session", autouse=True)
async def _close_pooled_clients() -> AsyncIterator[None]:
    """Close the pooled connections at the end, on the session's event loop, where the async ones live."""
    yield
    await _clients.aclose_all()
