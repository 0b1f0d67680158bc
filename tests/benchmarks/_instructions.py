"""Instructions per request, counted by valgrind's callgrind: a steady companion to the CPU-time figures.

CPU time on a small shared machine moves by ±0.2x from run to run (cache and scheduler effects, the collector);
the number of instructions a client executes for a request does not (±0.2% here). It leaves out the kernel's
share (the same syscalls for every client of one library) and the cost of cache misses, so its ratios are lower
than the CPU-time ones; use it to see whether a change to the code made a request cheaper.

How: each (client, scenario) runs twice under ``valgrind --tool=callgrind``, with a small and a large number of
requests after the same warm-up; the difference, divided by the difference in requests, is the cost of one request
without start-up, imports and warm-up. Both runs go in parallel (one per core). Needs valgrind
(``apt-get install valgrind``); ``python -m tests.benchmarks --instructions [--clients ids]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

__all__ = ["DEFAULT_CLIENTS", "main", "probe"]

DEFAULT_CLIENTS = ["raw", "raw-generate", "ours-chat", "ours-native", "ours-generate"]
#: scenario -> (requests in the small run, in the large run); a stream is one 2000-token stream
SCENARIOS = {"sequential": (20, 220), "2000-token stream": (1, 4), "50 in flight": (100, 700)}


def probe(client_id: str, scenario: str, n: int, small: str, big: str) -> None:
    """Run in a valgrind'd interpreter: set the client up, warm it up, then make ``n`` requests (or streams), with
    the benchmark worker's own loops."""
    from ._worker import Worker

    worker = Worker()
    worker.setup(client_id, small, big)
    if scenario == "50 in flight":
        worker.concurrent(100, 50)
        worker.concurrent(n, 50)
    elif scenario == "sequential":
        worker.seq(20 + n)
    else:
        worker.client.stream(big=False)
        worker.stream(n)


def _count(client_id: str, scenario: str, n: int, small: str, big: str, env: dict[str, str]) -> int:
    code = (
        "import sys; from tests.benchmarks._worker import _install_network_guard; _install_network_guard(); "
        "from tests.benchmarks._instructions import probe; probe(*sys.argv[1:3], int(sys.argv[3]), *sys.argv[4:6])"
    )
    with tempfile.TemporaryDirectory(prefix="hf-endpoint-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-c",
            code,
            client_id,
            scenario,
            str(n),
            small,
            big,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        for line in proc.stderr.splitlines():
            if "Collected :" in line:
                return int(line.split(":")[1].strip())
    raise RuntimeError(f"callgrind gave no count for {client_id} / {scenario}: {proc.stderr[-800:]}")


def measure(clients: list[str], small: str, big: str, env: dict[str, str]) -> dict[str, dict[str, float]]:
    from ._clients import CLIENTS

    out: dict[str, dict[str, float]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for client_id in clients:
            cls = CLIENTS[client_id]
            for scenario, (few, many) in SCENARIOS.items():
                wanted = cls.has_async if scenario == "50 in flight" else cls.has_sync
                if not wanted:
                    continue
                runs = [pool.submit(_count, client_id, scenario, n, small, big, env) for n in (few, many)]
                a, b = (run.result() for run in runs)
                out.setdefault(client_id, {})[scenario] = (b - a) / (many - few)
                print(f"instructions [{client_id} / {scenario}]: {out[client_id][scenario]:,.0f}", file=sys.stderr)
    return out


def table(results: dict[str, dict[str, float]]) -> str:
    from ._clients import CLIENTS
    from ._run import _baseline

    def cell(client_id: str, scenario: str) -> str:
        value = results.get(client_id, {}).get(scenario)
        if value is None:
            return "-"
        base = results.get(_baseline(client_id, ""), {}).get(scenario)
        ratio = f" ({value / base:.2f}x)" if base else ""
        return f"{value / 1000:,.0f} k{ratio}"

    lines = [
        "| client | route | " + " | ".join(f"{s}: instructions per request" for s in SCENARIOS) + " |",
        "|---|---|" + "---|" * len(SCENARIOS),
    ]
    for client_id in results:
        cls = CLIENTS[client_id]
        lines.append(f"| {cls.name} | {cls.route} | " + " | ".join(cell(client_id, s) for s in SCENARIOS) + " |")
    return "\n".join(lines)


def main(clients: list[str]) -> int:
    if shutil.which("valgrind") is None:
        print("--instructions needs valgrind (e.g. apt-get install valgrind)", file=sys.stderr)
        return 2
    from ._run import ROOT, start_servers
    from ._worker import _ENV

    wanted = clients or DEFAULT_CLIENTS
    for base in ("raw-generate", "raw"):
        if base not in wanted:
            wanted.insert(0, base)
    env = {**os.environ, **_ENV, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory(prefix="hf-endpoint-bench-") as tmp:
        responder, small, big = start_servers(tmp)
        try:
            results = measure(wanted, small, big, env)
        finally:
            responder.terminate()
            responder.wait(10)
    print("\nInstructions per request (callgrind; the ratio is to raw requests / aiohttp on the same route)\n")
    print(table(results))
    return 0
