"""TEIClient / AsyncTEIClient against the real embedding model (multilingual-e5-small behind TEI's protocol, in a
child process): batches equal one-by-one results, and retrieval ranks the right document first."""

from __future__ import annotations

import math

import pytest

from hf_endpoint.server import LocalServer

from ._twin import TeiTwin

DOCS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The stock market fell sharply after the interest rate announcement.",
    "A recipe for sourdough bread needs flour, water, salt and a starter.",
    "The Great Barrier Reef is the world's largest coral reef system.",
]


_ALONE: dict[str, list[float]] = {}  # one-by-one results, asked once for both clients (the model is slow)


@pytest.mark.parametrize("n", [1, 32, 33])
def test_real_batches_equal_one_by_one(embed_server: LocalServer, kind: str, n: int) -> None:
    items = [DOCS[i % len(DOCS)] + f" (copy {i})" for i in range(n)]
    with TeiTwin(kind, embed_server.url) as twin:
        batch = twin.embed(items)
        singles = [_ALONE.get(item) or _ALONE.setdefault(item, twin.embed(item)[0]) for item in items]
    assert len(batch) == n
    for got, alone in zip(batch, singles, strict=True):
        assert len(got) == 384 and max(abs(a - b) for a, b in zip(got, alone, strict=True)) < 1e-5


def test_real_retrieval_and_rerank_find_the_right_document(embed_server: LocalServer, kind: str) -> None:
    with TeiTwin(kind, embed_server.url) as twin:
        query = twin.embed("Where is the Eiffel Tower?", prompt_name="query")[0]
        docs = twin.embed(DOCS, prompt_name="passage")
        scores = [math.fsum(a * b for a, b in zip(query, d, strict=True)) for d in docs]
        assert max(range(len(DOCS)), key=scores.__getitem__) == 0
        ranks = twin.rerank("Which plants turn sunlight into energy?", DOCS, top_n=2, return_text=True)
        assert ranks[0].index == 1 and ranks[0].text == DOCS[1] and len(ranks) == 2
