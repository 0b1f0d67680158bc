"""What :class:`TEIClient` and :class:`AsyncTEIClient` share above their shells: the constructor (keyword
arguments -> :class:`ConnectionOptions` and :class:`TEIOptions`), the planner and read-only facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

from ._auth import Secret
from ._multi_base import MultiDispatch
from ._options import DEFAULT_PAYLOAD_LIMIT, BaseURL, ConnectionOptions, TEIOptions, TEIRoute
from ._tei_core import TEIPlanner

__all__ = ["TEIBase"]

C = TypeVar("C", bound="TEIBase")


class TEIBase(MultiDispatch):
    """The TEI clients' constructor and state; the shell (sync or async) comes from the subclass.

    Connection options are the TGI clients' (``api_key`` or ``HF_TOKEN``..., ``timeout``, ``connect_timeout``,
    ``max_retries``, ``cold_start_timeout``, ``scale_up_timeout``, ``headers``, ``verify``, ``allow_insecure_http``,
    ``max_connections``: see :class:`hf_endpoint._options.ConnectionOptions`); the TEI options (``route``,
    ``max_batch_size``, ``payload_limit``, ``max_concurrency``, ``model``):
    :class:`hf_endpoint._options.TEIOptions`. Several endpoints (``base_url=[...]``, as for the TGI clients): each
    call goes to one of them, and moves to another when that one fails (``hf_endpoint._tei_multi``).
    """

    _planner: TEIPlanner
    _tei_options: TEIOptions
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
        verify: bool | str = True,
        allow_insecure_http: bool = False,
        max_connections: int | None = None,
        route: TEIRoute = "auto",
        max_batch_size: int | None = None,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
        max_concurrency: int = 4,
        model: str | None = None,
    ) -> None:
        options = ConnectionOptions.for_urls(
            base_url,
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
        tei = TEIOptions(
            route=route,
            max_batch_size=max_batch_size,
            payload_limit=payload_limit,
            max_concurrency=max_concurrency,
            model=model,
        )
        self._init_tei(options, tei)

    @classmethod
    def from_options(cls: type[C], options: ConnectionOptions, tei: TEIOptions | None = None) -> C:
        """A client from already validated options (the adapters)."""
        client: C = object.__new__(cls._class_for(options))
        client._init_tei(options, tei or TEIOptions())
        return client

    def _init_tei(self, options: ConnectionOptions, tei: TEIOptions) -> None:
        self._tei_options = tei
        self._planner = TEIPlanner(tei)
        self._init_shell(options)

    if TYPE_CHECKING:  # defined by the shell, which follows this class in the clients' bases

        def _init_shell(self, options: ConnectionOptions) -> None: ...

    @property
    def base_url(self) -> str:
        return self._options.base_url

    @property
    def route(self) -> TEIRoute:
        """``"tei"`` or ``"openai"`` once known (``"auto"`` until the first call asked ``/info``)."""
        if self._tei_options.route == "auto" and not self._planner.info_known:
            return "auto"
        return self._planner.route

    @property
    def served_model(self) -> str | None:
        """The model TEI serves (``/info``'s ``model_id``), once a call or ``info()`` asked."""
        info = self._planner.info
        return info.model_id if info is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._options.base_url!r}, route={self.route!r})"
