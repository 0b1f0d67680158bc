"""A progress line for long waits: rewritten in place on a terminal, plain log records elsewhere.

Two waits are long enough to need it: preparing the tiny model on first run (~250 MB written and hashed, the
server's ``ByteProgress``) and waiting for a scaled-to-zero endpoint to wake (minutes, the transport's
``RetryWait`` in ``_progress``). Carriage returns make logs, CI output and notebooks unreadable, so the live line is
drawn only when stderr is a TTY; otherwise each step is a normal log record on the ``hf_endpoint`` logger.

A leaf: it imports nothing of this distribution, which is why the local server (an independent test oracle that
imports no client module) may use it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

__all__ = ["ByteProgress", "ProgressLine", "is_tty"]

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
