"""The sans-IO protocol core: requests as data, responses and error bodies to results and exceptions.

Nothing here does I/O; the sync and async shells only send what this builds and feed back what they receive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    EndpointPausedError,
    EndpointUnavailableError,
    GenerationError,
    HFEndpointError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RequestValidationError,
    ResponseError,
    ServerError,
)

__all__ = [
    "ErrorMap",
    "Request",
    "error_from_event",
    "error_from_response",
    "normalize_finish_reason",
]

# allow_nan=False: NaN and Infinity are not JSON, and TGI's parser rejects them; better refused here, by name.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class ErrorMap(Protocol):
    """Reads an error answer (status, body) into an exception: :func:`error_from_response` (TGI, OpenAI-style
    engines), or a protocol's own (TEI: ``hf_endpoint._tei_errors``)."""

    def __call__(
        self,
        status: int,
        body: bytes,
        *,
        request_id: str | None = ...,
        url: str | None = ...,
        hints: Mapping[int, str] | None = ...,
    ) -> HFEndpointError: ...


@dataclass(slots=True)  # (not frozen: a frozen one is built through object.__setattr__, per request; never mutated)
class Request:
    """One HTTP request, as data. ``body`` is the JSON document (``None`` for GET). ``error_map`` reads its error
    answers (None: :func:`error_from_response`), so the shells raise each protocol's own errors, and retry by them."""

    method: str
    path: str
    body: Any = None
    stream: bool = False
    extra_headers: tuple[tuple[str, str], ...] = ()
    error_map: ErrorMap | None = None

    def encoded_body(self) -> bytes | None:
        """The body as sent: JSON-encoded, or as is when it is already ``bytes`` (TEI's batch planner encodes each
        request's inputs once, measuring them against the payload limit)."""
        if self.body is None or isinstance(self.body, bytes):
            return self.body
        try:
            return _dumps(self.body).encode()
        except (TypeError, ValueError) as exc:  # a value JSON cannot carry (an object, NaN, Infinity)
            raise InvalidRequestError(
                f"the request cannot be sent as JSON: {exc}. Messages, tools, extra_body and the other parameters "
                "must hold plain JSON values (str, int, finite float, bool, None, lists, dicts with str keys)"
            ) from exc


# --------------------------------------------------------------------------------------------------- errors

_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    413: BadRequestError,
    415: BadRequestError,
    422: RequestValidationError,
    424: GenerationError,
    429: RateLimitError,
    502: EndpointUnavailableError,
    503: EndpointUnavailableError,
    504: EndpointUnavailableError,
}

_TYPE_ERRORS: dict[str, type[APIStatusError]] = {
    "validation": RequestValidationError,
    "template_error": RequestValidationError,
    "missing_template_variable": RequestValidationError,
    "tool_error": RequestValidationError,
    "overloaded": RateLimitError,
    "generation": GenerationError,
    "incomplete_generation": GenerationError,
    "incomplete_generation_stream": GenerationError,
    "healthcheck": EndpointUnavailableError,
}

# The status each TGI error_type stands for when it arrives inside a 200 stream.
_TYPE_STATUS = {
    "overloaded": 429,
    "generation": 424,
    "incomplete_generation": 500,
    "incomplete_generation_stream": 500,
    "healthcheck": 503,
}

# OpenAI-shaped stream errors always say http_status_code 422: the message prefix tells what really happened.
_PREFIX_TYPES = (
    ("Input validation error", "validation"),
    ("Model is overloaded", "overloaded"),
    ("Request failed during generation", "generation"),
    ("Template error", "template_error"),
    ("Missing template variable", "missing_template_variable"),
    ("Tool error", "tool_error"),
    ("Incomplete generation stream", "incomplete_generation_stream"),
    ("Incomplete generation", "incomplete_generation"),
)

_WINDOW = re.compile(
    r"must be <= (?P<total>\d+)\. Given: (?P<prompt>\d+) `inputs` tokens and (?P<new>\d+) `max_new_tokens`"
)
_INPUT_TOO_LONG = re.compile(r"`inputs` must have less than (?P<limit>\d+) tokens\. Given: (?P<prompt>\d+)")
# vLLM / OpenAI-compatible engines.
_OPENAI_WINDOW = re.compile(r"maximum context length is (?P<total>\d+) tokens")

_HINTS = {
    401: "check the token (api_key=, or HF_TOKEN) and that it may access this endpoint",
    403: "the token is valid but lacks access to this endpoint; use a token of the endpoint's owner or org",
    404: "check the endpoint URL (base_url); it should be the endpoint's root, without /generate or /v1",
    413: "the request body is larger than the server's payload limit; send a shorter prompt or smaller images",
}


