"""``TEIClient``: text-embeddings-inference's calls as batches of plans (``_tei_core``), sent by the synchronous
shell one request after another."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._errors import HFEndpointError
from ._sync_shell import SyncShell
from ._tei_base import TEIBase
from ._tei_core import Batch
from ._tei_errors import annotate_inputs
from ._tei_types import Prediction, Rank, SparseValue, TEIInfo, TEIToken

__all__ = ["TEIClient"]

R = TypeVar("R")


class TEIClient(TEIBase, SyncShell):
    """A client for one text-embeddings-inference (TEI) server or Hugging Face Inference Endpoint serving an
    embedding, reranker or classifier model; or, with ``route="openai"`` (or ``"auto"`` on a server without TEI's
    ``/info``), any OpenAI-compatible ``/v1/embeddings`` server (vLLM, Infinity, llama.cpp). Synchronous, pooled,
    thread-safe.

    Every call takes any number of inputs: they are split into requests that fit the server's
    ``max_client_batch_size``, payload limit and ``max_batch_tokens`` (from ``/info``, asked once), sent one after
    another, and the results come back in input order. A failed request raises its error with ``inputs`` (the
    indices it held); nothing is returned half-filled. ``truncate`` is always sent (default ``False``): an input
    longer than the model accepts raises :class:`ContextWindowExceededError` on every TEI version, whatever the
    server's ``auto_truncate``; ``truncate=True`` cuts it instead. A string where a list is expected is one input.
    Constructor options: :class:`hf_endpoint._tei_base.TEIBase`.
    """

    _multi_class = "._tei_multi:MultiTEIClient"

    def __enter__(self) -> TEIClient:
        return self

    def info(self) -> TEIInfo | None:
        """``GET /info`` (cached): the model type and limits; ``None`` when the server is not TEI."""
        if not self._planner.info_known:
            self._prepare(self._planner.info_steps())
        return self._planner.info

    def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: bool | None = None,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
        prompt_name: str | None = None,
        dimensions: int | None = None,
    ) -> list[list[float]]:
        """One dense vector per text (``/embed``, or ``/v1/embeddings`` on the OpenAI route), in input order.

        ``normalize`` (server default: True), ``prompt_name`` (a prompt of the model's Sentence Transformers
        config, e.g. E5's "query"), ``dimensions`` (Matryoshka: the first N values, renormalised; TEI >= 1.8).
        """
        return self._run_batch(
            lambda: self._planner.embed(
                texts,
                normalize=normalize,
                truncate=truncate,
                truncation_direction=truncation_direction,
                prompt_name=prompt_name,
                dimensions=dimensions,
            )
        )

    def embed_sparse(
        self,
        texts: str | Sequence[str],
        *,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
        prompt_name: str | None = None,
    ) -> list[list[SparseValue]]:
        """One sparse vector per text (``/embed_sparse``; SPLADE models): its non-zero ``(index, value)`` pairs."""
        return self._run_batch(
            lambda: self._planner.embed_sparse(
                texts, truncate=truncate, truncation_direction=truncation_direction, prompt_name=prompt_name
            )
        )

    def rerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        return_text: bool = False,
        raw_scores: bool = False,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
    ) -> list[Rank]:
        """``texts`` ranked against ``query`` (``/rerank``), best first: each :class:`Rank`'s ``index`` points
        into ``texts`` (TEI answers sorted by score; results are matched by index, never by position). ``top_n``
        keeps the best N."""
        return self._run_batch(
            lambda: self._planner.rerank(
                query,
                texts,
                top_n=top_n,
                return_text=return_text,
                raw_scores=raw_scores,
                truncate=truncate,
                truncation_direction=truncation_direction,
            )
        )

    def predict(
        self,
        inputs: str | Sequence[str | Sequence[str]],
        *,
        raw_scores: bool = False,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
    ) -> list[list[Prediction]]:
        """Classification (``/predict``): for each input (a text, or a ``(text, text_pair)`` pair) every label
        with its score, highest first."""
        return self._run_batch(
            lambda: self._planner.predict(
                inputs, raw_scores=raw_scores, truncate=truncate, truncation_direction=truncation_direction
            )
        )

    def similarity(
        self,
        source_sentence: str,
        sentences: Sequence[str],
        *,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
        prompt_name: str | None = None,
    ) -> list[float]:
        """The cosine similarity of each sentence to ``source_sentence`` (``/similarity``, TEI >= 1.5), in order."""
        return self._run_batch(
            lambda: self._planner.similarity(
                source_sentence,
                sentences,
                truncate=truncate,
                truncation_direction=truncation_direction,
                prompt_name=prompt_name,
            )
        )

    def tokenize(
        self, texts: str | Sequence[str], *, add_special_tokens: bool = True, prompt_name: str | None = None
    ) -> list[list[TEIToken]]:
        """The server's own tokens for each text (``/tokenize``; ``start``/``stop`` are UTF-8 byte offsets)."""
        return self._run_batch(
            lambda: self._planner.tokenize(texts, add_special_tokens=add_special_tokens, prompt_name=prompt_name)
        )

    def _run_batch(self, build: Callable[[], Batch[Any, R]]) -> R:
        """The batch ``build`` makes once ``/info`` is known (it sets the limits the inputs are cut to), its
        requests in turn; the first failure is raised, naming the inputs its request held."""
        self.info()
        batch = build()
        return batch.combine([self._run_one(batch, i) for i in range(len(batch.plans))])

    def _run_one(self, batch: Batch[Any, Any], i: int) -> list[Any]:
        try:
            result: list[Any] = self._run(batch.plans[i])
        except HFEndpointError as err:
            annotate_inputs(err, batch.chunks[i], batch.total)
            raise
        return result
