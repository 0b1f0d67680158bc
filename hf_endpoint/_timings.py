"""Timings users tune endpoints with: the server's ``x-*`` headers, and what the client measures on streams.

TGI sends its timing headers on non-stream answers only (a stream's headers leave before any work is done), so on
streams the client measures the time to the first token and the decoding speed itself, and puts them on the last
chunk. That last chunk also carries the usage: OpenAI, LiteLLM and TGI send a separate usage-only chunk
(``choices == []``) only when ``stream_options={"include_usage": True}`` is asked, and code written for them indexes
``choices[0]`` on every chunk.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._types import ChatCompletionChunk, Timings, assign

__all__ = ["FinalChunk", "server_timings", "stream_timings"]

# header -> (field, factor to seconds); TGI writes milliseconds except x-compute-time (seconds).
_HEADERS = (
    ("x-validation-time", "validation_time", 1e-3),
    ("x-queue-time", "queue_time", 1e-3),
    ("x-inference-time", "inference_time", 1e-3),
    ("x-total-time", "total_time", 1e-3),
    ("x-time-per-token", "time_per_token", 1e-3),
    ("x-compute-time", "compute_time", 1.0),
)
_COUNTS = (("x-prompt-tokens", "prompt_tokens"), ("x-generated-tokens", "generated_tokens"))


def server_timings(headers: Mapping[str, str]) -> Timings | None:
    """The timing headers of an answer as :class:`Timings`, or None when there are none (not TGI)."""
    if headers.get("x-total-time") is None and headers.get("x-compute-time") is None:
        return None
    values: dict[str, Any] = {}
    for header, name, factor in _HEADERS:
        number = _number(headers.get(header))
        if number is not None:
            values[name] = number * factor
    for header, name in _COUNTS:
        number = _number(headers.get(header))
        if number is not None:
            values[name] = int(number)
    return Timings(**values)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


class FinalChunk:
    """Wraps a chat stream's converter: the chunk that finishes the answer is held until the usage chunk after it
    (it carries the usage then, unless a separate usage chunk was asked for) and gets the stream's timings."""

    __slots__ = ("_first", "_inner", "_last", "_pending", "_separate_usage", "_start")

    def __init__(self, inner: Any, *, start: float, separate_usage: bool) -> None:
        self._inner = inner
        self._start = start
        self._separate_usage = separate_usage
        self._first: float | None = None  # when the first chunk with text or a tool call arrived
        self._last: float | None = None
        self._pending: ChatCompletionChunk | None = None

    def feed(self, data: bytes) -> Sequence[ChatCompletionChunk]:
        chunks: Sequence[ChatCompletionChunk] = self._inner.feed(data)
        return self._sort(chunks) if chunks else chunks

    def finish(self) -> Sequence[ChatCompletionChunk]:
        out = list(self._sort(self._inner.finish()))
        if self._pending is not None:
            out.append(self._close(self._pending))
            self._pending = None
        return out

    def _sort(self, chunks: Sequence[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        now = time.perf_counter()
        for chunk in chunks:
            choices = chunk.choices
            if choices:
                self._last = now
                if self._first is None and any([c.delta.content or c.delta.tool_calls for c in choices]):
                    self._first = now
            pending = self._pending
            if pending is not None:
                self._pending = None
                if not choices and chunk.usage is not None:  # the usage chunk after the finished answer
                    if self._separate_usage:
                        out += (pending, self._close(chunk))
                    else:
                        assign(pending, usage=chunk.usage)
                        out.append(self._close(pending))
                    continue
                out.append(pending)
            # (lists, not generators: this runs for every token of every stream)
            if choices and None not in [c.finish_reason for c in choices]:
                self._pending = chunk  # held until the usage chunk or the end, which come right after it
            elif not choices and chunk.usage is not None:
                out.append(self._close(chunk))  # usage with no finished answer before it: kept as sent
            else:
                out.append(chunk)
        return out

    def _close(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk:
        """The stream's last chunk: its client-side timings."""
        tokens = chunk.usage.completion_tokens if chunk.usage is not None else 0
        assign(chunk, timings=stream_timings(self._start, self._first, self._last, tokens))
        return chunk


def stream_timings(start: float, first: float | None, last: float | None, tokens: int) -> Timings:
    """Time to the first token from ``start``, and the tokens per second after it (None when unknown)."""
    rate = None
    if first is not None and last is not None and tokens > 1 and last > first:
        rate = (tokens - 1) / (last - first)
    return Timings(time_to_first_token=None if first is None else first - start, tokens_per_second=rate)
