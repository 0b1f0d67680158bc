"""``HFEndpointEmbedding``: a LlamaIndex ``BaseEmbedding`` on the shared TEI transport."""

from __future__ import annotations

from typing import Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.constants import DEFAULT_EMBED_BATCH_SIZE

from hf_endpoint import Secret
from hf_endpoint._options import TEIOptions, parse_endpoints
from hf_endpoint._tei_protocol import with_instruction

from ._tei import TEIConnection, constructor_arguments

__all__ = ["HFEndpointEmbedding", "batching_from"]

#: LlamaIndex's own limit on ``embed_batch_size``.
_MAX_BATCH = 2048
#: Requests of one call the async transport sends at once (its default ``max_concurrency``).
_CONCURRENCY = TEIOptions().max_concurrency


def batching_from(info: Any, batch_size: int | None, num_workers: int | None) -> tuple[int | None, int | None]:
    """LlamaIndex's ``(embed_batch_size, num_workers)`` for this server, from its ``/info``; the values the user
    gave are kept (None: not given; None returned: leave LlamaIndex's default).

    - ``embed_batch_size``: the server's ``max_client_batch_size``, within LlamaIndex's own limit, so that one
      LlamaIndex batch (one callback event, one progress step) is one request.
    - ``num_workers``: how many batches LlamaIndex's async path runs at once. Left unset, it starts every batch at
      once (``asyncio.gather``), and TEI answers 429 as soon as the inputs in flight exceed its permits
      (``max_concurrent_requests``, one per input). So: the transport's concurrency (4), lowered to what the permits
      hold; at least 2, since LlamaIndex bounds nothing below that, the batch being lowered to fit two instead.
    """
    limit = getattr(info, "max_client_batch_size", None)
    server_batch = min(limit, _MAX_BATCH) if isinstance(limit, int) and limit > 0 else None
    batch = batch_size if batch_size is not None else server_batch
    permits = getattr(info, "max_concurrent_requests", None)
    if num_workers is not None or not isinstance(permits, int) or permits < 2:
        return batch, num_workers
    per_batch = min(batch or DEFAULT_EMBED_BATCH_SIZE, _CONCURRENCY * (server_batch or 32))  # inputs in flight
    if batch_size is None and permits < 2 * per_batch:
        batch = per_batch = permits // 2
    return batch, max(2, min(_CONCURRENCY, permits // per_batch))


class HFEndpointEmbedding(TEIConnection, BaseEmbedding):
    """Embeddings from a Hugging Face Inference Endpoint or any text-embeddings-inference (TEI) server.

    ``base_url`` is the server's root URL; the token is ``api_key`` (or ``auth_token``/``token``, LlamaIndex's other
    names) or the first of ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, ``HUGGINGFACEHUB_API_TOKEN``,
    ``HUGGINGFACE_API_KEY``. ``embed_batch_size`` defaults to the server's ``max_client_batch_size`` (read from
    ``/info`` at the first batch), so that each LlamaIndex batch (one callback event, one progress step) is one
    request (the transport splits larger ones anyway), and ``num_workers`` to as many batches at once as the
    server's permits hold (see :func:`batching_from`). Models that want a prefix take it as a TEI prompt name
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

    _batching_known: bool = PrivateAttr(default=False)
    _given: tuple[int | None, int | None] = PrivateAttr(default=(None, None))

    def __init__(
        self, base_url: str | list[Any] | None = None, *, api_key: str | Secret | None = None, **kwargs: Any
    ) -> None:
        """Unknown arguments are refused (pydantic would drop them), naming the one probably meant; the names of
        LlamaIndex's TEI and Hugging Face classes are taken (``token``, ``auth_token``, ``model_url``,
        ``truncate_text``)."""
        args, key = constructor_arguments(type(self), {"base_url": base_url, "api_key": api_key}, kwargs)
        args.setdefault("model_name", parse_endpoints(args["base_url"])[0])
        super().__init__(**args)
        given = self.model_fields_set
        self._given = (
            self.embed_batch_size if "embed_batch_size" in given else None,
            self.num_workers if "num_workers" in given else None,
        )
        self._connect(key)

    @classmethod
    def class_name(cls) -> str:
        return "HFEndpointEmbedding"

    # ------------------------------------------------------------------------------------------- batch size

    def _learn_batching(self, info: Any) -> None:
        batch, workers = batching_from(info, *self._given)
        if batch is not None:
            self.embed_batch_size = batch
        self.num_workers = workers
        self._batching_known = True

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        if not self._batching_known and texts:
            self._learn_batching(self._client.info())
        return super().get_text_embedding_batch(texts, show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        if not self._batching_known and texts:
            self._learn_batching(await self._aclient.info())
        return await super().aget_text_embedding_batch(texts, show_progress, **kwargs)

    # ------------------------------------------------------------------------------------------- embeddings

    def _params(self, prompt_name: str | None) -> dict[str, Any]:
        return {
            "prompt_name": prompt_name,
            "normalize": self.normalize,
            "truncate": self.truncate,
            "truncation_direction": self.truncation_direction,
            "dimensions": self.dimensions,
        }

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
