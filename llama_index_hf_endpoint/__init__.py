"""LlamaIndex integration for TGI and TEI servers and Hugging Face Inference Endpoints, on the shared
``hf_endpoint`` transport:

- ``HFEndpoint``: a function-calling LLM (TGI).
- ``HFEndpointEmbedding``: a ``BaseEmbedding`` (TEI; batched to the server's limits).
- ``HFEndpointRerank``: a node postprocessor on a TEI reranker (``/rerank``).

::

    from llama_index_hf_endpoint import HFEndpoint, HFEndpointEmbedding

    llm = HFEndpoint(base_url="https://xyz.endpoints.huggingface.cloud")  # token from HF_TOKEN
    embed_model = HFEndpointEmbedding(base_url="https://my-embedder.endpoints.huggingface.cloud")
    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
    index.as_query_engine(llm=llm).query("...")

Errors are the transport's typed exceptions (``hf_endpoint.HFEndpointError`` and its subclasses).
"""

from __future__ import annotations

from ._embedding import HFEndpointEmbedding
from ._llm import HFEndpoint
from ._rerank import HFEndpointRerank

__all__ = ["HFEndpoint", "HFEndpointEmbedding", "HFEndpointRerank"]
