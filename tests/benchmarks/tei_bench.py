"""TEI benchmark: embedding 10,000 texts and reranking 1,000 through our clients and adapters, against raw
``requests`` / ``aiohttp`` doing the same batching (32 texts a request; 4 requests in flight for async), the
frameworks' own floors and the peer libraries. Client CPU per text and wall time per call.

The server is a canned TEI responder in its own process (``_tei_responder``), so the figures are the clients' own.
Each client runs in a worker process of its own (its own heap: a client's objects do not make another's garbage
collections longer, as they would in one process importing every framework). A round times every client in turn,
each for at least half a second (a short call is repeated); the table gives, per client, the median over
rounds, and the median of its ratio to raw ``requests`` (sync) or raw ``aiohttp`` (async) in the same round, so
that a slow moment of the machine weighs on both sides of a ratio. "x floor": an adapter against its framework's
own class over the same raw calls.

Run: ``python -m tests.benchmarks.tei_bench [--texts 10000] [--rerank 1000] [--rounds 7] [--only TEXT] [--json F]
[--markdown]``.
``--instructions``: instructions per text under valgrind's callgrind instead (steady from run to run; user space
only). ``--real``: wall time per call against the local server's real embedding model (``hf-endpoint serve
--backend embed``), where the model, not the client, sets the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ._tei_workloads import WORKLOADS, Workload

SAMPLE = 0.5  # seconds (of client CPU, or of wall time if longer) a sample takes at least
FRAMEWORK_FLOOR = {"LangChain": "langchain-core", "LlamaIndex": "llama-index-core"}


def _count(result: Any) -> int:
    """Results a call returned (vectors, ranks, documents, nodes; huggingface_hub returns one array a request)."""
    if result and hasattr(result[0], "shape"):
        return sum(int(part.shape[0]) for part in result)
    return len(result)


@dataclass
class Samples:
    workload: Workload
    texts: int
    cpu: list[float] = field(default_factory=list)  # per call, one a round
    wall: list[float] = field(default_factory=list)


def _check(name: str, result: Any, texts: int) -> None:
    if _count(result) != texts:
        raise AssertionError(f"{name}: not one result a text")


class _Driver:
    """One workload in the process it runs in: warmed up, then timed over ``reps`` calls a sample."""

    def __init__(self, name: str, url: str, texts: list[str]) -> None:
        self.workload, self.texts = WORKLOADS[name], len(texts)
        self.loop = asyncio.new_event_loop() if self.workload.asynchronous else None
        if self.loop is None:
            self.run = self.workload.make(url, texts)
        else:  # made inside the loop: an aiohttp session is bound to it

            async def make() -> Any:
                return self.workload.make(url, texts)

            self.run = self.loop.run_until_complete(make())
        _check(name, self.calls(1), self.texts)  # warm-up
        self.reps = 1

    def calibrate(self) -> int:
        """Set ``reps`` from one call (made with the machine otherwise idle)."""
        c0, w0 = time.process_time(), time.perf_counter()
        self.calls(1)
        one = max(time.process_time() - c0, time.perf_counter() - w0)
        self.reps = max(1, math.ceil(SAMPLE / one))
        return self.reps

    def calls(self, n: int) -> Any:
        """``n`` calls; the last one's result."""
        result: Any = None
        if self.loop is None:
            for _ in range(n):
                result = self.run()
            return result

        async def go() -> Any:
            result: Any = None
            for _ in range(n):
                result = await self.run()
            return result

        return self.loop.run_until_complete(go())

    def sample(self) -> tuple[float, float]:
        """(CPU seconds, wall seconds) per call, over ``reps`` calls."""
        c0, w0 = time.process_time(), time.perf_counter()
        self.calls(self.reps)
        return (time.process_time() - c0) / self.reps, (time.perf_counter() - w0) / self.reps

    def close(self) -> None:
        if self.loop is not None:
            if hasattr(self.run, "aclose"):
                self.loop.run_until_complete(self.run.aclose())
            self.loop.close()


def _serve_workload(conn: Any, name: str, url: str, texts: list[str], freeze: bool) -> None:
    """A worker process: set ``name`` up when told to, then answer ``"calibrate"`` and ``"sample"`` until
    ``"close"``."""
    try:
        conn.recv()  # "setup": one worker at a time (warm-ups at once would overload a real model's server)
        driver = _Driver(name, url, texts)
        if freeze:  # what a long-running service can do after start-up (README, "Garbage collection")
            gc.freeze()
    except BaseException as err:  # (reported to the parent, which names the workload)
        conn.send(("error", f"{type(err).__name__}: {err}"))
        return
    conn.send(("ready", None))
    try:
        while (command := conn.recv()) != "close":
            conn.send(driver.sample() if command == "sample" else driver.calibrate())
    except EOFError:  # the parent stopped (an error in another worker)
        return
    driver.close()
    conn.send("closed")


