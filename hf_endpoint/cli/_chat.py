"""``hf-endpoint chat``: an interactive, streaming chat in the terminal.

The history is kept for the session (``/reset`` clears it). Ctrl-C while an answer streams stops that answer
(the partial text stays in the history, as the user saw it, and the connection is closed so the server stops
generating); Ctrl-C or Ctrl-D at the prompt exits. Without ``--url`` or ``HF_ENDPOINT_URL`` it starts the local
tiny model, like ``hf-endpoint demo``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from hf_endpoint import HFEndpointError, TGIClient

__all__ = ["add_arguments", "chat_loop", "run"]

HELP = "Ctrl-C stops an answer; Ctrl-D or Ctrl-C at the prompt exits; /reset clears the history."
PROMPT = "you> "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=None, help="endpoint or TGI server URL (default: $HF_ENDPOINT_URL, else a local server)"
    )
    parser.add_argument(
        "--backend",
        choices=("tiny", "scripted"),
        default="tiny",
        help="the local server's backend when there is no URL: tiny (Gemma 3 270M, default) or scripted",
    )
    parser.add_argument("--system", default=None, help="a system message at the start of the conversation")
    parser.add_argument("--max-tokens", type=int, default=256, help="longest answer in tokens (default 256)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature (server default)")


@contextlib.contextmanager
def _endpoint(url: str | None, backend: str, out: TextIO) -> Iterator[str]:
    if url:
        yield url
        return
    from hf_endpoint.server import LocalServer

    print(f"No --url or HF_ENDPOINT_URL: starting the local server ({backend}) ...", file=out, flush=True)
    # The tiny model runs in a child process of its own session, so Ctrl-C here never reaches it.
    with LocalServer(backend, subprocess=backend == "tiny", startup_timeout=600) as srv:
        yield srv.url


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):  # line editing and arrow-key history where readline exists
            import readline  # noqa: F401
    params: dict[str, Any] = {"max_tokens": args.max_tokens}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    try:
        with (
            _endpoint(args.url or os.environ.get("HF_ENDPOINT_URL"), args.backend, out) as base,
            TGIClient(base) as client,
        ):
            info = client.info()
            model = info.model_id if info else (client.served_model or "the model")
            print(f"Chatting with {model} at {base}. {HELP}", file=out, flush=True)
            chat_loop(client, input, out, system=args.system, **params)
    except KeyboardInterrupt:  # while the local server starts
        print(file=out)
        return 130
    except HFEndpointError as exc:
        print(f"hf-endpoint chat: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def chat_loop(
    client: TGIClient, read: Callable[[str], str], out: TextIO, *, system: str | None = None, **params: Any
) -> list[dict[str, str]]:
    """Read a line, stream the answer, repeat until EOF or Ctrl-C at the prompt; returns the history."""
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    while True:
        try:
            line = read(PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            print(file=out, flush=True)  # leave the shell prompt on a line of its own
            return history
        if not line:
            continue
        if line in ("/exit", "/quit"):
            return history
        if line == "/reset":
            del history[1 if system else 0 :]
            print("(history cleared)", file=out, flush=True)
            continue
        history.append({"role": "user", "content": line})
        try:
            answer = _stream_answer(client, history, out, params)
        except HFEndpointError as exc:
            history.pop()  # the question was not answered: asking again should not send it twice
            print(f"error: {type(exc).__name__}: {exc}", file=out, flush=True)
            continue
        history.append({"role": "assistant", "content": answer})


def _stream_answer(client: TGIClient, history: list[dict[str, str]], out: TextIO, params: dict[str, Any]) -> str:
    parts: list[str] = []
    stream = client.chat_stream(history, **params)
    start = time.perf_counter()
    try:
        for chunk in stream:
            text = chunk.choices[0].delta.content if chunk.choices else None
            if not parts:
                text = (text or "").lstrip()  # completion-style models start with a space
            if not text:
                continue
            parts.append(text)
            out.write(text)
            out.flush()
    except KeyboardInterrupt:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # closes the response: the server sees the disconnect and stops generating
        out.write(f" [interrupted after {time.perf_counter() - start:.1f} s]")
    out.write("\n")
    out.flush()
    return "".join(parts)
