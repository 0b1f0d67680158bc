"""``AsyncTGIClient(base_url=[...])``: the asynchronous client for several endpoints (see ``_multi``), and hedged
streams: with ``hedge_after=`` seconds, a stream whose first item has not arrived by then is also sent to a second
endpoint; the first to answer wins, the other is cancelled and its connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from ._async_client import AsyncTGIClient
from ._async_shell import AsyncShell
from ._errors import HFEndpointError
from ._multi import tag
from ._multi_base import MultiBase
from ._options import ChatOptions, ConnectionOptions
from ._routing import Failover
from ._tgi_chat import ChatConfig
from ._types import ChatCompletion, ChatCompletionChunk, GenerateResponse, Info, StreamResponse, TokenizedToken

__all__ = ["AsyncMultiTGIClient", "AsyncRouted"]

R = TypeVar("R")
CL = TypeVar("CL", bound=AsyncShell)

logger = logging.getLogger("hf_endpoint")

_PROBES: set[asyncio.Task[None]] = set()  # (the loop keeps only weak references to its tasks)


class _Opened:
    """One attempt's stream: its endpoint, its iterator, and the pending first item."""

    __slots__ = ("first", "i", "items", "started")

    def __init__(self, i: int, items: AsyncIterator[Any]) -> None:
        self.i = i
        self.items = items
        self.started = time.monotonic()
        self.first: asyncio.Future[Any] = asyncio.ensure_future(items.__anext__())


class AsyncRouted(MultiBase, Generic[CL]):
    """The asynchronous routing loop over the inner clients (shared by the TGI and TEI several-endpoint clients)."""

    _clients: list[CL]

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def _aclose_loop(self) -> None:
        for client in self._clients:
            await client._aclose_loop()

    def _drop_sessions(self, keep: Any) -> None:
        for client in self._clients:
            client._drop_sessions(keep=keep)

    async def health(self) -> bool:
        """True when at least one endpoint answers ``GET /health`` with 200."""
        return any(await asyncio.gather(*(client.health() for client in self._clients)))

    # ------------------------------------------------------------------------------------------- routing

    async def _routed(self, fn: Callable[[CL], Awaitable[R]]) -> R:
        self._start_probes()
        walk = self._begin()
        while True:
            i = await self._pick(walk)
            started = time.monotonic()
            try:
                result = await fn(self._clients[i])
            except HFEndpointError as err:
                self._failed(walk, i, err)  # (raises it when the request, not the endpoint, failed)
                continue
            except BaseException:
                self._released(i)
                raise
            self._succeeded(i, time.monotonic() - started)
            return tag(result, self._url(i))

    async def _routed_stream(self, open_stream: Callable[[CL], AsyncIterator[R]]) -> AsyncIterator[R]:
        """Moves to another endpoint until the first item arrives (hedged after ``hedge_after``); after it, an error
        is raised, not replayed."""
        self._start_probes()
        walk = self._begin()
        while True:
            i = await self._pick(walk)
            won = await self._first(walk, _Opened(i, open_stream(self._clients[i])), open_stream)
            if won is not None:
                break
        latency = time.monotonic() - won.started
        url = self._url(won.i)
        items = won.items
        try:
            first = won.first.result()
        except StopAsyncIteration:
            self._succeeded(won.i, latency)
            return
        try:
            yield tag(first, url)
            async for item in items:
                yield tag(item, url)
        except HFEndpointError as err:
            self._broke(won.i, err)
            raise
        except BaseException:  # (the caller stopped reading: the endpoint did answer)
            self._succeeded(won.i, latency)
            raise
        else:
            self._succeeded(won.i, latency)
        finally:
            await _aclose(items)

    async def _first(
        self, walk: Failover, opened: _Opened, open_stream: Callable[[CL], AsyncIterator[Any]]
    ) -> _Opened | None:
        """The attempt whose first item arrived (its ``first`` holds it, or ``StopAsyncIteration``); None when all
        of this walk's attempts failed in a way that moves the request (the caller asks the walk for the next)."""
        pending = [opened]
        hedge = self._options.hedge_after
        if hedge is not None:
            await asyncio.wait([opened.first], timeout=hedge)
            if not opened.first.done():
                with self._lock:
                    j = walk.hedge(time.monotonic())
                if j is not None:
                    logger.debug(
                        "hf_endpoint: no first token from %s after hedge_after=%g s: also sending the stream to %s",
                        self._url(opened.i),
                        hedge,
                        self._url(j),
                    )
                    pending.append(_Opened(j, open_stream(self._clients[j])))
        try:
            while pending:
                await asyncio.wait([p.first for p in pending], return_when=asyncio.FIRST_COMPLETED)
                for p in [p for p in pending if p.first.done()]:
                    pending.remove(p)
                    exc = None if p.first.cancelled() else p.first.exception()
                    if exc is None or isinstance(exc, StopAsyncIteration):
                        return p
                    await _aclose(p.items)
                    if not isinstance(exc, HFEndpointError):
                        self._released(p.i)
                        raise exc
                    self._failed(walk, p.i, exc)  # (raises it when the request, not the endpoint, failed)
            return None
        finally:
            for p in pending:  # the losers (or all, on an error or a cancellation): cancelled, connections closed
                p.first.cancel()
                await asyncio.wait([p.first])  # (the generator is running until the cancellation reaches it)
                if not p.first.cancelled() and p.first.exception() is None:
                    pass  # (it answered just as it lost: its first item is dropped with it, never delivered)
                await _aclose(p.items)
                self._released(p.i)
                logger.debug("hf_endpoint: stream to %s cancelled (another endpoint answered first)", self._url(p.i))

    async def _pick(self, walk: Failover) -> int:
        """The endpoint of the request's next attempt; when every endpoint failed this round, after the wait."""
        while True:
            i, wait = self._next(walk)
            if i is not None:
                return i
            await asyncio.sleep(wait)

    def _start_probes(self) -> None:
        """Check cooled-down endpoints in the background (``GET /health``), as the sync client does."""
        for i in self._due_probes():
            task = asyncio.get_running_loop().create_task(self._probe(i))
            _PROBES.add(task)
            task.add_done_callback(_PROBES.discard)

    async def _probe(self, i: int) -> None:
        self._probe_done(i, await self._clients[i].health())


