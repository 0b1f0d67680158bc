"""Server-sent events, decoded from lines (sans-IO).

TGI writes ``data: {...}`` then a blank line; TGI <= 2.0 wrote ``data:{...}`` (no space); keep-alive comments are
``:``. The decoder takes lines *without* their line ending (as ``requests.iter_lines`` and our async line
splitter give them) and returns the ``data`` payload of each complete event. We strip ``data:`` and exactly one
optional space, never ``lstrip("data:")`` (that eats leading ``d``/``a``/``t`` characters of the payload).
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "split_lines"]


class SSEDecoder:
    """Feed it lines; it returns the event's data (bytes) when a blank line ends an event, else None."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: list[bytes] = []

    def decode(self, line: bytes) -> bytes | None:
        if not line:
            if not self._data:
                return None
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            self._data = []
            return data
        if line[:5] == b"data:":
            value = line[5:]
            if value[:1] == b" ":
                value = value[1:]
            self._data.append(value)
        # Comments (":" keep-alives) and other fields (event:, id:, retry:) carry nothing we use.
        return None

    def flush(self) -> bytes | None:
        """The last event if the stream ended without its blank line (a truncated stream), else None."""
        return self.decode(b"")


def split_lines(buffer: bytearray, chunk: bytes) -> list[bytes]:
    """Append ``chunk`` to ``buffer`` and pop the complete lines (``\\n``, ``\\r\\n`` or ``\\r`` endings).

    Used by the async shell, whose HTTP client hands us arbitrary chunks.
    """
    buffer += chunk
    if b"\r" in buffer:
        # Rare (TGI uses \n). Normalise, but keep a trailing \r: it may be half of a \r\n split across chunks.
        keep_cr = buffer.endswith(b"\r")
        text = bytes(buffer[:-1] if keep_cr else buffer).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer[:] = text + (b"\r" if keep_cr else b"")
    end = buffer.rfind(b"\n")
    if end < 0:
        return []
    lines = bytes(buffer[:end]).split(b"\n")
    del buffer[: end + 1]
    return lines
