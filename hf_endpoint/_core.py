"""What both shells share: configuration, route choice, and *plans* (pure).

A plan is a request plus what to do with its answer: how to parse it, how to convert its stream, and how to
react to an error (clamp ``max_new_tokens`` to the context window, fall back from the Messages API to the native
route). The shells execute plans; they do not decide anything.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from . import __about__
from ._auth import Secret, auth_hints, resolve_token
from ._chat_route import ChatStreamConverter, build_chat_body, cut_tool_call_error, parse_chat_completion
from ._errors import (
    ContextWindowExceededError,
    HFEndpointError,
    InvalidRequestError,
    NotFoundError,
    RequestValidationError,
    ResponseError,
)
from ._native_chat import (
    NativeChatStreamConverter,
    build_native_chat,
    native_chat_completion,
    parse_stream_event,
)
from ._params import (
    CHAT_PARAMS,
    check_chat_choices,
    normalize_generate_params,
    normalize_messages,
    normalize_response_format,
    normalize_sampling,
    normalize_stop,
    normalize_tool_choice,
    normalize_tools,
)
from ._protocol import Request, error_from_response, parse_json
from ._retry import RetryPolicy
from ._templates import ChatTemplate, builtin_template_for, load_chat_template
from ._types import (
    ChatCompletion,
    ChatCompletionChunk,
    GenerateResponse,
    GenerateSummary,
    Info,
    StreamResponse,
    TokenizedToken,
    assign,
)

__all__ = ["ClientCore", "Plan", "Response", "Route"]

logger = logging.getLogger("hf_endpoint")

Route = Literal["auto", "chat", "generate"]
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_URL_SUFFIXES = ("/v1/chat/completions", "/v1/completions", "/generate_stream", "/generate", "/v1")


@dataclass(slots=True)  # (not frozen: see Request)
class Response:
    """A complete (non-stream) HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


class StreamConverter(Protocol[T_co]):
    def feed(self, data: bytes) -> Sequence[T_co]: ...

    def finish(self) -> Sequence[T_co]: ...


@dataclass(slots=True)  # (not frozen: see Request)
class Plan(Generic[T]):
    """A request and the pure functions that interpret what comes back."""

    request: Request
    parse: Callable[[Response], T] | None = None
    converter: Callable[[str | None, str], StreamConverter[T]] | None = None
    on_error: Callable[[HFEndpointError], Plan[T] | None] = field(default=lambda err: None)


