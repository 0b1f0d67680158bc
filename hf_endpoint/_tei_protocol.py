"""TEI's wire format (pure): checking inputs, building request bodies, parsing answers.

Bodies omit a field rather than send ``null`` (TEI answers a ``null`` in most fields with axum's plain-text 422),
except ``truncate``, which is always sent (``False`` unless the caller asks for ``True``): a request that does not
say takes the server's ``auto_truncate``, which changed from off to on in TEI v1.9.0, so the same call would cut
the input on one server and fail on another. ``truncation_direction`` is sent capitalised, the one spelling every
TEI version since v1.3 accepts.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ._errors import InvalidRequestError, ResponseError
from ._protocol import parse_json
from ._tei_types import Prediction, Rank, SparseValue, TEIToken

__all__ = [
    "check_pairs",
    "check_texts",
    "embed_body",
    "merge_ranks",
    "openai_embeddings_body",
    "parse_embeddings",
    "parse_openai_embeddings",
    "parse_predictions",
    "parse_ranks",
    "parse_similarity",
    "parse_sparse",
    "parse_tokens",
    "predict_body",
    "rerank_body",
    "similarity_body",
    "tokenize_body",
    "with_instruction",
]

_EMBEDDINGS = TypeAdapter(list[list[float]])  # validated from the bytes in Rust, without json.loads' lists first
_RANKS = TypeAdapter(list[Rank])
_SPARSE = TypeAdapter(list[list[SparseValue]])
_PREDICTIONS: TypeAdapter[list[list[Prediction]] | list[Prediction]] = TypeAdapter(
    list[list[Prediction]] | list[Prediction]
)
_SCORES = TypeAdapter(list[float])
_TOKENS = TypeAdapter(list[list[TEIToken]])
_INDEX = attrgetter("index")
_SCORE_INDEX = attrgetter("score", "index")


# ---------------------------------------------------------------------------------------------- inputs


def check_texts(texts: str | Sequence[str], what: str = "texts") -> list[str]:
    """``texts`` as a list: one string is one input. Every item must be a non-empty string (TEI refuses an empty
    one with 400, and would refuse the whole batch)."""
    if isinstance(texts, str):
        texts = [texts]
    elif not isinstance(texts, Sequence) or isinstance(texts, (bytes, bytearray)):
        raise InvalidRequestError(f"{what} must be a string or a list of strings, not {type(texts).__name__}")
    out = list(texts)
    if set(map(type, out)) <= {str} and "" not in out:  # the common case, checked without a loop in Python
        return out
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidRequestError(f"{what}[{i}] is a {type(text).__name__}, not a string")
        if not text:
            raise InvalidRequestError(f"{what}[{i}] is an empty string; TEI refuses empty inputs (400): drop it")
    return out


def with_instruction(texts: Sequence[str], instruction: str | None) -> list[str]:
    """``texts`` with ``instruction`` written before each (E5's ``"query: "``, BGE's query instruction)."""
    return [instruction + text for text in texts] if instruction else list(texts)


def check_pairs(inputs: str | Sequence[str | Sequence[str]]) -> list[list[str]]:
    """``predict()`` inputs as TEI's batch form: each item is a text, or a ``(text, text_pair)`` pair."""
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, Sequence):
        raise InvalidRequestError(
            f"inputs must be a string or a list of texts / (text, pair) tuples, not {type(inputs).__name__}"
        )
    out: list[list[str]] = []
    for i, item in enumerate(inputs):
        parts = [item] if isinstance(item, str) else list(item) if isinstance(item, Sequence) else None
        if parts is None or not 1 <= len(parts) <= 2 or not all(isinstance(p, str) and p for p in parts):
            raise InvalidRequestError(
                f"inputs[{i}] must be a non-empty string or a (text, text_pair) pair of non-empty strings, "
                f"not {item!r:.80}"
            )
        out.append(parts)
    return out


