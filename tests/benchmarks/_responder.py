"""A minimal, fast TGI-shaped responder for the benchmarks: canned bytes recorded from the scripted server.

The scripted backend validates every request the way TGI does and builds every answer, which costs the server
more CPU per request than the clients we measure spend; on a 2-core machine that competes with the client. So the
benchmark records the scripted server's exact answers once (``record``), and this responder (a raw asyncio
protocol in its own process) replays them: it reads the request line, headers and body, picks the canned answer by
path and by the body's ``"stream"``/``"details"``/``"include_usage"`` flags, and writes precomputed bytes. Streams
go out in HTTP chunked encoding, one chunk per SSE event, as TGI frames them.

Run: ``python -m tests.benchmarks._responder FIXTURES.json`` prints ``listening on URL [URL ...]`` (one port per
fixture set, e.g. 20-token and 2000-token answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import sys
from typing import Any
from urllib.parse import urlsplit

__all__ = ["record", "serve"]

PROMPT = [{"role": "user", "content": "Say hello."}]

# (key, method, path, body): what `record` asks the scripted server, and the key the responder serves it under.
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_DETAILS = re.compile(rb'"details"\s*:\s*true')
_USAGE = re.compile(rb'"include_usage"\s*:\s*true')
_DROP_HEADERS = {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive"}


def _requests(max_tokens: int) -> list[tuple[str, str, str, Any]]:
    chat = {"model": "tgi", "messages": PROMPT, "max_tokens": max_tokens}
    gen = {"inputs": "Say hello.", "parameters": {"max_new_tokens": max_tokens}}
    gen_d = {"inputs": "Say hello.", "parameters": {"max_new_tokens": max_tokens, "details": True}}
    out: list[tuple[str, str, str, Any]] = [
        ("GET /info", "GET", "/info", None),
        ("GET /health", "GET", "/health", None),
        ("GET /v1/models", "GET", "/v1/models", None),
        ("chat", "POST", "/v1/chat/completions", chat),
        ("chat stream", "POST", "/v1/chat/completions", {**chat, "stream": True}),
        (
            "chat stream usage",
            "POST",
            "/v1/chat/completions",
            {**chat, "stream": True, "stream_options": {"include_usage": True}},
        ),
        ("generate", "POST", "/generate", gen),
        ("generate details", "POST", "/generate", gen_d),
        ("generate stream", "POST", "/generate_stream", gen),
        ("generate stream details", "POST", "/generate_stream", gen_d),
        ("root", "POST", "/", gen),
        ("root details", "POST", "/", gen_d),
    ]
    return out


def record(url: str, max_tokens: int) -> dict[str, Any]:
    """The scripted server's answers (status, headers, body or SSE events) to the requests the benchmark makes."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    fixtures: dict[str, Any] = {}
    try:
        for key, method, path, body in _requests(max_tokens):
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"recording {key}: HTTP {resp.status}: {raw[:300]!r}")
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _DROP_HEADERS]
            entry: dict[str, Any] = {"status": resp.status, "headers": kept}
            if "event-stream" in (resp.getheader("content-type") or ""):
                entry["events"] = [e.decode() + "\n\n" for e in raw.split(b"\n\n") if e.strip()]
            else:
                entry["body"] = raw.decode()
            fixtures[key] = entry
    finally:
        conn.close()
    return fixtures


def _response_bytes(entry: dict[str, Any]) -> bytes:
    head = [f"HTTP/1.1 {entry['status']} OK"] + [f"{k}: {v}" for k, v in entry["headers"]]
    if "events" in entry:
        head.append("Transfer-Encoding: chunked")
        chunks = []
        for event in entry["events"]:
            data = event.encode()
            chunks.append(b"%x\r\n%s\r\n" % (len(data), data))
        return ("\r\n".join(head) + "\r\n\r\n").encode() + b"".join(chunks) + b"0\r\n\r\n"
    body = entry["body"].encode()
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_NOT_FOUND = (
    b'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{"error":"not found"}'
)


class _Canned:
    def __init__(self, fixtures: dict[str, Any]) -> None:
        self.r = {key: _response_bytes(entry) for key, entry in fixtures.items()}

    def pick(self, method: bytes, path: bytes, body: bytes) -> bytes:
        path = path.split(b"?", 1)[0]
        if method == b"GET":
            return self.r.get("GET " + path.decode("latin-1"), _NOT_FOUND)
        details = b"details" in body and _DETAILS.search(body) is not None
        if path == b"/v1/chat/completions":
            if b"stream" in body and _STREAM.search(body):
                return self.r["chat stream usage" if _USAGE.search(body) else "chat stream"]
            return self.r["chat"]
        if path == b"/generate_stream" or (path == b"/" and _STREAM.search(body)):
            return self.r["generate stream details" if details else "generate stream"]
        if path == b"/generate":
            return self.r["generate details" if details else "generate"]
        if path == b"/":
            return self.r["root details" if details else "root"]
        return _NOT_FOUND


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length or chunked request bodies, one request at a time per connection."""

    def __init__(self, canned: _Canned) -> None:
        self.canned = canned
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            lines = head.split(b"\r\n")
            method, path = lines[0].split(b" ", 2)[:2]
            length, chunked, close = 0, False, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            start = end + 4
            if chunked:
                body, consumed = _dechunk(self.buf, start)
                if body is None:
                    return
                del self.buf[:consumed]
            else:
                if len(self.buf) < start + length:
                    return
                body = bytes(self.buf[start : start + length])
                del self.buf[: start + length]
            assert self.transport is not None
            self.transport.write(self.canned.pick(method, path, body))
            if close:
                self.transport.close()
                return


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes | None, int]:
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None, 0
        size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        if len(buf) < eol + 2 + size + 2:
            return None, 0
        out += buf[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2
        if size == 0:
            return bytes(out), pos


async def serve(fixture_sets: list[dict[str, Any]], host: str = "127.0.0.1") -> None:
    loop = asyncio.get_running_loop()
    urls = []
    for fixtures in fixture_sets:
        canned = _Canned(fixtures)
        server = await loop.create_server(lambda c=canned: _Protocol(c), host, 0, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        urls.append(f"http://{host}:{port}")
    print("listening on " + " ".join(urls), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sets = json.load(f)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(sets))
