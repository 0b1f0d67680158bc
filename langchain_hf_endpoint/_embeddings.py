"""``HFEndpointEmbeddings``: LangChain's ``Embeddings`` on the shared TEI transport."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from pydantic import Field

from hf_endpoint import InvalidRequestError
from hf_endpoint._tei_protocol import with_instruction

from ._tei_base import TEIConnection

__all__ = ["HFEndpointEmbeddings"]

# What langchain-huggingface's ``model_kwargs`` may hold (its ``feature_extraction`` arguments), and where each goes.
_MODEL_KWARGS = {
    "normalize": ("normalize",),
    "truncate": ("truncate",),
    "truncation_direction": ("truncation_direction",),
    "prompt_name": ("query_prompt_name", "document_prompt_name"),
    "dimensions": ("dimensions",),
}


class HFEndpointEmbeddings(TEIConnection, Embeddings):
    """Embeddings served by a Hugging Face Inference Endpoint or any text-embeddings-inference (TEI) server.

    .. code-block:: python

        from langchain_hf_endpoint import HFEndpointEmbeddings

        embeddings = HFEndpointEmbeddings(base_url="https://xyz.endpoints.huggingface.cloud")
        vectors = embeddings.embed_documents(["first text", "second text"])

    Any number of texts: the transport splits them to the server's ``max_client_batch_size``, payload limit and
    token budget (from ``/info``) and returns the vectors in input order; the async methods send the pieces
    concurrently. Models that want a prefix (E5: ``"query: "`` / ``"passage: "``; BGE's query instruction) take it
    as a TEI prompt name (``query_prompt_name`` / ``document_prompt_name``, from the model's sentence-transformers
    prompts) or as literal text (``query_instruction`` / ``document_instruction``). A text longer than the model's
    limit raises ``ContextWindowExceededError`` unless ``truncate=True`` (then the server cuts it). Errors are
    ``hf_endpoint``'s typed exceptions.
    """

    normalize: bool | None = None
    """Unit-length vectors (TEI's default: True)."""
    truncate: bool | None = None
    """Cut texts longer than the model's limit instead of raising ``ContextWindowExceededError``."""
    truncation_direction: Literal["left", "right"] | None = None
    """Which end of a too-long text is cut (TEI's default: right)."""
    dimensions: int | None = Field(default=None, gt=0)
    """Matryoshka models: the number of dimensions to keep."""
    query_prompt_name: str | None = None
    """The model's prompt for queries (``embed_query``), e.g. ``"query"``."""
    document_prompt_name: str | None = None
    """The model's prompt for documents (``embed_documents``), e.g. ``"passage"`` or ``"document"``."""
    query_instruction: str | None = None
    """Literal text written before each query, e.g. ``"query: "`` for E5 models."""
    document_instruction: str | None = None
    """Literal text written before each document, e.g. ``"passage: "`` for E5 models."""

    @classmethod
    def _foreign_arguments(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``model_kwargs`` and ``task`` as langchain-huggingface's ``HuggingFaceEndpointEmbeddings`` takes them."""
        if not ({"model_kwargs", "task"} & set(kwargs)):
            return kwargs
        kwargs = dict(kwargs)
        task = kwargs.pop("task", "feature-extraction")
        if task not in (None, "feature-extraction"):
            raise InvalidRequestError(
                f"task={task!r}: HFEndpointEmbeddings does feature-extraction only; for "
                "reranking use HFEndpointReranker"
            )
        for key, value in (kwargs.pop("model_kwargs", None) or {}).items():
            if key not in _MODEL_KWARGS:
                raise InvalidRequestError(
                    f"model_kwargs[{key!r}] is not an embedding option; HFEndpointEmbeddings "
                    f"takes {', '.join(_MODEL_KWARGS)}"
                )
            for field in _MODEL_KWARGS[key]:
                if kwargs.get(field, value) != value:
                    raise InvalidRequestError(f"model_kwargs[{key!r}]={value!r} contradicts {field}={kwargs[field]!r}")
                kwargs[field] = value
        return kwargs

    def _params(self, prompt_name: str | None) -> dict[str, Any]:
        return {
            "prompt_name": prompt_name,
            "normalize": self.normalize,
            "truncate": self.truncate,
            "truncation_direction": self.truncation_direction,
            "dimensions": self.dimensions,
        }

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (any number of texts)."""
        if not texts:
            return []
        inputs = with_instruction(texts, self.document_instruction)
        return self.client.embed(inputs, **self._params(self.document_prompt_name))

    def embed_query(self, text: str) -> list[float]:
        inputs = with_instruction([text], self.query_instruction)
        return self.client.embed(inputs, **self._params(self.query_prompt_name))[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        inputs = with_instruction(texts, self.document_instruction)
        return await self.async_client.embed(inputs, **self._params(self.document_prompt_name))

    async def aembed_query(self, text: str) -> list[float]:
        inputs = with_instruction([text], self.query_instruction)
        return (await self.async_client.embed(inputs, **self._params(self.query_prompt_name)))[0]
