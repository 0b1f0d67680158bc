"""``HFEndpointReranker``: LangChain's ``BaseDocumentCompressor`` on a TEI reranker endpoint (``/rerank``)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field

from hf_endpoint import ResponseError

from ._tei_base import TEIConnection

if TYPE_CHECKING:
    from hf_endpoint import Rank

_SCORE = attrgetter("score")

__all__ = ["HFEndpointReranker", "ranked_documents"]


def ranked_documents(documents: Sequence[Document], ranks: Sequence[Rank], top_n: int | None) -> list[Document]:
    """The documents the ranks name, best first, each a copy (same class, id and fields) with its score in
    ``metadata["relevance_score"]``.

    Each rank is matched to its document by its ``index`` (TEI returns ranks sorted by score, not in input order),
    never by position.
    """
    out = []
    for rank in sorted(ranks, key=_SCORE, reverse=True):  # (stable: ties keep the transport's order)
        if not 0 <= rank.index < len(documents):
            raise ResponseError(f"the reranker returned index {rank.index} for {len(documents)} documents")
        doc = documents[rank.index]
        out.append(doc.model_copy(update={"metadata": {**doc.metadata, "relevance_score": rank.score}}))
    return out if top_n is None else out[:top_n]


class HFEndpointReranker(TEIConnection, BaseDocumentCompressor):
    """Reranks documents with a reranker (cross-encoder) served by TEI or a Hugging Face Inference Endpoint.

    .. code-block:: python

        from langchain_classic.retrievers import ContextualCompressionRetriever  # or langchain.retrievers
        from langchain_hf_endpoint import HFEndpointReranker

        reranker = HFEndpointReranker(base_url="https://my-reranker.endpoints.huggingface.cloud", top_n=3)
        best = reranker.compress_documents(documents, "my question")

    Returns the ``top_n`` best documents, best first, each with its score in ``metadata["relevance_score"]`` (as
    LangChain's other rerankers do). Any number of documents: the transport splits them to the server's limits.
    """

    top_n: int | None = Field(default=3, gt=0)
    """How many documents to return (None: all of them, reordered)."""
    truncate: bool | None = None
    """Cut query/document pairs longer than the model's limit instead of raising ``ContextWindowExceededError``."""
    truncation_direction: Literal["left", "right"] | None = None
    """Which end of a too-long pair is cut (TEI's default: right)."""
    raw_scores: bool = False
    """The model's raw logits instead of scores between 0 and 1."""

    def _params(self) -> dict[str, Any]:
        params = {
            "top_n": self.top_n,
            "raw_scores": self.raw_scores,
            "truncate": self.truncate,
            "truncation_direction": self.truncation_direction,
        }
        return {k: v for k, v in params.items() if v is not None}

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        ranks = self.client.rerank(query, [d.page_content for d in documents], **self._params())
        return ranked_documents(documents, ranks, self.top_n)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        client = self.async_client
        ranks = await client.rerank(query, [d.page_content for d in documents], **self._params())
        return ranked_documents(documents, ranks, self.top_n)
