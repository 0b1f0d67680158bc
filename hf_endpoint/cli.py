"""The ``hf-endpoint`` command line.

Subcommands live in ``COMMANDS``: each is ``(name, help, add_arguments, run)``, so adding one
(``demo``, ``chat``) is a few lines. ``main`` returns the exit code instead of exiting, for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["COMMANDS", "build_parser", "main"]

API_KEY_ENV = "HF_ENDPOINT_SERVE_API_KEY"


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=("tiny", "scripted"),
        default="tiny",
        help="tiny: Gemma 3 270M on llama.cpp (default); scripted: deterministic test backend",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default 8080)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"require 'Authorization: Bearer KEY' like TGI (default: ${API_KEY_ENV})",
    )
    parser.add_argument(
        "--max-total-tokens",
        type=int,
        default=4096,
        help="prompt + generated tokens limit; the tiny model's context size (default 4096)",
    )
    parser.add_argument(
        "--max-input-tokens", type=int, default=None, help="prompt limit (default max-total-tokens - 1)"
    )
    parser.add_argument("--model-id", default=None, help="model id reported by /info")
    parser.add_argument("--threads", type=int, default=1, help="tiny: llama.cpp threads (default 1)")
    parser.add_argument("--model-path", default=None, help="tiny: a GGUF file to use instead of Gemma 3 270M")
    parser.add_argument("--reply", default=None, help="scripted: the fixed reply text")
    parser.add_argument("--n-tokens", type=int, default=None, help="scripted: emit N tokens instead of the reply")
    parser.add_argument("--token-delay", type=float, default=None, help="scripted: seconds before each token")
    parser.add_argument(
        "--mode",
        choices=("tgi", "openai"),
        default=None,
        help="scripted: 'openai' emulates a vLLM-like engine (no /info, no /generate)",
    )


async def _serve(args: argparse.Namespace) -> int:
    from hf_endpoint.server._serve import MissingExtraError, start_server

    options: dict[str, Any] = {
        key: getattr(args, key)
        for key in (
            "max_total_tokens",
            "max_input_tokens",
            "model_id",
            "threads",
            "model_path",
            "reply",
            "n_tokens",
            "token_delay",
            "mode",
        )
    }
    try:
        running = await start_server(args.backend, host=args.host, port=args.port, api_key=args.api_key, **options)
    except MissingExtraError as exc:
        print(f"hf-endpoint serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hf-endpoint serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"hf-endpoint serve: listening on {running.url} (backend {args.backend}, model {running.model_id})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await running.stop()
    print("hf-endpoint serve: stopped", flush=True)
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=None, help="endpoint or TGI server URL (default: $HF_ENDPOINT_URL, else the local tiny model)"
    )


def _run_demo(args: argparse.Namespace) -> int:
    from hf_endpoint._demo import run_demo

    return run_demo(args.url)


def _add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    from hf_endpoint._chat_cli import add_arguments

    add_arguments(parser)


def _run_chat(args: argparse.Namespace) -> int:
    from hf_endpoint._chat_cli import run

    return run(args)


COMMANDS: list[Command] = [
    ("serve", "run a local TGI-protocol server", _add_serve_arguments, _run_serve),
    ("demo", "the transport, LangChain and LlamaIndex end to end", _add_demo_arguments, _run_demo),
    ("chat", "an interactive streaming chat in the terminal", _add_chat_arguments, _run_chat),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-endpoint", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_arguments, run in COMMANDS:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
