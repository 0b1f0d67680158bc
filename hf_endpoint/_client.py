"""The synchronous shell: sends plans over a pooled ``requests.Session``, with retries."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter

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

__all__ = ["TGIClient"]

T = TypeVar("T")


class TGIClient(ClientBase):
    """A client for one TGI server or Hugging Face Inference Endpoint (synchronous, pooled, thread-safe).

    ``base_url`` is the server's root URL. The token is ``api_key`` or the first of ``HF_TOKEN``,
    ``HUGGING_FACE_HUB_TOKEN``, ``HUGGINGFACEHUB_API_TOKEN``, ``HUGGINGFACE_API_KEY``; none is needed for a local
    server. ``timeout`` is the read timeout between two bytes (so, per streamed event), ``max_retries`` bounds
    retries of 429/connection failures, ``cold_start_timeout`` how long a scaled-to-zero endpoint may take to
    wake. ``route`` picks the Messages API (``"chat"``), the native route with client-side chat templates
    (``"generate"``), or ``"auto"``. ``verify`` is TLS verification (on by default) or a CA bundle path. A token is
    sent over plain ``http://`` only to loopback hosts unless ``allow_insecure_http=True``: an explicit ``api_key``
    for a remote ``http://`` URL is refused, one from the environment is not sent. The proxy variables
    (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) and ``REQUESTS_CA_BUNDLE`` are read once, when the
    client is created.
    """

    _default_max_connections = 32

    def _open(self) -> None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self._max_connections, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # requests would re-read the environment (proxy variables, CA bundle, ~/.netrc) on every request, ~0.1 ms
        # or a tenth of a small request's CPU; ClientCore read it once.
        session.trust_env = False
        session.proxies = self._core.proxies
        session.verify = self._core.verify
        self._session = session
        self._timeouts = (self._core.connect_timeout, self._core.timeout)

    def __enter__(self) -> TGIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # --------------------------------------------------------------------------------------------- public

    def info(self) -> Info | None:
        """``GET /info`` (cached). ``None`` when the server has no ``/info`` (not TGI)."""
        if not self._core.info_known:
            try:
                info = self._run(self._core.info_plan())
            except HFEndpointError as err:
                if not ClientCore.info_missing(err):
                    raise
                info = None
                self._core.served_model = self._try_models()
            self._core.set_info(info)
        return self._core.info_cache

    def health(self) -> bool:
        """True when ``GET /health`` answers 200 (no retries: a health check reports, it does not wait)."""
        try:
            r = self._session.get(self._core.url("/health"), timeout=self._timeouts, headers=self._core.headers)
        except requests.RequestException:
            return False
        return r.status_code == 200

    def tokenize(self, text: str) -> list[TokenizedToken]:
        """The server's own tokenization of ``text`` (``POST /tokenize``)."""
        return self._run(self._core.tokenize_plan(text))

    def generate(self, prompt: str, **params: Any) -> GenerateResponse:
        """``POST /generate`` with TGI's parameters (``max_new_tokens``, ``temperature``, ``details``, ...)."""
        result: GenerateResponse = self._run(self._core.generate_plan(prompt, params, stream=False))
        return result

    def generate_stream(self, prompt: str, **params: Any) -> Iterator[StreamResponse]:
        """``POST /generate_stream``: one :class:`StreamResponse` per token; the last has ``generated_text``."""
        plan = self._core.generate_plan(prompt, params, stream=True)
        return self._stream(plan)

    def chat(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> ChatCompletion:
        """An OpenAI-shaped chat completion, by the Messages API or the native route (see ``route``)."""
        start = time.perf_counter()
        plan = self._chat_plan(messages, tools, tool_choice, response_format, route, params, stream=False)
        result: ChatCompletion = self._run(plan)
        assign(result, elapsed=time.perf_counter() - start)
        return result

    def chat_stream(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> Iterator[ChatCompletionChunk]:
        """Streamed chat: :class:`ChatCompletionChunk` objects, the last with ``usage`` and ``choices == []``."""
        plan = self._chat_plan(messages, tools, tool_choice, response_format, route, params, stream=True)
        return self._stream(plan)

    # --------------------------------------------------------------------------------------------- internals

    def _chat_plan(self, messages: Sequence[Any], tools: Any, tool_choice: Any, response_format: Any,
                   route: Route | None, params: dict[str, Any], *, stream: bool) -> Plan[Any]:  # fmt: skip
        if self._core.needs_info(route):
            self.info()
        return self._core.chat_plan(messages, tools=tools, tool_choice=tool_choice, response_format=response_format,
                                    params=params, stream=stream, route=route)  # fmt: skip

    def _try_models(self) -> str | None:
        try:
            return self._run(self._core.models_plan())
        except HFEndpointError:
            return None

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
                raw = self._send_stream(plan.request)
                assert plan.converter is not None
                conv = plan.converter(raw.headers.get("x-request-id"), raw.url)
                with raw:
                    for data in _events(raw, self._core.url(plan.request.path)):
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

    def _send(self, request: Request) -> Response:
        r = self._request(request)
        return Response(r.status_code, r.headers, r.content, r.url)

    def _send_stream(self, request: Request) -> requests.Response:
        return self._request(request)

    def _request(self, request: Request) -> requests.Response:
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
                    r = self._session.request(request.method, url, data=body, headers=headers,
                                              timeout=self._timeouts, stream=request.stream)  # fmt: skip
                except requests.exceptions.ConnectTimeout as exc:
                    err: HFEndpointError = APITimeoutError(
                        f"could not connect within {self._timeouts[0]} s: {exc}", error_type="connect_timeout",
                        url=url,
                    )  # fmt: skip
                except requests.exceptions.ReadTimeout as exc:
                    err = APITimeoutError(f"no answer within timeout={self._timeouts[1]} s: {exc}",
                                          error_type="read_timeout", url=url)  # fmt: skip
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
                        r.status_code, r.content, request_id=r.headers.get("x-request-id"), url=url,
                        hints=self._core.auth_hints,
                    )
                    retry_after = parse_retry_after(r.headers.get("retry-after"))
                    r.close()
                elapsed = time.monotonic() - start
                delay = self._core.retry.delay(err, attempt, elapsed, retry_after)
                if delay is None:
                    raise self._core.retry.exhausted(err, elapsed, attempt + 1)
                # A TTY shows cold starts as a ticking "elapsed / budget" line; logs get one warning per retry.
                if wait is None:
                    wait = RetryWait(self._core.retry.cold_start_timeout)
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
            raise APITimeoutError(f"no streamed event within the read timeout: {_reason(exc)}",
                                  error_type="read_timeout", url=url) from exc  # fmt: skip
        raise IncompleteStreamError(f"the connection dropped mid-stream: {_reason(exc)}", url=url) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        # urllib3 reports a connection closed inside a chunked body as a bad chunk length: say what happened.
        raise IncompleteStreamError(f"the connection dropped mid-stream (chunked body cut off: {_reason(exc)})",
                                    url=url) from exc  # fmt: skip
    except requests.exceptions.RequestException as exc:
        raise IncompleteStreamError(f"the stream broke off: {_reason(exc)}", url=url) from exc
    yield from decoder.close()


def _reason(exc: BaseException) -> str:
    # urllib3 nests the root cause several levels deep; the innermost message is the useful one.
    inner: BaseException = exc
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    return str(inner) or type(inner).__name__
