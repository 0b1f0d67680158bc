"""LangChain chat model for Hugging Face Inference Endpoints and text-generation-inference (TGI) servers.

``ChatHFEndpoint`` is a ``BaseChatModel`` on the shared ``hf_endpoint`` transport: real async, streaming with usage,
tool calling and structured output through TGI's grammar on both TGI routes, retries and cold-start handling.
Transport errors surface as ``hf_endpoint``'s typed exceptions (``hf_endpoint.HFEndpointError`` and subclasses).
"""

from __future__ import annotations

from ._chat_model import ChatHFEndpoint

__all__ = ["ChatHFEndpoint"]