def _is_local(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.endswith(".localhost")


def _plain_http_token(token: Secret, host: str, *, explicit: bool, allowed: bool) -> Secret | None:
    """What to do with a token bound for a non-loopback host over plain HTTP, where anyone on the path can read it.

    With ``allow_insecure_http=True`` it is sent (with a warning). Without: an explicit ``api_key`` is refused (the
    caller asked for something unsafe), and a token found in the environment is not sent (it was not meant for
    this server; a self-hosted TGI without ``--api-key`` needs none).
    """
    if allowed:
        logger.warning("hf_endpoint: sending the API token over plain HTTP to %s (allow_insecure_http=True)", host)
        return token
    if explicit:
        raise InvalidRequestError(
            f"refusing to send the API token over plain HTTP to {host}: anyone on the network path could read it. "
            "Use https://, or pass allow_insecure_http=True if the network is trusted (loopback hosts need neither)"
        )
    logger.warning(
        "hf_endpoint: not sending the token from the environment over plain HTTP to %s; use https://, or pass "
        "api_key= with allow_insecure_http=True if this server needs it and the network is trusted",
        host,
    )
    return None


def normalize_base_url(base_url: str) -> str:
    """The server root: a trailing ``/``, ``/v1``, ``/generate`` or ``/v1/chat/completions`` is removed; a query
    string or fragment is refused (it cannot be kept on every request)."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise InvalidRequestError("base_url must be the endpoint's URL, e.g. https://xyz.endpoints.huggingface.cloud")
    url = base_url.strip().rstrip("/")
    if url.startswith("huggingface/"):
        url = url[len("huggingface/") :]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequestError(
            f"base_url {base_url!r} is not an http(s) URL; pass the endpoint's URL, e.g. "
            "https://xyz.us-east-1.aws.endpoints.huggingface.cloud or http://127.0.0.1:8080"
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        # Requests are the root plus a path (/info, /generate...): a query would end up inside the path and be sent
        # with none of them. It is not echoed: gateways put keys there.
        root = url.split("?", 1)[0].split("#", 1)[0]
        raise InvalidRequestError(
            f"base_url {root + '?...'!r} has a query string or fragment, which cannot be kept on the requests made "
            f"from it: pass the endpoint's root ({root!r}); a key a gateway reads from the query usually also works "
            "as a header (headers={...})"
        )
    for suffix in _URL_SUFFIXES:
        if url.endswith(suffix):
            url = url[: -len(suffix)]
            break
    return url


def env_verify(verify: bool | str) -> bool | str:
    """TLS verification as requests does it: ``verify=True`` takes a CA bundle from ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` when one is set (corporate proxies that re-sign TLS); read once, for both clients."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


def env_proxies(base_url: str) -> dict[str, str]:
    """The proxies the environment sets for ``base_url`` (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, lower
    case too; none when ``NO_PROXY`` covers the host), by requests' rules, read once for both clients."""
    from requests.utils import get_environ_proxies

    proxies: dict[str, str] = get_environ_proxies(base_url)
    return proxies


class ClientCore:
    """Configuration and planning shared by :class:`TGIClient` and :class:`AsyncTGIClient`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | Secret | None = None,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        max_retries: int = 3,
        cold_start_timeout: float = 300.0,
        scale_up_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        route: Route = "auto",
        model: str | None = None,
        chat_template: str | ChatTemplate | None = None,
        tokenizer_config: Any = None,
        clamp_max_tokens: bool = True,
        verify: bool | str = True,
        allow_insecure_http: bool = False,
    ) -> None:
        if route not in ("auto", "chat", "generate"):
            raise InvalidRequestError(f"route={route!r} is invalid: use 'auto', 'chat' or 'generate'")
        if timeout is not None and timeout <= 0:
            raise InvalidRequestError(f"timeout={timeout!r} is invalid: seconds > 0")
        if max_retries < 0:
            raise InvalidRequestError(f"max_retries={max_retries!r} is invalid: a whole number >= 0")
        self.base_url = normalize_base_url(base_url)
        self.host = urlsplit(self.base_url).hostname or ""
        found = self.token = resolve_token(api_key)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = RetryPolicy(max_retries=max_retries, cold_start_timeout=cold_start_timeout)
        self.route: Route = route
        self.model = model
        self.template = load_chat_template(chat_template, tokenizer_config)
        self.clamp_max_tokens = clamp_max_tokens
        self.verify = env_verify(verify)
        self.proxies = env_proxies(self.base_url)
        self.info_cache: Info | None = None
        self.info_known = False  # True once /info was asked (even if the server has none)
        self.served_model: str | None = None
        base_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "User-Agent": f"hf-endpoint/{__about__.__version__} python/{platform.python_version()}",
        }
        if scale_up_timeout is not None:
            base_headers["X-Scale-Up-Timeout"] = str(int(scale_up_timeout))
        base_headers.update(headers or {})
        if self.token is not None and urlsplit(self.base_url).scheme == "http" and not _is_local(self.host):
            self.token = _plain_http_token(self.token, self.host, explicit=bool(api_key), allowed=allow_insecure_http)
        if self.token is not None:
            base_headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        self.headers = base_headers
        #: What a 401/403 adds to the server's message: whether a token was sent, and from where.
        self.auth_hints = auth_hints(found, sent=self.token is not None, host=self.host)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, route={self.route!r})"

    def url(self, path: str) -> str:
        return self.base_url + path

    def header_items(self, request: Request) -> dict[str, str]:
        if not request.extra_headers:
            return self.headers
        return {**self.headers, **dict(request.extra_headers)}

    # ------------------------------------------------------------------------------------------- server facts

    def info_plan(self) -> Plan[Info | None]:
        def parse(resp: Response) -> Info | None:
            doc = parse_json(resp.body, "/info", resp.url)
            return Info.model_validate(doc) if isinstance(doc, Mapping) else None

        return Plan(Request("GET", "/info"), parse=parse)

    @staticmethod
    def info_missing(err: HFEndpointError) -> bool:
        """Whether an error on ``GET /info`` means "this server has no /info" (not TGI: vLLM, SGLang, llama.cpp)."""
        return isinstance(err, NotFoundError) or (err.status_code in (400, 405) and not err.error_type)

    def set_info(self, info: Info | None) -> None:
        self.info_cache = info
        self.info_known = True
        if info is not None and info.model_id:
            self.served_model = info.model_id

    def models_plan(self) -> Plan[str | None]:
        def parse(resp: Response) -> str | None:
            doc = parse_json(resp.body, "/v1/models", resp.url)
            data = doc.get("data") if isinstance(doc, Mapping) else None
            if data and isinstance(data[0], Mapping):
                return str(data[0].get("id")) if data[0].get("id") else None
            return None

        return Plan(Request("GET", "/v1/models"), parse=parse, on_error=lambda err: None)

    @property
    def max_stop_sequences(self) -> int | None:
        return self.info_cache.max_stop_sequences if self.info_cache else None

    def needs_info(self, route: Route | None = None) -> bool:
        return not self.info_known and ((route or self.route) != "chat" or self.template is None)

    def choose_route(self, *, has_tools: bool = False) -> Literal["chat", "generate"]:
        """Pick the route for a chat call (after ``/info`` was asked when the route is ``auto``)."""
        if self.route != "auto":
            return self.route
        # The choice depends only on what is known of the server: made once per (info, tools or not).
        key = (self.info_cache, self.template, has_tools)
        memo = self._route_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        route = self._choose_auto_route(has_tools)
        self._route_memo = (key, route)
        return route

    _route_memo: tuple[tuple[Any, ...], Literal["chat", "generate"]] | None = None

    def _choose_auto_route(self, has_tools: bool) -> Literal["chat", "generate"]:
        info = self.info_cache
        if self.template is not None:
            return self._log_route("generate", "a chat template was given, so the prompt is formatted here")
        if info is None:
            return self._log_route("chat", "the server has no /info: an OpenAI-compatible engine (vLLM, SGLang, "
                                           "llama.cpp)")  # fmt: skip
        version = info.version_tuple
        if version and version < (1, 4):
            return self._log_route("generate", f"TGI {info.version} predates the Messages API")
        if has_tools and version and version < (1, 4, 3):
            return self._log_route("generate", f"TGI {info.version} has no tool support; using grammar")
        return self._log_route("chat", f"TGI {info.version or '(unknown version)'} serves the Messages API")

    _route_logged: set[str]

    def _log_route(self, route: Literal["chat", "generate"], why: str) -> Literal["chat", "generate"]:
        logged = self.__dict__.setdefault("_route_logged", set())
        if route not in logged:
            logged.add(route)
            logger.info("hf_endpoint: %s uses route %r: %s", self.base_url, route, why)
        return route

    def native_template(self) -> ChatTemplate:
        if self.template is not None:
            return self.template
        model_id = self.info_cache.model_id if self.info_cache else None
        template = builtin_template_for(model_id)
        if template is None:
            raise InvalidRequestError(
                f"no chat template is known for model {model_id!r} on the native route: pass chat_template= "
                "(Jinja source or a built-in name such as 'chatml', 'llama-3'), tokenizer_config= (path to the "
                "model's tokenizer_config.json), or use route='chat'"
            )
        return template

    # ----------------------------------------------------------------------------------------------- plans

    def generate_plan(self, prompt: str, params: Mapping[str, Any], *, stream: bool) -> Plan[Any]:
        if not isinstance(prompt, str) or not prompt:
            raise InvalidRequestError("prompt must be a non-empty string")
        parameters = normalize_generate_params(params, max_stop_sequences=self.max_stop_sequences, stream=stream)
        body = {"inputs": prompt, "parameters": parameters}
        path = "/generate_stream" if stream else "/generate"

        def parse(resp: Response) -> GenerateResponse:
            return parse_generate_response(resp, path)

        def converter(request_id: str | None, url: str) -> StreamConverter[StreamResponse]:
            return _GenerateStream(request_id, url)

        request = Request("POST", path, body, stream=stream)
        clamp = self._clamp_handler(request, parse, converter, "max_new_tokens")

        def on_error(err: HFEndpointError) -> Plan[Any] | None:
            self._raise_if_no_native_routes(err, path)
            return clamp(err)

        return Plan(request, parse, converter, on_error)

    def _raise_if_no_native_routes(self, err: HFEndpointError, path: str) -> None:
        """A 404 on a native route (``/generate``, ``/tokenize``) from a server that is not TGI says so, instead of
        the generic advice about the URL."""
        if not isinstance(err, NotFoundError) or (self.info_known and self.info_cache is not None):
            return  # not a 404, or a TGI server: the URL advice stands
        if self.info_known:
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
        raise NotFoundError(message, status_code=err.status_code, error_type=err.error_type,
                            request_id=err.request_id, url=err.url) from err  # fmt: skip

    def _clamp_handler(
        self, request: Request, parse: Callable[[Response], Any], converter: Callable[..., Any], key: str
    ) -> Callable[[HFEndpointError], Plan[Any] | None]:
        """On "inputs + max_new_tokens must be <= N", retry once with max_new_tokens = what is left.

        (Built from the plan's parts, not the plan: one Plan per call, no ``dataclasses.replace``, on the hot path.)
        """

        def on_error(err: HFEndpointError) -> Plan[Any] | None:
            if not (self.clamp_max_tokens and isinstance(err, ContextWindowExceededError)):
                return None
            if err.max_total_tokens is None or err.prompt_tokens is None or err.max_new_tokens is None:
                return None
            left = err.max_total_tokens - err.prompt_tokens
            if left < 1 or left >= err.max_new_tokens:
                return None
            logger.info(
                "hf_endpoint: the prompt has %d tokens, so %s=%d does not fit the %d-token window; using %d",
                err.prompt_tokens, key, err.max_new_tokens, err.max_total_tokens, left,
            )  # fmt: skip
            body = dict(request.body)
            if "parameters" in body:
                body["parameters"] = {**body["parameters"], key: left}
            else:
                body[key] = left
            return Plan(replace(request, body=body), parse=parse, converter=converter)

        return on_error

    def chat_plan(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None,
        tool_choice: Any,
        response_format: Any,
        params: Mapping[str, Any],
        stream: bool,
        route: Route | None = None,
    ) -> Plan[Any]:
        unknown = set(params) - CHAT_PARAMS
        if unknown:
            raise InvalidRequestError(
                f"unknown chat parameter(s) {sorted(unknown)}; valid ones are {sorted(CHAT_PARAMS)}. "
                "Other server-specific fields go in extra_body={...}"
            )
        msgs = normalize_messages(messages)
        tool_defs = normalize_tools(tools)
        choice = normalize_tool_choice(tool_choice, tool_defs)
        grammar = normalize_response_format(response_format)
        p = {k: v for k, v in params.items() if v is not None}
        for alias in ("max_new_tokens", "max_completion_tokens"):
            if alias in p:
                p["max_tokens"] = p.pop(alias)
        if p.get("max_tokens") is not None and (
            isinstance(p["max_tokens"], bool) or not isinstance(p["max_tokens"], int) or p["max_tokens"] <= 0
        ):
            raise InvalidRequestError(f"max_tokens={p['max_tokens']!r} is invalid: expected a whole number > 0")
        normalize_sampling(p)
        stop = normalize_stop(p.get("stop"), self.max_stop_sequences)
        if stop:
            p["stop"] = stop
        chosen = route if route in ("chat", "generate") else self.choose_route(has_tools=bool(tool_defs))
        # Unless the server is known not to be TGI (no /info), TGI's rules apply.
        n = check_chat_choices(p, tgi=not (self.info_known and self.info_cache is None), stream=stream)
        if p.get("top_logprobs") is not None:
            p["logprobs"] = True
        if chosen == "generate":
            return self._native_plan(msgs, tool_defs, choice, grammar, p, stream)
        if tool_defs and grammar is not None:
            raise InvalidRequestError("tools and response_format cannot be combined (TGI: mutually exclusive)")
        model = p.pop("model", None)  # kept for the native route's adapter_id should the Messages API be missing
        body = build_chat_body(
            msgs, p, model=model or self.model or self.served_model_for_body(), tools=tool_defs,
            tool_choice=choice, grammar=grammar, stream=stream,
        )  # fmt: skip
        stops = tuple(stop or ())

        def parse(resp: Response) -> ChatCompletion:
            out = parse_chat_completion(resp.body, stops=stops, request_id=resp.request_id, url=resp.url)
            if len(out.choices) < n:  # never fewer choices than asked for, passed off as the answer
                raise ResponseError(f"asked for n={n} choices, the server returned {len(out.choices)}",
                                    url=resp.url)  # fmt: skip
            return out

        def converter(request_id: str | None, url: str) -> StreamConverter[ChatCompletionChunk]:
            return ChatStreamConverter(stops=stops, request_id=request_id, url=url, max_tokens=body.get("max_tokens"))

        request = Request("POST", "/v1/chat/completions", body, stream=stream)
        clamp = self._clamp_handler(request, parse, converter, "max_tokens")

        def on_error(err: HFEndpointError) -> Plan[Any] | None:
            fixed = clamp(err)
            if fixed is not None:
                return fixed
            if tool_defs and (cut := cut_tool_call_error(err, max_tokens=body.get("max_tokens"), stops=stops)):
                raise cut from err
            if self.route == "auto" and self._chat_route_missing(err):
                logger.info(
                    "hf_endpoint: the Messages API failed (%s); formatting the prompt here instead", err.message
                )
                self.route = "generate"
                return self._native_plan(msgs, tool_defs, choice, grammar, {**p, "model": model}, stream)
            return None

        return Plan(request, parse, converter, on_error)

    def served_model_for_body(self) -> str:
        # TGI reads any model name other than "tgi" as a LoRA adapter id; other engines want their model's name.
        if self.info_cache is None and self.served_model:
            return self.served_model
        return "tgi"

    def _chat_route_missing(self, err: HFEndpointError) -> bool:
        if self.info_cache is None:
            return False  # not TGI: the native route does not exist either
        if self.template is None and builtin_template_for(self.info_cache.model_id) is None:
            return False  # nothing to format the prompt with: the server's own error says more
        if isinstance(err, NotFoundError):
            return True
        return isinstance(err, RequestValidationError) and "template not found" in err.message.lower()

    def _native_plan(
        self,
        msgs: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        choice: Any,
        grammar: dict[str, Any] | None,
        params: dict[str, Any],
        stream: bool,
    ) -> Plan[Any]:
        adapter = params.pop("model", None) or self.model
        if adapter and adapter != "tgi" and "adapter_id" not in params:
            params = {**params, "adapter_id": adapter}  # on /generate, a model name selects a LoRA adapter
        native = build_native_chat(
            msgs, params, template=self.native_template(), tools=tools, tool_choice=choice, grammar=grammar,
            max_stop_sequences=self.max_stop_sequences, model=adapter or self.served_model or "",
        )  # fmt: skip
        path = "/generate_stream" if stream else "/generate"
        body = {"inputs": native.prompt, "parameters": native.parameters}

        def parse(resp: Response) -> ChatCompletion:
            # Per-token details become objects only when logprobs were asked for.
            if native.want_logprobs:
                return native_chat_completion(parse_generate_response(resp, path), native)
            return native_chat_completion(parse_generate_response(resp, path, GenerateSummary), native)

        def converter(request_id: str | None, url: str) -> StreamConverter[ChatCompletionChunk]:
            return NativeChatStreamConverter(native, request_id=request_id, url=url)

        request = Request("POST", path, body, stream=stream)
        return Plan(request, parse, converter, self._clamp_handler(request, parse, converter, "max_new_tokens"))

    def tokenize_plan(self, text: str) -> Plan[list[TokenizedToken]]:
        if not isinstance(text, str) or not text:
            raise InvalidRequestError("tokenize() needs a non-empty string")

        def parse(resp: Response) -> list[TokenizedToken]:
            doc = parse_json(resp.body, "/tokenize", resp.url)
            if not isinstance(doc, list):
                raise ResponseError(f"unexpected /tokenize answer: {str(doc)[:200]}", url=resp.url)
            return [TokenizedToken.model_validate(item) for item in doc]

        def on_error(err: HFEndpointError) -> Plan[list[TokenizedToken]] | None:
            self._raise_if_no_native_routes(err, "/tokenize")
            return None

        return Plan(Request("POST", "/tokenize", {"inputs": text}), parse=parse, on_error=on_error)


class _GenerateStream:
    """``/generate_stream`` events -> :class:`StreamResponse`; the stream must end with its final event."""

    __slots__ = ("done", "events", "request_id", "url")

    def __init__(self, request_id: str | None, url: str) -> None:
        self.request_id = request_id
        self.url = url
        self.done = False
        self.events = 0

    def feed(self, data: bytes) -> list[StreamResponse]:
        if self.done:
            return []
        event = parse_stream_event(data, request_id=self.request_id, url=self.url)
        self.events += 1
        if event.generated_text is not None:
            self.done = True
        return [event]

    def finish(self) -> list[StreamResponse]:
        if not self.done:
            from ._errors import IncompleteStreamError

            raise IncompleteStreamError(
                f"the stream ended after {self.events} tokens without its final event; the text is incomplete",
                url=self.url, request_id=self.request_id,
            )  # fmt: skip
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
    assign(out, prompt_tokens=count, request_id=resp.request_id)  # (pydantic's __setattr__ costs ~0.5 us each)
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


def check_response(resp: Response) -> None:
    """Raise the mapped error for a non-2xx answer."""
    if resp.status >= 400:
        raise error_from_response(resp.status, resp.body, request_id=resp.request_id, url=resp.url)