def _rounds(
    workloads: list[Workload], url: str, items: Callable[[Workload], list[str]], rounds: int, freeze: bool = False
) -> list[Samples]:
    """Each workload in its own process (its heap and collector its own, as a user's program has them); a round
    samples each in turn, the others waiting."""
    ctx = multiprocessing.get_context("spawn")
    workers: list[tuple[Samples, Any, Any]] = []
    try:
        for w in workloads:  # (the interpreters start together; each sets its client up when told)
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve_workload, args=(child, w.name, url, items(w), freeze), daemon=True)
            proc.start()
            workers.append((Samples(w, len(items(w))), parent, proc))
        for samples, parent, _ in workers:
            parent.send("setup")
            status = parent.recv()
            if status[0] == "error":
                raise RuntimeError(f"{samples.workload.name}: {status[1]}")
        for _, parent, _ in workers:  # one at a time
            parent.send("calibrate")
            parent.recv()
        for _ in range(rounds):
            for samples, parent, _ in workers:
                parent.send("sample")
                cpu, wall = parent.recv()
                samples.cpu.append(cpu)
                samples.wall.append(wall)
        for _, parent, _ in workers:
            parent.send("close")
            parent.recv()
    finally:
        for _, parent, proc in workers:
            parent.close()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return [samples for samples, _, _ in workers]


def _reference(w: Workload, role: str) -> str | None:
    """The row ``w`` is compared with: raw (``role="raw"``) or its framework over raw (``role="floor"``)."""
    lib = "aiohttp" if w.asynchronous else "requests"
    if role == "raw":
        return f"{w.kind}: raw {lib}"
    framework = next((f for name, f in FRAMEWORK_FLOOR.items() if name in w.name), None)
    if w.role != "adapter" or framework is None:
        return None
    floor = f"{w.kind}: {framework} over raw {lib}"
    return floor if floor in WORKLOADS else None


_ROLES = ("raw", "ours", "adapter", "floor", "peer")


def summarize(results: Iterable[Samples]) -> list[dict[str, Any]]:
    """A row a client: embed before rerank, sync before async, then raw, ours, adapters, floors, peers."""
    by_name = {s.workload.name: s for s in results}
    order = sorted(
        by_name.values(), key=lambda s: (s.workload.kind, s.workload.asynchronous, _ROLES.index(s.workload.role))
    )

    def ratio(s: Samples, role: str, what: str) -> float | None:
        ref = by_name.get(_reference(s.workload, role) or "")
        if ref is None:
            return None
        return statistics.median(a / b for a, b in zip(getattr(s, what), getattr(ref, what), strict=True))

    return [
        {
            "client": s.workload.name,
            "role": s.workload.role,
            "async": s.workload.asynchronous,
            "texts": s.texts,
            "cpu_per_text_us": statistics.median(s.cpu) / s.texts * 1e6,
            "cpu_x_raw": ratio(s, "raw", "cpu"),
            "cpu_x_floor": ratio(s, "floor", "cpu"),
            "wall_per_call_s": statistics.median(s.wall),
            "wall_x_raw": ratio(s, "raw", "wall"),
        }
        for s in order
    ]


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}x"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'client':54} {'CPU us/text':>11} {'x raw':>6} {'x floor':>7} {'wall s/call':>11} {'x raw':>6}",
    ]
    for r in rows:
        lines.append(
            f"{r['client']:54} {r['cpu_per_text_us']:11.2f} {_fmt(r['cpu_x_raw']):>6} {_fmt(r['cpu_x_floor']):>7} "
            f"{r['wall_per_call_s']:11.4f} {_fmt(r['wall_x_raw']):>6}"
        )
    return "\n".join(lines)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as the README's table."""
    lines = [
        "| client | CPU per text | x raw | x framework floor | wall per call | x raw |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        wall = r["wall_per_call_s"]
        lines.append(
            f"| {r['client']} | {r['cpu_per_text_us']:.1f} µs | {_fmt(r['cpu_x_raw'])} | {_fmt(r['cpu_x_floor'])} | "
            f"{wall * 1e3:.1f} ms | {_fmt(r['wall_x_raw'])} |"
        )
    return "\n".join(lines)


def _selected(only: list[str]) -> list[Workload]:
    """Workloads whose name contains one of ``only`` (all without it), plus the raw rows their ratios need."""
    chosen = [w for w in WORKLOADS.values() if not only or any(o.lower() in w.name.lower() for o in only)]
    need = {ref for w in chosen for ref in (_reference(w, "raw"), _reference(w, "floor")) if ref}
    return [w for w in WORKLOADS.values() if w in chosen or w.name in need]


def _texts(n: int) -> list[str]:
    return [f"passage {i}: " + "the quick brown fox jumps over the lazy dog " * 2 for i in range(n)]


#: peers' modules, by a word of their row's name (the bench extra installs them; a row is skipped without)
_PEER_MODULES = {
    "TextEmbeddingsInference": "llama_index.embeddings.text_embeddings_inference",
    "hub": "huggingface_hub",
}


def _available(workloads: list[Workload]) -> list[Workload]:
    out = []
    for w in workloads:
        module = next((m for word, m in _PEER_MODULES.items() if word in w.name), None)
        try:
            if module is not None:
                importlib.import_module(module)
        except ModuleNotFoundError as err:
            print(f"{w.name}: skipped, {err.name} is not installed")
            continue
        out.append(w)
    return out


def run_canned(args: argparse.Namespace) -> list[dict[str, Any]]:
    from ._tei_responder import responder

    embed, rerank = _texts(args.texts), _texts(args.rerank)

    def items(w: Workload) -> list[str]:
        return rerank if w.kind == "rerank" else embed

    workloads = _available(_selected(args.only))
    with responder() as url:
        results = _rounds(workloads, url, items, args.rounds, args.gc_freeze)
    return summarize(results)


def run_real(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Wall time per call on the real embedding model: the clients at the same concurrency as raw."""
    from hf_endpoint.server import LocalServer

    names = [
        "embed: raw requests",
        "embed: TEIClient",
        "embed: raw aiohttp",
        "embed: AsyncTEIClient",
        "embed: LangChain HFEndpointEmbeddings (async)",
        "embed: LlamaIndex HFEndpointEmbedding (async)",
    ]
    texts = [
        f"passage {i}: a sentence about topic number {i} and the weather on day {i % 31}" for i in range(args.texts)
    ]
    with LocalServer("embed", subprocess=True, startup_timeout=600) as srv:
        workloads = [WORKLOADS[n] for n in names]
        results = _rounds(workloads, srv.url, lambda w: texts, args.rounds, args.gc_freeze)
    return summarize(results)


# ----------------------------------------------------------------------------------------------------- instructions


def probe(name: str, url: str, texts: int, calls: int) -> None:
    """In a valgrind'd interpreter: set ``name`` up, warm it up (two calls), then make ``calls`` calls."""
    w = WORKLOADS[name]
    items = _texts(texts)
    if not w.asynchronous:
        run = w.make(url, items)
        for _ in range(2 + calls):
            run()
        return

    async def go() -> None:
        run = w.make(url, items)
        for _ in range(2 + calls):
            await run()
        if hasattr(run, "aclose"):
            await run.aclose()

    asyncio.run(go())


def _instructions(name: str, url: str, texts: int, calls: int) -> int:
    code = "import sys; from tests.benchmarks.tei_bench import probe; probe(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:5]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with tempfile.TemporaryDirectory(prefix="hf-endpoint-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code]
        proc = subprocess.run([*cmd, name, url, str(texts), str(calls)], capture_output=True, text=True, env=env)
    for line in proc.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[1].strip())
    raise RuntimeError(f"callgrind gave no count for {name}: {proc.stderr[-800:]}")


