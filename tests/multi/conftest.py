"""Several local scripted servers (one set per module), reset around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hf_endpoint.server import LocalServer


@pytest.fixture(scope="module")
def servers() -> Iterator[list[LocalServer]]:
    with LocalServer("scripted") as a, LocalServer("scripted") as b, LocalServer("scripted") as c:
        yield [a, b, c]


@pytest.fixture
def srvs(servers: list[LocalServer]) -> Iterator[list[LocalServer]]:
    for s in servers:
        s.reset()
    yield servers
    for s in servers:
        s.reset()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
