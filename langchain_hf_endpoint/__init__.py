"""LangChain integration for Hugging Face Inference Endpoints, text-generation-inference (TGI) and
text-embeddings-inference (TEI) servers, on the shared ``hf_endpoint`` transport:

- ``ChatHFEndpoint``: a ``BaseChatModel``: real async, streaming with usage, tool calling and structured output
  through TGI's grammar on both TGI routes, retries and cold-start handling.
- ``HFEndpointEmbeddings``: ``Embeddings`` on a TEI endpoint (any number of texts, batched to the server's limits).
- ``HFEndpointReranker``: a ``BaseDocumentCompressor`` on a TEI reranker (``/rerank``).

Transport errors surface as ``hf_endpoint``'s typed exceptions (``hf_endpoint.HFEndpointError`` and subclasses).
"""

from __future__ import annotations

from ._chat_model import ChatHFEndpoint
from ._embeddings import HFEndpointEmbeddings
from ._reranker import HFEndpointReranker

__all__ = ["ChatHFEndpoint", "HFEndpointEmbeddings", "HFEndpointReranker"]
