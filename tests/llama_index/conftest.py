"""Fixtures for the LlamaIndex suite: ``HFEndpoint`` objects on the local servers, closed after each test.

Every LLM here talks to a real server over HTTP on 127.0.0.1 (``tests/conftest.py``); nothing is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from llama_index.core import Settings

from llama_index_hf_endpoint import HFEndpoint

# Both routes: TGI's Messages API, and the native /generate route with a client-side template. The scripted
# backend's model id matches no built-in template, so the native route is given ChatML explicitly.
ROUTES = {"chat": {"route": "chat"}, "generate": {"route": "generate", "chat_template": "chatml"}}


@pytest.fixture
async def make_llm(scripted_url: str) -> AsyncIterator[Any]:
    """A factory of ``HFEndpoint``s on the scripted server; all of them are closed after the test."""
    made: list[HFEndpoint] = []

    def make(url: str = scripted_url, **options: Any) -> HFEndpoint:
        options.setdefault("temperature", 0)
        llm = HFEndpoint(base_url=url, **options)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        await llm.aclose()


@pytest.fixture
def llm(make_llm: Any) -> HFEndpoint:
    """An ``HFEndpoint`` on the scripted server (route auto)."""
    result: HFEndpoint = make_llm()
    return result


@pytest.fixture(params=sorted(ROUTES))
def route_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """``HFEndpoint`` options selecting each route in turn."""
    return dict(ROUTES[request.param])


@pytest.fixture
def route_llm(route_options: dict[str, Any], make_llm: Any) -> HFEndpoint:
    """An ``HFEndpoint`` on the scripted server, once per route."""
    result: HFEndpoint = make_llm(**route_options)
    return result


@pytest.fixture
async def tiny_llm(tiny_url: str) -> AsyncIterator[HFEndpoint]:
    """An ``HFEndpoint`` on the real tiny model, greedy and short (it runs on the CPU)."""
    llm = HFEndpoint(base_url=tiny_url, temperature=0, max_tokens=24, timeout=120)
    yield llm
    await llm.aclose()


@pytest.fixture
def restore_settings() -> Iterator[None]:
    """``Settings`` is global: put back whatever LLM, embedding model and callbacks were there."""
    saved = (Settings._llm, Settings._embed_model, Settings._callback_manager)
    yield
    Settings._llm, Settings._embed_model, Settings._callback_manager = saved
