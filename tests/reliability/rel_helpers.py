"""Helpers for the reliability suite: the scripted application served over TLS (``LocalServer`` speaks plain HTTP
only), and counting file descriptors and TCP connections from ``/proc``.

Everything binds 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from hf_endpoint.server._app import CONTROL, ServerConfig, build_app
from hf_endpoint.server._faults import ControlState
from hf_endpoint.server._serve import make_backend
from hf_endpoint.server._validation import Limits


def scripted_app(api_key: str | None = None) -> web.Application:
    """The scripted TGI application, built the way ``start_server`` builds it."""
    backend, defaults = make_backend("scripted", {})
    limits = Limits(max_total_tokens=backend.max_total_tokens, max_input_tokens=backend.max_input_tokens)
    config = ServerConfig(limits=limits, api_key=api_key, scripted=True)
    return build_app(backend, config, ControlState(backend_defaults=defaults))


class AppServer:
    """An aiohttp application on 127.0.0.1 in a background thread, over TLS when given an ``ssl_context``.

    ``control`` is the scripted application's fault state (``configure``/``last``/``stats`` without HTTP).
    """

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def control(self) -> ControlState:
        return self.app[CONTROL]

    def __enter__(self) -> AppServer:
        ready = threading.Event()

        async def serve() -> None:
            runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
            await site.start()
            port = runner.addresses[0][1]
            self.url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"
            self._stop = asyncio.Event()
            ready.set()
            try:
                await self._stop.wait()
            finally:
                await runner.cleanup()

        def target() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(serve())
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=target, name="rel-app-server", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the test server did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)


def tls_files(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A fresh CA and a server certificate for 127.0.0.1/localhost: the server's SSL context and the CA bundle."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    bundle = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return context, bundle


# ----------------------------------------------------------------------------------------------- /proc counters


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _tcp_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows += [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
    return rows


def established(port: int, *, side: str = "client") -> int:
    """ESTABLISHED TCP connections to (``side="client"``: remote port) or at (``"server"``: local port) ``port``."""
    count = 0
    for row in _tcp_rows():
        local, remote, state = row[1], row[2], row[3]
        if state != "01":
            continue
        endpoint = remote if side == "client" else local
        if int(endpoint.rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def rss_mib() -> tuple[float, float]:
    """This process's resident set size and its peak (VmHWM), in MiB."""
    values: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def run_coroutine(coro: Any) -> Any:
    """Run a coroutine on a fresh event loop (for sync tests that need an async client)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
