"""TEI's errors into the package's exception tree (pure).

TEI answers ``{"error", "error_type"}`` with capitalised types (``Validation``, ``Empty``, ``Tokenizer``,
``Overloaded``, ``Backend``, ``Unhealthy``), a flat ``{"message", "code", "type"}`` on ``/v1/embeddings``, and
axum's plain text for bodies it cannot read (400, 413, 415, 422); 401 comes with an empty body. Before v1.9.0 its
validation errors were 413s, so the type, not the status, decides. A call the served model cannot do (``/embed``
on a reranker) is a 424 ``Backend`` error; its message here names the call that fits, from ``/info``'s model type.
That is not checked before sending: a server may do more than TEI (the local server ranks with an embedding model).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Literal, TypeVar

from ._errors import (
    BadRequestError,
    ContextWindowExceededError,
    EndpointUnavailableError,
    GenerationError,
    HFEndpointError,
    ModelTypeError,
    RateLimitError,
    RequestValidationError,
)
from ._protocol import error_from_response
from ._tei_types import TEIInfo

__all__ = ["Call", "annotate_inputs", "tei_error"]

E = TypeVar("E", bound=HFEndpointError)

Call = Literal["embed", "embed_sparse", "similarity", "rerank", "predict", "tokenize", "openai"]

_CALLS: dict[str, Call] = {
    "/embed": "embed",
    "/embed_sparse": "embed_sparse",
    "/similarity": "similarity",
    "/rerank": "rerank",
    "/predict": "predict",
    "/tokenize": "tokenize",
    "/v1/embeddings": "openai",
}

# What each served model is called, and what to use with it.
_IS = {
    "embedding": "an embedding model",
    "splade": "a SPLADE (sparse) embedding model",
    "reranker": "a reranker",
    "classifier": "a classifier",
}
_USE = {
    "embedding": "embed() (LangChain: HFEndpointEmbeddings; LlamaIndex: HFEndpointEmbedding)",
    "splade": "embed_sparse(), or embed(normalize=False)",
    "reranker": "rerank() (LangChain: HFEndpointReranker; LlamaIndex: HFEndpointRerank)",
    "classifier": "predict()",
}
_WANTS: dict[Call, str] = {
    "embed": "an embedding model",
    "openai": "an embedding model",
    "similarity": "an embedding model",
    "embed_sparse": "a SPLADE (sparse) embedding model",
    "rerank": "a reranker",
    "predict": "a classifier or a reranker",
    "tokenize": "any model",
}

_TOO_LONG = re.compile(r"must have less than (?P<limit>\d+) (?P<unit>tokens|characters)\. Given: (?P<given>\d+)")
_OPENAI_WINDOW = re.compile(r"maximum context length is (?P<limit>\d+) tokens")
# TEI's, vLLM's and OpenAI's names for a rejected request ("" when the body has no type).
_VALIDATION_TYPES = ("validation", "", "badrequesterror", "invalid_request_error")
_BATCH = re.compile(r"batch size (?P<given>\d+) > maximum allowed batch size (?P<limit>\d+)")
# TEI's 424 messages for a call the model type lacks (router/src/http/server.rs, core/src/infer.rs).
_MODEL_TYPE = (
    "is not an embedding model",
    "is not a re-ranker model",
    "is not a classifier model",
    "not available for SPLADE models",
    "with SPLADE pooling",
)


def _served(info: TEIInfo | None) -> str | None:
    if info is None or info.kind is None:
        return None
    if info.kind == "embedding" and info.pooling == "splade":
        return "splade"
    return info.kind


def _model_type_message(call: Call, info: TEIInfo | None, server_message: str | None) -> str:
    served = _served(info)
    said = f" (server: {server_message})" if server_message else ""
    if served is None or info is None:
        return (
            f"this endpoint's model is not {_WANTS[call]}{said}: for a reranker use {_USE['reranker']}, for an "
            f"embedding model {_USE['embedding']}, for a classifier {_USE['classifier']}"
        )
    model = f" ({info.model_id})" if info.model_id else ""
    if served == "splade" and call == "embed":
        return (
            f"this endpoint serves {_IS[served]}{model}, whose vectors TEI does not normalize{said}: use "
            f"{_USE['splade']}"
        )
    return f"this endpoint serves {_IS[served]}{model}, not {_WANTS[call]}{said}: use {_USE[served]}"


def tei_error(
    status: int,
    body: bytes,
    *,
    path: str,
    request_id: str | None = None,
    url: str | None = None,
    info: TEIInfo | None = None,
    hints: Mapping[int, str] | None = None,
) -> HFEndpointError:
    """The exception for a TEI (or OpenAI-compatible embedding server's) error answer to ``path``."""
    message, error_type = _read_body(body)
    call = _CALLS.get(path)

    def make(cls: type[E], text: str) -> E:
        return cls(text, status_code=status, error_type=error_type, request_id=request_id, url=url)

    if message is None:
        if status == 413:  # axum's plain text: the body is larger than --payload-limit
            text = body.decode("utf-8", "replace").strip() or "payload too large"
            return make(
                BadRequestError,
                f"{text}: the request body is larger than the server's --payload-limit; pass "
                "a smaller payload_limit= to the client (it splits every call into requests that fit it)",
            )
        # plain text, empty, a proxy's page
        return error_from_response(status, body, request_id=request_id, url=url, hints=hints)
    kind = (error_type or "").lower()
    too_long = _TOO_LONG.search(message) or _OPENAI_WINDOW.search(message)
    if too_long and status in (400, 413, 422) and kind in _VALIDATION_TYPES:
        return _context_error(make(ContextWindowExceededError, message), too_long, call)
    if kind == "validation" or (kind == "" and status == 422):
        batch = _BATCH.search(message)
        if batch:
            message += (
                f": the server accepts {batch['limit']} inputs a request; pass max_batch_size="
                f"{batch['limit']} (the client splits by /info's max_client_batch_size)"
            )
        return make(RequestValidationError, message)
    if kind == "tokenizer":
        return make(RequestValidationError, message)
    if kind == "empty":
        return make(BadRequestError, message)
    if kind == "overloaded":
        return make(RateLimitError, message)
    if kind == "unhealthy":
        return make(EndpointUnavailableError, message)
    if any(marker in message for marker in _MODEL_TYPE) and call is not None:
        return make(ModelTypeError, _model_type_message(call, info, message))
    if kind == "backend":
        return make(GenerationError, message)
    return error_from_response(status, body, request_id=request_id, url=url, hints=hints)


def _read_body(body: bytes) -> tuple[str | None, str | None]:
    """``(message, error_type)`` from a JSON error body (TEI, its flat OpenAI shape, OpenAI's nested one), or
    ``(None, None)`` for anything else."""
    if body[:1] != b"{":
        return None, None
    try:
        doc = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(doc, Mapping):
        return None, None
    err = doc.get("error")
    if isinstance(err, Mapping):  # OpenAI (vLLM, Infinity): {"error": {"message", "type", "code"}}
        doc = err
    elif isinstance(err, str):
        kind = doc.get("error_type")
        return err, kind if isinstance(kind, str) else None
    message = doc.get("message") if isinstance(doc.get("message"), str) else doc.get("detail")
    if not isinstance(message, str):
        return None, None
    kind = doc.get("type")
    return message, kind if isinstance(kind, str) else None


def _context_error(err: ContextWindowExceededError, match: re.Match[str], call: Call | None) -> HFEndpointError:
    limit = int(match["limit"])
    unit = match.groupdict().get("unit") or "tokens"
    if call == "openai":
        hint = (
            "the /v1/embeddings route cannot ask the server to cut inputs: shorten it, or use route='tei' "
            "(TEI's /embed) with truncate=True"
        )
    elif call == "tokenize":
        hint = "/tokenize never truncates: shorten it"
    else:
        hint = (
            "pass truncate=True to cut each input to the model's limit (from the end; "
            "truncation_direction='left' cuts the start instead), or shorten it"
        )
    err.message = f"{err.message}: an input is longer than the model accepts ({limit} {unit}); {hint}"
    err.args = (err.message,)
    if unit == "tokens":
        err.max_total_tokens = limit
        given = match.groupdict().get("given")
        err.prompt_tokens = int(given) if given else None
    return err


def annotate_inputs(err: HFEndpointError, chunk: range, total: int) -> HFEndpointError:
    """``err`` (raised for one request of a call) with ``inputs``, the caller's inputs that request held; when
    the call was split into several requests, its message says which too."""
    if err.inputs is None:
        err.inputs = chunk
        if len(chunk) < total:
            last = chunk.stop - 1
            held = f"input {chunk.start}" if last == chunk.start else f"inputs {chunk.start}..{last}"
            err.message = f"{err.message} [the failed request held {held} of {total}; nothing was returned]"
            err.args = (err.message,)
    return err
