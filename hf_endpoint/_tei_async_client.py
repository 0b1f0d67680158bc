"""``AsyncTEIClient``: the same batches of plans as ``TEIClient``, sent by the asynchronous shell, several
requests of one call at a time (``max_concurrency``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._async_shell import AsyncShell
from ._errors import HFEndpointError
from ._tei_base import TEIBase
from ._tei_core import Batch
from ._tei_errors import annotate_inputs
from ._tei_types import Prediction, Rank, SparseValue, TEIInfo, TEIToken

__all__ = ["AsyncTEIClient"]

R = TypeVar("R")


class AsyncTEIClient(TEIBase, AsyncShell):
    """The asynchronous twin of :class:`~hf_endpoint.TEIClient`: same constructor, same method names. The requests
    of one call run concurrently, at most ``max_concurrency`` at once (default 4; fewer when the server's
    ``max_concurrent_requests`` permits, one per input, would run out); when one fails, the others are cancelled
    and its error names the inputs it held."""

    _multi_class = "._tei_multi:AsyncMultiTEIClient"

    async def __aenter__(self) -> AsyncTEIClient:
        return self

    async def info(self) -> TEIInfo | None:
        """``GET /info`` (cached): the model type and limits; ``None`` when the server is not TEI."""
        if not self._planner.info_known:
            await self._prepare(self._planner.info_steps())
        return self._planner.info

    async def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: bool | None = None,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
        prompt_name: str | None = None,
        dimensions: int | None = None,
    ) -> list[list[float]]:
        return await self._run_batch(
            lambda: self._planner.embed(
                texts,
                normalize=normalize,
                truncate=truncate,
                truncation_direction=truncation_direction,
                prompt_name=prompt_name,
                dimensions=dimensions,
            )
        )

    async def embed_sparse(
        self,
        texts: str | Sequence[str],
        *,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
        prompt_name: str | None = None,
    ) -> list[list[SparseValue]]:
        return await self._run_batch(
            lambda: self._planner.embed_sparse(
                texts, truncate=truncate, truncation_direction=truncation_direction, prompt_name=prompt_name
            )
        )

    async def rerank(
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
        return await self._run_batch(
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

    async def predict(
        self,
        inputs: str | Sequence[str | Sequence[str]],
        *,
        raw_scores: bool = False,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
    ) -> list[list[Prediction]]:
        return await self._run_batch(
            lambda: self._planner.predict(
                inputs, raw_scores=raw_scores, truncate=truncate, truncation_direction=truncation_direction
            )
        )

    async def similarity(
        self,
        source_sentence: str,
        sentences: Sequence[str],
        *,
        truncate: bool | None = None,
        truncation_direction: str | None = None,
        prompt_name: str | None = None,
    ) -> list[float]:
        return await self._run_batch(
            lambda: self._planner.similarity(
                source_sentence,
                sentences,
                truncate=truncate,
                truncation_direction=truncation_direction,
                prompt_name=prompt_name,
            )
        )

    async def tokenize(
        self, texts: str | Sequence[str], *, add_special_tokens: bool = True, prompt_name: str | None = None
    ) -> list[list[TEIToken]]:
        return await self._run_batch(
            lambda: self._planner.tokenize(texts, add_special_tokens=add_special_tokens, prompt_name=prompt_name)
        )

    async def _run_batch(self, build: Callable[[], Batch[Any, R]]) -> R:
        """The batch ``build`` makes once ``/info`` is known (it sets the limits the inputs are cut to), its
        requests a bounded number at once (workers taking the next request in input order); the first failure
        cancels the rest and is raised, naming the inputs its request held."""
        await self.info()
        batch = build()
        plans, chunks = batch.plans, batch.chunks
        parts: list[list[Any]] = [[] for _ in plans]
        if len(plans) == 1:  # the common small call: no task
            parts[0] = await self._run_one(batch, 0)
            return batch.combine(parts)
        todo = iter(range(len(plans)))

        async def worker() -> None:
            for i in todo:  # one iterator shared by the workers: each request is taken once
                parts[i] = await self._run_one(batch, i)

        width = self._planner.concurrency(max((len(c) for c in chunks), default=1))
        workers = [asyncio.ensure_future(worker()) for _ in range(min(width, len(plans)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        return batch.combine(parts)

    async def _run_one(self, batch: Batch[Any, Any], i: int) -> list[Any]:
        try:
            result: list[Any] = await self._run(batch.plans[i])
        except HFEndpointError as err:
            annotate_inputs(err, batch.chunks[i], batch.total)
            raise
        return result