def _direction(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in ("left", "right"):
        raise InvalidRequestError(f"truncation_direction={value!r} is invalid: use 'right' (the default) or 'left'")
    return value.capitalize()


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{name}={value!r} is invalid: True or False")
    return value


def _options(truncate: bool | None, truncation_direction: str | None, prompt_name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"truncate": False if truncate is None else _flag("truncate", truncate)}
    direction = _direction(truncation_direction)
    if direction is not None:
        body["truncation_direction"] = direction
    if prompt_name is not None:
        if not isinstance(prompt_name, str) or not prompt_name:
            raise InvalidRequestError(f"prompt_name={prompt_name!r} is invalid: a key of the model's prompts")
        body["prompt_name"] = prompt_name
    return body


def _dimensions(dimensions: int | None) -> int | None:
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise InvalidRequestError(f"dimensions={dimensions!r} is invalid: a whole number >= 1")
    return dimensions


# ---------------------------------------------------------------------------------------------- bodies
# Each builder returns the body without its inputs; the planner adds each request's share of them.


def embed_body(
    *,
    normalize: bool | None,
    truncate: bool | None,
    truncation_direction: str | None,
    prompt_name: str | None,
    dimensions: int | None,
    sparse: bool = False,
) -> dict[str, Any]:
    """``/embed`` (or ``/embed_sparse`` with ``sparse=True``, which has no ``normalize``/``dimensions``)."""
    body = _options(truncate, truncation_direction, prompt_name)
    if normalize is not None and not sparse:
        body["normalize"] = _flag("normalize", normalize)
    dims = _dimensions(dimensions)
    if dims is not None and not sparse:
        body["dimensions"] = dims
    return body


def rerank_body(
    query: str, *, truncate: bool | None, raw_scores: bool, return_text: bool, truncation_direction: str | None
) -> dict[str, Any]:
    if not isinstance(query, str) or not query:
        raise InvalidRequestError("query must be a non-empty string")
    body: dict[str, Any] = {"query": query, **_options(truncate, truncation_direction)}
    if _flag("raw_scores", raw_scores):
        body["raw_scores"] = True
    if _flag("return_text", return_text):
        body["return_text"] = True
    return body


def predict_body(*, truncate: bool | None, raw_scores: bool, truncation_direction: str | None) -> dict[str, Any]:
    body = _options(truncate, truncation_direction)
    if _flag("raw_scores", raw_scores):
        body["raw_scores"] = True
    return body


def similarity_body(
    *, truncate: bool | None, truncation_direction: str | None, prompt_name: str | None
) -> dict[str, Any]:
    """``/similarity``'s options go in ``parameters``; the sentences in ``inputs``."""
    return {"parameters": _options(truncate, truncation_direction, prompt_name)}


def tokenize_body(*, add_special_tokens: bool, prompt_name: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if not _flag("add_special_tokens", add_special_tokens):
        body["add_special_tokens"] = False
    if prompt_name is not None:
        body["prompt_name"] = prompt_name
    return body


def openai_embeddings_body(*, model: str | None, dimensions: int | None) -> dict[str, Any]:
    """``/v1/embeddings`` (OpenAI's shape; floats, the default ``encoding_format``)."""
    body: dict[str, Any] = {}
    if model:
        body["model"] = model
    dims = _dimensions(dimensions)
    if dims is not None:
        body["dimensions"] = dims
    return body


# ---------------------------------------------------------------------------------------------- answers


def _validate(adapter: TypeAdapter[Any], body: bytes, what: str, url: str | None) -> Any:
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        parse_json(body, what, url)  # not JSON at all: says so
        raise ResponseError(f"unexpected {what} answer: {body[:200]!r}", url=url) from exc


def parse_embeddings(body: bytes, url: str | None = None) -> list[list[float]]:
    """``/embed``: one vector per input, in input order."""
    out: list[list[float]] = _validate(_EMBEDDINGS, body, "/embed", url)
    return out


def parse_sparse(body: bytes, url: str | None = None) -> list[list[SparseValue]]:
    out: list[list[SparseValue]] = _validate(_SPARSE, body, "/embed_sparse", url)
    return out


def parse_ranks(body: bytes, url: str | None = None, offset: int = 0) -> list[Rank]:
    """``/rerank``: ranks as TEI sorts them; ``offset`` (where this request's texts start among the caller's) is
    added to each ``index``."""
    out: list[Rank] = _validate(_RANKS, body, "/rerank", url)
    if offset:
        # Objects just made from this answer, changed before anyone sees them; written in their __dict__ (the
        # validated int stays an int, and ``index`` is already in the fields set) because pydantic's setattr was
        # the costliest step of reading the ranks (tei_bench's async rerank rows). tests/benchmarks/test_fast_paths.py
        # checks it against the plain assignment.
        for r in out:
            r.__dict__["index"] += offset
    return out


def parse_predictions(body: bytes, url: str | None = None) -> list[list[Prediction]]:
    """``/predict``: batch-shaped (a single input's flat list is wrapped)."""
    out = _validate(_PREDICTIONS, body, "/predict", url)
    if out and isinstance(out[0], Prediction):
        return [out]
    return list(out)


def parse_similarity(body: bytes, url: str | None = None) -> list[float]:
    out: list[float] = _validate(_SCORES, body, "/similarity", url)
    return out


def parse_tokens(body: bytes, url: str | None = None) -> list[list[TEIToken]]:
    out: list[list[TEIToken]] = _validate(_TOKENS, body, "/tokenize", url)
    return out


def parse_openai_embeddings(body: bytes, n: int, url: str | None = None) -> list[list[float]]:
    """``/v1/embeddings``: ``data`` put in input order by each item's ``index`` (not by position), floats or
    base64 (little-endian f32, as TEI and OpenAI send it)."""
    doc = parse_json(body, "/v1/embeddings", url)
    data = doc.get("data") if isinstance(doc, Mapping) else None
    if not isinstance(data, list):
        raise ResponseError(f"unexpected /v1/embeddings answer: {body[:200]!r}", url=url)
    out: list[list[float] | None] = [None] * n
    for item in data:
        index = item.get("index") if isinstance(item, Mapping) else None
        vector = item.get("embedding") if isinstance(item, Mapping) else None
        if not isinstance(index, int) or not 0 <= index < n or out[index] is not None:
            raise ResponseError(
                f"/v1/embeddings: item index {index!r} is missing, repeated or outside 0..{n - 1}", url=url
            )
        out[index] = _vector(vector, url)
    missing = [i for i, v in enumerate(out) if v is None]
    if missing:
        raise ResponseError(f"/v1/embeddings: no embedding for inputs {missing[:10]}", url=url)
    return out  # type: ignore[return-value]


def _vector(value: Any, url: str | None) -> list[float]:
    if isinstance(value, str):
        floats = array("f")
        floats.frombytes(base64.b64decode(value))
        if sys.byteorder != "little":
            floats.byteswap()
        return floats.tolist()
    if isinstance(value, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        return [float(x) for x in value]
    raise ResponseError(f"/v1/embeddings: an embedding is not a list of numbers: {str(value)[:100]}", url=url)


def merge_ranks(chunks: Sequence[range], parts: Sequence[Sequence[Rank]], top_n: int | None) -> list[Rank]:
    """The ranks of every request (their ``index`` already among the caller's texts, see :func:`parse_ranks`) in
    TEI's order (score, highest first; on a tie the higher index first), cut to ``top_n``.

    Each request must rank each of its texts exactly once: a missing or repeated index would otherwise attach a
    score to the wrong text.
    """
    out: list[Rank] = []
    for chunk, ranks in zip(chunks, parts, strict=True):
        seen = sorted(map(_INDEX, ranks))
        if seen != list(chunk):
            local = [i - chunk.start for i in seen[:20]]
            raise ResponseError(
                f"/rerank: for texts {chunk.start}..{chunk.stop - 1} the server ranked indices {local}, "
                f"not each of 0..{len(chunk) - 1} once"
            )
        out.extend(ranks)
    out.sort(key=_SCORE_INDEX, reverse=True)
    return out if top_n is None else out[:top_n]
