"""Reading the tool-call grammar's output ``{"function": {"_name": ..., ...args}}``.

Non-stream: parse it whole. Stream: TGI (≥ 3.2) sends the tool name with ``arguments: "{"`` as
soon as ``_name`` is known, then the remaining argument text with the wrapper's closing brace
trimmed, so the concatenated arguments parse as JSON. ``ToolStreamParser`` does that
incrementally, holding back only text that may be the wrapper's final ``}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._errors import tool_error

__all__ = ["ToolStreamParser", "parse_tool_call"]

_HEAD = re.compile(r'\s*\{\s*"function"\s*:\s*\{\s*"_name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*([,}])')


def parse_tool_call(text: str) -> tuple[str, dict[str, Any]]:
    """``(name, arguments)`` from a complete generation; TGI's tool_error when it does not parse."""
    try:
        value = json.loads(text)
        function = dict(value["function"])
        name = str(function.pop("_name"))
    except (ValueError, KeyError, TypeError) as exc:
        raise tool_error(f"Failed to parse generated text: {exc} {text!r}") from None
    return name, function


class ToolStreamParser:
    """Feed token texts; get the tool name once known, then argument pieces."""

    def __init__(self) -> None:
        self._head = ""
        self._pending = ""
        self.name: str | None = None

    def feed(self, text: str) -> list[tuple[str | None, str]]:
        """``(name, arguments piece)`` pairs ready to send; only the first carries the name.

        The first piece is always ``"{"``, sent as soon as ``_name`` is known.
        """
        if self.name is None:
            self._head += text
            match = _HEAD.match(self._head)
            if match is None:
                return []
            self.name = json.loads(f'"{match.group(1)}"')
            # With no arguments the inner object closes right after the name: keep its "}".
            rest = self._head[match.end() :]
            self._pending = ("}" if match.group(2) == "}" else "") + rest
            return [(self.name, "{"), *self._drain()]
        self._pending += text
        return self._drain()

    def _drain(self) -> list[tuple[str | None, str]]:
        cut = self._pending.rfind("}")
        ready, self._pending = (self._pending, "") if cut < 0 else (self._pending[:cut], self._pending[cut:])
        return [(None, ready)] if ready else []

    def finish(self) -> list[tuple[str | None, str]]:
        """The held-back text, minus the wrapper's closing brace."""
        tail = self._pending.rstrip()
        if tail.endswith("}"):
            tail = tail[:-1]
        self._pending = ""
        return [(None, tail)] if tail else []
