"""Writing Server-Sent Events the way TGI does, with the scripted faults applied on the way out.

TGI writes ``data: <compact json>\\n\\n`` per event (``data:`` without a space before 2.1), the
Messages API ends with ``data: [DONE]``, and idle streams get ``:`` keep-alive comments. The
faults (error event after K events, dropped connection, stall, malformed event, missing final
event) are applied here so every streaming route gets them for free.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ._faults import RequestFaults

__all__ = ["EventWriter", "dumps"]


def dumps(payload: Any) -> str:
    """Compact JSON, as serde_json writes it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class EventWriter:
    """Sends events on a prepared ``StreamResponse``; ``send`` returns False once the stream is over."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        faults: RequestFaults,
        *,
        openai: bool,
        coalesce: bool = False,
    ):
        self._request = request
        self._response = response
        self._faults = faults
        self._openai = openai
        # An instant backend (scripted) produces a whole stream at once: one write instead of one
        # per event saves a system call per event. Real models write each event as it comes.
        self._coalesce = coalesce
        self._buffer = bytearray()
        self._prefix = b"data:" if "data_no_space" in faults.legacy else b"data: "
        self.sent = 0
        self.ended = False  # an injected fault ended the stream early

    async def _raw(self, data: bytes) -> None:
        if not self._coalesce:
            await self._response.write(data)
            return
        self._buffer += data
        if len(self._buffer) >= 65536:
            await self.flush()

    async def flush(self) -> None:
        """Write what ``coalesce`` held back (call before the handler returns)."""
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            await self._response.write(data)

    async def _event(self, text: str) -> None:
        if self._faults.keepalive:
            await self._raw(b":\n\n")
        await self._raw(self._prefix + text.encode() + b"\n\n")

    async def send(self, payload: dict[str, Any], *, final: bool = False) -> bool:
        """Send one event unless a fault says otherwise; False means stop producing events."""
        if self.ended:
            return False
        faults = self._faults
        if final and faults.truncate_stream:
            self.ended = True
            return False
        if self.sent and faults.stall_between:
            await self.flush()
            await asyncio.sleep(faults.stall_between)
        if faults.drop_after is not None and self.sent >= faults.drop_after:
            await self.flush()
            self._abort()
            return False
        error = faults.stream_error
        if error is not None and self.sent >= int(error.get("after", 0)):
            await self._error(error)
            return False
        if faults.malformed_after is not None and self.sent == faults.malformed_after:
            faults.malformed_after = None
            await self._raw(self._prefix + b'{"index": 1, "token": {"id": \n\n')
        await self._event(dumps(payload))
        self.sent += 1
        return True

    async def _error(self, error: dict[str, Any]) -> None:
        message = str(error.get("message", "Request failed during generation: scripted failure"))
        shape = error.get("shape", "openai" if self._openai else "tgi")
        if shape == "openai":
            body: dict[str, Any] = {"error": {"message": message, "http_status_code": 422}}
        else:
            body = {"error": message, "error_type": str(error.get("error_type", "generation"))}
        await self._event(dumps(body))
        if self._openai:
            await self._event("[DONE]")
        await self.flush()
        self.ended = True

    async def error(self, body: dict[str, Any]) -> None:
        """Send a real error event (validation, generation) and end the stream, as TGI does."""
        if self._openai:
            payload: dict[str, Any] = {"error": {"message": body["error"], "http_status_code": 422}}
            await self._event(dumps(payload))
            await self._event("[DONE]")
        else:
            await self._event(dumps(body))
        await self.flush()
        self.ended = True

    async def done(self) -> None:
        """``data: [DONE]`` at the end of a Messages API stream (unless a fault ended it)."""
        if not self.ended and not self._faults.truncate_stream:
            await self._event("[DONE]")
        await self.flush()

    def _abort(self) -> None:
        transport = self._request.transport
        if transport is not None:
            transport.abort()
        self.ended = True
