"""A user's typed program: the classes built and called as the README shows type-check under ``mypy --strict``.

(Nothing is sent: mypy only reads the program.) A pydantic field with an ``alias`` is named by its alias in the
``__init__`` type checkers see, so ``HFEndpointEmbeddings(base_url=...)`` once failed here while running fine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """
from langchain_core.documents import Document

from hf_endpoint import AsyncTEIClient, AsyncTGIClient, Rank, TEIClient, TGIClient, completion
from langchain_hf_endpoint import ChatHFEndpoint, HFEndpointEmbeddings, HFEndpointReranker
from llama_index_hf_endpoint import HFEndpoint, HFEndpointEmbedding, HFEndpointRerank

URL = "http://127.0.0.1:8080"


def build() -> None:
    chat = ChatHFEndpoint(base_url=URL, temperature=0, max_tokens=256)
    several = ChatHFEndpoint(base_url=[URL, "http://127.0.0.1:8081"])
    embeddings = HFEndpointEmbeddings(base_url=URL, query_prompt_name="query", document_prompt_name="passage")
    reranker = HFEndpointReranker(base_url=URL, top_n=3)
    llm = HFEndpoint(base_url=URL, max_tokens=64)
    embed_model = HFEndpointEmbedding(base_url=URL)
    rerank = HFEndpointRerank(base_url=URL, top_n=2)
    vectors: list[list[float]] = embeddings.embed_documents(["a", "b"])
    query: list[float] = embeddings.embed_query("q")
    best = reranker.compress_documents([Document(page_content="a")], "q")
    print(chat, several, llm, embed_model, rerank, vectors, query, best)


def transport() -> None:
    tei = TEIClient(URL)
    vectors: list[list[float]] = tei.embed(["a", "b"], truncate=True)
    ranks: list[Rank] = tei.rerank("q", ["a", "b"], top_n=1)
    tgi = TGIClient(URL)
    text: str | None = tgi.chat([{"role": "user", "content": "hi"}], max_tokens=8).choices[0].message.content
    result = completion(model="huggingface/" + URL, messages=[{"role": "user", "content": "hi"}])
    print(vectors, ranks[0].index, ranks[0].score, text, result, AsyncTEIClient(URL), AsyncTGIClient(URL))
"""


@pytest.mark.timeout(600)
def test_the_documented_calls_type_check(tmp_path: Path) -> None:
    program = tmp_path / "user_program.py"
    program.write_text(PROGRAM)
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(program)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
