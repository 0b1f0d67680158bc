"""LangChain's standard unit tests for ``ChatHFEndpoint`` (no network: clients are created on the first call)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests
from lc_helpers import ImageSupport
from syrupy.assertion import SnapshotAssertion

from langchain_hf_endpoint import ChatHFEndpoint

# Nothing listens here; the unit suite never sends a request.
UNUSED_URL = "http://127.0.0.1:9"


class TestChatHFEndpointUnit(ImageSupport, ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatHFEndpoint]:
        return ChatHFEndpoint

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"base_url": UNUSED_URL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"HF_TOKEN": "hf_from_env"}, {"base_url": UNUSED_URL}, {"api_key": "hf_from_env"}

    @pytest.mark.xfail(
        strict=True,
        reason="langchain-core 1.x load() deserializes only classes listed in langchain_core.load.mapping, even with "
        "allowed_objects='all', and a third-party package cannot be listed there. dumpd() itself works and keeps "
        "the key out (test_lc_chat_model.py::test_dumpd_round_trip_without_the_key loads it with "
        "allowed_objects=[ChatHFEndpoint]).",
    )
    def test_serdes(self, model: ChatHFEndpoint, snapshot: SnapshotAssertion) -> None:
        super().test_serdes(model, snapshot)
