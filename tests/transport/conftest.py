"""Transport tests run against real local servers on 127.0.0.1 (scripted backend), one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hf_endpoint.server import LocalServer

from ._twin import Twin


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(backend="scripted") as srv:
        yield srv


@pytest.fixture
def srv(server: LocalServer) -> Iterator[LocalServer]:
    """The module's scripted server, with faults and counters reset after each test."""
    server.reset()
    yield server
    server.reset()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def twin(srv: LocalServer, kind: str) -> Iterator[Twin]:
    t = Twin(kind, srv.url, max_retries=2)
    yield t
    t.close()
