"""The TEI benchmark runs (a reduced run): every client returns one result a text and gets a row. No timing is
asserted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_tei_benchmark_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.tei_bench", "--texts", "100", "--rerank", "40", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in (
        "embed: TEIClient",
        "embed: AsyncTEIClient",
        "rerank: TEIClient",
        "rerank: AsyncTEIClient",
        "embed: raw requests",
        "embed: raw aiohttp",
        "embed: huggingface_hub feature_extraction",
        "embed: LangChain HFEndpointEmbeddings",
        "embed: LlamaIndex HFEndpointEmbedding (async)",
        "rerank: LangChain HFEndpointReranker (async)",
        "rerank: LlamaIndex HFEndpointRerank",
        "rerank: langchain-core over raw aiohttp",
        "rerank: llama-index-core over raw requests",
        "rerank: langchain-core, no I/O (copies only)",
        "embed: llama-index-core over raw aiohttp",
    ):
        assert row in proc.stdout, proc.stdout


def _bench(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.tei_bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_real_model_mode_runs() -> None:
    """``--real``: the six rows against the local server's real embedding model."""
    out = _bench("--real", "--texts", "8", "--rounds", "1", "--markdown")
    assert out.count("| embed: ") == 6, out
    assert "| embed: AsyncTEIClient |" in out


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="--instructions needs valgrind")
def test_instructions_mode_counts() -> None:
    """``--instructions``: a count per text for the chosen client and the raw row its ratio needs."""
    out = _bench("--instructions", "--only", "rerank: AsyncTEIClient", "--rerank", "40")
    rows = {line.split("  ")[0]: line.split()[-1] for line in out.splitlines()[1:]}
    assert set(rows) == {"rerank: raw aiohttp", "rerank: AsyncTEIClient"}, out
    assert rows["rerank: raw aiohttp"] == "1.00x" and rows["rerank: AsyncTEIClient"].endswith("x"), out
