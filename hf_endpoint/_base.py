"""The constructor and read-only facts that :class:`TGIClient` and :class:`AsyncTGIClient` share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from ._auth import Secret
from ._core import ClientCore, Route
from ._templates import ChatTemplate

__all__ = ["ClientBase"]


class ClientBase:
    """Holds the :class:`ClientCore` (configuration and planning); each shell adds its connection pool in
    :meth:`_open`."""

    _default_max_connections: ClassVar[int]

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
        max_connections: int | None = None,
    ) -> None:
        self._core = ClientCore(
            base_url, api_key=api_key, timeout=timeout, connect_timeout=connect_timeout, max_retries=max_retries,
            cold_start_timeout=cold_start_timeout, scale_up_timeout=scale_up_timeout, headers=headers, route=route,
            model=model, chat_template=chat_template, tokenizer_config=tokenizer_config,
            clamp_max_tokens=clamp_max_tokens, verify=verify, allow_insecure_http=allow_insecure_http,
        )  # fmt: skip
        self._max_connections = max_connections or self._default_max_connections
        self._open()

    def _open(self) -> None:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def served_model(self) -> str | None:
        """The model the server reports (``/info``'s ``model_id``, or ``/v1/models``), once ``info()`` ran."""
        return self._core.served_model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._core.base_url!r}, route={self._core.route!r})"

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} holds a connection pool and an API key; create a new one instead of pickling"
        )