def _context_error(
    message: str, status: int | None, error_type: str | None, request_id: str | None, url: str | None
) -> ContextWindowExceededError | None:
    m = _WINDOW.search(message)
    err: ContextWindowExceededError | None = None
    if m and int(m["prompt"]) >= int(m["total"]):
        err = ContextWindowExceededError(
            f"{message}. The prompt alone ({m['prompt']} tokens) is longer than the model's {m['total']}-token "
            "window: shorten it, or pass truncate=N to keep only its last N tokens",
            status_code=status,
            error_type=error_type,
            request_id=request_id,
            url=url,
        )
    elif m:
        err = ContextWindowExceededError(
            f"{message}. The prompt uses {m['prompt']} of the model's {m['total']} tokens: lower max_tokens "
            "or shorten the prompt (clamp_max_tokens=True, the default, does this for you)",
            status_code=status,
            error_type=error_type,
            request_id=request_id,
            url=url,
        )
    if m and err is not None:
        err.prompt_tokens, err.max_new_tokens, err.max_total_tokens = int(m["prompt"]), int(m["new"]), int(m["total"])
        return err
    m = _INPUT_TOO_LONG.search(message)
    if m:
        err = ContextWindowExceededError(
            f"{message}. The prompt alone is longer than the model accepts: shorten it, or pass truncate=N to keep "
            "only its last N tokens",
            status_code=status,
            error_type=error_type,
            request_id=request_id,
            url=url,
        )
        err.prompt_tokens, err.max_total_tokens = int(m["prompt"]), int(m["limit"])
        return err
    m = _OPENAI_WINDOW.search(message)
    if m:
        err = ContextWindowExceededError(
            message, status_code=status, error_type=error_type, request_id=request_id, url=url
        )
        err.max_total_tokens = int(m["total"])
    return err


def make_error(
    message: str,
    *,
    status: int | None,
    error_type: str | None = None,
    request_id: str | None = None,
    url: str | None = None,
    hints: Mapping[int, str] | None = None,
) -> HFEndpointError:
    """The exception for a server error, by ``error_type`` first, then by HTTP status. ``hints`` replace the
    generic advice for a status (the client's word on its token for 401/403)."""
    if error_type in ("validation", None) and status in (400, 422, None):
        ctx = _context_error(message, status, error_type, request_id, url)
        if ctx is not None:
            return ctx
    if status == 400 and "invalid state" in message.lower():
        return EndpointPausedError(
            f"{message}: the Inference Endpoint is paused. Resume it in the Hugging Face UI or API; "
            "a paused endpoint does not wake up by itself",
            status_code=status,
            error_type=error_type or "paused",
            request_id=request_id,
            url=url,
        )
    cls: type[HFEndpointError] | None = _TYPE_ERRORS.get(error_type or "")
    if cls is None and status is not None:
        cls = _STATUS_ERRORS.get(status)
        if cls is None:
            cls = ServerError if status >= 500 else APIStatusError
    if cls is None:
        cls = APIStatusError
    hint = (hints or {}).get(status or 0) or _HINTS.get(status or 0)
    if hint and hint not in message:
        message = f"{message}: {hint}" if message else hint
    return cls(message, status_code=status, error_type=error_type, request_id=request_id, url=url)


def error_from_response(
    status: int,
    body: bytes,
    *,
    request_id: str | None = None,
    url: str | None = None,
    hints: Mapping[int, str] | None = None,
) -> HFEndpointError:
    """Map an error response (TGI JSON, OpenAI-style JSON, plain text or empty) to an exception."""
    message, error_type = "", None
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, Mapping):
            message, error_type = _message_and_type(doc)
    if not message:
        # Plain-text bodies (axum extractor errors, proxies) are kept whole, cut to a readable length.
        message = text[:2000] if text else _default_message(status)
    return make_error(message, status=status, error_type=error_type, request_id=request_id, url=url, hints=hints)


def _default_message(status: int) -> str:
    return {
        401: "unauthorized (empty response body)",
        502: "bad gateway: the endpoint is starting or its proxy failed",
        503: "service unavailable: the endpoint is starting (cold start) or overloaded",
        504: "gateway timeout",
    }.get(status, f"HTTP {status} with an empty body")


