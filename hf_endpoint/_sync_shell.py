"""The synchronous shell: sends plans over a pooled ``requests.Session``, with retries. Knows no protocol.

Only sending and iterating live here (and, twinned in ``_async_shell``, the few lines that drive a plan: run,
stream, prepare). A client for a protocol subclasses the shell and turns its public methods into plans
(``_client.TGIClient``); see ``_plan`` for how a new protocol plugs in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any, ClassVar, NoReturn, TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ._connection import Connection, connect
from ._errors import APIConnectionError, APITimeoutError, HFEndpointError, IncompleteStreamError
from ._options import DEFAULT_MAX_CONNECTIONS, ConnectionOptions
from ._plan import Plan, Response, Steps, check_response
from ._progress import RetryWait
from ._protocol import Request, error_from_response
from ._retry import parse_retry_after
from ._sse import SSEDecoder

__all__ = ["SyncShell"]

T = TypeVar("T")


class SyncShell:
    """A pooled, thread-safe connection to one server that runs plans: ``_run`` (complete answers), ``_stream``
    (SSE), ``_prepare`` (steps that need answers before their last plan)."""

    _kind: ClassVar[str] = "sync"
    _conn: Connection

    def _init_shell(self, options: ConnectionOptions) -> None:
        """Read the environment once (:func:`connect`) and open the pool (it connects on first use)."""
        self._options = options
        self._conn = conn = connect(options)
        session = requests.Session()
        size = options.max_connections or DEFAULT_MAX_CONNECTIONS[self._kind]
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # requests would re-read the environment (proxy variables, CA bundle, ~/.netrc) on every request, a tenth
        # of a small request's CPU; connect() read it once.
        session.trust_env = False
        session.proxies = conn.proxies
        session.verify = conn.verify
        self._session = session
        self._flights: dict[str, Future[Any]] = {}
        self._flights_lock = threading.Lock()
        self._timeouts = (options.connect_timeout, options.timeout)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def __del__(self) -> None:
        # A client dropped without close() (e.g. evicted from the shared pool while a caller still held it)
        # closes its sockets when the last reference goes, instead of leaving them to the socket finalizers.
        session = getattr(self, "_session", None)
        if session is not None:
            session.close()

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} holds a connection pool and an API key; create a new one instead of pickling"
        )

    def health(self) -> bool:
        """True when ``GET /health`` answers 200 (no retries: a health check reports, it does not wait)."""
        try:
            r = self._session.get(self._conn.url("/health"), timeout=self._timeouts, headers=self._conn.headers)
        except requests.RequestException:
            return False
        return r.status_code == 200

    # --------------------------------------------------------------------------------------------- driving plans

    def _prepare(self, steps: Steps[T]) -> T:
        """Run the plans ``steps`` yields, sending back each result (or throwing in its error); its return value."""
        try:
            plan = next(steps)
            while True:
                try:
                    result = self._run(plan) if plan.share is None else self._run_shared(plan)
                except HFEndpointError as err:
                    plan = steps.throw(err)
                else:
                    plan = steps.send(result)
        except StopIteration as done:
            value: T = done.value
            return value

    def _run_shared(self, plan: Plan[T]) -> T:
        """``_run``, but callers asking for the same shared plan at the same time wait for the first one's answer."""
        assert plan.share is not None
        with self._flights_lock:
            flight = self._flights.get(plan.share)
            mine = flight is None
            if flight is None:
                flight = self._flights[plan.share] = Future()
        if not mine:
            result: T = flight.result()
            return result
        try:
            result = self._run(plan)
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            with self._flights_lock:
                del self._flights[plan.share]

    def _run(self, plan: Plan[T]) -> T:
        while True:
            try:
                resp = self._send(plan.request)
                check_response(resp)
                assert plan.parse is not None
                return plan.parse(resp)
            except HFEndpointError as err:
                nxt = plan.on_error(err)
                if nxt is None:
                    raise
                plan = nxt

    def _stream(self, plan: Plan[T]) -> Iterator[T]:
        while True:
            delivered = False
            try:
                raw = self._request(plan.request)
                assert plan.converter is not None
                conv = plan.converter(raw.headers.get("x-request-id"), raw.url)
                with raw:
                    for data in _events(raw, self._conn.url(plan.request.path)):
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

    def _send(self, request: Request) -> Response:
        r = self._request(request)
        return Response(r.status_code, r.headers, r.content, r.url)

    def _request(self, request: Request) -> requests.Response:
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
                    r = self._session.request(
                        request.method, url, data=body, headers=headers, timeout=self._timeouts, stream=request.stream
                    )
                except requests.exceptions.ConnectTimeout as exc:
                    err: HFEndpointError = APITimeoutError(
                        f"could not connect within {self._timeouts[0]} s: {exc}",
                        error_type="connect_timeout",
                        url=url,
                    )
                except requests.exceptions.ReadTimeout as exc:
                    err = APITimeoutError(
                        f"no answer within timeout={self._timeouts[1]} s: {exc}", error_type="read_timeout", url=url
                    )
                except requests.exceptions.SSLError as exc:
                    err = APIConnectionError(f"TLS failure: {exc}", error_type="tls", url=url)
                    raise err from exc
                except requests.exceptions.RequestException as exc:
                    err = APIConnectionError(f"connection failed: {_reason(exc)}", error_type="connection", url=url)
                else:
                    if r.status_code < 400:
                        if wait is not None:
                            wait.close(woke=True)
                        return r
                    err = (request.error_map or error_from_response)(
                        r.status_code,
                        r.content,
                        request_id=r.headers.get("x-request-id"),
                        url=url,
                        hints=conn.auth_hints,
                    )
                    retry_after = parse_retry_after(r.headers.get("retry-after"))
                    r.close()
                elapsed = time.monotonic() - start
                delay = conn.retry.delay(err, attempt, elapsed, retry_after)
                if delay is None:
                    err.retry_after = retry_after  # (a client for several endpoints cools this one down by it)
                    raise conn.retry.exhausted(err, elapsed, attempt + 1)
                # A TTY shows cold starts as a ticking "elapsed / budget" line; logs get one warning per retry.
                if wait is None:
                    wait = RetryWait(conn.retry.cold_start_timeout)
                for pause in wait.pauses(err, attempt, elapsed, delay):
                    time.sleep(pause)
                attempt += 1
        finally:
            if wait is not None:
                wait.close()


def _events(raw: requests.Response, url: str) -> Iterator[bytes]:
    """SSE data payloads of a streamed response; dropped connections and read timeouts become our errors."""
    decoder = SSEDecoder()
    try:
        for chunk in raw.iter_content(chunk_size=None):
            yield from decoder.feed(chunk)
    except requests.exceptions.ConnectionError as exc:
        if exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError):
            raise APITimeoutError(
                f"no streamed event within the read timeout: {_reason(exc)}", error_type="read_timeout", url=url
            ) from exc
        raise IncompleteStreamError(f"the connection dropped mid-stream: {_reason(exc)}", url=url) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        # urllib3 reports a connection closed inside a chunked body as a bad chunk length: say what happened.
        raise IncompleteStreamError(
            f"the connection dropped mid-stream (chunked body cut off: {_reason(exc)})", url=url
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise IncompleteStreamError(f"the stream broke off: {_reason(exc)}", url=url) from exc
    yield from decoder.close()


def _reason(exc: BaseException) -> str:
    # urllib3 nests the root cause several levels deep; the innermost message is the useful one.
    inner: BaseException = exc
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    return str(inner) or type(inner).__name__
