"""Reporting the retries of one request: a ticking "waiting for the endpoint to wake" line on a terminal, one
warning per retry in logs (the line itself is ``_terminal.ProgressLine``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TextIO

from ._errors import EndpointUnavailableError, HFEndpointError
from ._terminal import ProgressLine

__all__ = ["RetryWait"]

logger = logging.getLogger("hf_endpoint")


class RetryWait:
    """Reports the retries of one request; on a TTY, a cold start is a ticking "elapsed / budget" line.

    ``pauses`` yields the pieces of one backoff delay for the caller to sleep (``time.sleep`` or
    ``asyncio.sleep``: the same code serves both shells), redrawing the line between them.
    """

    def __init__(self, budget: float, stream: TextIO | None = None) -> None:
        self.budget = budget
        self._stream = stream
        self._line: ProgressLine | None = None  # made at the first retry: most requests never retry
        self._elapsed = 0.0

    @property
    def line(self) -> ProgressLine:
        if self._line is None:
            self._line = ProgressLine(self._stream)
        return self._line

    def pauses(self, err: HFEndpointError, attempt: int, elapsed: float, delay: float) -> Iterator[float]:
        if not (self.line.live and isinstance(err, EndpointUnavailableError)):
            logger.warning(
                "hf_endpoint: %s: %s (attempt %d, %.0f/%.0f s); retrying in %.1f s",
                type(err).__name__,
                err.message[:200],
                attempt + 1,
                elapsed,
                self.budget,
                delay,
            )
            yield delay
            return
        end = elapsed + delay
        while True:
            self._elapsed = elapsed
            status = f" ({err.status_code})" if err.status_code else ""
            self.line.show(f"waiting for the endpoint to wake{status}: {elapsed:.0f} s / {self.budget:.0f} s")
            step = min(1.0, end - elapsed)
            if step <= 0:
                return
            yield step
            elapsed += step

    def close(self, *, woke: bool = False) -> None:
        """End the live line, if any; ``woke``: the request finally succeeded."""
        if self._line is None:
            return  # no retry, nothing shown (and no per-request isatty() call)
        self._line.end(f"the endpoint woke after {self._elapsed:.0f} s" if woke else None)
