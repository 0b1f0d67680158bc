"""What the sync and async clients for several endpoints share: one inner single-endpoint client per endpoint
(its own connection pool, ``/info`` and route: a TGI endpoint and an OpenAI-compatible one in one list both work),
the :class:`~hf_endpoint._routing.Router`, and the bookkeeping around one attempt.

The inner clients make one attempt each (``max_retries=0``, ``cold_start_timeout=0``): waiting and retrying is the
router's job, which moves a failed request to another endpoint at once instead of waiting out one endpoint's
backoff, and waits (by the client's own ``max_retries`` / ``cold_start_timeout``) only when every endpoint failed.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

from ._errors import HFEndpointError
from ._options import BaseURL, ConnectionOptions, EndpointSpec, parse_endpoints
from ._retry import RetryPolicy
from ._routing import Failover, Router

__all__ = ["MultiBase", "MultiDispatch"]

logger = logging.getLogger("hf_endpoint")


def inner_options(options: ConnectionOptions, spec: EndpointSpec) -> ConnectionOptions:
    """One endpoint's options: the client's, with the endpoint's URL (and token), one attempt per request."""
    own_key = spec.api_key is not None
    return dataclasses.replace(
        options,
        base_url=spec.url,
        api_key=spec.api_key if own_key else options.api_key,
        token_from_env=False if own_key else options.token_from_env,
        max_retries=0,
        cold_start_timeout=0.0,
        endpoints=(),
        hedge_after=None,
    )


class MultiDispatch:
    """``Client([url, url])`` makes the client's several-endpoint subclass (named by ``_multi_class``, imported on
    first use); one URL makes the client itself."""

    #: ``"module:Class"`` of the several-endpoint subclass, set by the concrete clients.
    _multi_class: str | None = None

    def __new__(cls, base_url: BaseURL | None = None, *args: Any, **kwargs: Any) -> Any:
        multi = cls._multi_class is not None and base_url is not None and not isinstance(base_url, str)
        if multi and parse_endpoints(base_url)[1]:  # type: ignore[arg-type]
            return object.__new__(cls._load_multi())
        return object.__new__(cls)

    @classmethod
    def _load_multi(cls) -> type[Any]:
        from importlib import import_module

        assert cls._multi_class is not None
        module, name = cls._multi_class.rsplit(":", 1)
        multi: type[Any] = getattr(import_module(module, __package__), name)
        return multi

    @classmethod
    def _class_for(cls, options: ConnectionOptions) -> type[Any]:
        """The class ``from_options`` makes: the several-endpoint one when the options list endpoints."""
        return cls._load_multi() if options.endpoints and cls._multi_class is not None else cls


class MultiBase:
    """The inner clients, the router and the lock that guards it (mixed into the multi clients)."""

    _clients: list[Any]
    _router: Router
    _retry: RetryPolicy
    _lock: threading.Lock
    _options: ConnectionOptions

    def _init_endpoints(self, options: ConnectionOptions, protocol: Any, inner: type[Any]) -> None:
        """One ``inner`` client per endpoint; ``protocol`` (ChatOptions, TEIOptions) takes the endpoint's route."""
        self._options = options
        self._clients = [
            inner.from_options(
                inner_options(options, spec),
                dataclasses.replace(protocol, route=spec.route) if spec.route is not None else protocol,
            )
            for spec in options.endpoints
        ]
        self._router = Router([(spec.url, spec.weight, spec.priority) for spec in options.endpoints])
        self._retry = RetryPolicy(max_retries=options.max_retries, cold_start_timeout=options.cold_start_timeout)
        self._lock = threading.Lock()

    def endpoint_stats(self) -> list[dict[str, Any]]:
        """Per endpoint: ``url``, ``weight``, ``priority``, ``in_flight``, ``answered``, ``failed``,
        ``cooling_down_for`` (seconds left, 0 when available), ``probing`` (waiting for its background check),
        ``last_error``, and latency percentiles ``latency_p50`` / ``latency_p90`` / ``latency_p99`` (seconds, over
        the last 1000 answers; a stream's latency is its time to first item)."""
        with self._lock:
            return self._router.stats(time.monotonic())

    @property
    def served_model(self) -> str | None:
        return next((c.served_model for c in self._clients if c.served_model), None)

    @property
    def endpoints(self) -> list[str]:
        return [ep.url for ep in self._router.endpoints]

    def _begin(self) -> Failover:
        return Failover(self._router, self._retry, time.monotonic())

    def _next(self, walk: Failover) -> tuple[int | None, float]:
        with self._lock:
            i, wait = walk.next(time.monotonic())
        if i is None and walk.last is not None:  # (a round ended: every endpoint failed this request once)
            logger.warning(
                "hf_endpoint: all %d endpoints failed (last: %s); trying again in %.1f s",
                len(self._router.endpoints),
                _short(walk.last),
                wait,
            )
        return i, wait

    def _failed(self, walk: Failover, i: int, err: HFEndpointError) -> None:
        """Record a failed attempt; re-raises ``err`` when it is the request's own (not the endpoint's)."""
        with self._lock:
            cooldown = walk.failed(i, err, time.monotonic())
        if cooldown is None:
            raise err
        logger.debug(
            "hf_endpoint: %s failed (%s): moving the request to another endpoint; %s cools down for %.1f s",
            self._router.endpoints[i].url,
            _short(err),
            self._router.endpoints[i].url,
            cooldown,
        )

    def _succeeded(self, i: int, latency: float) -> None:
        with self._lock:
            self._router.succeeded(i, latency)

    def _released(self, i: int) -> None:
        with self._lock:
            self._router.released(i)

    def _broke(self, i: int, err: HFEndpointError) -> None:
        """A stream failed after its first item reached the caller: counted against the endpoint, never moved."""
        with self._lock:
            if Failover.counts(err):
                self._router.failed(i, err, time.monotonic(), err.retry_after)
            else:
                self._router.released(i)

    def _due_probes(self) -> list[int]:
        if not self._router.cooling:  # (read without the lock: a probe missed now is started by the next request)
            return []
        with self._lock:
            return self._router.probes_due(time.monotonic())

    def _probe_done(self, i: int, ok: bool) -> None:
        with self._lock:
            if ok:
                self._router.probe_succeeded(i)
                logger.debug("hf_endpoint: %s answers its health check again", self._router.endpoints[i].url)
            else:
                err = HFEndpointError("GET /health did not answer 200", url=self._router.endpoints[i].url)
                self._router.probe_failed(i, err, time.monotonic())

    def _url(self, i: int) -> str:
        return self._router.endpoints[i].url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.endpoints!r})"


def _short(err: HFEndpointError) -> str:
    head = f"HTTP {err.status_code}" if err.status_code is not None else type(err).__name__
    return f"{head}: {err.message}"[:200]
