"""When to retry, and how long to wait (pure).

Retried: 429 (overloaded), 502/503/504 (cold start, proxy), refused or reset connections *before* a response,
and timeouts while connecting. Never retried: 4xx validation, a paused endpoint, and anything after the first
streamed byte reached the caller (a retry would repeat text the caller already has).

Two budgets: ``max_retries`` attempts for ordinary transient failures, and ``cold_start_timeout`` seconds for an
endpoint that is scaling up from zero (503/502 "starting"), which takes minutes, not seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ColdStartTimeoutError,
    EndpointPausedError,
    EndpointUnavailableError,
    HFEndpointError,
    RateLimitError,
)

__all__ = ["RetryPolicy", "parse_retry_after"]


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """``delay(error, attempt, elapsed)`` says how long to sleep before the next attempt, or None to give up."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    #: Seconds an endpoint may take to wake from scale-to-zero (503/502) before we give up.
    cold_start_timeout: float = 300.0
    #: Upper bound on one server-requested ``Retry-After`` wait.
    retry_after_max: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**attempt)]."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))

    def delay(
        self, error: HFEndpointError, attempt: int, elapsed: float, retry_after: float | None = None
    ) -> float | None:
        """``attempt`` counts retries already made (0 before the first retry); ``elapsed`` since the first try."""
        if isinstance(error, EndpointPausedError):
            return None
        if isinstance(error, EndpointUnavailableError):
            # Cold starts: keep trying, with backoff capped so we notice the wake-up soon, until the budget ends.
            wait = retry_after if retry_after is not None else self.backoff(attempt)
            wait = min(wait, self.retry_after_max)
            if attempt < self.max_retries:
                return wait
            if elapsed + wait <= self.cold_start_timeout:
                return max(wait, 1.0)
            return None
        if attempt >= self.max_retries:
            return None
        if isinstance(error, RateLimitError):
            if retry_after is not None:
                return min(retry_after, self.retry_after_max)
            return self.backoff(attempt)
        if isinstance(error, APITimeoutError):
            # A read timeout may mean the server is working on it: only connect timeouts are safe to repeat.
            return self.backoff(attempt) if error.error_type == "connect_timeout" else None
        if isinstance(error, APIConnectionError):
            return self.backoff(attempt)
        return None

    def exhausted(self, error: HFEndpointError, elapsed: float, attempts: int) -> HFEndpointError:
        """The error to raise when retries are over: cold starts say how long we waited."""
        # Retried and stopped by the budget: a cold start that outlasted it, whatever the jitter made of the
        # elapsed time (a next wait that would overrun the budget ends the retries early).
        if isinstance(error, EndpointUnavailableError) and self.cold_start_timeout > 0 and attempts > 1:
            out = ColdStartTimeoutError(
                f"{error.message} — still unavailable after {attempts} attempts over {elapsed:.0f} s "
                f"(cold_start_timeout={self.cold_start_timeout:g} s). A scaled-to-zero endpoint can take minutes "
                "to start: raise cold_start_timeout, or check the endpoint's state in the Hugging Face UI",
                status_code=error.status_code,
                error_type=error.error_type,
                request_id=error.request_id,
                url=error.url,
            )
            return out
        return error
