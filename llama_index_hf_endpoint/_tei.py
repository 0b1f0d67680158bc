"""What ``HFEndpointEmbedding`` and ``HFEndpointRerank`` share: the connection fields, the check of constructor
arguments, and their TEI clients.

The clients come from the transport's shared pool (``hf_endpoint._pool``, whose docstring says why), by the
object's options, as for ``HFEndpoint``; the async one is taken at the first async call (sync-only users never
import aiohttp). The key is held privately, never as a field: it stays out of ``repr``, ``to_dict``/``to_json`` and
callback payloads.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr

from hf_endpoint import InvalidRequestError, Secret, rename_arguments, resolve_token
from hf_endpoint._options import ConnectionOptions, TEIOptions
from hf_endpoint._pool import shared

if TYPE_CHECKING:
    from hf_endpoint import AsyncTEIClient, TEIClient

__all__ = ["TEIConnection", "constructor_arguments"]

# The names of LlamaIndex's TEI and Hugging Face classes (TextEmbeddingsInference, HuggingFaceInferenceAPIEmbedding,
# the TEI reranker) for our arguments, so that switching is a one-line change.
_RENAMES = {
    "token": "api_key",
    "auth_token": "api_key",
    "model_url": "base_url",
    "endpoint_url": "base_url",
    "truncate_text": "truncate",
}
_HINTS = {
    "model": "pass base_url= (the endpoint's or TEI server's URL); a model id alone is not an endpoint",
    "endpoint": "the route follows the method called (embeddings: /embed, reranking: /rerank); drop it",
    "pooling": "the TEI server pools as its model is configured; drop it",
    "task": "drop it: the class says what it does",
    "provider": "this class talks to one TEI endpoint or server at base_url=; drop it",
    "cookies": "use headers={'Cookie': ...}",
}


def constructor_arguments(
    cls: type[BaseModel], explicit: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], Any]:
    """The fields to build ``cls`` with, and the API key (kept apart: it is never a field). ``explicit`` holds the
    named parameters of ``__init__`` (``base_url``, ``api_key``), left out when None. An unknown name raises
    ``InvalidRequestError`` naming the one probably meant (LlamaIndex's models would silently drop it)."""
    given = {**{k: v for k, v in explicit.items() if v is not None}, **kwargs}
    args = rename_arguments(cls.__name__, given, {*cls.model_fields, "api_key"}, _RENAMES, _HINTS)
    api_key = args.pop("api_key", None)
    if not args.get("base_url"):
        raise InvalidRequestError(
            f"{cls.__name__} needs base_url=: the TEI endpoint's URL, e.g. "
            "https://xyz.us-east-1.aws.endpoints.huggingface.cloud or http://127.0.0.1:8080"
        )
    return args, api_key


class TEIConnection(BaseModel):
    """The connection fields, and the clients made from them (a mixin of the two LlamaIndex classes)."""

    base_url: str | list[str | tuple[str, dict[str, Any]]] = Field(
        description="The TEI server's or Inference Endpoint's root URL, or several (URLs or (url, {'api_key', "
        "'weight', 'route'}) pairs): each call goes to one and moves to another when that one fails."
    )
    timeout: float = Field(default=300.0, gt=0, description="Seconds to wait for the server's answer.")
    max_retries: int = Field(default=3, ge=0, description="Retries of 429s, cold starts and connection failures.")
    cold_start_timeout: float = Field(
        default=300.0, ge=0, description="Seconds a scaled-to-zero endpoint may take to wake up."
    )
    headers: dict[str, str] | None = Field(
        default=None, exclude=True, repr=False, description="Extra HTTP headers (never serialized)."
    )
    verify: bool | str = Field(default=True, description="TLS verification, or a CA bundle path.")
    allow_insecure_http: bool = Field(
        default=False, description="Send the token over plain http:// to a non-loopback host (a trusted network)."
    )

    route: Literal["auto", "tei", "openai"] = Field(
        default="auto", description="'tei', 'openai' (/v1/embeddings: vLLM, Infinity, llama.cpp) or 'auto'."
    )

    _api_key: Secret | None = PrivateAttr(default=None)
    _options: tuple[ConnectionOptions, TEIOptions] = PrivateAttr()
    _client_: TEIClient | None = PrivateAttr(default=None)
    _aclient_: AsyncTEIClient | None = PrivateAttr(default=None)

    def _connect(self, api_key: str | Secret | None) -> None:
        """The transport's options from the fields (validated now: a bad URL fails here, the connection is made at
        the first call). Without an explicit key, the environment's token is read now and marked as such: the
        transport does not send it over plain HTTP to a remote host (an explicit one there needs
        ``allow_insecure_http=True``)."""
        self._api_key = resolve_token(api_key) if api_key else None  # (explicit only: handed to copies)
        connection = ConnectionOptions.for_urls(
            self.base_url,
            api_key=self._api_key or resolve_token(None),
            token_from_env=self._api_key is None,
            timeout=self.timeout,
            max_retries=self.max_retries,
            cold_start_timeout=self.cold_start_timeout,
            headers=self.headers,
            verify=self.verify,
            allow_insecure_http=self.allow_insecure_http,
        )
        self._options = (connection, TEIOptions(route=self.route))
        self._client_ = None
        self._aclient_ = None

    @property
    def _client(self) -> TEIClient:
        """The shared sync client for these options (``hf_endpoint._pool``), remembered by this object."""
        if self._client_ is None:
            from hf_endpoint import TEIClient

            self._client_ = shared.get(TEIClient, *self._options)
        return self._client_

    @property
    def _aclient(self) -> AsyncTEIClient:
        """The shared async client (made at the first async call: sync-only users never import aiohttp)."""
        if self._aclient_ is None:
            from hf_endpoint import AsyncTEIClient

            self._aclient_ = shared.get(AsyncTEIClient, *self._options)
        return self._aclient_

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        """A copy with its own connection pools; the key is handed over (``Secret`` refuses to be copied)."""
        fields = {name: copy.deepcopy(getattr(self, name), memo) for name in self.model_fields_set - {"base_url"}}
        return type(self)(self.base_url, api_key=self._api_key, **fields)  # type: ignore[call-arg]

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled (multiprocessing ingestion) without the key and the clients: the copy reads the token from the
        environment again (``HF_TOKEN``...) and takes its clients from its own process's pool."""
        state: dict[Any, Any] = super().__getstate__()
        private = dict(state.get("__pydantic_private__") or {})
        private.update(_api_key=None, _client_=None, _aclient_=None)
        private.pop("_options", None)
        state["__pydantic_private__"] = private
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._connect(None)

    def close(self) -> None:
        """Close the shared sync connections to this endpoint (the async ones need :meth:`aclose`); objects with the
        same options reconnect on their next call."""
        from hf_endpoint import TEIClient

        shared.close(TEIClient, *self._options)
        self._client_ = None

    async def aclose(self) -> None:
        """Close the shared sync connections and this event loop's async ones."""
        self.close()
        if self._aclient_ is not None:
            from hf_endpoint import AsyncTEIClient

            await shared.aclose(AsyncTEIClient, *self._options)
            self._aclient_ = None
