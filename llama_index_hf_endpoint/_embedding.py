"""``HFEndpointEmbedding``: a LlamaIndex ``BaseEmbedding`` on the shared TEI transport."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from hf_endpoint import Secret

from ._tei import TEIConnection, constructor_arguments

__all__ = ["HFEndpointEmbedding", "batch_size_from", "with_instruction"]

#: LlamaIndex's own limit on ``embed_batch_size``.
_MAX_BATCH = 2048


def with_instruction(texts: Sequence[str], instruction: str | None) -> list[str]:
    """``texts`` with ``instruction`` written before each (E5's ``"query: "``, BGE's query instruction)."""
    return [instruction + text for text in texts] if instruction else list(texts)


def batch_size_from(info: Any) -> int | None:
    """The batch size LlamaIndex should use with this server: its ``max_client_batch_size`` (TEI's /info), within
    LlamaIndex's own limit; None when the server does not say (OpenAI-compatible servers)."""
    size = getattr(info, "max_client_batch_size", None)
    return min(size, _MAX_BATCH) if isinstance(size, int) and size > 0 else None


class HFEndpointEmbedding(TEIConnection, BaseEmbedding):
    """Embeddings from a Hugging Face Inference Endpoint or any text-embeddings-inference (TEI) server.

    ``base_url`` is the server's root URL; the token is ``api_key`` (or ``auth_token``/``token``, LlamaIndex's other
    names) or the first of ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, ``HUGGINGFACEHUB_API_TOKEN``,
    ``HUGGINGFACE_API_KEY``. ``embed_batch_size`` defaults to the server's ``max_client_batch_size`` (read from
    ``/info`` at the first batch), so that each LlamaIndex batch (one callback event, one progress step) is one
    request; the transport splits larger ones anyway. Models that want a prefix take it as a TEI prompt name
    (``query_prompt_name`` / ``text_prompt_name``) or as literal text (``query_instruction`` / ``text_instruction``,
    e.g. ``"query: "`` / ``"passage: "`` for E5). A text longer than the model's limit raises
    ``ContextWindowExceededError`` unless ``truncate=True``. Errors are ``hf_endpoint``'s typed exceptions.

    Example::

        from llama_index.core import Settings
        Settings.embed_model = HFEndpointEmbedding(base_url="https://xyz.endpoints.huggingface.cloud")
    """

    normalize: bool | None = Field(default=None, description="Unit-length vectors (TEI's default: True).")
    truncate: bool | None = Field(
        default=None, description="Cut texts longer than the model's limit instead of raising an error."
    )
    truncation_direction: Literal["left", "right"] | None = Field(
        default=None, description="Which end of a too-long text is cut (TEI's default: right)."
    )
    dimensions: int | None = Field(default=None, gt=0, description="Matryoshka models: dimensions to keep.")
    query_prompt_name: str | None = Field(default=None, description="The model's prompt for queries.")
    text_prompt_name: str | None = Field(default=None, description="The model's prompt for documents (texts).")
    query_instruction: str | None = Field(default=None, description="Literal text written before each query.")
    text_instruction: str | None = Field(default=None, description="Literal text written before each text.")

    _batch_size_known: bool = PrivateAttr(default=False)

    def __init__(self, base_url: str | None = None, *, api_key: str | Secret | None = None, **kwargs: Any) -> None:
        """Unknown arguments are refused (pydantic would drop them), naming the one probably meant; the names of
        LlamaIndex's TEI and Hugging Face classes are taken (``token``, ``auth_token``, ``model_url``,
        ``truncate_text``)."""
        args, key = constructor_arguments(type(self), {"base_url": base_url, "api_key": api_key}, kwargs)
        args.setdefault("model_name", args["base_url"])
        super().__init__(**args)
        self._batch_size_known = "embed_batch_size" in self.model_fields_set
        self._connect(key)

    @classmethod
    def class_name(cls) -> str:
        return "HFEndpointEmbedding"

    # ------------------------------------------------------------------------------------------- batch size

    def _learn_batch_size(self, info: Any) -> None:
        size = batch_size_from(info)
        if size is not None:
            self.embed_batch_size = size
        self._batch_size_known = True

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        if not self._batch_size_known and texts:
            self._learn_batch_size(self._client.info())
        return super().get_text_embedding_batch(texts, show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        if not self._batch_size_known and texts:
            self._learn_batch_size(await self._aclient.info())
        return await super().aget_text_embedding_batch(texts, show_progress, **kwargs)

    # ------------------------------------------------------------------------------------------- embeddings

    def _params(self, prompt_name: str | None) -> dict[str, Any]:
        return {"prompt_name": prompt_name, "normalize": self.normalize, "truncate": self.truncate,
                "truncation_direction": self.truncation_direction, "dimensions": self.dimensions}  # fmt: skip

    def _get_query_embedding(self, query: str) -> Embedding:
        inputs = with_instruction([query], self.query_instruction)
        return self._client.embed(inputs, **self._params(self.query_prompt_name))[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        inputs = with_instruction([query], self.query_instruction)
        return (await self._aclient.embed(inputs, **self._params(self.query_prompt_name)))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        inputs = with_instruction(texts, self.text_instruction)
        return self._client.embed(inputs, **self._params(self.text_prompt_name))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        inputs = with_instruction(texts, self.text_instruction)
        return await self._aclient.embed(inputs, **self._params(self.text_prompt_name))
