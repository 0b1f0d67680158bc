"""Splitting any number of inputs into requests a TEI server accepts (pure).

TEI refuses a whole request whose batch is larger than ``max_client_batch_size`` (422, or 413 before v1.9) or whose
body is larger than its payload limit (axum's plain-text 413, 2,000,000 bytes by default); it never splits one
itself. :func:`plan_batches` cuts the inputs, in order, into contiguous runs that respect three limits:

* **items**: at most ``max_items`` inputs a request (the server's ``max_client_batch_size``);
* **bytes**: the JSON body fits the payload limit. Sizes are exact: each input's size is the length of its own JSON
  encoding, made by the same encoder the request is sent with;
* **tokens**: the estimated tokens of a request stay within ``max_tokens`` (the server's ``max_batch_tokens``, its
  budget for one forward batch; a larger request is not refused, but fills several batches and delays every other
  request). Counting exactly would need a ``/tokenize`` round trip per input, as costly as the embedding itself,
  so the estimate is an upper bound instead: an input's UTF-8 length plus two special tokens (no tokenizer TEI
  serves makes more than one token per byte: WordPiece pieces hold at least one character, byte-level BPE and
  byte-fallback SentencePiece at least one byte), capped at ``max_input_length`` when the server truncates. An
  overestimate only makes requests smaller. An input whose estimate alone exceeds the budget goes alone.

Runs are contiguous, so results are put back in input order by concatenation (:func:`reassemble`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import TypeVar

from ._errors import InvalidRequestError, ResponseError

__all__ = ["json_size", "plan_batches", "plan_texts", "reassemble", "token_estimate"]

T = TypeVar("T")

# The same encoding as Request.encoded_body (compact, ensure_ascii=False), for measuring a run of texts at once.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_size(text: str) -> int:
    """Bytes of ``text`` as a JSON string (quotes and escapes included), as ``Request.encoded_body`` writes it
    (``ensure_ascii=False``, UTF-8)."""
    if text.isascii():  # its escaped form is ASCII too: one byte a character
        return len(encode_basestring(text))
    return len(encode_basestring(text).encode("utf-8"))


def token_estimate(size: int, cap: int | None) -> int:
    """An upper bound on an input's tokens from its JSON size (>= UTF-8 bytes + 2 quotes, standing for the two
    special tokens), capped at ``cap`` (``max_input_length``) when the server cuts longer inputs."""
    return size if cap is None else min(size, cap)


def plan_batches(
    sizes: Sequence[int],
    *,
    max_items: int,
    max_bytes: int,
    tokens: Sequence[int] | None = None,
    max_tokens: int | None = None,
) -> list[range]:
    """Contiguous index ranges covering ``range(len(sizes))`` in order, each within the limits.

    ``sizes[i]`` is input i's JSON size; a request's items take ``sum(sizes) + (n - 1)`` bytes (the commas) out of
    ``max_bytes``, the room the body's envelope leaves. ``tokens[i]`` is input i's token estimate, summed against
    ``max_tokens``. An input too large for ``max_bytes`` on its own raises :class:`InvalidRequestError` naming it.
    """
    if max_items < 1:
        raise InvalidRequestError(f"max_items={max_items} is invalid: at least 1 input per request")
    budget = max_tokens if (max_tokens is not None and tokens is not None) else None
    out: list[range] = []
    start = 0
    used_bytes = used_tokens = 0
    for i, size in enumerate(sizes):
        if size > max_bytes:
            raise InvalidRequestError(
                f"input {i} is {size:,} bytes as JSON, more than fits one request under the payload limit "
                f"({max_bytes:,} bytes left for inputs): shorten it, or raise payload_limit= if the server was started "
                "with a larger --payload-limit"
            )
        n = i - start
        tok = tokens[i] if budget is not None and tokens is not None else 0
        fits = (
            n < max_items
            and used_bytes + size + (1 if n else 0) <= max_bytes
            and (budget is None or n == 0 or used_tokens + tok <= budget)
        )
        if not fits:
            out.append(range(start, i))
            start, used_bytes, used_tokens, n = i, 0, 0, 0
        used_bytes += size + (1 if n else 0)
        used_tokens += tok
    if start < len(sizes):
        out.append(range(start, len(sizes)))
    return out


def plan_texts(
    texts: Sequence[str],
    *,
    max_items: int,
    max_bytes: int,
    max_tokens: int | None,
    cap: int | None,
    extra_tokens: int = 0,
) -> tuple[list[range], list[str]]:
    """:func:`plan_batches` for strings (their sizes and token estimates, ``token_estimate(size, cap) +
    extra_tokens``, made here), with each range's texts JSON-encoded as a list: the piece of the request body the
    planner measured, so that the body is encoded once.

    Fast path (rerank of 1,000 texts, tests/benchmarks/tei_bench.py): when every run of ``max_items`` texts fits
    both limits as a whole (one measure of its encoding; its token bound, the run's size plus ``extra_tokens``
    each, is never below the sum of the estimates), greedy planning would cut exactly those runs. Otherwise the
    plain path plans from each text's size. tests/tei/test_tei_batching.py checks both give the same ranges.
    """
    if max_items < 1:
        raise InvalidRequestError(f"max_items={max_items} is invalid: at least 1 input per request")
    chunks: list[range] = []
    encoded: list[str] = []
    for start in range(0, len(texts), max_items):
        part = _dumps(texts[start : start + max_items])
        size = (len(part) if part.isascii() else len(part.encode("utf-8"))) - 2  # without the brackets
        n = min(max_items, len(texts) - start)
        if size > max_bytes or (max_tokens is not None and size + extra_tokens * n > max_tokens):
            break
        chunks.append(range(start, start + n))
        encoded.append(part)
    else:
        return chunks, encoded
    sizes = [json_size(text) for text in texts]
    tokens = [token_estimate(size, cap) + extra_tokens for size in sizes] if max_tokens is not None else None
    chunks = plan_batches(sizes, max_items=max_items, max_bytes=max_bytes, tokens=tokens, max_tokens=max_tokens)
    return chunks, [_dumps(texts[c.start : c.stop]) for c in chunks]


def reassemble(chunks: Sequence[range], results: Sequence[Sequence[T]], what: str) -> list[T]:
    """Each chunk's results concatenated in input order, after checking each chunk got one result per input
    (a server that drops or adds an item must not shift every later result onto the wrong input)."""
    out: list[T] = []
    for chunk, part in zip(chunks, results, strict=True):
        if len(part) != len(chunk):
            raise ResponseError(
                f"{what}: the server returned {len(part)} results for inputs {chunk.start}..{chunk.stop - 1} "
                f"({len(chunk)} inputs); refusing to guess which belongs to which"
            )
        out.extend(part)
    return out