def _message_and_type(doc: Mapping[str, Any]) -> tuple[str, str | None]:
    err = doc.get("error")
    if isinstance(err, Mapping):  # OpenAI shape: {"error": {"message", "type", "http_status_code"}}
        message = str(err.get("message") or "")
        error_type = err.get("type") if isinstance(err.get("type"), str) else None
        for prefix, kind in _PREFIX_TYPES:
            if message.startswith(prefix):
                error_type = kind
                break
        return message, error_type
    if err is not None:
        error_type = doc.get("error_type")
        message = str(err)
        if "estimated_time" in doc:  # serverless API: {"error": "Model x is currently loading", ...}
            message = f"{message} (estimated time {doc['estimated_time']} s)"
            error_type = error_type or "loading"
        return message, error_type if isinstance(error_type, str) else None
    if isinstance(doc.get("message"), str):
        return doc["message"], None
    if isinstance(doc.get("detail"), str):
        return doc["detail"], None
    return "", None


def error_from_event(
    event: Mapping[str, Any], *, request_id: str | None = None, url: str | None = None
) -> HFEndpointError | None:
    """The exception for an error event inside a 200 stream (either TGI shape), or None for a normal event."""
    err = event.get("error")
    if err is None:
        return None
    message, error_type = _message_and_type(event)
    status = None
    if isinstance(err, Mapping) and isinstance(err.get("http_status_code"), int):
        status = err["http_status_code"]
    if error_type in _TYPE_STATUS:
        status = _TYPE_STATUS[error_type]
    elif error_type in ("validation", "template_error", "missing_template_variable", "tool_error"):
        status = 422
    elif isinstance(err, Mapping) and error_type is None:
        # TGI's OpenAI-shaped events always say 422, whatever happened; with no message prefix to tell, an error
        # inside a 200 stream is a failure of the generation, not of the request's validation.
        return GenerationError(message or "error event in stream", status_code=status, request_id=request_id, url=url)
    return make_error(
        message or "error event in stream", status=status, error_type=error_type, request_id=request_id, url=url
    )


def parse_json(body: bytes, what: str, url: str | None = None) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        snippet = body[:200].decode("utf-8", "replace")
        raise ResponseError(f"{what}: the server's answer is not JSON ({exc}): {snippet!r}", url=url) from exc


# ------------------------------------------------------------------------------------------- finish reasons

_FINISH = {
    "eos_token": "stop",
    "stop_sequence": "stop",
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def normalize_finish_reason(reason: str | None) -> str | None:
    """TGI's ``eos_token``/``stop_sequence`` -> ``stop``; ``""`` (interim /v1/completions chunks) -> None."""
    if not reason:
        return None
    return _FINISH.get(reason, reason)


def strip_stop(text: str, stops: tuple[str, ...] | list[str]) -> str:
    """Remove a stop sequence that ends ``text`` (TGI keeps it; OpenAI-style results do not)."""
    for stop in stops:
        if stop and text.endswith(stop):
            return text[: -len(stop)]
    return text


class StopTrimmer:
    """Streams text while holding back any tail that could be the start of a stop sequence.

    ``feed`` returns what is safe to show now; ``finish`` returns the rest, minus a stop sequence at the end.
    The pieces always concatenate to the final text, so nothing is lost or shown twice.
    """

    __slots__ = ("_firsts", "_held", "_stops")

    def __init__(self, stops: tuple[str, ...] | list[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._firsts = tuple({s[0] for s in self._stops})
        self._held = ""

    def feed(self, text: str) -> str:
        if not self._stops:
            return text
        if not self._held:
            # Fast path (almost every token): nothing held back and no stop sequence can start in this text.
            for first in self._firsts:
                if first in text:
                    break
            else:
                return text
        held = self._held + text
        for stop in self._stops:
            at = held.find(stop)
            if at >= 0:  # the stop text itself arrived: everything after it is not part of the answer
                self._held = held[at:]
                return held[:at]
        keep = 0
        for stop in self._stops:
            # The longest tail of `held` (shorter than `stop`) that `stop` starts with: try each place where stop's
            # first character occurs in that window, earliest (longest tail) first. Usually there is none.
            at = held.find(stop[0], max(len(held) - len(stop) + 1, 0))
            while at >= 0:
                if stop.startswith(held[at:]):
                    keep = max(keep, len(held) - at)
                    break
                at = held.find(stop[0], at + 1)
        self._held = held[len(held) - keep :] if keep else ""
        return held[: len(held) - keep] if keep else held

    def finish(self) -> str:
        rest, self._held = self._held, ""
        for stop in self._stops:
            at = rest.find(stop)
            if at >= 0:
                return rest[:at]
        return rest
