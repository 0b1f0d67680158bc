"""The connection fields and checks that ``HFEndpointEmbeddings`` and ``HFEndpointReranker`` share.

The same options as ``ChatHFEndpoint`` (``base_url``/``endpoint_url``, ``api_key``, ``timeout``, ``max_retries``,
``cold_start_timeout``, ``verify``, ``allow_insecure_http``), the same token lookup and the same secret handling;
unknown constructor arguments are refused by name, and langchain-huggingface's names are accepted where they mean
the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr, model_validator

from hf_endpoint import rename_arguments
from hf_endpoint._options import ConnectionOptions, TEIOptions

from ._arguments import check_connection, field_token, read_environment_key, state_without_key
from ._tei_clients import TEISettings, aclose_async_client, close_sync_client, get_async_client, get_sync_client

if TYPE_CHECKING:
    from hf_endpoint import AsyncTEIClient, TEIClient

__all__ = ["TEIConnection", "constructor_arguments"]

# langchain-huggingface's names for our arguments, and hints for its names that have no equivalent here.
_RENAMES = {"huggingfacehub_api_token": "api_key", "endpoint_url": "base_url"}
_HINTS = {
    "model": "pass base_url= (the endpoint's or TEI server's URL); a model id alone is not an endpoint",
    "repo_id": "pass base_url= (the endpoint's or TEI server's URL); a model id alone is not an endpoint",
    "provider": "this class talks to one TEI endpoint or server at base_url=; drop it",
    "token": "use api_key=",
    "url": "use base_url= (or endpoint_url=)",
}


def constructor_arguments(cls: type[BaseModel], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` with langchain-huggingface's names taken (``model`` or ``endpoint_url`` as the URL,
    ``huggingfacehub_api_token``); an unknown name raises ``InvalidRequestError`` naming the one probably meant."""
    args = dict(kwargs)
    model = args.get("model")
    if isinstance(model, str) and model.startswith(("http://", "https://")):  # langchain-huggingface's old style
        del args["model"]
        if not (args.get("base_url") or args.get("endpoint_url")):
            args["base_url"] = model
    fields = cls.model_fields
    known = {*fields, *(f.alias for f in fields.values() if f.alias)}
    return rename_arguments(cls.__name__, args, known, _RENAMES, _HINTS)


class TEIConnection(BaseModel):
    """A TEI server or Inference Endpoint: where it is and how to reach it (no connection is made here)."""

    # hide_input_in_errors: a validation error would otherwise print the constructor's arguments, the key included.
    model_config = ConfigDict(populate_by_name=True, hide_input_in_errors=True)

    # (endpoint_url= is taken by constructor_arguments' renames, not as a pydantic alias: type checkers name a
    # field's __init__ parameter by its alias, so HFEndpointEmbeddings(base_url=...) would not type-check.)
    base_url: str | list[str | tuple[str, dict[str, Any]]] = ""
    """The endpoint or server root URL, or several (URLs or ``(url, {"api_key", "weight", "route"})`` pairs): each
    call goes to one of them and moves to another when that one fails."""
    api_key: SecretStr | None = None
    """The Hugging Face token; read from ``HF_TOKEN`` (and the other usual variables) when not given."""
    timeout: float | None = None
    """Seconds to wait for the server's answer; default 300."""
    max_retries: int = 3
    """Retries of rate limits (429), cold starts and refused connections (never of rejected requests)."""
    cold_start_timeout: float = 300.0
    """How long a scaled-to-zero endpoint may take to wake up."""
    verify: bool | str = True
    """TLS certificate verification (on by default), or the path of a CA bundle for a private CA."""
    allow_insecure_http: bool = False
    """Send the token over plain ``http://`` to a non-loopback host (a trusted network only)."""
    route: Literal["auto", "tei", "openai"] = "auto"
    """TEI's routes (``"tei"``), OpenAI's ``/v1/embeddings`` (``"openai"``: vLLM, Infinity, llama.cpp), or chosen by
    what the server answers (``"auto"``)."""

    _token_from_env: bool = PrivateAttr(default=False)

    def __init__(self, **kwargs: Any) -> None:
        """Unknown arguments are refused (pydantic would drop them), naming the one probably meant."""
        # Here rather than in a validator: pydantic wraps a validator's error with the input, which holds the key.
        super().__init__(**constructor_arguments(type(self), self._foreign_arguments(kwargs)))

    @classmethod
    def _foreign_arguments(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Other libraries' arguments that take more than a rename (a subclass's hook)."""
        return kwargs

    @model_validator(mode="after")
    def _check(self) -> Any:
        check_connection(self, "the TEI endpoint's URL")
        return self

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled without the key: the unpickled object reads it from the environment again, or is given it."""
        return state_without_key(super().__getstate__())

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        read_environment_key(self)

    def _settings(self) -> TEISettings:
        # Built at each call (embeddings are called per batch, not per token): a frozen options object and a
        # dictionary lookup in the shared pool.
        token = field_token(self.api_key, self._token_from_env)
        connection = ConnectionOptions.for_urls(
            self.base_url,
            api_key=token,
            token_from_env=self._token_from_env,
            timeout=self.timeout or 300.0,
            max_retries=self.max_retries,
            cold_start_timeout=self.cold_start_timeout,
            verify=self.verify,
            allow_insecure_http=self.allow_insecure_http,
        )
        return TEISettings(connection, TEIOptions(route=self.route))

    @property
    def client(self) -> TEIClient:
        """The (shared, lazily created) synchronous TEI client."""
        return get_sync_client(self._settings())

    @property
    def async_client(self) -> AsyncTEIClient:
        """The (shared, lazily created) asynchronous TEI client of the calling thread."""
        return get_async_client(self._settings())

    def close(self) -> None:
        """Close the pooled connections to this endpoint (shared with every object with the same settings, which
        simply reconnect on their next call)."""
        close_sync_client(self._settings())

    async def aclose(self) -> None:
        """Close this event loop's pooled async connections to this endpoint (see :meth:`close`)."""
        await aclose_async_client(self._settings())
