"""Server-sent events, decoded from lines (sans-IO).

TGI writes ``data: {...}`` then a blank line; TGI <= 2.0 wrote ``data:{...}`` (no space); keep-alive comments are
``:``. The decoder takes lines *without* their line ending (as ``requests.iter_lines`` and our async line
splitter give them) and returns the ``data`` payload of each complete event. We strip ``data:`` and exactly one
optional space, never ``lstrip("data:")`` (that eats leading ``d``/``a``/``t`` characters of the payload).
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "split_lines"]


class SSEDecoder:
    """Feed it lines (``decode``) or raw chunks (``feed``); it returns the data (bytes) of each completed event."""

    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._data: list[bytes] = []
        self._buffer = bytearray()  # the incomplete last line of the chunks given to ``feed``

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event that ``chunk`` completes (chunks may split lines and events anywhere).

        The same as :func:`split_lines` then :meth:`decode` on each line, with a fast path for the common case
        (TGI sends each event as one HTTP chunk): one whole ``data: ...`` event, nothing pending.
        """
        if (
            chunk[:5] == b"data:"
            and chunk[-2:] == b"\n\n"
            and not self._buffer
            and not self._data
            and chunk.count(b"\n") == 2
            and b"\r" not in chunk
        ):
            value = chunk[5:-2]
            return [value[1:] if value[:1] == b" " else value]
        out: list[bytes] = []
        data = self._data
        for line in split_lines(self._buffer, chunk):
            if not line:
                if data:
                    out.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data = []
            elif line[:5] == b"data:":
                value = line[5:]
                data.append(value[1:] if value[:1] == b" " else value)
        self._data = data
        return out

    def close(self) -> list[bytes]:
        """At the end of the stream: the last event if it had no blank line after it (a truncated stream)."""
        if self._buffer:
            self.decode(bytes(self._buffer).rstrip(b"\r"))
            self._buffer.clear()
        data = self.flush()
        return [] if data is None else [data]

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
