"""Fixtures for the reliability suite (fault matrix, load, security, properties).

Everything talks to local servers on 127.0.0.1 only (``tests/conftest.py`` provides the in-process scripted server;
the load tests start their own in a subprocess).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from langchain_hf_endpoint import _clients


@pytest.fixture(scope="module")
async def close_lc_pools() -> AsyncIterator[None]:
    """Close LangChain's pooled clients at the end of the module, on the session loop where the async ones live."""
    yield
    await _clients.aclose_all()
