"""``LocalServer``: start a server on a free port for tests, notebooks, the demo and benchmarks.

Two modes. In-process (default): the server runs on a background thread with its own event
loop, which starts in milliseconds. Subprocess (``subprocess=True``): ``python -m
hf_endpoint.server`` in a child process, so the server does not share the GIL with the code being
measured, and a real model's memory stays out of the test process. Both wait until the server
answers and raise ``ServerStartError`` (with the child's stderr tail) if it does not.

The control helpers (``configure``, ``reset``, ``stats``, ``last_request``) go over HTTP with
the standard library, so they behave the same in both modes and use none of the client package.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess as _subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import IO, Any

__all__ = ["LocalServer", "ServerStartError"]

API_KEY_ENV = "HF_ENDPOINT_SERVE_API_KEY"


class ServerStartError(RuntimeError):
    """The server did not start (the message includes the reason or the child's stderr tail)."""


class LocalServer:
    """A TGI- or TEI-protocol server on ``host`` and a free port; use as a (async) context manager.

    ``backend``: ``"scripted"`` (default, deterministic), ``"tiny"`` (the real language model) or
    ``"embed"`` (TEI's protocol with a real embedding model; ``LocalServer("scripted", mode="tei")`` is
    its deterministic twin).
    ``options``: backend options as for ``hf-endpoint serve`` (``reply``, ``n_tokens``,
    ``max_total_tokens``, ``max_input_tokens``, ``model_id``, ``mode``, ``token_delay``,
    ``threads``, ``model_path``; for TEI ``max_client_batch_size``, ``max_batch_tokens``,
    ``max_concurrent_requests``, ``payload_limit``, ``auto_truncate``, ``max_input_length``,
    ``model_type``, ``pooling``, ``engine``, ``served_model_name``).
    """

    def __init__(
        self,
        backend: str = "scripted",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        subprocess: bool = False,
        startup_timeout: float = 120.0,
        **options: Any,
    ) -> None:
        self.backend = backend
        self.host = host
        self.port = port
        self.subprocess = subprocess
        self.startup_timeout = startup_timeout
        self.options = options
        self._api_key = api_key
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._process: _subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._drain: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"LocalServer(backend={self.backend!r}, url={self._url!r}, subprocess={self.subprocess})"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._url is None:
            raise RuntimeError("the server is not running; use `with LocalServer(...) as server:`")
        return self._url

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalServer:
        if self._url is not None:
            return self
        if self.subprocess:
            self._start_subprocess()
        else:
            self._start_thread()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._stop_subprocess()
        if self._thread is not None:
            self._stop_thread()
        self._url = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- in-process mode -------------------------------------------------------------------

    def _start_thread(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            from ._serve import start_server

            try:
                running = await start_server(
                    self.backend, host=self.host, port=self.port, api_key=self._api_key, **self.options
                )
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            self._url = running.url
            self._stop_event = asyncio.Event()
            ready.set()
            try:
                await self._stop_event.wait()
            finally:
                await running.stop()

        def target() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(serve())
            finally:
                loop.close()

        self._thread = threading.Thread(target=target, name="hf-endpoint-server", daemon=True)
        self._thread.start()
        if not ready.wait(self.startup_timeout):
            raise ServerStartError(f"the {self.backend} server did not start in {self.startup_timeout} s")
        if failure:
            self._thread.join()
            self._thread = None
            raise ServerStartError(f"the {self.backend} server failed to start: {failure[0]}") from failure[0]

    def _stop_thread(self) -> None:
        loop, event, thread = self._loop, self._stop_event, self._thread
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)
        if thread is not None:
            thread.join(30)
        self._thread = None
        self._loop = None

    # -- subprocess mode -------------------------------------------------------------------

    def _argv(self) -> list[str]:
        argv = [sys.executable, "-m", "hf_endpoint.server", "--backend", self.backend]
        argv += ["--host", self.host, "--port", str(self.port)]
        for key, value in self.options.items():
            if value is None:
                continue
            flag = key.replace("_", "-")
            if isinstance(value, bool):  # on/off switches (--auto-truncate / --no-auto-truncate)
                argv.append(f"--{flag}" if value else f"--no-{flag}")
                continue
            argv += [f"--{flag}", str(value)]
        return argv

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-4000:]

    def _prepare_model(self) -> None:
        # First run: assemble the model here, where the user's terminal shows the progress line (the child's
        # stderr goes to a file). Without the extra the child reports what to install.
        if self.backend != "tiny" or self.options.get("model_path"):
            return
        from ._model_file import model_path

        try:
            model_path()
        except ImportError:
            return

    def _start_subprocess(self) -> None:
        self._prepare_model()
        env = dict(os.environ)
        env.pop(API_KEY_ENV, None)
        if self._api_key:
            env[API_KEY_ENV] = self._api_key  # not on the command line, where `ps` shows it
        # Kept open for the child's lifetime (closed in stop), hence no context manager.
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        # A session of its own: a terminal's Ctrl-C (or Jupyter's "interrupt kernel", sent to the process group)
        # interrupts the caller's work, not the server it still needs; stop() ends the child.
        self._process = _subprocess.Popen(
            self._argv(), stdout=_subprocess.PIPE, stderr=self._stderr, text=True, env=env, start_new_session=True
        )
        line: list[str] = []
        stdout = self._process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        text = line[0] if line else ""
        marker = "listening on "
        if marker not in text:
            self._process.kill()
            code = self._process.wait()
            stdout.close()
            self._process = None
            tail = self._stderr_tail()
            self._close_stderr()
            raise ServerStartError(f"the {self.backend} server did not start (exit code {code}); stderr tail:\n{tail}")
        self._url = text.split(marker, 1)[1].split()[0]
        # Keep draining stdout so the child never blocks on a full pipe.
        self._drain = threading.Thread(target=stdout.read, daemon=True)
        self._drain.start()
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self._url}/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        tail = self._stderr_tail()
        self.stop()
        raise ServerStartError(f"/health did not answer; stderr tail:\n{tail}")

    def _stop_subprocess(self) -> None:
        process = self._process
        if process is None:
            return
        process.terminate()
        try:
            process.wait(15)
        except _subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._process = None
        if self._drain is not None:
            self._drain.join(5)
            self._drain = None
        if process.stdout is not None:
            process.stdout.close()
        self._close_stderr()

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # -- control route ---------------------------------------------------------------------

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/__scripted__/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise ValueError(f"control route {method} {path}: {exc.code} {detail}") from None

    def configure(self, **faults: Any) -> dict[str, Any]:
        """Merge fault/reply settings (see ``hf_endpoint.server.testing``); returns the config."""
        result: dict[str, Any] = self._control("POST", "config", faults)["config"]
        return result

    def config(self) -> dict[str, Any]:
        """The current scripted configuration."""
        result: dict[str, Any] = self._control("GET", "config")["config"]
        return result

    def reset(self) -> None:
        """Back to the start-up configuration; clears counters and the last-request record."""
        self._control("DELETE", "config")

    def stats(self) -> dict[str, Any]:
        """``{"requests": {route: count}, "total": n}`` since start or the last reset."""
        result: dict[str, Any] = self._control("GET", "stats")
        return result

    def last_request(self) -> dict[str, Any] | None:
        """``{method, path, query, headers, body}`` of the last non-control request, or None.

        A request that carried images also has ``inputs``: its text and image chunks in order, as the server split
        them (``{"type": "image", "mimetype", "bytes", "sha256"}`` for each decoded image).
        """
        result: dict[str, Any] | None = self._control("GET", "last_request")
        return result
