"""LangChain integration for Hugging Face Inference Endpoints, text-generation-inference (TGI) and
text-embeddings-inference (TEI) servers, on the shared ``hf_endpoint`` transport:

- ``ChatHFEndpoint``: a ``BaseChatModel``: real async, streaming with usage, tool calling and structured output
  through TGI's grammar on both TGI routes, retries and cold-start handling.
- ``HFEndpointEmbeddings``: ``Embeddings`` on a TEI endpoint (any number of texts, batched to the server's limits).
- ``HFEndpointReranker``: a ``BaseDocumentCompressor`` on a TEI reranker (``/rerank``).

Transport errors surface as ``hf_endpoint``'s typed exceptions (``hf_endpoint.HFEndpointError`` and subclasses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hf_endpoint._lazy import lazy_names

if TYPE_CHECKING:
    from ._chat_model import ChatHFEndpoint
    from ._embeddings import HFEndpointEmbeddings
    from ._reranker import HFEndpointReranker

# Each class is imported on first use (PEP 562): a program that only embeds or reranks does not load LangChain's
# chat-model machinery (BaseChatModel, its callbacks and output classes), about half the import and a third of the
# objects every full garbage collection then walks (tests/langchain/test_lc_imports.py).
_LAZY: dict[str, str] = {
    "ChatHFEndpoint": "._chat_model",
    "HFEndpointEmbeddings": "._embeddings",
    "HFEndpointReranker": "._reranker",
}


__all__ = ["ChatHFEndpoint", "HFEndpointEmbeddings", "HFEndpointReranker"]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
