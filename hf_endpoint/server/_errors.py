"""Errors the server answers with, in TGI's two body shapes.

TGI answers a request it cannot serve in one of two ways (``router/src/server.rs``): a JSON body
``{"error", "error_type"}`` produced by its handlers, or a plain-text body produced by the HTTP
extractor before any handler runs (415, 400, deserialization 422s). Both are modelled here so the
route code can simply ``raise`` and one middleware renders the response.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ApiError",
    "PlainTextError",
    "invalid_json",
    "missing_field",
    "serde_error",
    "tool_error",
    "validation_error",
]


class ApiError(Exception):
    """A TGI error with a JSON body ``{"error": message, "error_type": error_type}``."""

    def __init__(self, status: int, message: str, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "error_type": self.error_type}


class PlainTextError(Exception):
    """An error TGI's HTTP layer answers with a ``text/plain`` body (not JSON)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def validation_error(message: str) -> ApiError:
    """422 ``validation``: the message gets TGI's ``Input validation error: `` prefix."""
    return ApiError(422, f"Input validation error: {message}", "validation")


def tool_error(message: str) -> ApiError:
    """422 ``tool_error`` with TGI's ``Tool error: `` prefix."""
    return ApiError(422, f"Tool error: {message}", "tool_error")


def _column_after(raw: str, key: str) -> int:
    """The 1-based column serde reports for ``key``'s value: the position just past it.

    Bodies are usually one line, so the column is the character offset. The value's end is found
    by decoding from the first occurrence of the key; when that fails, the body length is used.
    """
    needle = json.dumps(key)
    at = raw.find(needle)
    if at < 0:
        return len(raw)
    colon = raw.find(":", at + len(needle))
    if colon < 0:
        return len(raw)
    start = colon + 1
    while start < len(raw) and raw[start] in " \t\r\n":
        start += 1
    try:
        _, end = json.JSONDecoder().raw_decode(raw, start)
    except ValueError:
        return len(raw)
    return end


def serde_error(raw: str, path: str, detail: str) -> PlainTextError:
    """422 plain text, as axum + serde_path_to_error word a type mismatch at ``path``."""
    key = path.rsplit(".", 1)[-1]
    column = _column_after(raw, key)
    return PlainTextError(
        422,
        f"Failed to deserialize the JSON body into the target type: {path}: {detail} at line 1 column {column}",
    )


def missing_field(raw: str, field: str, path: str = "") -> PlainTextError:
    """422 plain text for a missing required field (serde reports the end of the object)."""
    prefix = f"{path}: " if path else ""
    return PlainTextError(
        422,
        f"Failed to deserialize the JSON body into the target type: {prefix}missing field `{field}` "
        f"at line 1 column {len(raw.rstrip())}",
    )


_SERDE_WORDING = {
    "Expecting value": "expected value",
    "Expecting property name enclosed in double quotes": "key must be a string",
    "Expecting ':' delimiter": "expected `:`",
    "Expecting ',' delimiter": "expected `,` or `}`",
    "Extra data": "trailing characters",
    "Unterminated string starting at": "EOF while parsing a string",
}


def invalid_json(error: json.JSONDecodeError) -> PlainTextError:
    """400 plain text for a body that is not JSON, worded like serde_json."""
    detail = _SERDE_WORDING.get(error.msg, error.msg[:1].lower() + error.msg[1:])
    return PlainTextError(
        400,
        f"Failed to parse the request body as JSON: {detail} at line {error.lineno} column {error.colno}",
    )
