"""`hf-endpoint chat`: the loop in-process, then the command as a user runs it (pipes, a real pseudo-terminal)."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import pytest

from hf_endpoint import TGIClient
from hf_endpoint.cli._chat import PROMPT, chat_loop
from hf_endpoint.server import LocalServer

REPLY = "Hello from the scripted backend."
CHAT = [sys.executable, "-m", "hf_endpoint.cli", "chat"]


def sent_body(server: LocalServer) -> dict[str, Any]:
    last = server.last_request()
    assert last is not None
    body: dict[str, Any] = json.loads(last["body"]) if isinstance(last["body"], str) else last["body"]
    return body


def lines(*typed: str | BaseException) -> Callable[[str], str]:
    """A ``read`` for chat_loop: returns each line in turn (raising exceptions), then EOF (Ctrl-D)."""
    pending = list(typed)

    def read(prompt: str) -> str:
        assert prompt == PROMPT
        if not pending:
            raise EOFError
        item = pending.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return read


def test_history_is_kept_and_sent(scripted: LocalServer) -> None:
    out = io.StringIO()
    with TGIClient(scripted.url) as client:
        history = chat_loop(client, lines("Hi", "", "And again?"), out, system="Be brief.", max_tokens=16)
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user", "assistant"]
    assert history[2]["content"] == REPLY
    assert out.getvalue() == f"{REPLY}\n{REPLY}\n\n"
    sent = sent_body(scripted)
    assert [m["content"] for m in sent["messages"]] == ["Be brief.", "Hi", REPLY, "And again?"]
    assert sent["max_tokens"] == 16


def test_reset_exit_and_ctrl_c_at_the_prompt(scripted: LocalServer) -> None:
    with TGIClient(scripted.url) as client:
        out = io.StringIO()
        history = chat_loop(client, lines("Hi", "/reset", "Hello", KeyboardInterrupt(), "never read"), out)
        assert [m["content"] for m in history] == ["Hello", REPLY]
        assert "(history cleared)" in out.getvalue()
        assert chat_loop(client, lines("/exit", "never read"), io.StringIO()) == []


def test_a_failed_turn_is_reported_and_not_kept() -> None:
    out = io.StringIO()
    with TGIClient("http://127.0.0.1:9", max_retries=0) as client:
        history = chat_loop(client, lines("Hi", "Hi again"), out)
    assert history == []
    assert out.getvalue().count("error: APIConnectionError") == 2


def test_the_tiny_server_child_is_spared_a_terminals_ctrl_c() -> None:
    # Ctrl-C in a terminal (and Jupyter's "interrupt kernel") signals the whole foreground process group.
    with LocalServer("scripted", subprocess=True) as srv:
        assert srv._process is not None
        assert os.getpgid(srv._process.pid) != os.getpgid(0)


class Reader:
    """Collects a child's stdout on a thread, so a test can wait for text without blocking forever."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        self._chunks: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stdout: IO[str]) -> None:
        while char := stdout.read(1):
            self._chunks.put(char)

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            try:
                self.text += self._chunks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{needle!r} not in output: {self.text!r}") from None
        return self.text


@pytest.fixture
def chat_process(scripted: LocalServer) -> Iterator[tuple[subprocess.Popen[str], Reader]]:
    process = subprocess.Popen(
        [*CHAT, "--url", scripted.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    yield process, Reader(process)
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def test_piped_session_answers_each_line_and_exits_at_eof(
    chat_process: tuple[subprocess.Popen[str], Reader], scripted: LocalServer
) -> None:
    process, reader = chat_process
    assert process.stdin is not None
    reader.wait_for(f"Chatting with hf-endpoint/scripted at {scripted.url}")
    process.stdin.write("Hi\nHow are you?\n")
    process.stdin.close()  # Ctrl-D
    assert process.wait(30) == 0
    reader.wait_for(f"{PROMPT}{REPLY}\n{PROMPT}{REPLY}\n{PROMPT}\n")
    assert len(sent_body(scripted)["messages"]) == 3


def test_sigint_stops_the_answer_not_the_session(
    chat_process: tuple[subprocess.Popen[str], Reader], scripted: LocalServer
) -> None:
    scripted.configure(n_tokens=2000, token_delay=0.02)  # a 40-second answer
    process, reader = chat_process
    assert process.stdin is not None
    reader.wait_for(PROMPT)
    process.stdin.write("Tell me everything\n")
    process.stdin.flush()
    reader.wait_for(REPLY)
    process.send_signal(signal.SIGINT)
    reader.wait_for("[interrupted after ")
    scripted.configure(n_tokens=None, token_delay=0.0)
    process.stdin.write("Short, please\n")
    process.stdin.close()
    assert process.wait(30) == 0
    _, partial, _ = sent_body(scripted)["messages"]
    assert partial["role"] == "assistant" and partial["content"].startswith(REPLY)  # the text the user saw
    assert reader.wait_for(f"{PROMPT}\n").endswith(f"{PROMPT}{REPLY}\n{PROMPT}\n")


def test_in_a_terminal_ctrl_c_and_ctrl_d(scripted: LocalServer) -> None:
    pexpect = pytest.importorskip("pexpect")
    scripted.configure(n_tokens=2000, token_delay=0.02)
    child = pexpect.spawn(CHAT[0], [*CHAT[1:], "--url", scripted.url], encoding="utf-8", timeout=30)
    try:
        child.expect_exact(PROMPT)
        child.sendline("Tell me everything")
        child.expect_exact(REPLY)
        child.sendcontrol("c")  # the terminal sends SIGINT to the foreground process group
        child.expect_exact("[interrupted after ")
        child.expect_exact(PROMPT)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


@pytest.mark.tiny
def test_without_a_url_it_starts_the_tiny_model() -> None:
    pexpect = pytest.importorskip("pexpect")
    pytest.importorskip("xllamacpp")
    env = {k: v for k, v in os.environ.items() if k != "HF_ENDPOINT_URL"}
    child = pexpect.spawn(CHAT[0], [*CHAT[1:], "--temperature", "0"], env=env, encoding="utf-8", timeout=120)
    try:
        child.expect_exact("starting the local server (tiny)")
        child.expect_exact("Chatting with google/gemma-3-270m")
        child.expect_exact(PROMPT)
        child.sendline("What is the capital of France?")
        child.expect_exact("Paris")
        child.expect_exact(PROMPT)
        child.sendcontrol("c")  # at the prompt: exits, and stops the server it started
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
