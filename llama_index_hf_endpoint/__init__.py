"""LlamaIndex integration: ``HFEndpoint``, a function-calling LLM for TGI servers and Hugging Face Inference
Endpoints, on the shared ``hf_endpoint`` transport.

::

    from llama_index_hf_endpoint import HFEndpoint

    llm = HFEndpoint(base_url="https://xyz.endpoints.huggingface.cloud")  # token from HF_TOKEN
    index.as_query_engine(llm=llm).query("...")

Errors are the transport's typed exceptions (``hf_endpoint.HFEndpointError`` and its subclasses).
"""

from __future__ import annotations

from ._llm import HFEndpoint

__all__ = ["HFEndpoint"]
