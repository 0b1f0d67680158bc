"""Several endpoints behind one client: which one a request goes to, and what a failure does (pure: no I/O).

The policy, after LiteLLM's Router (least-busy routing, cooldowns) but held per client, never in globals:

- **Balancing**: the endpoint with the fewest requests in flight per unit of weight; ties broken at random.
- **Failover**: a failure that says "this endpoint, not this request" (:func:`moves`: no connection, a timeout, a
  dropped answer before anything reached the caller, 408, 429, 5xx, a cold-start 503, a paused endpoint) moves the
  request to another endpoint at once. A rejected request (any other 4xx) is not sent elsewhere: it would be
  rejected there too.
- **Cooldown**: the failed endpoint is left out for a while, growing with repeated failures
  (``cooldown_base * 2**(n-1)``, at most ``cooldown_max``); the server's ``Retry-After`` sets it instead. When the
  cooldown ends the endpoint is *probing*: the client checks it in the background (``GET /health``) and it gets
  requests again once that answers. While others can take a request, nobody's request waits for a cooling one.
- **Rounds**: a request tries each endpoint at most once per round (warm ones first, then cooling ones, soonest
  back first); when all have failed, the client waits as its :class:`~hf_endpoint._retry.RetryPolicy` says
  (``max_retries``, ``cold_start_timeout``) and starts another round, or gives up with every endpoint's answer.

The state is one :class:`EndpointHealth` per endpoint; the client calls the methods under its lock, with the
time (``time.monotonic()``) as an argument, so tests drive the clock.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import (
    AllEndpointsFailedError,
    APIConnectionError,
    APIStatusError,
    EndpointPausedError,
    HFEndpointError,
    IncompleteStreamError,
)
from ._retry import RetryPolicy

__all__ = ["EndpointHealth", "Failover", "Router", "moves"]

#: Latencies kept per endpoint for the percentiles of ``endpoint_stats()``.
LATENCY_WINDOW = 1000


def moves(error: HFEndpointError) -> bool:
    """Whether ``error`` says the endpoint (not the request) failed, so another endpoint may answer."""
    if isinstance(error, (APIConnectionError, IncompleteStreamError, EndpointPausedError)):
        return True
    if isinstance(error, APIStatusError) and error.status_code is not None:
        return error.status_code >= 500 or error.status_code in (408, 429)
    return False


@dataclass(slots=True)
class EndpointHealth:
    """What the router knows of one endpoint (counters for ``endpoint_stats()`` included)."""

    url: str
    weight: float = 1.0
    #: Only the available endpoints of the lowest priority get requests (fallbacks have higher numbers).
    priority: int = 0
    in_flight: int = 0
    answered: int = 0
    failed: int = 0
    #: Failures since the last answer: the cooldown grows with them.
    streak: int = 0
    #: Left out until then (monotonic seconds); then probing until a probe or a request succeeds.
    cooldown_until: float = 0.0
    probing: bool = False
    #: A probe is running (the client's background check): no second one is started.
    probe_running: bool = False
    last_error: str | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    def available(self, now: float) -> bool:
        return not self.probing and self.cooldown_until <= now


class Router:
    """The routing state of one client's endpoints (see the module docstring)."""

    def __init__(
        self,
        endpoints: Sequence[tuple[str, float] | tuple[str, float, int]],
        *,
        cooldown_base: float = 1.0,
        cooldown_max: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoints = [EndpointHealth(*ep) for ep in endpoints]
        #: How many endpoints are cooling down or waiting for their probe (0: the common case, nothing to probe).
        self.cooling = 0
        self.cooldown_base = cooldown_base
        self.cooldown_max = cooldown_max
        self._rng = rng or random.Random()

    def choose(self, now: float, exclude: frozenset[int] | set[int] = frozenset()) -> int | None:
        """The endpoint for the next attempt: the least busy available one (per weight, ties at random) of the
        lowest priority; when none is available, the cooling one back soonest; None when every endpoint is in
        ``exclude``."""
        best: list[int] = []
        best_load = (0, 0.0)
        for i, ep in enumerate(self.endpoints):
            if i in exclude or not ep.available(now):
                continue
            load = (ep.priority, ep.in_flight / ep.weight)
            if not best or load < best_load:
                best, best_load = [i], load
            elif load == best_load:
                best.append(i)
        if best:
            return best[0] if len(best) == 1 else self._rng.choice(best)
        rest = [i for i in range(len(self.endpoints)) if i not in exclude]
        if not rest:
            return None
        return min(rest, key=lambda i: (self.endpoints[i].cooldown_until, self.endpoints[i].in_flight))

    def started(self, i: int) -> None:
        self.endpoints[i].in_flight += 1

    def succeeded(self, i: int, latency: float) -> None:
        """A request answered: the endpoint is healthy again."""
        ep = self.endpoints[i]
        ep.in_flight -= 1
        ep.answered += 1
        ep.streak = 0
        ep.cooldown_until = 0.0
        if ep.probing:
            ep.probing = False
            self.cooling -= 1
        ep.last_error = None
        ep.latencies.append(latency)

    def released(self, i: int) -> None:
        """A request ended without saying anything of the endpoint (rejected as invalid, cancelled by a hedge)."""
        self.endpoints[i].in_flight -= 1

    def failed(self, i: int, error: HFEndpointError, now: float, retry_after: float | None = None) -> float:
        """A request failed there (``moves(error)``): cool the endpoint down; returns the cooldown in seconds."""
        ep = self.endpoints[i]
        ep.in_flight -= 1
        ep.failed += 1
        return self._cool(ep, error, now, retry_after)

    def probe_failed(self, i: int, error: HFEndpointError, now: float) -> float:
        ep = self.endpoints[i]
        ep.probe_running = False
        return self._cool(ep, error, now, None)

    def probe_succeeded(self, i: int) -> None:
        """The background check answered: requests go there again (the streak stays until a request succeeds, so
        a probe answering while requests still fail does not reset the growing cooldown)."""
        ep = self.endpoints[i]
        ep.probe_running = False
        if ep.probing:
            ep.probing = False
            self.cooling -= 1
        ep.cooldown_until = 0.0

    def probes_due(self, now: float) -> list[int]:
        """Endpoints whose cooldown is over and that no probe checks yet; marks them as being probed."""
        due = []
        for i, ep in enumerate(self.endpoints):
            if ep.probing and not ep.probe_running and ep.cooldown_until <= now:
                ep.probe_running = True
                due.append(i)
        return due

    def _cool(self, ep: EndpointHealth, error: HFEndpointError, now: float, retry_after: float | None) -> float:
        ep.streak += 1
        ep.last_error = _summary(error)
        if retry_after is not None:
            cooldown = min(retry_after, self.cooldown_max)
        else:
            cooldown = min(self.cooldown_base * 2 ** (ep.streak - 1), self.cooldown_max)
        ep.cooldown_until = max(ep.cooldown_until, now + cooldown)
        if not ep.probing:
            ep.probing = True
            self.cooling += 1
        return cooldown

    def stats(self, now: float) -> list[dict[str, Any]]:
        """One dict per endpoint: url, weight, in_flight, answered, failed, cooling_down_for (seconds, 0 when
        available), probing, last_error, latency percentiles p50/p90/p99 (seconds, None before any answer)."""
        out = []
        for ep in self.endpoints:
            lat = sorted(ep.latencies)
            out.append(
                {
                    "url": ep.url,
                    "weight": ep.weight,
                    "priority": ep.priority,
                    "in_flight": ep.in_flight,
                    "answered": ep.answered,
                    "failed": ep.failed,
                    "cooling_down_for": max(0.0, ep.cooldown_until - now),
                    "probing": ep.probing,
                    "last_error": ep.last_error,
                    "latency_p50": _percentile(lat, 0.50),
                    "latency_p90": _percentile(lat, 0.90),
                    "latency_p99": _percentile(lat, 0.99),
                }
            )
        return out


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(error: HFEndpointError) -> str:
    head = f"HTTP {error.status_code}" if error.status_code is not None else type(error).__name__
    return f"{head}: {error.message}"[:300]


class Failover:
    """One request's walk over the endpoints (pure: the client sends, sleeps and calls these under its lock)."""

    __slots__ = ("attempts", "errors", "last", "retry", "router", "start", "tried", "waits")

    def __init__(self, router: Router, retry: RetryPolicy, now: float) -> None:
        self.router = router
        self.retry = retry
        self.start = now
        self.tried: set[int] = set()
        self.errors: dict[str, HFEndpointError] = {}
        self.last: HFEndpointError | None = None
        self.waits = 0
        self.attempts = 0

    def next(self, now: float) -> tuple[int | None, float]:
        """``(i, 0)``: send the attempt to endpoint ``i`` (counted as in flight there); ``(None, s)``: every endpoint
        failed this round, wait ``s`` seconds and ask again. Raises :class:`AllEndpointsFailedError` when the
        budget is spent."""
        i = self.router.choose(now, self.tried)
        if i is not None:
            self.tried.add(i)
            self.attempts += 1
            self.router.started(i)
            return i, 0.0
        last = self.last
        assert last is not None  # (a round ends only after a failure)
        delay = self.retry.delay(last, self.waits, now - self.start, last.retry_after)
        if delay is None:
            raise AllEndpointsFailedError.of(self.errors, last, self.attempts)
        self.waits += 1
        self.tried.clear()
        return None, delay

    def hedge(self, now: float) -> int | None:
        """A second endpoint for a hedged stream (counted as in flight there), or None when there is none that is
        available and not tried yet."""
        tried = self.tried
        i = self.router.choose(now, tried)
        if i is None or not self.router.endpoints[i].available(now):
            return None
        tried.add(i)
        self.attempts += 1
        self.router.started(i)
        return i

    @staticmethod
    def counts(error: HFEndpointError) -> bool:
        """Whether ``error`` counts against the endpoint (see :func:`moves`)."""
        return moves(error)

    def failed(self, i: int, error: HFEndpointError, now: float) -> float | None:
        """The attempt at ``i`` failed: the endpoint's cooldown when the request moves on, None when ``error`` is
        the request's own (raise it)."""
        if not moves(error):
            self.router.released(i)
            return None
        self.errors[self.router.endpoints[i].url] = error
        self.last = error
        return self.router.failed(i, error, now, error.retry_after)
