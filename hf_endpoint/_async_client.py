"""The asynchronous shell: the same plans, sent over a pooled ``aiohttp`` session.

aiohttp, not httpx: at 50 requests in flight on loopback it costs several times less CPU per request (see the
benchmarks). The session is created lazily inside the running event loop, and re-created when it is used from
another loop (``asyncio.run`` called twice, Jupyter, LlamaIndex's sync-over-async), so a second call never finds
a session bound to a closed loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

import aiohttp

from ._base import ClientBase
from ._core import ClientCore, Plan, Response, Route, check_response
from ._errors import APIConnectionError, APITimeoutError, HFEndpointError, IncompleteStreamError
from ._progress import RetryWait
from ._protocol import Request, error_from_response
from ._retry import parse_retry_after
from ._sse import SSEDecoder
from ._types import (
    ChatCompletion,
    ChatCompletionChunk,
    GenerateResponse,
    Info,
    StreamResponse,
    TokenizedToken,
    assign,
)

__all__ = ["AsyncTGIClient"]

T = TypeVar("T")

# Clients whose session may outlive its event loop (asyncio.run() returns, the loop closes, the client stays in a
# cache or a framework object): at exit their sockets are closed directly, without aiohttp's "Unclosed client
# session" warnings.
_LIVE: weakref.WeakSet[AsyncTGIClient] = weakref.WeakSet()


@atexit.register
def _close_abandoned_sessions() -> None:
    for client in list(_LIVE):
        client._drop_sessions(keep=None)


class AsyncTGIClient(ClientBase):
    """The asynchronous twin of :class:`~hf_endpoint.TGIClient`: same constructor, same method names."""

    _default_max_connections = 1000

    def _open(self) -> None:
        # One session per running event loop: aiohttp sessions belong to the loop that created them, and one
        # client may be used from several loops (threads each running asyncio.run, notebooks, sync-over-async).
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._ssl_context: ssl.SSLContext | None = None
        # The environment's proxy for this URL, chosen by requests' own rules from what ClientCore read once
        # (aiohttp's trust_env would re-read the environment on every request).
        from requests.utils import select_proxy

        self._proxy: str | None = select_proxy(self._core.base_url, self._core.proxies)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._core.connect_timeout, sock_read=self._core.timeout
        )

    async def __aenter__(self) -> AsyncTGIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close this loop's session; sessions of closed loops are dropped, those of other live loops are
        closed on their own loop."""
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        self._drop_sessions(keep=None)
        if session is not None and not session.closed:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is not None and not session.closed:
            return session
        self._drop_sessions(keep=loop)
        connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl())
        session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        self._sessions[loop] = session
        _LIVE.add(self)
        return session

    def _ssl(self) -> ssl.SSLContext | bool:
        """aiohttp's ``ssl=``: a context for a CA bundle (``verify=`` a path, or ``REQUESTS_CA_BUNDLE``), made once
        per client, not per session (loading a bundle takes tens of ms; contexts are not bound to a loop)."""
        verify = self._core.verify
        if not isinstance(verify, str):
            return verify
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=verify)
        return self._ssl_context

    def _drop_sessions(self, keep: asyncio.AbstractEventLoop | None) -> None:
        """Forget sessions whose loop has closed (their sockets closed directly); with ``keep=None`` also ask
        sessions on other live loops to close there."""
        for loop, session in list(self._sessions.items()):
            if loop is keep:
                continue
            if loop.is_closed() or session.closed or (keep is None and not loop.is_running()):
                self._sessions.pop(loop, None)
                _abandon(session)
            elif keep is None:  # a loop running in another thread: close the session there
                self._sessions.pop(loop, None)
                with contextlib.suppress(RuntimeError):
                    asyncio.run_coroutine_threadsafe(session.close(), loop)

    def __del__(self) -> None:
        for session in getattr(self, "_sessions", {}).values():
            if not session.closed:
                _abandon(session)

    # --------------------------------------------------------------------------------------------- public

    async def info(self) -> Info | None:
        """``GET /info`` (cached). ``None`` when the server has no ``/info`` (not TGI)."""
        if not self._core.info_known:
            try:
                info = await self._run(self._core.info_plan())
            except HFEndpointError as err:
                if not ClientCore.info_missing(err):
                    raise
                info = None
                self._core.served_model = await self._try_models()
            self._core.set_info(info)
        return self._core.info_cache

    async def health(self) -> bool:
        """True when ``GET /health`` answers 200 (no retries)."""
        try:
            async with self._get_session().get(
                self._core.url("/health"), headers=self._core.headers, proxy=self._proxy
            ) as r:
                await r.read()
                return r.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def tokenize(self, text: str) -> list[TokenizedToken]:
        return await self._run(self._core.tokenize_plan(text))

    async def generate(self, prompt: str, **params: Any) -> GenerateResponse:
        result: GenerateResponse = await self._run(self._core.generate_plan(prompt, params, stream=False))
        return result

    async def generate_stream(self, prompt: str, **params: Any) -> AsyncIterator[StreamResponse]:
        plan = self._core.generate_plan(prompt, params, stream=True)
        async for item in self._stream(plan):
            yield item

    async def chat(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> ChatCompletion:
        start = time.perf_counter()
        if self._core.needs_info(route):
            await self.info()
        plan = self._core.chat_plan(messages, tools=tools, tool_choice=tool_choice, response_format=response_format,
                                    params=params, stream=False, route=route)  # fmt: skip
        result: ChatCompletion = await self._run(plan)
        assign(result, elapsed=time.perf_counter() - start)
        return result

    async def chat_stream(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> AsyncIterator[ChatCompletionChunk]:
        plan = await self._chat_plan(messages, tools, tool_choice, response_format, route, params, stream=True)
        async for item in self._stream(plan):
            yield item

    # --------------------------------------------------------------------------------------------- internals

    async def _chat_plan(self, messages: Sequence[Any], tools: Any, tool_choice: Any, response_format: Any,
                         route: Route | None, params: dict[str, Any], *, stream: bool) -> Plan[Any]:  # fmt: skip
        if self._core.needs_info(route):
            await self.info()
        return self._core.chat_plan(messages, tools=tools, tool_choice=tool_choice, response_format=response_format,
                                    params=params, stream=stream, route=route)  # fmt: skip

    async def _try_models(self) -> str | None:
        try:
            return await self._run(self._core.models_plan())
        except HFEndpointError:
            return None

    async def _run(self, plan: Plan[T]) -> T:
        # (the response is read here, not in a helper coroutine: every coroutine level between the caller and
        # aiohttp is resumed on each wake-up of the request, a measurable share of its CPU at 50 in flight)
        while True:
            request = plan.request
            try:
                r = await self._request(request)
                async with r:
                    try:
                        body = await r.read()
                    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                        raise _transport_error(exc, self._core.url(request.path), reading=True) from exc
                resp = Response(r.status, r.headers, body, str(r.url))
                check_response(resp)
                assert plan.parse is not None
                return plan.parse(resp)
            except HFEndpointError as err:
                nxt = plan.on_error(err)
                if nxt is None:
                    raise
                plan = nxt

    async def _stream(self, plan: Plan[T]) -> AsyncIterator[T]:
        while True:
            delivered = False
            try:
                raw = await self._request(plan.request)
                assert plan.converter is not None
                conv = plan.converter(raw.headers.get("x-request-id"), str(raw.url))
                async with raw:
                    async for data in _events(raw, self._core.url(plan.request.path)):
                        for item in conv.feed(data):
                            delivered = True
                            yield item
                for item in conv.finish():
                    yield item
                return
            except HFEndpointError as err:
                nxt = None if delivered else plan.on_error(err)
                if nxt is None:
                    raise
                plan = nxt

    async def _request(self, request: Request) -> aiohttp.ClientResponse:
        """One request with retries of connection failures, 429 and 502/503/504 (before any byte is used)."""
        url = self._core.url(request.path)
        body = request.encoded_body()
        headers = self._core.header_items(request)
        start = time.monotonic()
        attempt = 0
        wait: RetryWait | None = None  # made at the first retry (most requests have none)
        try:
            while True:
                retry_after = None
                try:
                    r = await self._get_session().request(
                        request.method, url, data=body, headers=headers, proxy=self._proxy
                    )
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    err = _transport_error(exc, url, reading=False)
                    if err.error_type == "tls":
                        raise err from exc
                else:
                    if r.status < 400:
                        if wait is not None:
                            wait.close(woke=True)
                        return r
                    async with r:
                        content = await r.read()
                    err = (request.error_map or error_from_response)(
                        r.status, content, request_id=r.headers.get("x-request-id"), url=url,
                        hints=self._core.auth_hints,
                    )
                    retry_after = parse_retry_after(r.headers.get("retry-after"))
                elapsed = time.monotonic() - start
                delay = self._core.retry.delay(err, attempt, elapsed, retry_after)
                if delay is None:
                    raise self._core.retry.exhausted(err, elapsed, attempt + 1)
                # A TTY shows cold starts as a ticking "elapsed / budget" line; logs get one warning per retry.
                if wait is None:
                    wait = RetryWait(self._core.retry.cold_start_timeout)
                for pause in wait.pauses(err, attempt, elapsed, delay):
                    await asyncio.sleep(pause)
                attempt += 1
        finally:
            if wait is not None:
                wait.close()


async def _events(raw: aiohttp.ClientResponse, url: str) -> AsyncIterator[bytes]:
    """SSE data payloads of a streamed response; dropped connections and read timeouts become our errors."""
    decoder = SSEDecoder()
    try:
        async for chunk in raw.content.iter_any():
            for data in decoder.feed(chunk):
                yield data
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise _transport_error(exc, url, reading=True) from exc
    for data in decoder.close():
        yield data


def _transport_error(exc: BaseException, url: str, *, reading: bool) -> HFEndpointError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(f"could not connect in time: {exc}", error_type="connect_timeout", url=url)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return APITimeoutError("no answer (or no streamed event) within the read timeout", error_type="read_timeout",
                               url=url)  # fmt: skip
    if isinstance(exc, aiohttp.ClientSSLError):
        return APIConnectionError(f"TLS failure: {exc}", error_type="tls", url=url)
    if reading:
        return IncompleteStreamError(f"the connection dropped mid-response: {exc!r}", url=url)
    return APIConnectionError(f"connection failed: {exc}", error_type="connection", url=url)


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session whose event loop is gone or idle, without the 'Unclosed client session' warning.

    Its sockets belong to a loop that no longer runs, so they can only be closed directly.
    """
    connector = session.connector
    session.detach()
    if connector is not None and not connector.closed:
        loop = getattr(connector, "_loop", None)
        if loop is not None and (loop.is_closed() or not loop.is_running()):
            for conns in list(connector._conns.values()):
                for protocol, _ in conns:
                    _close_dead_transport(protocol.transport)
        # The old loop is closed: its transports cannot schedule their close (RuntimeError).
        with contextlib.suppress(RuntimeError):
            connector._close()
        connector._closed = True


def _close_dead_transport(transport: Any) -> None:
    """Close a pooled connection of a closed loop, whose ``close()`` cannot schedule the socket's close.

    Runs the transport's own last step (``_call_connection_lost``: protocol notified, socket closed); without it
    every kept-alive socket leaks until garbage collection, with a ResourceWarning each.
    """
    ssl_protocol = getattr(transport, "_ssl_protocol", None)
    if ssl_protocol is not None:  # TLS: the application transport wraps the socket transport
        transport._closed = True
        transport = getattr(ssl_protocol, "_transport", None)
    lost = getattr(transport, "_call_connection_lost", None)
    if lost is not None:
        with contextlib.suppress(Exception):
            lost(None)
