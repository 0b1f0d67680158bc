"""One benchmark worker: a process that imports one client's library and runs the measurements it is sent.

Protocol: one JSON command per line on stdin, one JSON answer per line on the file descriptor given as argv[1]
(stdout is sent to stderr, because some peers print to stdout). CPU time is ``time.process_time()`` of this
process (all its threads, so a peer's background threads are counted); the server runs in another process.

Network guard: before anything is imported, ``socket.connect`` and ``getaddrinfo`` refuse every address but the
loopback, so a peer that wants the internet fails at once (reported as "needs network") instead of hanging.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any

_LOOPBACK = ("127.", "::1", "localhost")


def _install_network_guard() -> None:
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def allowed(address: Any) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        return not isinstance(host, str) or host.startswith(_LOOPBACK) or host.startswith("/")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
            raise ConnectionRefusedError(f"benchmark network guard: {address!r} is not the loopback")
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
            raise ConnectionRefusedError(f"benchmark network guard: {address!r} is not the loopback")
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not (isinstance(host, (str, bytes)) and _is_loopback_name(host)):
            raise socket.gaierror(f"benchmark network guard: no DNS for {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo


def _is_loopback_name(host: str | bytes) -> bool:
    name = host.decode() if isinstance(host, bytes) else host
    return name.startswith(_LOOPBACK)


# Offline-friendly settings for the peers (set before they are imported). HF_HUB_OFFLINE is *not* set: it makes
# huggingface_hub refuse every URL, the loopback included; the guard above does that job for the internet.
_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
}


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Worker:
    def __init__(self) -> None:
        import asyncio

        self.asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.client: Any = None  # the client the current command is for
        self.clients: dict[str, Any] = {}

    # --------------------------------------------------------------------------------------------------- commands

    def setup(self, client: str, small: str, big: str) -> dict[str, Any]:
        cpu, wall = time.process_time(), time.perf_counter()
        from ._clients import CLIENTS

        obj = CLIENTS[client]()
        obj.setup(small, big)
        self.client = self.clients[client] = obj
        return {"setup_s": time.perf_counter() - wall, "setup_cpu_s": time.process_time() - cpu, "rss_mb": rss_mb()}

    def warmup(self, freeze: bool = False) -> dict[str, Any]:
        """A few calls of each kind, on the small server: pools open, /info cached, lazy imports done. ``freeze``:
        then ``gc.freeze()``, so that full collections no longer walk the libraries' import-time objects."""
        c = self.client
        if c.has_sync:
            for _ in range(3):
                c.call()
            c.stream(big=False)
        if c.has_async:
            self.loop.run_until_complete(self._concurrent(c.acall, 10, 5))
            self.loop.run_until_complete(c.astream(big=False))
        if freeze:
            import gc

            gc.collect()
            gc.freeze()
        return {"rss_mb": rss_mb()}

    def seq(self, n: int) -> dict[str, Any]:
        call = self.client.call
        return self._measure(lambda: [call() for _ in range(n)], n)

    def stream(self, n: int) -> dict[str, Any]:
        counts: list[int] = []
        out = self._measure(lambda: counts.extend(self.client.stream(big=True) for _ in range(n)), n)
        out["events"] = counts[0] if counts else 0
        return out

    def concurrent(self, total: int, inflight: int) -> dict[str, Any]:
        coro = self._concurrent(self.client.acall, total, inflight)
        return self._measure(lambda: self.loop.run_until_complete(coro), total)

    def astream(self, n: int) -> dict[str, Any]:
        async def run() -> list[int]:
            return [await self.client.astream(big=True) for _ in range(n)]

        counts: list[int] = []
        out = self._measure(lambda: counts.extend(self.loop.run_until_complete(run())), n)
        out["events"] = counts[0] if counts else 0
        return out

    def streams(self, count: int) -> dict[str, Any]:
        """``count`` streams at once (20 tokens each); errors are counted, not raised."""
        results: list[Any] = []

        async def run() -> None:
            tasks = [self.client.astream(big=False) for _ in range(count)]
            results.extend(await self.asyncio.gather(*tasks, return_exceptions=True))

        out = self._measure(lambda: self.loop.run_until_complete(run()), count)
        errors = [r for r in results if isinstance(r, BaseException)]
        events = [r for r in results if not isinstance(r, BaseException)]
        out["errors"] = len(errors)
        out["first_error"] = f"{type(errors[0]).__name__}: {errors[0]}"[:300] if errors else None
        out["events_min"] = min(events) if events else 0
        out["events_max"] = max(events) if events else 0
        return out

    def leak(self, n: int, warm: int) -> dict[str, Any]:
        """RSS before and after ``n`` requests (sync if the client has a sync side, else 50 in flight)."""
        import gc

        c = self.client

        def run(k: int) -> None:
            if c.has_sync:
                for _ in range(k):
                    c.call()
            else:
                self.loop.run_until_complete(self._concurrent(c.acall, k, 50))

        run(warm)
        gc.collect()
        before = rss_mb()
        out = self._measure(lambda: run(n), n)
        gc.collect()
        out.update(rss_before_mb=before, rss_after_mb=rss_mb())
        return out

    def close(self) -> dict[str, Any]:
        for client in self.clients.values():
            self.loop.run_until_complete(client.aclose())
        return {}

    # --------------------------------------------------------------------------------------------------- helpers

    async def _concurrent(self, acall: Any, total: int, inflight: int) -> None:
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await acall()

        await self.asyncio.gather(*(worker() for _ in range(inflight)))

    @staticmethod
    def _measure(fn: Any, n: int) -> dict[str, Any]:
        cpu, wall = time.process_time(), time.perf_counter()
        fn()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return {"cpu_s": cpu / n, "wall_s": wall / n, "n": n}


def main() -> None:
    import json
    import traceback

    out = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    sys.stdout = sys.stderr
    worker = Worker()
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "quit":
            break
        if op != "setup" and "client" in cmd:
            worker.client = worker.clients.get(cmd.pop("client"))
        try:
            result: dict[str, Any] = {"ok": True, **getattr(worker, op)(**cmd)}
        except BaseException as exc:  # reported to the orchestrator, which records it
            traceback.print_exc()
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    os.environ.update(_ENV)
    _install_network_guard()
    main()
