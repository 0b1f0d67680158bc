"""LangChain's standard embeddings suites for ``HFEndpointEmbeddings``: the unit suite (no server), and the integration
suite against the local TEI-protocol servers over real HTTP: the real embedding model and the scripted TEI mode."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_hf_endpoint import HFEndpointEmbeddings

# Nothing listens here; the unit suite never sends a request.
UNUSED_URL = "http://127.0.0.1:9"


class TestHFEndpointEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[HFEndpointEmbeddings]:
        return HFEndpointEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"base_url": UNUSED_URL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"HF_TOKEN": "hf_from_env"}, {"base_url": UNUSED_URL}, {"api_key": "hf_from_env"}


@pytest.mark.usefixtures("close_pooled_clients")
class TestHFEndpointEmbeddingsIntegration(EmbeddingsIntegrationTests):
    """On the real embedding model (multilingual-e5-small), queries with its "query" prompt."""

    @pytest.fixture(autouse=True)
    def _server(self, embed_url: str) -> None:
        self._url = embed_url

    @property
    def embeddings_class(self) -> type[HFEndpointEmbeddings]:
        return HFEndpointEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"base_url": self._url, "query_prompt_name": "query"}


class TestHFEndpointEmbeddingsIntegrationScripted(TestHFEndpointEmbeddingsIntegration):
    """On the scripted TEI mode (deterministic vectors)."""

    @pytest.fixture(autouse=True)
    def _server(self, tei_url: str) -> None:  # type: ignore[override]
        self._url = tei_url
