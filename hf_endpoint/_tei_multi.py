"""``TEIClient(base_url=[...])`` / ``AsyncTEIClient(base_url=[...])``: TEI clients for several endpoints.

Each call (all the requests one ``embed``/``rerank``/... makes) goes to the endpoint the router picks, through that
endpoint's own client (its own ``/info``, limits and route: a TEI endpoint and an OpenAI-compatible
``/v1/embeddings`` one in one list both work); when one of its requests fails in a way that is the endpoint's, the
whole call moves to another endpoint (its results so far are dropped, never mixed with another endpoint's: two
models may embed differently). Balancing, cooldowns and the budget are the TGI clients' (``hf_endpoint._routing``).
"""

from __future__ import annotations

from typing import Any

from ._async_multi import AsyncRouted
from ._multi import SyncRouted
from ._options import ConnectionOptions, TEIOptions, TEIRoute
from ._tei_async_client import AsyncTEIClient
from ._tei_client import TEIClient
from ._tei_types import Prediction, Rank, SparseValue, TEIInfo, TEIToken

__all__ = ["AsyncMultiTEIClient", "MultiTEIClient"]


class MultiTEIClient(SyncRouted[TEIClient], TEIClient):
    """:class:`~hf_endpoint.TEIClient` over several endpoints: the same methods, plus ``endpoint_stats()``."""

    def _init_tei(self, options: ConnectionOptions, tei: TEIOptions) -> None:
        self._tei_options = tei
        self._init_endpoints(options, tei, TEIClient)

    def __enter__(self) -> MultiTEIClient:
        return self

    @property
    def route(self) -> TEIRoute:
        return self._clients[0].route

    def info(self) -> TEIInfo | None:
        return self._routed(lambda c: c.info())

    def embed(self, *args: Any, **kwargs: Any) -> list[list[float]]:
        return self._routed(lambda c: c.embed(*args, **kwargs))

    def embed_sparse(self, *args: Any, **kwargs: Any) -> list[list[SparseValue]]:
        return self._routed(lambda c: c.embed_sparse(*args, **kwargs))

    def rerank(self, *args: Any, **kwargs: Any) -> list[Rank]:
        return self._routed(lambda c: c.rerank(*args, **kwargs))

    def predict(self, *args: Any, **kwargs: Any) -> list[list[Prediction]]:
        return self._routed(lambda c: c.predict(*args, **kwargs))

    def similarity(self, *args: Any, **kwargs: Any) -> list[float]:
        return self._routed(lambda c: c.similarity(*args, **kwargs))

    def tokenize(self, *args: Any, **kwargs: Any) -> list[list[TEIToken]]:
        return self._routed(lambda c: c.tokenize(*args, **kwargs))


class AsyncMultiTEIClient(AsyncRouted[AsyncTEIClient], AsyncTEIClient):
    """:class:`~hf_endpoint.AsyncTEIClient` over several endpoints (see :class:`MultiTEIClient`)."""

    def _init_tei(self, options: ConnectionOptions, tei: TEIOptions) -> None:
        self._tei_options = tei
        self._init_endpoints(options, tei, AsyncTEIClient)

    async def __aenter__(self) -> AsyncMultiTEIClient:
        return self

    @property
    def route(self) -> TEIRoute:
        return self._clients[0].route

    async def info(self) -> TEIInfo | None:
        return await self._routed(lambda c: c.info())

    async def embed(self, *args: Any, **kwargs: Any) -> list[list[float]]:
        return await self._routed(lambda c: c.embed(*args, **kwargs))

    async def embed_sparse(self, *args: Any, **kwargs: Any) -> list[list[SparseValue]]:
        return await self._routed(lambda c: c.embed_sparse(*args, **kwargs))

    async def rerank(self, *args: Any, **kwargs: Any) -> list[Rank]:
        return await self._routed(lambda c: c.rerank(*args, **kwargs))

    async def predict(self, *args: Any, **kwargs: Any) -> list[list[Prediction]]:
        return await self._routed(lambda c: c.predict(*args, **kwargs))

    async def similarity(self, *args: Any, **kwargs: Any) -> list[float]:
        return await self._routed(lambda c: c.similarity(*args, **kwargs))

    async def tokenize(self, *args: Any, **kwargs: Any) -> list[list[TEIToken]]:
        return await self._routed(lambda c: c.tokenize(*args, **kwargs))
