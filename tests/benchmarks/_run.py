"""The benchmark run: server, workers, interleaved rounds, ratios, the table and the JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ._clients import BIG, CLIENTS, SMALL
from ._imports import measure_imports

ROOT = Path(__file__).resolve().parents[2]

#: Clients that share a worker process with another client of the same library (fewer imports at start-up; each
#: client is still measured alone). The others each have their own process.
GROUPS = {
    "raw-generate": "raw",
    "hub-generate": "hub-chat",
    "langchain-huggingface-llm": "langchain-huggingface",
    "litellm-url": "litellm",
    "langchain-raw-floor": "langchain-floor",
    "llama-index-raw-floor": "llama-index-floor",
}

#: (scenario id, side, worker op, column title)
SCENARIOS = [
    ("seq", "sync", "seq", "sequential, 20 tokens: CPU/request"),
    ("stream", "sync", "stream", "one 2000-token stream: CPU"),
    ("async50", "async", "concurrent", "200 requests at 50 in flight: CPU/request"),
    ("astream", "async", "astream", "one 2000-token stream, async: CPU"),
]


@dataclass
class Settings:
    quick: bool
    rounds: int
    seq_n: int
    stream_n: int
    async_total: int
    async_inflight: int
    streams_count: int
    streams_rounds: int
    leak_n: int
    leak_warm: int
    import_reps: int
    timeout: float
    clients: list[str]
    streams_clients: list[str]
    slow_budget: float  # quick mode: a (client, scenario) whose first sample took longer than this runs once only
    seq_parts: int = 4  # a round's sequential requests go in this many interleaved batches
    # Batches of "200 requests at 50 in flight" per round: one batch is ~30 ms of CPU, at the mercy of a scheduler
    # hiccup or of how the answers happen to bunch up per event-loop turn; a round sums several.
    async_parts: int = 2
    gc_freeze: bool = False  # workers call gc.freeze() after their warm-up (--gc-freeze)

    @classmethod
    def make(cls, quick: bool, clients: list[str]) -> Settings:
        if quick:
            return cls(
                quick,
                rounds=3,
                seq_n=30,
                stream_n=1,
                async_total=200,
                async_inflight=50,
                streams_count=1000,
                streams_rounds=1,
                leak_n=500,
                leak_warm=100,
                import_reps=1,
                timeout=8.0,
                clients=clients,
                streams_clients=["raw", "ours-chat", "ours-native"],
                slow_budget=0.3,
                seq_parts=2,
                async_parts=1,
            )
        async_ids = [c for c in clients if CLIENTS[c].has_async]
        # stream_n=4: a full garbage collection over LangChain's or LlamaIndex's heap comes every 3-4 streams of
        # 2000 tokens (~40 ms each); with one stream per sample the median depended on where those fell.
        return cls(
            quick,
            rounds=9,
            seq_n=200,
            stream_n=4,
            async_total=200,
            async_inflight=50,
            streams_count=1000,
            streams_rounds=3,
            leak_n=10_000,
            leak_warm=1000,
            import_reps=7,
            timeout=60.0,
            clients=clients,
            streams_clients=async_ids,
            slow_budget=float("inf"),
            async_parts=6,
        )


@dataclass
class WorkerProc:
    """A worker process and the pipe its answers come on."""

    client: str
    proc: subprocess.Popen[str]
    reader: int
    log: Any
    buffer: bytes = b""
    dead: bool = False

    def request(self, timeout: float, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.dead = True
            return {"ok": False, "error": "worker died: " + self.log_tail()}
        return self.read(timeout)

    def read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return {"ok": False, "timeout": True, "error": f"timeout: no answer within {timeout:.0f} s"}
            ready, _, _ = select.select([self.reader], [], [], left)
            if ready:
                chunk = os.read(self.reader, 65536)
                if not chunk:
                    self.dead = True
                    return {"ok": False, "error": "worker died: " + self.log_tail()}
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        result: dict[str, Any] = json.loads(line)
        return result

    def log_tail(self) -> str:
        try:
            self.log.flush()
            self.log.seek(0)
            lines = [ln for ln in self.log.read().splitlines() if ln.strip()]
            return " | ".join(lines[-3:])[-400:]
        except (OSError, ValueError):
            return ""

    def kill(self) -> None:
        self.dead = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            with_timeout = 10.0
            try:
                self.request(with_timeout, op="close")
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(with_timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        os.close(self.reader)
        self.log.close()


@dataclass
class Run:
    settings: Settings
    small: str = ""
    big: str = ""
    workers: dict[str, WorkerProc] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)  # client -> "ok" | "n/a: ..."
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # (client, scenario) -> why
    samples: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    env_extra: dict[str, str] = field(default_factory=dict)
    log_dir: str = ""
    once: set[tuple[str, str]] = field(default_factory=set)  # measured once (quick mode, slow cases)

    # ------------------------------------------------------------------------------------------------ workers

    def start_workers(self, clients: list[str]) -> None:
        """Start every worker at once (their imports overlap), then set each client up and warm it up in turn."""
        groups: dict[str, list[str]] = {}
        for client in clients:
            groups.setdefault(GROUPS.get(client, client), []).append(client)
        spawned = [(group, members, self.spawn(group)) for group, members in groups.items()]
        for _group, members, worker in spawned:
            assert worker.proc.stdin is not None
            for client in members:
                worker.proc.stdin.write(
                    json.dumps({"op": "setup", "client": client, "small": self.small, "big": self.big}) + "\n"
                )
            worker.proc.stdin.flush()
        for group, members, worker in spawned:
            for client in members:
                self._finish_setup(client, worker, worker.read(120))
            if not any(self.status.get(c) == "ok" for c in members):
                worker.kill()
                worker.close()
            else:
                self.workers[group] = worker

    def _finish_setup(self, client: str, worker: WorkerProc, res: dict[str, Any]) -> None:
        if res.get("ok"):
            res = worker.request(
                max(self.settings.timeout, 30), op="warmup", client=client, freeze=self.settings.gc_freeze
            )
        self.status[client] = "ok" if res.get("ok") else _na(res.get("error", "failed"))

    def spawn(self, group: str) -> WorkerProc:
        reader, writer = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(self.env_extra)
        log = open(Path(self.log_dir) / f"{group}.log", "a+", encoding="utf-8")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks._worker", str(writer)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            text=True,
            cwd=ROOT,
            env=env,
            pass_fds=(writer,),
        )
        os.close(writer)
        return WorkerProc(group, proc, reader, log)

    def worker(self, client: str) -> WorkerProc | None:
        """The live worker of ``client``'s group; a worker killed after a timeout is started again."""
        group = GROUPS.get(client, client)
        w = self.workers.get(group)
        if w is not None and not w.dead:
            return w
        if w is not None:
            w.close()
            del self.workers[group]
        members = [c for c in self.settings.clients if GROUPS.get(c, c) == group and self.status.get(c) == "ok"]
        if client not in members:
            return None
        worker = self.spawn(group)
        for member in members:
            res = worker.request(120, op="setup", client=member, small=self.small, big=self.big)
            self._finish_setup(member, worker, res)
        if self.status.get(client) != "ok":
            worker.kill()
            worker.close()
            return None
        self.workers[group] = worker
        return worker

    # ------------------------------------------------------------------------------------------------ scenarios

    def measure(
        self, scenario: str, client: str, timeout: float, round_: int = 0, store: bool = True, **cmd: Any
    ) -> dict[str, Any] | None:
        if (client, scenario) in self.failed or (client, scenario) in self.once:
            return None
        w = self.worker(client)
        if w is None:
            return None
        res = w.request(timeout, client=client, **cmd)
        if not res.get("ok"):
            self.failed[(client, scenario)] = _na(res.get("error", "failed"))
            return None
        res["round"] = round_
        if store:
            self.samples.setdefault(scenario, {}).setdefault(client, []).append(res)
        return res

    def rounds(self) -> None:
        """Interleaved rounds. Within a round each scenario runs as ``parts`` short batches per client, taken in
        turn (client A, B, C, A, B, C, ...), so that a burst of load from elsewhere on the machine falls on every
        client alike; a round's sample is the sum of its batches."""
        s = self.settings
        order = [c for c in s.clients if self.status.get(c) == "ok"]
        for r in range(s.rounds):
            rotated = order[r % len(order) :] + order[: r % len(order)] if order else []
            for scenario, side, op, _title in SCENARIOS:
                clients = [c for c in rotated if (CLIENTS[c].has_sync if side == "sync" else CLIENTS[c].has_async)]
                if op == "seq":
                    parts, cmd = s.seq_parts, {"op": op, "n": max(s.seq_n // s.seq_parts, 1)}
                elif op == "concurrent":
                    parts, cmd = s.async_parts, {"op": op, "total": s.async_total, "inflight": s.async_inflight}
                else:
                    parts, cmd = 1, {"op": op, "n": s.stream_n}
                totals: dict[str, dict[str, Any]] = {}
                for _ in range(parts):
                    for client in clients:
                        res = self.measure(scenario, client, s.timeout, r, store=False, **cmd)
                        if res is None:
                            continue
                        t = totals.setdefault(client, {**res, "cpu_s": 0.0, "wall_s": 0.0, "n": 0})
                        t["cpu_s"] += res["cpu_s"] * res["n"]
                        t["wall_s"] += res["wall_s"] * res["n"]
                        t["n"] += res["n"]
                for client, t in totals.items():
                    t["cpu_s"] /= t["n"]
                    t["wall_s"] /= t["n"]
                    self.samples.setdefault(scenario, {}).setdefault(client, []).append(t)
                    if t["wall_s"] * t["n"] > s.slow_budget:
                        self.once.add((client, scenario))
            note(f"round {r + 1}/{s.rounds} done")

    def many_streams(self) -> None:
        s = self.settings
        ids = [c for c in s.streams_clients if self.status.get(c) == "ok" and CLIENTS[c].has_async]
        for r in range(s.streams_rounds):
            for client in ids:
                self.measure("streams1000", client, max(s.timeout, 60), r, op="streams", count=s.streams_count)

    def leaks(self) -> None:
        s = self.settings
        for client in ("raw", "ours-chat", "ours-langchain", "ours-llama-index"):
            if self.status.get(client) == "ok":
                self.measure(
                    "leak", client, max(s.timeout, 15) + s.leak_n * 0.02, op="leak", n=s.leak_n, warm=s.leak_warm
                )

    def close(self) -> None:
        """Every worker closes its sessions and quits at once; those still alive after 2 s are killed (the results
        are in: a slow interpreter shutdown, litellm's for one, is not worth waiting for)."""
        live = [w for w in self.workers.values() if w.proc.poll() is None and not w.dead]
        for w in live:
            try:
                assert w.proc.stdin is not None
                w.proc.stdin.write(json.dumps({"op": "close"}) + "\n" + json.dumps({"op": "quit"}) + "\n")
                w.proc.stdin.flush()
            except OSError:
                w.kill()
        deadline = time.monotonic() + 2
        for w in live:
            try:
                w.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                w.kill()
        for w in self.workers.values():
            w.close()


_T0 = time.perf_counter()

#: --quick measures the imports that targets are about (ours and the frameworks'); a full run measures them all.
QUICK_IMPORTS = {
    "hf_endpoint",
    "langchain-core BaseChatModel",
    "langchain_hf_endpoint",
    "llama-index-core FunctionCallingLLM",
    "llama_index_hf_endpoint",
}


def note(text: str) -> None:
    """A progress line on stderr, with the seconds since the start."""
    print(f"benchmark [{time.perf_counter() - _T0:5.1f} s]: {text}", file=sys.stderr, flush=True)


def _na(error: str) -> str:
    low = error.lower()
    if "network guard" in low or "huggingface.co" in low or "gaierror" in low or "provider mapping" in low:
        return f"n/a: needs network ({error[:160]})"
    if error.startswith("timeout"):
        return f"n/a: {error}"
    return f"error: {error[:200]}"


# ---------------------------------------------------------------------------------------------------- summaries


def _baseline(client: str, side: str) -> str:
    return "raw" if CLIENTS[client].route == "chat" else "raw-generate"


def summarize(run: Run) -> dict[str, Any]:
    """Medians per client and scenario, and the median of per-round ratios to the raw baseline of the same route."""
    out: dict[str, Any] = {}
    for scenario, side, _op, _title in [*SCENARIOS, ("streams1000", "async", "streams", "")]:
        per_client: dict[str, Any] = {}
        for client, samples in run.samples.get(scenario, {}).items():
            base = run.samples.get(scenario, {}).get(_baseline(client, side), [])
            entry: dict[str, Any] = {
                "cpu_s": statistics.median(x["cpu_s"] for x in samples),
                "wall_s": statistics.median(x["wall_s"] for x in samples),
                "rounds": len(samples),
                "baseline": _baseline(client, side),
            }
            by_round = {b["round"]: b for b in base}
            pairs = [(x, by_round[x["round"]]) for x in samples if x["round"] in by_round]
            ratios = [x["cpu_s"] / b["cpu_s"] for x, b in pairs if b["cpu_s"] > 0]
            if ratios:
                entry["ratio"] = statistics.median(ratios)
                entry["wall_ratio"] = statistics.median(x["wall_s"] / b["wall_s"] for x, b in pairs if b["wall_s"] > 0)
            if "events" in samples[0]:
                entry["events"] = samples[0]["events"]
            if scenario == "streams1000":
                entry["errors"] = max(x["errors"] for x in samples)
                entry["first_error"] = next((x["first_error"] for x in samples if x["first_error"]), None)
                entry["events_min"] = min(x["events_min"] for x in samples)
            per_client[client] = entry
        for (client, scen), why in run.failed.items():
            if scen == scenario:
                per_client.setdefault(client, {})["failed"] = why
        out[scenario] = per_client
    leak: dict[str, Any] = {}
    for client, samples in run.samples.get("leak", {}).items():
        x = samples[-1]
        leak[client] = {
            "requests": x["n"],
            "rss_before_mb": x["rss_before_mb"],
            "rss_after_mb": x["rss_after_mb"],
            "growth_mb": x["rss_after_mb"] - x["rss_before_mb"],
            "cpu_s": x["cpu_s"],
        }
    for (client, scen), why in run.failed.items():
        if scen == "leak":
            leak[client] = {"failed": why}
    out["leak"] = leak
    return out


# Targets of issue 7: (id, what, scenario or kind, clients, limit)
TARGETS: list[tuple[str, str, str, list[str], float]] = [
    ("T1", "transport sequential <= 1.15x raw requests", "seq", ["ours-chat", "ours-native", "ours-generate"], 1.15),
    (
        "T2",
        "transport 2000-token stream parse <= 1.3x raw iter_lines + json.loads",
        "stream",
        ["ours-chat", "ours-native", "ours-generate"],
        1.3,
    ),
    (
        "T2a",
        "same, async (vs raw aiohttp lines + json.loads)",
        "astream",
        ["ours-chat", "ours-native", "ours-generate"],
        1.3,
    ),
    (
        "T3",
        "transport 200 requests at 50 in flight <= 1.3x raw aiohttp",
        "async50",
        ["ours-chat", "ours-native", "ours-generate"],
        1.3,
    ),
    ("T4", "1000 concurrent streams complete with no error", "streams1000", ["ours-chat", "ours-native"], 0),
    (
        "T5",
        "no RSS growth beyond 5 MB over 10,000 requests",
        "leak",
        ["ours-chat", "ours-langchain", "ours-llama-index"],
        5.0,
    ),
    ("T6", "import hf_endpoint <= 120 ms", "import", ["hf_endpoint"], 120.0),
    ("T7", "adapters invoke/chat <= 1.5x raw requests", "seq", ["ours-langchain", "ours-llama-index"], 1.5),
    ("T8", "adapters streams <= 5x raw", "stream", ["ours-langchain", "ours-llama-index"], 5.0),
    ("T8a", "adapters async streams <= 5x raw aiohttp", "astream", ["ours-langchain", "ours-llama-index"], 5.0),
    ("T9", "adapters async 50 in flight <= 2.5x raw aiohttp", "async50", ["ours-langchain", "ours-llama-index"], 2.5),
    (
        "T10",
        "adapter import <= framework import + 80 ms",
        "import",
        ["langchain_hf_endpoint", "llama_index_hf_endpoint"],
        80.0,
    ),
]


#: An adapter's lower bound: its framework's base class doing the raw baseline's requests.
RAW_FLOOR = {"ours-langchain": "langchain-raw-floor", "ours-llama-index": "llama-index-raw-floor"}


def evaluate(summary: dict[str, Any], imports: dict[str, Any], clients: list[str]) -> list[dict[str, Any]]:
    rows = []
    for tid, what, scenario, ids, limit in TARGETS:
        for cid in ids:
            if scenario == "import" and cid not in imports:
                continue
            if scenario != "import" and cid not in clients:
                continue
            value: float | None = None
            note = ""
            if scenario == "import":
                entry = imports.get(cid, {})
                if "ms" in entry:
                    if entry.get("baseline"):
                        if "delta_ms" in entry:
                            value = entry["delta_ms"]
                            base = imports[entry["baseline"]]
                            note = (
                                f"{value:+.0f} ms (timed after the framework's import in the same interpreter; "
                                f"each alone: {entry['ms']:.0f} ms vs {base['ms']:.0f} ms)"
                            )
                    else:
                        value = entry["ms"]
                        note = f"{value:.0f} ms"
            elif scenario == "leak":
                entry = summary["leak"].get(cid, {})
                if "growth_mb" in entry:
                    value = entry["growth_mb"]
                    note = f"{value:+.1f} MB over {entry['requests']:,} requests"
                    if entry["requests"] < 10_000:
                        note += " (quick run: fewer requests)"
            elif scenario == "streams1000":
                entry = summary[scenario].get(cid, {})
                if "errors" in entry:
                    value = entry["errors"]
                    note = f"{entry['errors']} errors; all 1000 done in {entry['wall_s'] * 1000:.2f} s"
            else:
                entry = summary[scenario].get(cid, {})
                if "ratio" in entry:
                    value = entry["ratio"]
                    note = f"{value:.2f}x"
                    floor = summary[scenario].get(RAW_FLOOR.get(cid, ""), {})
                    if "ratio" in floor:
                        note += f" (the framework over raw HTTP alone: {floor['ratio']:.2f}x)"
            met = None if value is None else value <= limit
            if value is None:
                note = (
                    summary.get(scenario, {}).get(cid, {}).get("failed", "not measured")
                    if scenario in summary
                    else "not measured"
                )
            rows.append(
                {"target": tid, "what": what, "client": cid, "value": value, "limit": limit, "met": met, "note": note}
            )
    return rows


# ---------------------------------------------------------------------------------------------------------- table


def _fmt_time(seconds: float) -> str:
    us = seconds * 1e6
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 1e6:
        return f"{us / 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    if "failed" in entry and "cpu_s" not in entry:
        why = entry["failed"]
        return "n/a: needs network" if "needs network" in why else ("timeout" if "timeout" in why else "error")
    text = _fmt_time(entry["cpu_s"])
    if "ratio" in entry:
        text += f" ({entry['ratio']:.2f}x)"
    return text


def table(run: Run, summary: dict[str, Any], imports: dict[str, Any], targets: list[dict[str, Any]]) -> str:
    lines = []
    head = ["client", "route", *(title for _s, _side, _op, title in SCENARIOS), "1000 concurrent streams"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" for _ in head) + "|")
    for client in run.settings.clients:
        cls = CLIENTS[client]
        status = run.status.get(client, "not run")
        row = [f"{'**' if cls.kind == 'ours' else ''}{cls.name}{'**' if cls.kind == 'ours' else ''}", cls.route]
        if status != "ok":
            short = "n/a: needs network" if "needs network" in status else status[:60]
            lines.append("| " + " | ".join([*row, *([short] * (len(head) - 2))]) + " |")
            continue
        for scenario, _side, _op, _title in SCENARIOS:
            row.append(_cell(summary[scenario].get(client)))
        st = summary["streams1000"].get(client)
        if st and "errors" in st:
            ratio = f" ({st['ratio']:.2f}x)" if "ratio" in st else ""
            row.append(
                f"{st['errors']} errors; {_fmt_time(st['cpu_s'])}{ratio} CPU, {_fmt_time(st['wall_s'])} wall per stream"
            )
        else:
            row.append(_cell(st))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(
        "Cold import (fresh interpreter, bytecode cached; median and minimum of the runs; an adapter's cost on "
        "top of its framework is timed after the framework's base class was imported in the same "
        "interpreter):"
    )
    lines.append("")
    lines.append("| import | kind | median | min | RSS after | on top of the framework (same interpreter) |")
    lines.append("|---|---|---|---|---|---|")
    for key, entry in imports.items():
        if "ms" not in entry:
            lines.append(f"| `{key}` | {entry['kind']} | error: {entry.get('error', '')[:60]} | | | |")
            continue
        vs = f"{entry['delta_ms']:+.0f} ms" if "delta_ms" in entry else ""
        lines.append(
            f"| `{key}` | {entry['kind']} | {entry['ms']:.0f} ms | {entry['min_ms']:.0f} ms | "
            f"{entry['rss_mb']:.0f} MB | {vs} |"
        )
    if summary["leak"]:
        lines.append("")
        lines.append("Memory over many requests (RSS after a warm-up, then after N more requests):")
        lines.append("")
        lines.append("| client | requests | RSS before | RSS after | growth |")
        lines.append("|---|---|---|---|---|")
        for client, entry in summary["leak"].items():
            if "failed" in entry:
                lines.append(f"| {CLIENTS[client].name} | | | | {entry['failed'][:60]} |")
                continue
            lines.append(
                f"| {CLIENTS[client].name} | {entry['requests']:,} | {entry['rss_before_mb']:.1f} MB | "
                f"{entry['rss_after_mb']:.1f} MB | {entry['growth_mb']:+.1f} MB |"
            )
    lines.append("")
    lines.append("Targets (issue 7):")
    lines.append("")
    lines.append("| target | client | measured | limit | met |")
    lines.append("|---|---|---|---|---|")
    for t in targets:
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']}: {t['what']} | {t['client']} | {t['note']} | {t['limit']:g} | {met} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------- main


def _versions() -> dict[str, str]:
    names = [
        "requests",
        "aiohttp",
        "httpx",
        "pydantic",
        "langchain-core",
        "llama-index-core",
        "huggingface_hub",
        "langchain-huggingface",
        "llama-index-llms-huggingface-api",
        "text-generation",
        "litellm",
    ]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _installed(client: str) -> bool:
    package = CLIENTS[client].package
    if package in ("", "hf-endpoint"):
        return True
    try:
        metadata.version(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def start_servers(tmp: str) -> tuple[subprocess.Popen[str], str, str]:
    """Record the scripted server's answers (20 and 2000 tokens), then serve them from the fast responder."""
    from hf_endpoint.server import LocalServer

    from ._responder import record

    with LocalServer("scripted", n_tokens=SMALL) as server:
        small = record(server.url, SMALL + 1)
        server.configure(n_tokens=BIG)
        big = record(server.url, BIG + 1)
    path = Path(tmp) / "fixtures.json"
    path.write_text(json.dumps([small, big]), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks._responder", str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the responder did not start: {line!r}")
    urls = line.split("listening on", 1)[1].split()
    return proc, urls[0], urls[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests (under 60 s)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--clients", help="comma-separated client ids (default: all installed)", default="")
    parser.add_argument("--no-imports", action="store_true", help="skip the cold import measurements")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default: 3 with --quick, else 7)")
    parser.add_argument("--leak-requests", type=int, help="requests of the memory check (default: 1000 / 10,000)")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="workers call gc.freeze() after warm-up: full collections then skip the libraries' "
        "import-time objects (what a long-running service can do; see the README)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under valgrind instead (steady from run to run; "
        "default clients: raw and our transport)",
    )
    args = parser.parse_args(argv)
    if args.instructions:
        from ._instructions import main as instructions

        return instructions([c for c in args.clients.split(",") if c])
    started = time.perf_counter()
    wanted = [c for c in args.clients.split(",") if c] or list(CLIENTS)
    unknown = [c for c in wanted if c not in CLIENTS]
    if unknown:
        parser.error(f"unknown clients {unknown}; known: {list(CLIENTS)}")
    for base in ("raw", "raw-generate"):
        if base not in wanted:
            wanted.insert(0, base)
    settings = Settings.make(args.quick, wanted)
    if args.rounds:
        settings.rounds = args.rounds
    settings.gc_freeze = args.gc_freeze
    if args.leak_requests:
        settings.leak_n = args.leak_requests
        settings.leak_warm = min(settings.leak_warm, args.leak_requests)
    run = Run(settings)
    with tempfile.TemporaryDirectory(prefix="hf-endpoint-bench-") as tmp:
        run.log_dir = tmp
        from ._worker import _ENV

        # Workers and import probes use cached bytecode, as an installed package does: the libraries' own
        # __pycache__ (pip compiles on install), and ours written on first import (git ignores __pycache__).
        run.env_extra = dict(_ENV)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        note("recording the scripted server's answers, starting the responder")
        responder, run.small, run.big = start_servers(tmp)
        try:
            note("starting workers")
            for client in wanted:
                if not _installed(client):
                    run.status[client] = f"n/a: {CLIENTS[client].package} not installed"
            run.start_workers([c for c in wanted if c not in run.status])
            imports: dict[str, Any] = {}
            if not args.no_imports:
                # The workers have imported (and so cached the bytecode of) every library, so a quick run can skip
                # the probes' own warm-up pass; idle workers wait on a pipe and use no CPU.
                note("cold imports")
                warm = not settings.quick or bool(args.clients)
                only = QUICK_IMPORTS if settings.quick else None
                imports = measure_imports(settings.import_reps, None, str(ROOT), _ENV, only=only, warm=warm)
            note("rounds")
            run.rounds()
            note("1000 concurrent streams")
            run.many_streams()
            note("memory over many requests")
            run.leaks()
            note("done; closing workers")
        finally:
            run.close()
            responder.terminate()
            responder.wait(10)
    summary = summarize(run)
    targets = evaluate(summary, imports, settings.clients)
    text = table(run, summary, imports, targets)
    elapsed = time.perf_counter() - started
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    mode = ("--quick" if settings.quick else "full") + (", --gc-freeze" if settings.gc_freeze else "")
    print(f"\nhf-endpoint benchmarks ({mode}; {machine}; {elapsed:.0f} s)\n")
    print("CPU time of the client process per request or stream (median of interleaved rounds), and in parentheses")
    print(
        "the median ratio to raw requests (sync) / raw aiohttp (async) on the same route, measured in the same round."
    )
    print()
    print(text)
    if args.json:
        doc = {
            "mode": "quick" if settings.quick else "full",
            "machine": machine,
            "elapsed_s": elapsed,
            "versions": _versions(),
            "settings": settings.__dict__,
            "status": run.status,
            "scenarios": summary,
            "imports": imports,
            "targets": targets,
            "samples": run.samples,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return 0
