"""A loopback HTTPS proxy that serves fixed files for named URLs, so a test that downloads from the internet runs
with no network, over real HTTP, CONNECT tunnels and TLS, without patching any library.

LangChain's standard image tests download a picture with ``httpx.get(<github URL>)``, and with
``supports_image_urls`` send that URL to the model server, which fetches it too. Both find this proxy through the
standard environment, which every HTTP client involved honours (httpx, aiohttp with ``trust_env``, and TGI's own
reqwest): ``HTTPS_PROXY`` points at it and ``SSL_CERT_FILE`` at its certificate authority, made fresh by
``trustme`` for the served hosts only. Anything else gets 502: nothing leaves the machine.
"""

from __future__ import annotations

import os
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

__all__ = ["offline_web"]


def _read_head(stream: BinaryIO) -> tuple[str, str]:
    """The request line's method and target; the headers are read and dropped."""
    line = stream.readline(65536).decode("latin-1").strip()
    while stream.readline(65536).strip():
        pass
    method, target, _ = [*line.split(" ", 2), "", ""][:3]
    return method, target


def _answer(stream: BinaryIO, body: bytes | None) -> None:
    status = b"200 OK" if body is not None else b"404 Not Found"
    payload = body if body is not None else b"not served by the offline proxy"
    stream.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(payload)).encode())
    stream.write(b"\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n" + payload)
    stream.flush()


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, files: dict[str, bytes], tls: ssl.SSLContext) -> None:
        self.files = files
        self.hosts = {urlsplit(url).hostname for url in files}
        self.tls = tls
        self.served: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(socketserver.StreamRequestHandler):
    server: _Proxy

    def handle(self) -> None:
        method, target = _read_head(self.rfile)
        if method != "CONNECT":  # a plain-HTTP proxy request names the whole URL
            self._serve(self.wfile, target)
            return
        host = target.rsplit(":", 1)[0]
        if host not in self.server.hosts:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        with self.server.tls.wrap_socket(self.connection, server_side=True) as tunnel:
            stream = tunnel.makefile("rwb")
            _, path = _read_head(stream)
            self._serve(stream, f"https://{host}{path}")
            stream.close()

    def _serve(self, stream: BinaryIO, url: str) -> None:
        self.server.served.append(url)
        _answer(stream, self.server.files.get(url))


@contextmanager
def offline_web(files: dict[str, bytes]) -> Iterator[list[str]]:
    """Serve ``files`` (``{url: bytes}``) through a loopback proxy set in the environment; yields the URLs served."""
    import trustme

    hosts = sorted({str(urlsplit(url).hostname) for url in files})
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hosts).configure_cert(tls)
    proxy = _Proxy(files, tls)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    saved = {k: os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "SSL_CERT_FILE", "NO_PROXY", "no_proxy")}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        address = f"http://127.0.0.1:{proxy.server_address[1]}"
        os.environ.update(
            {
                "HTTPS_PROXY": address,
                "https_proxy": address,
                "SSL_CERT_FILE": str(bundle),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        try:
            yield proxy.served
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            proxy.shutdown()
            proxy.server_close()
            thread.join(10)
