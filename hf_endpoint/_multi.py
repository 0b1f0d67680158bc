"""``TGIClient(base_url=[...])``: one synchronous client for several endpoints (balancing, failover, cooldowns).

Each call is sent to the endpoint the :class:`~hf_endpoint._routing.Router` picks, through that endpoint's own
single-endpoint :class:`~hf_endpoint.TGIClient`; a failure that is the endpoint's (no connection, 408, 429, 5xx, a
cold start) moves it to another at once. A stream moves only before its first item reached the caller: after
that, an error is raised, never replayed elsewhere (nothing is delivered twice).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from ._client import TGIClient
from ._errors import HFEndpointError
from ._multi_base import MultiBase
from ._options import ChatOptions, ConnectionOptions
from ._routing import Failover
from ._sync_shell import SyncShell
from ._tgi_chat import ChatConfig
from ._types import (
    ChatCompletion,
    ChatCompletionChunk,
    GenerateResponse,
    Info,
    StreamResponse,
    TokenizedToken,
    assign,
)

__all__ = ["MultiTGIClient", "SyncRouted", "tag"]

R = TypeVar("R")
CL = TypeVar("CL", bound=SyncShell)

_TAGGED = (ChatCompletion, ChatCompletionChunk, GenerateResponse, StreamResponse)


def tag(result: R, url: str) -> R:
    """Mark a result (or streamed item) with the endpoint that answered it."""
    if isinstance(result, _TAGGED):
        assign(result, endpoint=url)
    return result


class SyncRouted(MultiBase, Generic[CL]):
    """The synchronous routing loop over the inner clients (shared by the TGI and TEI several-endpoint clients)."""

    _clients: list[CL]

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def health(self) -> bool:
        """True when at least one endpoint answers ``GET /health`` with 200."""
        return any(client.health() for client in self._clients)

    # ------------------------------------------------------------------------------------------- routing

    def _routed(self, fn: Callable[[CL], R]) -> R:
        self._start_probes()
        walk = self._begin()
        while True:
            i = self._pick(walk)
            started = time.monotonic()
            try:
                result = fn(self._clients[i])
            except HFEndpointError as err:
                self._failed(walk, i, err)  # (raises it when the request, not the endpoint, failed)
                continue
            except BaseException:
                self._released(i)
                raise
            self._succeeded(i, time.monotonic() - started)
            return tag(result, self._url(i))

    def _routed_stream(self, open_stream: Callable[[CL], Iterator[R]]) -> Iterator[R]:
        """Moves to another endpoint until the first item arrives; after it, an error is raised, not replayed."""
        self._start_probes()
        walk = self._begin()
        while True:
            i = self._pick(walk)
            started = time.monotonic()
            try:
                items = open_stream(self._clients[i])  # (the sync clients ask /info here, before the generator)
                first = next(items)
            except StopIteration:
                self._succeeded(i, time.monotonic() - started)
                return
            except HFEndpointError as err:
                self._failed(walk, i, err)
                continue
            except BaseException:
                self._released(i)
                raise
            break
        latency = time.monotonic() - started  # (a stream's latency: the time to its first item)
        url = self._url(i)
        try:
            yield tag(first, url)
            for item in items:
                yield tag(item, url)
        except HFEndpointError as err:
            self._broke(i, err)
            raise
        except BaseException:  # (the caller stopped reading: the endpoint did answer)
            self._succeeded(i, latency)
            raise
        else:
            self._succeeded(i, latency)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _pick(self, walk: Failover) -> int:
        """The endpoint of the request's next attempt; when every endpoint failed this round, after the wait."""
        while True:
            i, wait = self._next(walk)
            if i is not None:
                return i
            time.sleep(wait)

    def _start_probes(self) -> None:
        """Check cooled-down endpoints in the background (``GET /health``); they get requests again once it
        answers, so no caller's request waits on a waking endpoint while another can answer."""
        for i in self._due_probes():
            threading.Thread(target=self._probe, args=(i,), name="hf_endpoint-probe", daemon=True).start()

    def _probe(self, i: int) -> None:
        self._probe_done(i, self._clients[i].health())


class MultiTGIClient(SyncRouted[TGIClient], TGIClient):
    """:class:`~hf_endpoint.TGIClient` over several endpoints: the same methods, plus :meth:`endpoint_stats`.

    Results carry ``endpoint`` (the URL that answered). A call fails only when every endpoint failed within the
    budget (``max_retries`` rounds; ``cold_start_timeout`` while endpoints wake), with
    :class:`~hf_endpoint.AllEndpointsFailedError` listing each endpoint's answer; a rejected request (4xx other
    than 408/429) raises at once, as on one endpoint.
    """

    _clients: list[TGIClient]

    def _init_tgi(self, options: ConnectionOptions, chat: ChatOptions) -> None:
        self._options = options
        self._chat_options = chat
        self._chat = ChatConfig.load(chat)
        self._init_endpoints(options, chat, TGIClient)

    def __enter__(self) -> MultiTGIClient:
        return self

    # ------------------------------------------------------------------------------------------- calls

    # (chat's arguments go to the inner client as they came: the signature callers see, and its checks, are
    # TGIClient.chat's, which TGIClient([...]) is typed as)

    def info(self) -> Info | None:
        return self._routed(lambda c: c.info())

    def tokenize(self, text: str) -> list[TokenizedToken]:
        return self._routed(lambda c: c.tokenize(text))

    def generate(self, prompt: str, **params: Any) -> GenerateResponse:
        return self._routed(lambda c: c.generate(prompt, **params))

    def generate_stream(self, prompt: str, **params: Any) -> Iterator[StreamResponse]:
        return self._routed_stream(lambda c: c.generate_stream(prompt, **params))

    def chat(self, *args: Any, **kwargs: Any) -> ChatCompletion:
        return self._routed(lambda c: c.chat(*args, **kwargs))

    def chat_stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatCompletionChunk]:
        return self._routed_stream(lambda c: c.chat_stream(*args, **kwargs))
