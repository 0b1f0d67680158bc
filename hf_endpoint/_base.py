"""What :class:`TGIClient` and :class:`AsyncTGIClient` share above their shells: the constructor (keyword
arguments -> :class:`ConnectionOptions` and :class:`ChatOptions`), the chat configuration, the endpoint's state,
and read-only facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._auth import Secret
from ._endpoint import EndpointState
from ._images import PAYLOAD_LIMIT as TGI_PAYLOAD_LIMIT
from ._multi_base import MultiDispatch
from ._options import BaseURL, ChatOptions, ConnectionOptions, Route
from ._plan import Plan, Steps
from ._templates import ChatTemplate
from ._tgi_chat import ChatConfig, chat_steps

__all__ = ["TGIBase"]

C = TypeVar("C", bound="TGIBase")


class TGIBase(MultiDispatch):
    """The TGI clients' constructor and state; the shell (sync or async) comes from the subclass."""

    _state: EndpointState
    _chat: ChatConfig
    _chat_options: ChatOptions
    _options: ConnectionOptions

    def __init__(
        self,
        base_url: BaseURL,
        *,
        api_key: str | Secret | None = None,
        timeout: float | None = 300.0,
        connect_timeout: float = 10.0,
        max_retries: int = 3,
        cold_start_timeout: float = 300.0,
        scale_up_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        route: Route = "auto",
        model: str | None = None,
        chat_template: str | ChatTemplate | None = None,
        tokenizer_config: str | Path | Mapping[str, Any] | None = None,
        clamp_max_tokens: bool = True,
        payload_limit: int = TGI_PAYLOAD_LIMIT,
        verify: bool | str = True,
        allow_insecure_http: bool = False,
        max_connections: int | None = None,
        hedge_after: float | None = None,
    ) -> None:
        """``base_url``: the server's root URL, or several (URLs or ``(url, {"api_key", "weight", "route"})``
        pairs): one client balancing and failing over between them (``hf_endpoint._routing``)."""
        options = ConnectionOptions.for_urls(
            base_url,
            hedge_after=hedge_after,
            api_key=api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            cold_start_timeout=cold_start_timeout,
            scale_up_timeout=scale_up_timeout,
            headers=headers,
            verify=verify,
            allow_insecure_http=allow_insecure_http,
            max_connections=max_connections,
        )
        chat = ChatOptions(
            route=route,
            model=model,
            chat_template=chat_template,
            tokenizer_config=tokenizer_config,
            clamp_max_tokens=clamp_max_tokens,
            payload_limit=payload_limit,
        )
        self._init_tgi(options, chat)

    @classmethod
    def from_options(cls: type[C], options: ConnectionOptions, chat: ChatOptions | None = None) -> C:
        """A client from already validated options (the adapters, ``completion()`` and the shared pool)."""
        client: C = object.__new__(cls._class_for(options))
        client._init_tgi(options, chat or ChatOptions())
        return client

    def _init_tgi(self, options: ConnectionOptions, chat: ChatOptions) -> None:
        self._chat_options = chat
        self._chat = ChatConfig.load(chat)  # may read tokenizer_config from disk: now, once
        self._state = EndpointState(options.base_url, chat.route)
        self._init_shell(options)

    if TYPE_CHECKING:  # defined by the shell, which follows this class in the clients' bases

        def _init_shell(self, options: ConnectionOptions) -> None: ...

    def _chat_steps(
        self,
        messages: Sequence[Any],
        tools: Sequence[Any] | None,
        tool_choice: Any,
        response_format: Any,
        route: Route | None,
        params: dict[str, Any],
        stream: bool,
    ) -> Steps[Plan[Any]]:
        return chat_steps(
            self._chat,
            self._state,
            messages,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            params=params,
            stream=stream,
            route=route,
        )

    @property
    def base_url(self) -> str:
        return self._options.base_url

    @property
    def served_model(self) -> str | None:
        """The model the server reports (``/info``'s ``model_id``, or ``/v1/models``), once ``info()`` ran."""
        return self._state.served_model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._options.base_url!r}, route={self._state.route!r})"
