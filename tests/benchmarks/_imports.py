"""Cold import time and RSS: each statement in a fresh interpreter, median of several runs.

Bytecode is cached, as for an installed package: the libraries' ``__pycache__`` (pip compiles on install), ours
written by a first, discarded run (or by the benchmark's workers); the OS file cache is warm. The time is that of the import statement alone (interpreter start-up
excluded); RSS is the process's resident memory right after it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

__all__ = ["IMPORTS", "measure_imports"]

#: (id, statement, kind, what it is compared with). A "framework" row is the framework's own base class for the
#: kind of model (what any LangChain chat model or LlamaIndex function-calling LLM imports): an adapter's target is
#: that import + 80 ms, so the delta includes everything else the adapter loads (the transport, and the framework's
#: tool and output-parser modules it uses).
IMPORTS: list[tuple[str, str, str, str | None]] = [
    ("hf_endpoint", "import hf_endpoint", "ours", None),
    ("hf_endpoint.TGIClient", "from hf_endpoint import TGIClient", "ours", None),
    ("hf_endpoint.AsyncTGIClient", "from hf_endpoint import AsyncTGIClient", "ours", None),
    ("requests", "import requests", "raw", None),
    ("aiohttp", "import aiohttp", "raw", None),
    ("httpx", "import httpx", "raw", None),
    ("langchain-core BaseChatModel", "from langchain_core.language_models import BaseChatModel", "framework", None),
    (
        "langchain_hf_endpoint",
        "from langchain_hf_endpoint import ChatHFEndpoint",
        "ours",
        "langchain-core BaseChatModel",
    ),
    (
        "langchain_huggingface",
        "from langchain_huggingface import ChatHuggingFace",
        "peer",
        "langchain-core BaseChatModel",
    ),
    (
        "llama-index-core FunctionCallingLLM",
        "from llama_index.core.llms.function_calling import FunctionCallingLLM",
        "framework",
        None,
    ),
    (
        "llama_index_hf_endpoint",
        "from llama_index_hf_endpoint import HFEndpoint",
        "ours",
        "llama-index-core FunctionCallingLLM",
    ),
    (
        "llama_index.llms.huggingface_api",
        "from llama_index.llms.huggingface_api import HuggingFaceInferenceAPI",
        "peer",
        "llama-index-core FunctionCallingLLM",
    ),
    ("huggingface_hub", "from huggingface_hub import InferenceClient", "peer", None),
    ("text_generation", "import text_generation", "peer", None),
    ("litellm", "import litellm", "peer", None),
]

_PROBE = """
import time, json
{before}
t = time.perf_counter()
{stmt}
dt = time.perf_counter() - t
rss = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) / 1024
print(json.dumps({{"s": dt, "rss_mb": rss}}))
"""


def _env(pycache: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = pycache
    env.update(extra)
    return env


def _once(stmt: str, env: dict[str, str], cwd: str, before: str = "") -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stmt=stmt, before=before)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure_imports(
    reps: int, pycache: str | None, cwd: str, env_extra: dict[str, str], only: set[str] | None = None, warm: bool = True
) -> dict[str, Any]:
    """``{id: {"ms": median, "min_ms", "rss_mb": median, "runs_ms": [...], "kind", "statement", "baseline",
    "delta_ms"}}``. Rounds are interleaved (one run of every statement, then the next round); ``delta_ms`` is the
    median time of this import in an interpreter that has already imported its framework's base class."""
    env = _env(pycache, env_extra)
    rows = [row for row in IMPORTS if only is None or row[0] in only]
    runs: dict[str, list[dict[str, Any]]] = {row[0]: [] for row in rows}
    errors: dict[str, str] = {}
    if warm:
        for row in rows:  # compile and cache bytecode
            first = _once(row[1], env, cwd)
            if "error" in first:
                errors[row[0]] = first["error"]
    statements = {row[0]: row[1] for row in IMPORTS}
    on_top: dict[str, list[float]] = {row[0]: [] for row in rows}
    for _ in range(reps):
        for key, stmt, _kind, base in rows:
            if key not in errors:
                runs[key].append(_once(stmt, env, cwd))
                if base is not None:
                    # The adapter's own cost: timed in an interpreter that has imported the framework's base class
                    # first. Two fresh interpreters differ by tens of ms from run to run on a shared machine.
                    top = _once(stmt, env, cwd, before=statements[base])
                    if "s" in top:
                        on_top[key].append(top["s"] * 1000)
    out: dict[str, Any] = {}
    for key, stmt, kind, base in rows:
        good = [r for r in runs[key] if "error" not in r]
        entry: dict[str, Any] = {"kind": kind, "statement": stmt, "baseline": base}
        if key in errors or not good:
            entry["error"] = errors.get(key) or next((r["error"] for r in runs[key] if "error" in r), "no run")
        else:
            entry["ms"] = statistics.median(r["s"] for r in good) * 1000
            entry["min_ms"] = min(r["s"] for r in good) * 1000
            entry["rss_mb"] = statistics.median(r["rss_mb"] for r in good)
            entry["runs_ms"] = [round(r["s"] * 1000, 1) if "s" in r else None for r in runs[key]]
        out[key] = entry
    for key, entry in out.items():
        if on_top.get(key):
            entry["delta_ms"] = statistics.median(on_top[key])
            entry["delta_runs_ms"] = [round(v, 1) for v in on_top[key]]
    return out
