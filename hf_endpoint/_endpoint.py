"""What a client learns about one server as it talks to it: the one place in the transport that holds state.

Plans are built from these values and the call's inputs; the only writers are named here: the ``/info`` steps
(:meth:`EndpointState.set_info`), the chat route's fallback from the Messages API to the native route
(:meth:`EndpointState.use_native_route`), and the memo of the automatic route choice. One object per endpoint: a
client for several endpoints keeps one per URL beside its :class:`~hf_endpoint._connection.Connection`.
Threads share it: every write replaces whole values, so a reader sees the old or the new fact, never a mix.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from ._options import Route

__all__ = ["EndpointState"]

logger = logging.getLogger("hf_endpoint")


class EndpointState:
    """One server's facts: its ``/info`` (once asked), the model it serves, and the chat route in use."""

    __slots__ = ("_route_logged", "base_url", "info", "info_known", "route", "route_memo", "served_model")

    def __init__(self, base_url: str, route: Route = "auto") -> None:
        self.base_url = base_url
        #: ``/info``'s answer (a protocol's Info model), None when the server has none or it was not asked yet.
        self.info: Any = None
        #: True once ``/info`` was asked (even if the server has none).
        self.info_known = False
        #: The model the server reports (``/info``'s ``model_id``, or ``/v1/models``).
        self.served_model: str | None = None
        #: The chat route: the configured one, until an ``"auto"`` client learns the Messages API is missing.
        self.route: Route = route
        #: (what the automatic choice depended on, the route chosen): made once per server info.
        self.route_memo: tuple[tuple[Any, ...], Literal["chat", "generate"]] | None = None
        self._route_logged: set[str] = set()

    def __repr__(self) -> str:
        return f"EndpointState(base_url={self.base_url!r}, route={self.route!r}, info_known={self.info_known})"

    def set_info(self, info: Any, served_model: str | None = None) -> None:
        self.info = info
        self.info_known = True
        model_id = getattr(info, "model_id", None) if info is not None else served_model
        if model_id:
            self.served_model = model_id

    @property
    def max_stop_sequences(self) -> int | None:
        info = self.info
        return getattr(info, "max_stop_sequences", None) if info is not None else None

    def use_native_route(self, why: str) -> None:
        """The Messages API is missing on this server: later ``"auto"`` calls format the prompt here."""
        logger.info("hf_endpoint: the Messages API failed (%s); formatting the prompt here instead", why)
        self.route = "generate"

    def log_route(self, route: Literal["chat", "generate"], why: str) -> Literal["chat", "generate"]:
        """Say once per route which one this server gets, and why."""
        if route not in self._route_logged:
            self._route_logged.add(route)
            logger.info("hf_endpoint: %s uses route %r: %s", self.base_url, route, why)
        return route
