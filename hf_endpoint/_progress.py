"""Progress for long waits: one line rewritten in place on a terminal, plain log records elsewhere.

Two waits are long enough to need it: preparing the tiny model on first run (~250 MB written and hashed) and
waiting for a scaled-to-zero endpoint to wake (minutes). Carriage returns make logs, CI output and notebooks
unreadable, so the live line is drawn only when stderr is a TTY; otherwise each step is a normal log record on
the ``hf_endpoint`` logger.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from ._errors import EndpointUnavailableError, HFEndpointError

__all__ = ["ByteProgress", "ProgressLine", "RetryWait", "is_tty"]

logger = logging.getLogger("hf_endpoint")


def is_tty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressLine:
    """A status line redrawn in place with ``\\r`` when ``stream`` (default: stderr now) is a TTY; else silent."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.live = is_tty(self.stream)
        self._width = 0

    def show(self, text: str) -> None:
        if not self.live:
            return
        # Pad with spaces so a shorter line fully covers the previous one.
        self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
        self.stream.flush()
        self._width = len(text)

    def end(self, text: str | None = None) -> None:
        """Finish the line (with a last text) so later output starts on a fresh line; no-op if nothing shown."""
        if not self._width:
            return
        if text is not None:
            self.show(text)
        self.stream.write("\n")
        self.stream.flush()
        self._width = 0


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
                type(err).__name__, err.message[:200], attempt + 1, elapsed, self.budget, delay,
            )  # fmt: skip
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


class ByteProgress:
    """``label: done / total MB``: a live line on a TTY (redrawn at most every 0.1 s), else a log line per stage."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.line = ProgressLine(stream)
        self._start = self._drawn = time.monotonic()
        logger.info("hf_endpoint: %s: %.0f MB", label, total / 1e6)
        self._draw()

    def _draw(self) -> None:
        self.line.show(f"{self.label}: {self.done / 1e6:.0f} / {self.total / 1e6:.0f} MB")

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._draw()

    def finish(self) -> None:
        seconds = time.monotonic() - self._start
        self.line.end(f"{self.label}: {self.total / 1e6:.0f} MB in {seconds:.1f} s")
        logger.info("hf_endpoint: %s: done in %.1f s", self.label, seconds)
