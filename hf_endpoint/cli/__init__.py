"""The ``hf-endpoint`` command line: the application layer, the one place above the adapters.

``serve`` runs the local server; ``demo`` drives the transport, LangChain and LlamaIndex end to end; ``chat`` is a
terminal chat on the transport. Nothing else in the distribution imports this package (a test reads every module's
imports to keep it so). Subcommands live in ``COMMANDS``: each is ``(name, help, add_arguments, run)``, so adding
one is a few lines. ``main`` returns the exit code instead of exiting, for tests.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from ..server._command import add_arguments as _add_serve_arguments
from ..server._command import run as _run_serve

__all__ = ["COMMANDS", "build_parser", "main"]

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=None, help="endpoint or TGI server URL (default: $HF_ENDPOINT_URL, else the local tiny model)"
    )
    parser.add_argument(
        "--embed-url",
        default=None,
        help="embedding endpoint or TEI server URL for the retrieval steps (default: $HF_EMBED_URL, else the local "
        "embedding model)",
    )


def _run_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(args.url, args.embed_url)


def _add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    from ._chat import add_arguments

    add_arguments(parser)


def _run_chat(args: argparse.Namespace) -> int:
    from ._chat import run

    return run(args)


COMMANDS: list[Command] = [
    ("serve", "run a local TGI-protocol server", _add_serve_arguments, _run_serve),
    ("demo", "the transport, LangChain and LlamaIndex end to end", _add_demo_arguments, _run_demo),
    ("chat", "an interactive streaming chat in the terminal", _add_chat_arguments, _run_chat),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-endpoint", description="The hf-endpoint command line.")
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
