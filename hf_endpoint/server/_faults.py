"""Switchable faults, request counters and the last-request record of the scripted backend.

Tests drive these over real HTTP (``/__scripted__/config``, ``/stats``, ``/last_request``) or via
``LocalServer.configure(...)``. Each field is documented in ``FIELDS``; unknown fields are
rejected so a typo in a test fails loudly instead of silently testing nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FIELDS", "GENERATION_ROUTES", "LEGACY_FLAGS", "ControlState", "RequestFaults"]

GENERATION_ROUTES = ("/", "/generate", "/generate_stream", "/v1/chat/completions")

LEGACY_FLAGS = frozenset(
    {
        "tool_arguments_object",  # non-stream tool-call arguments as a JSON object (TGI <= 3.1)
        "tool_calls_object",  # streamed delta.tool_calls as one object, not a list (TGI <= 3.1)
        "tool_call_id_int",  # tool-call id as the integer 0 (TGI <= 2.0.3)
        "data_no_space",  # SSE "data:{...}" without the space (TGI <= 2.0)
        "object_text_completion",  # chat responses with object "text_completion" (TGI <= 2.0)
        "finish_reason_eos_token",  # chat finish_reason "eos_token" instead of "stop" (TGI < 2.3)
        "info_max_input_length",  # /info with max_input_length instead of max_input_tokens (< 2.1)
    }
)

FIELDS: dict[str, str] = {
    "reply": "str: the fixed reply text",
    "n_tokens": "int|null: emit this many tokens (the reply's tokens, cycled) instead of the reply",
    "token_delay": "float: seconds the backend waits before each token",
    "cold_start": "int: the next N generation requests get a cold-start error",
    "cold_start_style": "'proxy' (plain-text 503 like the HF proxy) | 'loading' (TGI/serverless JSON)",
    "cold_start_status": "int: status for cold starts, 503 (default), 502 or 504",
    "estimated_time": "float: estimated_time in the 'loading' body",
    "status": "{code, body, content_type, headers, count}: inject a response (count -1 = always)",
    "reset": "int: the next N generation requests get their connection reset before any response",
    "stream_error": "{after, shape: 'tgi'|'openai', message, error_type}: error event in a 200 stream",
    "drop_after": "int|null: abort the connection after K events (streaming responses only)",
    "stall_before": "float: seconds to wait before the first byte of a generation response",
    "stall_between": "float: seconds to wait between stream events",
    "truncate_stream": "bool: the stream ends without its final event (and without [DONE])",
    "malformed_after": "int|null: send one malformed JSON event after K events",
    "huge_token_chars": "int: the first token's text is this many characters (huge events)",
    "keepalive": "bool: send a ':' keep-alive comment before every event",
    "legacy": f"list of old-format switches: {sorted(LEGACY_FLAGS)}",
    "mode": "'tgi' | 'openai' (a vLLM-like engine: no /info, no /generate, only /v1/*) | 'tei' (at start only)",
    "routes": "list of routes the faults apply to (default: the generation routes; in TEI mode its inference routes)",
    "max_image_fetch_size": "int: bytes a fetched image URL may have (TGI's --max-image-fetch-size, 1 GiB)",
}

_DEFAULTS: dict[str, Any] = {
    "cold_start": 0,
    "cold_start_style": "proxy",
    "cold_start_status": 503,
    "estimated_time": 20.0,
    "status": None,
    "reset": 0,
    "stream_error": None,
    "drop_after": None,
    "stall_before": 0.0,
    "stall_between": 0.0,
    "truncate_stream": False,
    "malformed_after": None,
    "huge_token_chars": 0,
    "keepalive": False,
    "legacy": [],
    "mode": "tgi",
    "routes": list(GENERATION_ROUTES),
    "token_delay": 0.0,
    "max_image_fetch_size": 1_073_741_824,
}


@dataclass(slots=True)
class RequestFaults:
    """The stream-shaping faults one request runs with (a snapshot taken when it starts)."""

    stream_error: dict[str, Any] | None = None
    drop_after: int | None = None
    stall_between: float = 0.0
    truncate_stream: bool = False
    malformed_after: int | None = None
    keepalive: bool = False
    legacy: frozenset[str] = frozenset()


@dataclass
class ControlState:
    """Mutable fault configuration plus per-route counters; one per server."""

    backend_defaults: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    last: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.reset_config()

    def reset_config(self) -> None:
        self.config = {**copy.deepcopy(_DEFAULTS), **copy.deepcopy(self.backend_defaults)}
        self.counts = {}
        self.last = None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes``; raise ``ValueError`` naming any unknown field or legacy flag."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown fault fields {unknown}; known: {sorted(FIELDS)}")
        bad = sorted(set(changes.get("legacy") or []) - LEGACY_FLAGS)
        if bad:
            raise ValueError(f"unknown legacy flags {bad}; known: {sorted(LEGACY_FLAGS)}")
        mode = changes.get("mode", self.config.get("mode", "tgi"))
        if mode not in ("tgi", "openai", "tei"):
            raise ValueError("mode must be 'tgi', 'openai' or 'tei'")
        if (mode == "tei") != (self.config.get("mode") == "tei"):
            raise ValueError("mode 'tei' (TEI's routes) is chosen when the server starts: --mode tei")
        status = changes.get("status")
        if status is not None and (not isinstance(status, dict) or "code" not in status):
            raise ValueError("status needs at least {'code': int}")
        self.config.update(copy.deepcopy(changes))

    @property
    def mode(self) -> str:
        return str(self.config["mode"])

    @property
    def legacy(self) -> frozenset[str]:
        return frozenset(self.config["legacy"])

    def count(self, route: str) -> None:
        self.counts[route] = self.counts.get(route, 0) + 1

    def stats(self) -> dict[str, Any]:
        return {"requests": dict(self.counts), "total": sum(self.counts.values())}

    def applies(self, route: str) -> bool:
        return route in self.config["routes"]

    def take(self, key: str) -> bool:
        """Consume one unit of a counted fault (``cold_start``, ``reset``)."""
        if self.config[key] > 0:
            self.config[key] -= 1
            return True
        return False

    def take_status(self) -> dict[str, Any] | None:
        """Consume one injected response, if any."""
        status = self.config["status"]
        if status is None:
            return None
        count = int(status.get("count", 1))
        if count == 0:
            return None
        if count > 0:
            status["count"] = count - 1
        return dict(status)

    def request_faults(self) -> RequestFaults:
        c = self.config
        return RequestFaults(
            stream_error=copy.deepcopy(c["stream_error"]),
            drop_after=c["drop_after"],
            stall_between=float(c["stall_between"]),
            truncate_stream=bool(c["truncate_stream"]),
            malformed_after=c["malformed_after"],
            keepalive=bool(c["keepalive"]),
            legacy=self.legacy,
        )
