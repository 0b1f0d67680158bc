"""The TEI benchmark runs (a reduced run): every client returns one result a text and gets a row. No timing is
asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