def run_instructions(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Instructions per text: two runs of each client (a few calls, more calls) after the same warm-up; the
    difference over the difference in texts."""
    from ._tei_responder import responder

    workloads = [w for w in _available(_selected(args.only)) if w.role != "peer"]
    rows: dict[str, float] = {}
    with responder() as url, ThreadPoolExecutor(max_workers=2) as pool:
        for w in workloads:
            texts = min(args.texts if w.kind == "embed" else args.rerank, 2000)
            few, many = (1, 4) if w.kind == "embed" else (2, 10)
            a, b = pool.map(lambda n, w=w, texts=texts: _instructions(w.name, url, texts, n), (few, many))
            rows[w.name] = (b - a) / ((many - few) * texts)
            print(f"instructions [{w.name}]: {rows[w.name]:,.0f} a text", file=sys.stderr)
    out = []
    for w in workloads:
        raw, floor = rows.get(_reference(w, "raw") or ""), rows.get(_reference(w, "floor") or "")
        out.append(
            {
                "client": w.name,
                "instructions_per_text": rows[w.name],
                "x_raw": rows[w.name] / raw if raw else None,
                "x_floor": rows[w.name] / floor if floor else None,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--texts", type=int, help="texts to embed (10,000; 256 with --real)")
    ap.add_argument("--rerank", type=int, default=1_000, help="texts to rerank")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", action="append", default=[], help="only the clients whose name contains this")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() in each client's process after warm-up")
    ap.add_argument("--markdown", action="store_true", help="the table as Markdown (as in the README)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--instructions", action="store_true", help="instructions per text (valgrind)")
    mode.add_argument("--real", action="store_true", help="wall time on the local server's real embedding model")
    args = ap.parse_args(argv)
    args.texts = args.texts or (256 if args.real else 10_000)
    if args.instructions:
        rows = run_instructions(args)
        print(f"{'client':54} {'instructions/text':>17} {'x raw':>6} {'x floor':>7}")
        for r in rows:
            print(f"{r['client']:54} {r['instructions_per_text']:17,.0f} {_fmt(r['x_raw']):>6} {_fmt(r['x_floor']):>7}")
    else:
        rows = run_real(args) if args.real else run_canned(args)
        print(markdown(rows) if args.markdown else table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