class AsyncMultiTGIClient(AsyncRouted[AsyncTGIClient], AsyncTGIClient):
    """:class:`~hf_endpoint.AsyncTGIClient` over several endpoints (see :class:`~hf_endpoint._multi.MultiTGIClient`);
    ``hedge_after=`` hedges streams."""

    _clients: list[AsyncTGIClient]

    def _init_tgi(self, options: ConnectionOptions, chat: ChatOptions) -> None:
        self._options = options
        self._chat_options = chat
        self._chat = ChatConfig.load(chat)
        self._init_endpoints(options, chat, AsyncTGIClient)

    async def __aenter__(self) -> AsyncMultiTGIClient:
        return self

    # ------------------------------------------------------------------------------------------- calls

    # (the calls return _routed's coroutine instead of awaiting it: each coroutine level between the caller and
    # aiohttp is resumed on every wake-up of the request); chat's arguments go to the inner client as they came
    # (the signature callers see, and its checks, are AsyncTGIClient.chat's)

    def info(self) -> Coroutine[Any, Any, Info | None]:
        return self._routed(lambda c: c.info())

    def tokenize(self, text: str) -> Coroutine[Any, Any, list[TokenizedToken]]:
        return self._routed(lambda c: c.tokenize(text))

    def generate(self, prompt: str, **params: Any) -> Coroutine[Any, Any, GenerateResponse]:
        return self._routed(lambda c: c.generate(prompt, **params))

    async def generate_stream(self, prompt: str, **params: Any) -> AsyncIterator[StreamResponse]:
        async for item in self._routed_stream(lambda c: c.generate_stream(prompt, **params)):
            yield item

    def chat(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, ChatCompletion]:
        return self._routed(lambda c: c.chat(*args, **kwargs))

    async def chat_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatCompletionChunk]:
        async for item in self._routed_stream(lambda c: c.chat_stream(*args, **kwargs)):
            yield item


async def _aclose(items: AsyncIterator[Any]) -> None:
    close = getattr(items, "aclose", None)
    if close is None:
        return
    # (a generator whose pending __anext__ was just cancelled is already finished or closing)
    with contextlib.suppress(HFEndpointError, RuntimeError, asyncio.CancelledError):
        await close()
