"""The client options, defined once: defaults, validation and docs in one place (after httpx's ``_config.py``).

Two frozen, hashable objects, validated when built (once per client or adapter object, never per request):

- :class:`ConnectionOptions`: how to reach one server (URL, token, timeouts, retries, cold-start budget, TLS,
  headers, pool size). Every protocol's client uses it (TGI chat and generate, TEI next).
- :class:`ChatOptions`: how TGI chat requests are made (route, model, chat template, max-tokens clamping).
- :class:`TEIOptions`: how TEI calls are made (route, batch size, payload limit, concurrency).

The public constructors (``TGIClient(base_url, api_key=..., timeout=...)``), the adapters and ``completion()``
build these; the shells then read the environment once (:func:`hf_endpoint._connection.connect`) and the core
sees only values. Adding an option: a field here (with its check in ``__post_init__``), its use where it
matters, and the adapters' own fields.

Being hashable, the two objects are also the key of the shared clients (``hf_endpoint._pool``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from ._auth import Secret
from ._errors import InvalidRequestError
from ._images import PAYLOAD_LIMIT as TGI_PAYLOAD_LIMIT

if TYPE_CHECKING:
    from ._templates import ChatTemplate


__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_PAYLOAD_LIMIT",
    "BaseURL",
    "ChatOptions",
    "ConnectionOptions",
    "EndpointSpec",
    "Route",
    "TEIOptions",
    "TEIRoute",
    "normalize_base_url",
    "parse_endpoints",
]

Route = Literal["auto", "chat", "generate"]
TEIRoute = Literal["auto", "tei", "openai"]

#: TEI's ``--payload-limit`` default (env ``PAYLOAD_LIMIT``), in bytes; ``/info`` does not show it.
DEFAULT_PAYLOAD_LIMIT = 2_000_000

#: Pool sizes when ``max_connections`` is not given: a thread-pool of sync callers rarely exceeds 32, while one
#: event loop easily has hundreds of requests in flight.
DEFAULT_MAX_CONNECTIONS = {"sync": 32, "async": 1000}

_URL_SUFFIXES = ("/v1/chat/completions", "/v1/completions", "/generate_stream", "/generate", "/v1")


def normalize_base_url(base_url: str) -> str:
    """The server root: a trailing ``/``, ``/v1``, ``/generate`` or ``/v1/chat/completions`` is removed; a query
    string or fragment is refused (it cannot be kept on every request)."""
    from urllib.parse import urlsplit

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


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One endpoint of several behind one client: its URL and what differs from the client's options.

    ``api_key``: this endpoint's token (None: the client's); ``weight``: its share of the traffic when all are
    equally busy (least outstanding requests per unit of weight); ``route``: its chat route (a TGI endpoint and an
    OpenAI-compatible one in one list), None: the client's; ``priority``: requests go to the available endpoints of
    the lowest priority only (0, the default, for all: plain balancing; ``completion(fallbacks=[...])`` gives its
    fallbacks 1, 2...: used only while the endpoints before them are failing or cooling down).
    """

    url: str
    api_key: Secret | None = field(default=None, repr=False)
    weight: float = 1.0
    route: Route | None = None
    priority: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", normalize_base_url(self.url))
        key = self.api_key
        if isinstance(key, str):
            key = Secret(key)
        if key is not None and not isinstance(key, Secret):
            raise InvalidRequestError(f"api_key of {self.url} must be a string, got {type(key).__name__}")
        object.__setattr__(self, "api_key", key or None)
        if not (_is_number(self.weight) and self.weight > 0):
            raise InvalidRequestError(f"weight={self.weight!r} of {self.url} is invalid: a number > 0")
        if not (_is_whole(self.priority) and self.priority >= 0):
            raise InvalidRequestError(f"priority={self.priority!r} of {self.url} is invalid: a whole number >= 0")
        if self.route is not None and self.route not in ("auto", "chat", "generate"):
            raise InvalidRequestError(
                f"route={self.route!r} of {self.url} is invalid: use 'auto', 'chat' or 'generate'"
            )


