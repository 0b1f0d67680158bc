"""``HFEndpoint``'s transport clients: taken from the transport's shared pool (``hf_endpoint._pool``, whose
docstring says why clients are shared by options, and never closed under a caller), by the LLM's options."""

from __future__ import annotations

from typing import Any, Literal

from hf_endpoint import Secret, resolve_token
from hf_endpoint._options import ChatOptions, ConnectionOptions
from hf_endpoint._pool import shared

__all__ = ["client_options", "pooled"]


def client_options(fields: Any, api_key: Secret | None) -> tuple[ConnectionOptions, ChatOptions]:
    """The transport's options from an ``HFEndpoint``'s fields (validated here, so that a bad URL, route or
    template fails at construction). Without an explicit key, the environment's token is read now and marked as
    such: the transport does not send it over plain HTTP to a remote host (an explicit one there needs
    ``allow_insecure_http=True``)."""
    connection = ConnectionOptions.for_urls(
        fields.base_url,
        hedge_after=fields.hedge_after,
        api_key=api_key or resolve_token(None),
        token_from_env=api_key is None,
        timeout=fields.timeout,
        max_retries=fields.max_retries,
        cold_start_timeout=fields.cold_start_timeout,
        headers=fields.headers,
        verify=fields.verify,
        allow_insecure_http=fields.allow_insecure_http,
    )
    chat = ChatOptions(
        route=fields.route,
        model=fields.model,
        chat_template=fields.chat_template,
        tokenizer_config=fields.tokenizer_config,
        payload_limit=fields.payload_limit,
    )
    return connection, chat


def pooled(private: dict[str, Any], slot: Literal["_client_", "_aclient_"]) -> Any:
    """The shared sync (``_client_``) or async (``_aclient_``) client for the options in ``private["_options"]``,
    remembered in ``private[slot]`` (read through ``__pydantic_private__``: pydantic's ``__getattr__`` for a private
    attribute costs more than the rest of a cache hit, on every call). The async class is imported at the first
    async call: sync-only users never import aiohttp."""
    client = private[slot]
    if client is None:
        if slot == "_client_":
            from hf_endpoint import TGIClient as cls
        else:
            from hf_endpoint import AsyncTGIClient as cls  # type: ignore[assignment]
        client = private[slot] = shared.get(cls, *private["_options"])
    return client
