"""Images for the tests: small real PNGs made here, where they arrived on the server, and a loopback image host.

Importable from every test directory (``tests/`` is on ``sys.path`` through its ``conftest.py``).
"""

from __future__ import annotations

import hashlib
import http.server
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ImageHost", "digest", "image_host", "make_png", "pieces"]


def make_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A valid truecolour PNG of one colour (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pieces(record: dict[str, Any] | None) -> list[str]:
    """The chunks the server split the last request into: each text as is, each image as ``<image sha256>``.

    A test compares this list with the text around its images, so it proves each image arrived decoded, byte for
    byte (the digest), and at its place among the text parts.
    """
    assert record is not None, "the server received no request"
    assert "inputs" in record, "the last request carried no image"
    return [c["text"] if c["type"] == "text" else f"<image {c['sha256']}>" for c in record["inputs"]]


class ImageHost:
    """A loopback HTTP server serving fixed bytes by path (the URLs a TGI server would fetch)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests.append(self.path)
                body = host.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                payload = body if body is not None else b"not found"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@contextmanager
def image_host(files: dict[str, bytes]) -> Iterator[ImageHost]:
    host = ImageHost(files)
    host.start()
    try:
        yield host
    finally:
        host.stop()