#: What ``base_url`` accepts: one URL, or several (each a URL or a ``(url, {"api_key", "weight", "route"})`` pair).
BaseURL = str | Sequence["str | tuple[str, Mapping[str, Any]] | EndpointSpec"]

_SPEC_KEYS = frozenset({"api_key", "weight", "route", "priority"})


def parse_endpoints(base_url: BaseURL) -> tuple[str, tuple[EndpointSpec, ...]]:
    """``base_url`` as (the first URL, the endpoints): ``()`` for one plain URL (a string or a one-URL list), which
    then behaves exactly as a single-endpoint client."""
    if isinstance(base_url, str):
        return base_url, ()
    if not isinstance(base_url, Sequence) or not base_url:
        raise InvalidRequestError(
            "base_url must be a URL or a non-empty list of URLs (or (url, {'api_key', 'weight', 'route'}) pairs)"
        )
    specs: list[EndpointSpec] = []
    for item in base_url:
        if isinstance(item, EndpointSpec):
            specs.append(item)
        elif isinstance(item, str):
            specs.append(EndpointSpec(item))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], Mapping):
            unknown = sorted(set(item[1]) - _SPEC_KEYS)
            if unknown:
                raise InvalidRequestError(
                    f"unknown endpoint option(s) {unknown} for {item[0]!r}: each endpoint takes {sorted(_SPEC_KEYS)}"
                )
            specs.append(EndpointSpec(item[0], **item[1]))
        else:
            raise InvalidRequestError(
                f"base_url entry {type(item).__name__} is invalid: a URL or a (url, {{'api_key', 'weight', "
                "'route'}) pair"
            )
    urls = [s.url for s in specs]
    if len(set(urls)) != len(urls):
        raise InvalidRequestError(f"base_url lists an endpoint twice: {urls}; give each endpoint once (weight=)")
    if len(specs) == 1 and specs[0] == EndpointSpec(specs[0].url):
        return specs[0].url, ()
    return specs[0].url, tuple(specs)


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """How to reach one server. ``base_url`` is normalised to the server root.

    - ``api_key``: the token (a :class:`Secret`); None: the first of ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``,
      ``HUGGINGFACEHUB_API_TOKEN``, ``HUGGINGFACE_API_KEY``, read when the client is made.
    - ``token_from_env``: ``api_key`` was found in the environment by the caller (an adapter), not given by the
      user: it is then withheld from a remote plain-HTTP URL instead of the call being refused.
    - ``timeout``: seconds between two bytes of an answer (so, per streamed event); None: no limit.
      ``connect_timeout``: seconds to open a connection.
    - ``max_retries``: retries of 429s, 502/503/504 and refused connections (never of rejected requests).
    - ``cold_start_timeout``: how long a scaled-to-zero endpoint may take to wake (503s retried until then).
    - ``scale_up_timeout``: sent as ``X-Scale-Up-Timeout`` (seconds the Hugging Face proxy holds the request while
      the endpoint wakes).
    - ``headers``: extra HTTP headers on every request (held read-only).
    - ``verify``: TLS verification (True), off (False), or the path of a CA bundle.
    - ``allow_insecure_http``: send the token over plain ``http://`` to a non-loopback host.
    - ``max_connections``: the pool size; None: 32 for the sync client, 1000 for the async one.
    - ``endpoints``: several endpoints behind one client (:func:`parse_endpoints`; ``base_url`` is then the
      first one's): balanced, with failover (``hf_endpoint._routing``). ``()``: one endpoint, ``base_url``.
    - ``hedge_after``: with several endpoints, seconds after which a stream that has no first token yet is also
      sent to a second endpoint (the first to answer wins); None: never.
    """

    base_url: str
    api_key: Secret | None = field(default=None, repr=False)
    token_from_env: bool = False
    timeout: float | None = 300.0
    connect_timeout: float = 10.0
    max_retries: int = 3
    cold_start_timeout: float = 300.0
    scale_up_timeout: float | None = None
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    verify: bool | str = True
    allow_insecure_http: bool = False
    max_connections: int | None = None
    endpoints: tuple[EndpointSpec, ...] = ()
    hedge_after: float | None = None
    # (the hash, computed once: the options are the key of the shared clients, looked up on every adapter call)
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "base_url", normalize_base_url(self.base_url))
        key = self.api_key
        if isinstance(key, str):  # tolerated at run time; the type says Secret
            key = Secret(key)
        if key is not None and not isinstance(key, Secret):
            raise InvalidRequestError(f"api_key must be a string, got {type(key).__name__}")
        set_(self, "api_key", key or None)
        if not key:  # (where no token came from does not matter: one key for "no token" in the shared pool)
            set_(self, "token_from_env", False)
        if self.timeout is not None and not (_is_number(self.timeout) and self.timeout > 0):
            raise InvalidRequestError(f"timeout={self.timeout!r} is invalid: seconds > 0")
        if not (_is_number(self.connect_timeout) and self.connect_timeout > 0):
            raise InvalidRequestError(f"connect_timeout={self.connect_timeout!r} is invalid: seconds > 0")
        if not (_is_whole(self.max_retries) and self.max_retries >= 0):
            raise InvalidRequestError(f"max_retries={self.max_retries!r} is invalid: a whole number >= 0")
        if not (_is_number(self.cold_start_timeout) and self.cold_start_timeout >= 0):
            raise InvalidRequestError(f"cold_start_timeout={self.cold_start_timeout!r} is invalid: seconds >= 0")
        if self.scale_up_timeout is not None and not (_is_number(self.scale_up_timeout) and self.scale_up_timeout >= 0):
            raise InvalidRequestError(f"scale_up_timeout={self.scale_up_timeout!r} is invalid: seconds >= 0")
        if self.max_connections is not None and not (_is_whole(self.max_connections) and self.max_connections >= 1):
            raise InvalidRequestError(f"max_connections={self.max_connections!r} is invalid: a whole number >= 1")
        if not isinstance(self.endpoints, tuple) or not all(isinstance(e, EndpointSpec) for e in self.endpoints):
            raise InvalidRequestError("endpoints must be a tuple of EndpointSpec (see parse_endpoints)")
        if self.hedge_after is not None and not (_is_number(self.hedge_after) and self.hedge_after > 0):
            raise InvalidRequestError(f"hedge_after={self.hedge_after!r} is invalid: seconds > 0, or None")
        if not isinstance(self.verify, (bool, str)):
            raise InvalidRequestError(f"verify={self.verify!r} is invalid: True, False or a CA bundle path")
        if self.headers is not None:
            if not isinstance(self.headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
            ):
                raise InvalidRequestError("headers must map header names to string values")
            set_(self, "headers", MappingProxyType(dict(self.headers)))
        headers = tuple(sorted(self.headers.items())) if self.headers else None
        set_(
            self,
            "_hash",
            hash(
                (
                    self.base_url,
                    self.api_key,
                    self.token_from_env,
                    self.timeout,
                    self.connect_timeout,
                    self.max_retries,
                    self.cold_start_timeout,
                    self.scale_up_timeout,
                    headers,
                    self.verify,
                    self.allow_insecure_http,
                    self.max_connections,
                    self.endpoints,
                    self.hedge_after,
                )
            ),
        )

    @classmethod
    def for_urls(cls, base_url: BaseURL, **fields: Any) -> ConnectionOptions:
        """The options for what users pass as ``base_url`` (one URL, or several: :func:`parse_endpoints`)."""
        first, endpoints = parse_endpoints(base_url)
        return cls(first, endpoints=endpoints, **fields)

    def __hash__(self) -> int:
        return self._hash

    @property
    def explicit_key(self) -> bool:
        """Whether the user gave the token (as opposed to the environment)."""
        return self.api_key is not None and not self.token_from_env


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How TGI chat requests are made.

    - ``route``: ``"chat"`` (the Messages API, server-side chat template), ``"generate"`` (``/generate`` with the
      chat template applied here), or ``"auto"`` (chosen from the server's ``/info``).
    - ``model``: the model name sent in chat requests (on TGI, a LoRA adapter id); None: the served model.
    - ``chat_template``: for the native route, a Jinja source, a built-in name (``"chatml"``, ``"llama-3"``...) or
      a :class:`ChatTemplate`. ``tokenizer_config``: a ``tokenizer_config.json`` (path, folder or dict) to take
      it from. Read when the client is made (:meth:`load_template`).
    - ``clamp_max_tokens``: when ``max_tokens`` does not fit the context window, retry once with what is left.
    - ``payload_limit``: the server's ``--payload-limit`` in bytes (TGI's default, 2,000,000; ``/info`` does not show
      it). Images sent as data URIs that together exceed it are refused before sending, naming the fixes.
    """

    route: Route = "auto"
    model: str | None = None
    chat_template: str | ChatTemplate | None = None
    tokenizer_config: str | Path | Mapping[str, Any] | None = None
    clamp_max_tokens: bool = True
    payload_limit: int = TGI_PAYLOAD_LIMIT
    _hash: int = field(default=0, init=False, repr=False, compare=False)  # (see ConnectionOptions)

    def __post_init__(self) -> None:
        if self.route not in ("auto", "chat", "generate"):
            raise InvalidRequestError(f"route={self.route!r} is invalid: use 'auto', 'chat' or 'generate'")
        if self.model is not None and not isinstance(self.model, str):
            raise InvalidRequestError(f"model={self.model!r} is invalid: a model name or LoRA adapter id")
        limit = self.payload_limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1024:
            raise InvalidRequestError(f"payload_limit={limit!r} is invalid: the server's --payload-limit in bytes")
        config: Any = self.tokenizer_config
        if isinstance(config, Mapping):
            config = tuple(sorted((str(k), repr(v)) for k, v in config.items()))
        key = (self.route, self.model, self.chat_template, config, self.clamp_max_tokens, self.payload_limit)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    def load_template(self) -> ChatTemplate | None:
        """The chat template these options name (reads ``tokenizer_config`` from disk: called once, by the
        client's constructor, never by the core)."""
        from ._templates import load_chat_template

        return load_chat_template(self.chat_template, self.tokenizer_config)


@dataclass(frozen=True, slots=True)
class TEIOptions:
    """How TEI calls are made (validated once, when the client is made).

    - ``route``: ``"tei"`` (TEI's own routes), ``"openai"`` (``/v1/embeddings`` only, for OpenAI-compatible
      embedding servers), or ``"auto"``: ``"tei"`` when ``/info`` is TEI's (see ``hf_endpoint._tei_core``).
    - ``max_batch_size``: at most this many inputs a request; None: the server's ``max_client_batch_size`` from
      ``/info`` (32 when it has none). A larger value than the server's is lowered to the server's.
    - ``payload_limit``: the server's ``--payload-limit`` in bytes (TEI's default, 2,000,000; ``/info`` does not
      show it): every request body is kept within it.
    - ``max_concurrency``: requests of one call in flight at once (async client). 4 keeps a GPU server's queue fed
      (the next batch is tokenized and queued while one runs) without one call taking a shared endpoint's whole
      ``max_concurrent_requests`` (512 permits, one per input: 4 requests of 32 hold 128).
    - ``model``: the ``model`` field of ``/v1/embeddings`` requests (TEI ignores it; vLLM and others may need it).
    """

    route: TEIRoute = "auto"
    max_batch_size: int | None = None
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT
    max_concurrency: int = 4
    model: str | None = None

    def __post_init__(self) -> None:
        if self.route not in ("auto", "tei", "openai"):
            raise InvalidRequestError(f"route={self.route!r} is invalid: use 'auto', 'tei' or 'openai'")
        for name in ("max_batch_size", "payload_limit", "max_concurrency"):
            value = getattr(self, name)
            if value is None and name == "max_batch_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRequestError(f"{name}={value!r} is invalid: a whole number >= 1")
        if self.payload_limit < 1024:
            raise InvalidRequestError(f"payload_limit={self.payload_limit} is too small to send a request (bytes)")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
