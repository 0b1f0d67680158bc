"""Plans and steps: what a protocol hands the shells (pure data and pure functions; no I/O).

A **plan** is one request plus what to do with its answer: parse a complete response, convert a stream's events,
and react to an error (return the next plan to try, e.g. with ``max_new_tokens`` clamped, or None to raise).

A **steps** generator is a call that needs answers before it can build its last plan (ask ``/info`` once, then
chat): it yields plans, receives each one's parsed result (or has the error thrown in), and returns the plan of the
call (or None, when the call was only for its effect on the endpoint's state, as ``info()``). The shells drive it
(``_prepare``) and then run or stream the returned plan; that loop is the only logic
they hold, so every call of every protocol goes through the same two shells.

How a new protocol plugs in (TEI next): write plan builders, pure functions from typed inputs (and the endpoint's
:class:`~hf_endpoint._endpoint.EndpointState`) to :class:`Plan` objects, with their ``parse``/``converter``;
a call that must first learn something from the server is a steps generator. The client class is then a few
one-line methods on the shells (``self._result(steps)``, ``self._stream(plan)``), as in ``_client.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ._errors import HFEndpointError
from ._protocol import Request, error_from_response

__all__ = ["Plan", "Response", "Steps", "StreamConverter", "check_response", "no_retry"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(slots=True)  # (not frozen: see Request)
class Response:
    """A complete (non-stream) HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


class StreamConverter(Protocol[T_co]):
    """Turns a stream's SSE payloads into results; ``finish`` raises if the stream ended too early."""

    def feed(self, data: bytes) -> Sequence[T_co]: ...

    def finish(self) -> Sequence[T_co]: ...


def no_retry(err: HFEndpointError) -> Plan[Any] | None:
    """The default ``on_error``: no other plan to try."""
    return None


@dataclass(slots=True)  # (not frozen: see Request)
class Plan(Generic[T]):
    """A request and the pure functions that interpret what comes back."""

    request: Request
    parse: Callable[[Response], T] | None = None
    converter: Callable[[str | None, str], StreamConverter[T]] | None = None
    on_error: Callable[[HFEndpointError], Plan[T] | None] = no_retry
    #: Set on idempotent requests (``GET /info``): callers of one client that need it at the same time wait for one
    #: answer instead of each sending the request (50 concurrent first calls would otherwise ask ``/info`` 50 times).
    share: str | None = None


#: A call that runs plans before its own: yields them, receives their results, returns ``T`` (the call's plan).
Steps = Generator[Plan[Any], Any, T]


def check_response(resp: Response) -> None:
    """Raise the mapped error for a non-2xx answer."""
    if resp.status >= 400:
        raise error_from_response(resp.status, resp.body, request_id=resp.request_id, url=resp.url)
