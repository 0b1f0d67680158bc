"""One exception tree for everything the transport can raise.

::

    HFEndpointError                      every error this package raises
    ├── InvalidRequestError              bad input, caught before anything is sent (also a ValueError)
    ├── AllEndpointsFailedError          several endpoints, each failed within the budget (``errors``: each one's)
    ├── APIConnectionError               no HTTP response: refused, reset, DNS, TLS
    │   └── APITimeoutError              connect or per-event read timeout
    ├── ResponseError                    a response or stream we cannot use
    │   ├── IncompleteStreamError        the stream ended before its final event
    │   └── LengthLimitError             stopped on the length limit inside a tool call or structured output
    └── APIStatusError                   the server answered with an error (HTTP status or in-stream event)
        ├── BadRequestError              400, 413, 415
        │   ├── EndpointPausedError      400 "Invalid state": a paused Inference Endpoint
        ├── RequestValidationError       422 (TGI `validation`, template and tool errors, plain-text 422s)
        │   └── ContextWindowExceededError   prompt (+ max_new_tokens) does not fit the model's window
        ├── AuthenticationError          401, 403
        ├── NotFoundError                404
        ├── RateLimitError               429 `overloaded`
        ├── GenerationError              424, 500 `generation` / `incomplete_generation`
        ├── ModelTypeError               424 (TEI `Backend`): the served model cannot do this call (embed on a reranker)
        ├── EndpointUnavailableError     502, 503, 504 (cold start, scale-to-zero, proxy)
        │   └── ColdStartTimeoutError    still unavailable when the cold-start budget ran out
        └── ServerError                  any other 5xx

Errors inside an HTTP 200 stream (both TGI shapes) raise the same types as the HTTP statuses they stand for.
TEI's errors (capitalised ``error_type``, the flat ``/v1/embeddings`` shape, axum's plain-text rejections) map into
the same tree. A batched call that fails names the inputs the failed request held (``inputs``).
Messages never contain the API key: only the server's own message, the status and the URL path.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AllEndpointsFailedError",
    "AuthenticationError",
    "BadRequestError",
    "ColdStartTimeoutError",
    "ContextWindowExceededError",
    "EndpointPausedError",
    "EndpointUnavailableError",
    "GenerationError",
    "HFEndpointError",
    "IncompleteStreamError",
    "InvalidRequestError",
    "LengthLimitError",
    "ModelTypeError",
    "NotFoundError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseError",
    "ServerError",
]


class HFEndpointError(Exception):
    """Base class of every error raised by hf-endpoint.

    Attributes: ``status_code`` (HTTP status, or the status an in-stream error stands for; ``None`` when no
    response came), ``error_type`` (TGI's ``error_type``, e.g. ``"validation"``), ``message`` (the server's
    own message, or ours), ``request_id`` (the ``x-request-id`` response header, when sent) and ``url``.
    ``inputs``: for a call split into several requests (TEI's ``embed``, ``rerank``, ...), the indices of the
    caller's inputs that the failed request held; nothing of the call is returned.
    """

    inputs: range | None = None
    #: The server's ``Retry-After`` (seconds) on the answer that raised this, when it sent one.
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_type = error_type
        self.request_id = request_id
        self.url = url

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.error_type:
            parts.append(self.error_type)
        head = f"[{', '.join(parts)}] " if parts else ""
        tail = f" (url: {self.url})" if self.url else ""
        rid = f" (request id: {self.request_id})" if self.request_id else ""
        return f"{head}{self.message}{tail}{rid}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword attributes through pickling (e.g. across multiprocessing).
        return (
            _rebuild,
            (type(self), self.message, self.status_code, self.error_type, self.request_id, self.url),
        )


def _rebuild(
    cls: type[HFEndpointError],
    message: str,
    status_code: int | None,
    error_type: str | None,
    request_id: str | None,
    url: str | None,
) -> HFEndpointError:
    return cls(message, status_code=status_code, error_type=error_type, request_id=request_id, url=url)


class AllEndpointsFailedError(HFEndpointError):
    """Every endpoint of a several-endpoint client failed the request within the budget (``max_retries``,
    ``cold_start_timeout``). ``errors`` maps each endpoint's URL to its last error (the message lists them); the
    status and type are the last error's."""

    errors: dict[str, HFEndpointError]

    @classmethod
    def of(cls, errors: dict[str, HFEndpointError], last: HFEndpointError, attempts: int) -> AllEndpointsFailedError:
        lines = "; ".join(f"{url}: {err}" for url, err in errors.items())
        out = cls(
            f"all {len(errors)} endpoints failed ({attempts} attempts): {lines}",
            status_code=last.status_code,
            error_type=last.error_type,
            request_id=last.request_id,
        )
        out.errors = dict(errors)
        return out


class InvalidRequestError(HFEndpointError, ValueError):
    """The request is invalid and was not sent; the message says what to change."""


class APIConnectionError(HFEndpointError):
    """No usable HTTP response: connection refused or reset, DNS or TLS failure."""


class APITimeoutError(APIConnectionError):
    """The connect timeout, or the read timeout between two streamed events, expired."""


class ResponseError(HFEndpointError):
    """The server answered, but with something we cannot parse (malformed JSON, unexpected shape)."""


class IncompleteStreamError(ResponseError):
    """The stream ended (or the connection dropped) before its final event; the partial result is not returned
    as if it were complete."""


class LengthLimitError(ResponseError):
    """The generation stopped on the length limit (``finish_reason="length"``, ``max_tokens``) inside a tool call or
    a structured (JSON) answer, so there is no complete call or object to return; raise ``max_tokens``. A cut-off
    *text* answer is not an error: it comes back with ``finish_reason="length"``, as OpenAI's do.

    ``partial`` is the text generated before the limit (also in the message, shortened)."""

    partial: str = ""


class APIStatusError(HFEndpointError):
    """The server reported an error, as an HTTP status or as an error event inside a 200 stream."""


class BadRequestError(APIStatusError):
    """400, 413 (body too large) or 415."""


class EndpointPausedError(BadRequestError):
    """A paused Inference Endpoint (400 "Invalid state"). It does not wake by itself: resume it in the Hugging
    Face UI or API. Never retried."""


class RequestValidationError(APIStatusError):
    """422: the server rejected the request (TGI ``validation``, ``template_error``, ``tool_error``, or a
    plain-text deserialization error). Never retried."""


class ContextWindowExceededError(RequestValidationError):
    """The prompt, or the prompt plus ``max_new_tokens``, does not fit the model's context window.

    ``prompt_tokens``, ``max_new_tokens`` and ``max_total_tokens`` are set when the server said them.
    """

    prompt_tokens: int | None = None
    max_new_tokens: int | None = None
    max_total_tokens: int | None = None


class AuthenticationError(APIStatusError):
    """401 or 403: the token is missing, wrong, or lacks access to this endpoint."""


class NotFoundError(APIStatusError):
    """404: wrong URL, or the route does not exist on this server."""


class RateLimitError(APIStatusError):
    """429: the server is overloaded (TGI ``overloaded``) or rate-limits you; retried with backoff."""


class GenerationError(APIStatusError):
    """424 or 500 during generation (TGI ``generation``, ``incomplete_generation``)."""


class ModelTypeError(APIStatusError):
    """The endpoint's model cannot do this call: an embedding call on a reranker or classifier, ``rerank`` on an
    embedding model, ``embed_sparse`` without SPLADE pooling (TEI's 424 ``Backend`` error, or found in ``/info``
    before sending). The message names the call, and the adapter class, that fit the served model."""


class EndpointUnavailableError(APIStatusError):
    """502, 503 or 504: the endpoint is starting (scale-to-zero cold start), restarting, or its proxy failed."""


class ColdStartTimeoutError(EndpointUnavailableError):
    """The endpoint was still unavailable when the cold-start budget (``cold_start_timeout``) ran out."""


class ServerError(APIStatusError):
    """Any other 5xx."""
