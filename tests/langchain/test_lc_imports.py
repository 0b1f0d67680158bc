"""``langchain_hf_endpoint`` imports each class on first use: a program that only embeds or reranks does not load
LangChain's chat-model machinery (a smaller heap for every full garbage collection to walk, a faster start)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_retrieval_classes_do_not_load_the_chat_model() -> None:
    out = _run(
        """
        import sys
        from langchain_hf_endpoint import HFEndpointEmbeddings, HFEndpointReranker

        HFEndpointEmbeddings(base_url="http://127.0.0.1:9").client
        HFEndpointReranker(base_url="http://127.0.0.1:9", top_n=2).async_client
        print(sorted(m for m in sys.modules if m.endswith(("_chat_model", "language_models.chat_models"))))
        """
    )
    assert out.strip() == "[]", out


def test_every_public_name_is_there_on_first_use() -> None:
    out = _run(
        """
        import langchain_hf_endpoint as pkg
        from langchain_hf_endpoint import *

        print(sorted(dir(pkg)) == sorted(pkg.__all__), ChatHFEndpoint.__name__, HFEndpointEmbeddings.__module__)
        """
    )
    assert out.split() == ["True", "ChatHFEndpoint", "langchain_hf_endpoint._embeddings"], out


def test_an_unknown_name_is_an_attribute_error() -> None:
    import langchain_hf_endpoint

    with pytest.raises(AttributeError, match="HFEndpointEmbedding'"):
        langchain_hf_endpoint.HFEndpointEmbedding  # noqa: B018 (the LlamaIndex class's name, here by mistake)
