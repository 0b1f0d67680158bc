"""TEI client tests run against the local TEI-protocol servers over real HTTP on 127.0.0.1: the scripted model
(``tei``, shared; deterministic vectors) and, for a few, the real embedding model (``embed_server``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hf_endpoint.server import LocalServer

from ._twin import TeiTwin


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def twin(tei: LocalServer, kind: str) -> Iterator[TeiTwin]:
    t = TeiTwin(kind, tei.url, max_retries=2)
    yield t
    t.close()


def served(**options: object) -> Iterator[LocalServer]:
    """A scripted TEI server with its own start-up options (model type, limits), for one test module."""
    with LocalServer("scripted", mode="tei", **options) as server:
        yield server
