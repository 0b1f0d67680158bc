"""TGI's plans, except chat (``_tgi_chat``): server facts (``/info``, ``/v1/models``), ``/generate``,
``/generate_stream`` and ``/tokenize``. Pure: plan builders take values and return :class:`Plan` objects.

(How a protocol plugs into the shells: see ``_plan``.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import ValidationError

from ._endpoint import EndpointState
from ._errors import (
    ContextWindowExceededError,
    HFEndpointError,
    IncompleteStreamError,
    InvalidRequestError,
    NotFoundError,
    ResponseError,
)
from ._native_chat import parse_stream_event
from ._params import normalize_generate_params
from ._plan import Plan, Response, Steps, StreamConverter
from ._protocol import Request, parse_json
from ._timings import server_timings, stream_timings
from ._types import GenerateResponse, GenerateSummary, Info, StreamResponse, TokenizedToken, assign

__all__ = [
    "clamp_handler",
    "generate_plan",
    "info_steps",
    "parse_generate_response",
    "tokenize_plan",
]

logger = logging.getLogger("hf_endpoint")


# ------------------------------------------------------------------------------------------------ server facts


def info_plan() -> Plan[Info | None]:
    def parse(resp: Response) -> Info | None:
        doc = parse_json(resp.body, "/info", resp.url)
        return Info.model_validate(doc) if isinstance(doc, Mapping) else None

    return Plan(Request("GET", "/info"), parse=parse, share="/info")


def models_plan() -> Plan[str | None]:
    def parse(resp: Response) -> str | None:
        doc = parse_json(resp.body, "/v1/models", resp.url)
        data = doc.get("data") if isinstance(doc, Mapping) else None
        if data and isinstance(data[0], Mapping):
            return str(data[0].get("id")) if data[0].get("id") else None
        return None

    return Plan(Request("GET", "/v1/models"), parse=parse, share="/v1/models")


def info_missing(err: HFEndpointError) -> bool:
    """Whether an error on ``GET /info`` means "this server has no /info" (not TGI: vLLM, SGLang, llama.cpp)."""
    return isinstance(err, NotFoundError) or (err.status_code in (400, 405) and not err.error_type)


def info_steps(state: EndpointState) -> Steps[None]:
    """Ask ``/info`` (or, on a server without it, ``/v1/models`` for the model's name) and record the answer in
    ``state``. Returns no plan of its own: the shells' ``info()`` returns ``state.info``."""
    served: str | None = None
    try:
        info = yield info_plan()
    except HFEndpointError as err:
        if not info_missing(err):
            raise
        info = None
        try:
            served = yield models_plan()
        except HFEndpointError:
            served = None
    state.set_info(info, served)


# ------------------------------------------------------------------------------------------------ /generate


def generate_plan(
    state: EndpointState, prompt: str, params: Mapping[str, Any], *, stream: bool, clamp_max_tokens: bool = True
) -> Plan[Any]:
    if not isinstance(prompt, str) or not prompt:
        raise InvalidRequestError("prompt must be a non-empty string")
    parameters = normalize_generate_params(params, max_stop_sequences=state.max_stop_sequences, stream=stream)
    body = {"inputs": prompt, "parameters": parameters}
    path = "/generate_stream" if stream else "/generate"

    def parse(resp: Response) -> GenerateResponse:
        return parse_generate_response(resp, path)

    start = time.perf_counter()  # (a stream's time to first token counts from here)

    def converter(request_id: str | None, url: str) -> StreamConverter[StreamResponse]:
        return _GenerateStream(request_id, url, start)

    request = Request("POST", path, body, stream=stream)
    clamp = clamp_handler(request, parse, converter, "max_new_tokens", clamp_max_tokens)

    def on_error(err: HFEndpointError) -> Plan[Any] | None:
        _raise_if_no_native_routes(state, err, path)
        return clamp(err)

    return Plan(request, parse, converter, on_error)


def _raise_if_no_native_routes(state: EndpointState, err: HFEndpointError, path: str) -> None:
    """A 404 on a native route (``/generate``, ``/tokenize``) from a server that is not TGI says so, instead of
    the generic advice about the URL."""
    if not isinstance(err, NotFoundError) or (state.info_known and state.info is not None):
        return  # not a 404, or a TGI server: the URL advice stands
    if state.info_known:
        message = (
            f"this server has no {path}: it answers no /info, so it is an OpenAI-compatible server (vLLM, "
            "SGLang, llama.cpp...) without TGI's native routes. Use chat() / chat_stream(); generate(), "
            "generate_stream() and tokenize() need a TGI server"
        )
    else:
        message = (
            f"{path} was not found: either base_url is not the server's root (give it without /generate or "
            "/v1), or the server is OpenAI-compatible only (vLLM, SGLang, llama.cpp...) and has no native TGI "
            "routes: then use chat() / chat_stream()"
        )
    raise NotFoundError(
        message, status_code=err.status_code, error_type=err.error_type, request_id=err.request_id, url=err.url
    ) from err


def clamp_handler(
    request: Request, parse: Callable[[Response], Any], converter: Callable[..., Any], key: str, enabled: bool
) -> Callable[[HFEndpointError], Plan[Any] | None]:
    """On "inputs + max_new_tokens must be <= N", retry once with max_new_tokens = what is left.

    (Built from the plan's parts, not the plan: one Plan per call, no ``dataclasses.replace``, on the hot path.)
    """

    def on_error(err: HFEndpointError) -> Plan[Any] | None:
        if not (enabled and isinstance(err, ContextWindowExceededError)):
            return None
        if err.max_total_tokens is None or err.prompt_tokens is None or err.max_new_tokens is None:
            return None
        left = err.max_total_tokens - err.prompt_tokens
        if left < 1 or left >= err.max_new_tokens:
            return None
        logger.info(
            "hf_endpoint: the prompt has %d tokens, so %s=%d does not fit the %d-token window; using %d",
            err.prompt_tokens,
            key,
            err.max_new_tokens,
            err.max_total_tokens,
            left,
        )
        body = dict(request.body)
        if "parameters" in body:
            body["parameters"] = {**body["parameters"], key: left}
        else:
            body[key] = left
        return Plan(replace(request, body=body), parse=parse, converter=converter)

    return on_error


class _GenerateStream:
    """``/generate_stream`` events -> :class:`StreamResponse`; the stream must end with its final event."""

    __slots__ = ("done", "events", "first", "request_id", "start", "url")

    def __init__(self, request_id: str | None, url: str, start: float | None = None) -> None:
        self.request_id = request_id
        self.url = url
        self.done = False
        self.events = 0
        self.start = time.perf_counter() if start is None else start
        self.first: float | None = None

    def feed(self, data: bytes) -> list[StreamResponse]:
        if self.done:
            return []
        event = parse_stream_event(data, request_id=self.request_id, url=self.url)
        self.events += 1
        if self.first is None:
            self.first = time.perf_counter()
        if event.generated_text is not None:
            self.done = True
            tokens = event.details.generated_tokens if event.details is not None else self.events
            assign(event, timings=stream_timings(self.start, self.first, time.perf_counter(), tokens))
        return [event]

    def finish(self) -> list[StreamResponse]:
        if not self.done:
            raise IncompleteStreamError(
                f"the stream ended after {self.events} tokens without its final event; the text is incomplete",
                url=self.url,
                request_id=self.request_id,
            )
        return []


G = TypeVar("G", GenerateResponse, GenerateSummary)


def parse_generate_response(resp: Response, path: str, cls: type[G] = GenerateResponse) -> G:  # type: ignore[assignment]
    """A ``/generate`` answer (or ``POST /``'s one-element list) as ``cls``, with the server's prompt-token count
    and request id; a shape we cannot use raises :class:`ResponseError`."""
    out = _validate_object(resp.body, cls)
    if out is None:
        doc = parse_json(resp.body, path, resp.url)
        if isinstance(doc, list) and doc:  # POST / answers a one-element list
            doc = doc[0]
        try:
            out = cls.model_validate(doc)
        except ValidationError as exc:
            raise ResponseError(f"unexpected {path} answer: {str(doc)[:200]}", url=resp.url) from exc
    prompt_tokens = resp.headers.get("x-prompt-tokens")
    count = int(prompt_tokens) if prompt_tokens and prompt_tokens.isdigit() else None
    assign(out, prompt_tokens=count, request_id=resp.request_id, timings=server_timings(resp.headers))
    return out


def _validate_object(body: bytes, cls: type[G]) -> G | None:
    """A ``/generate`` answer that is a JSON object, validated straight from the bytes (the common case, and the
    same result as ``json.loads`` then ``model_validate``); None for anything else, which takes the general path
    (a one-element list from ``POST /``, bad JSON, a wrong shape) with its own errors."""
    if body[:1] != b"{":
        return None
    try:
        out: G = cls.__pydantic_validator__.validate_json(body)
    except ValidationError:
        return None
    return out


# ------------------------------------------------------------------------------------------------ /tokenize


def tokenize_plan(state: EndpointState, text: str) -> Plan[list[TokenizedToken]]:
    if not isinstance(text, str) or not text:
        raise InvalidRequestError("tokenize() needs a non-empty string")

    def parse(resp: Response) -> list[TokenizedToken]:
        doc = parse_json(resp.body, "/tokenize", resp.url)
        if not isinstance(doc, list):
            raise ResponseError(f"unexpected /tokenize answer: {str(doc)[:200]}", url=resp.url)
        return [TokenizedToken.model_validate(item) for item in doc]

    def on_error(err: HFEndpointError) -> Plan[list[TokenizedToken]] | None:
        _raise_if_no_native_routes(state, err, "/tokenize")
        return None

    return Plan(Request("POST", "/tokenize", {"inputs": text}), parse=parse, on_error=on_error)
