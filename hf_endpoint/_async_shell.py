"""The asynchronous shell: the same plans, sent over a pooled ``aiohttp`` session. Knows no protocol.

aiohttp, not httpx: at 50 requests in flight on loopback it costs several times less CPU per request (see the
benchmarks). The session is created lazily inside the running event loop, and one is kept per loop (``asyncio.run``
called twice, Jupyter, LlamaIndex's sync-over-async, threads each running a loop), so a call never finds a session
bound to a closed loop. Only sending and iterating differ from ``_sync_shell``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import ssl
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any, ClassVar, NoReturn, TypeVar

import aiohttp

from ._aiohttp_cleanup import abandon_session
from ._connection import Connection, connect
from ._errors import APIConnectionError, APITimeoutError, HFEndpointError, IncompleteStreamError
from ._options import DEFAULT_MAX_CONNECTIONS, ConnectionOptions
from ._plan import Plan, Response, Steps, check_response
from ._progress import RetryWait
from ._protocol import Request, error_from_response
from ._retry import parse_retry_after
from ._sse import SSEDecoder

__all__ = ["AsyncShell"]

_LARGE_BODY = 1 << 20  # aiohttp's TOO_LARGE_BYTES_BODY

T = TypeVar("T")

# Clients whose session may outlive its event loop (asyncio.run() returns, the loop closes, the client stays in a
# cache or a framework object): at exit their sockets are closed directly, without aiohttp's "Unclosed client
# session" warnings.
_LIVE: weakref.WeakSet[AsyncShell] = weakref.WeakSet()


@atexit.register
def _close_abandoned_sessions() -> None:
    for client in list(_LIVE):
        client._drop_sessions(keep=None)


class AsyncShell:
    """A pooled connection to one server, one aiohttp session per event loop, that runs plans: ``_run``,
    ``_stream``, ``_prepare`` (as :class:`~hf_endpoint._sync_shell.SyncShell`, awaited)."""

    _kind: ClassVar[str] = "async"
    _conn: Connection

    def _init_shell(self, options: ConnectionOptions) -> None:
        """Read the environment once (:func:`connect`); sessions are opened by the loops that use them."""
        self._options = options
        self._conn = conn = connect(options)
        self._max_connections = options.max_connections or DEFAULT_MAX_CONNECTIONS[self._kind]
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._ssl_context: ssl.SSLContext | None = None
        self._flights: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[Any]] = {}
        # The environment's proxy for this URL, chosen by requests' own rules from what connect() read once
        # (aiohttp's trust_env would re-read the environment on every request).
        from requests.utils import select_proxy

        self._proxy: str | None = select_proxy(conn.base_url, conn.proxies)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout, sock_read=options.timeout
        )

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} holds a connection pool and an API key; create a new one instead of pickling"
        )

    async def aclose(self) -> None:
        """Close this loop's session; sessions of closed loops are dropped, those of other live loops are
        closed on their own loop."""
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        self._drop_sessions(keep=None)
        if session is not None and not session.closed:
            await session.close()

    async def _aclose_loop(self) -> None:
        """Close only this loop's session (other threads' loops keep theirs): for clients shared between threads."""
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        self._drop_sessions(keep=loop)  # (sessions of finished loops only)
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
        verify = self._conn.verify
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
                abandon_session(session)
            elif keep is None:  # a loop running in another thread: close the session there
                self._sessions.pop(loop, None)
                with contextlib.suppress(RuntimeError):
                    asyncio.run_coroutine_threadsafe(session.close(), loop)

    def __del__(self) -> None:
        for loop, session in list(getattr(self, "_sessions", {}).items()):
            if session.closed:
                continue
            if loop.is_running():  # its own loop, perhaps in another thread, closes it
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_close_later, session)
            else:
                abandon_session(session)

    async def health(self) -> bool:
        """True when ``GET /health`` answers 200 (no retries)."""
        try:
            async with self._get_session().get(
                self._conn.url("/health"), headers=self._conn.headers, proxy=self._proxy
            ) as r:
                await r.read()
                return r.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    # --------------------------------------------------------------------------------------------- driving plans

    async def _prepare(self, steps: Steps[T]) -> T:
        """Run the plans ``steps`` yields, sending back each result (or throwing in its error); its return value."""
        try:
            plan = next(steps)
            while True:
                try:
                    result = await (self._run(plan) if plan.share is None else self._run_shared(plan))
                except HFEndpointError as err:
                    plan = steps.throw(err)
                else:
                    plan = steps.send(result)
        except StopIteration as done:
            value: T = done.value
            return value

    async def _run_shared(self, plan: Plan[T]) -> T:
        """``_run``, but callers in this loop asking for the same shared plan at the same time wait for the first
        one's answer."""
        assert plan.share is not None
        key = (asyncio.get_running_loop(), plan.share)
        flight = self._flights.get(key)
        if flight is not None:
            result: T = await asyncio.shield(flight)
            return result
        flight = self._flights[key] = asyncio.get_running_loop().create_future()
        try:
            result = await self._run(plan)
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # (retrieved: no "never retrieved" warning when nobody else waited)
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            del self._flights[key]

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
                        raise _transport_error(exc, self._conn.url(request.path), reading=True) from exc
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
                    async for data in _events(raw, self._conn.url(plan.request.path)):
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

    # --------------------------------------------------------------------------------------------- sending

    async def _request(self, request: Request) -> aiohttp.ClientResponse:
        """One request with retries of connection failures, 429 and 502/503/504 (before any byte is used)."""
        conn = self._conn
        url = conn.url(request.path)
        body = request.encoded_body()
        headers = conn.header_items(request)
        start = time.monotonic()
        attempt = 0
        wait: RetryWait | None = None  # made at the first retry (most requests have none)
        try:
            while True:
                retry_after = None
                try:
                    # aiohttp warns (ResourceWarning) about a bytes body over 1 MiB, as images make: a fresh stream
                    # each attempt, with the same Content-Length.
                    data = body if body is None or len(body) <= _LARGE_BODY else io.BytesIO(body)
                    r = await self._get_session().request(
                        request.method, url, data=data, headers=headers, proxy=self._proxy
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
                        r.status, content, request_id=r.headers.get("x-request-id"), url=url, hints=conn.auth_hints
                    )
                    retry_after = parse_retry_after(r.headers.get("retry-after"))
                elapsed = time.monotonic() - start
                delay = conn.retry.delay(err, attempt, elapsed, retry_after)
                if delay is None:
                    err.retry_after = retry_after  # (a client for several endpoints cools this one down by it)
                    raise conn.retry.exhausted(err, elapsed, attempt + 1)
                # A TTY shows cold starts as a ticking "elapsed / budget" line; logs get one warning per retry.
                if wait is None:
                    wait = RetryWait(conn.retry.cold_start_timeout)
                for pause in wait.pauses(err, attempt, elapsed, delay):
                    await asyncio.sleep(pause)
                attempt += 1
        finally:
            if wait is not None:
                wait.close()


_CLOSING: set[asyncio.Task[None]] = set()  # (the loop keeps only weak references to its tasks)


def _close_later(session: aiohttp.ClientSession) -> None:
    """On the session's own loop: close it (scheduled there by ``__del__`` from whichever thread collected it)."""
    if not session.closed:
        task = asyncio.get_running_loop().create_task(session.close())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)


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
        return APITimeoutError(
            "no answer (or no streamed event) within the read timeout", error_type="read_timeout", url=url
        )
    if isinstance(exc, aiohttp.ClientSSLError):
        return APIConnectionError(f"TLS failure: {exc}", error_type="tls", url=url)
    if reading:
        return IncompleteStreamError(f"the connection dropped mid-response: {exc!r}", url=url)
    return APIConnectionError(f"connection failed: {exc}", error_type="connection", url=url)
