"""The scripted TEI model: deterministic vectors, scores and tokens from a hash of the text.

For tests of clients, not of models: the same text always gives the same vector (so a batch equals
the same texts sent one by one), different texts give unrelated vectors, and nothing here reads a
text to fake understanding. The tokenizer is the scripted backend's word/punctuation split framed by
BERT's ``[CLS]``/``[SEP]``, so token counts, ``/tokenize``, ``/decode`` and the length limits work.
"""

from __future__ import annotations

import functools
import hashlib
from array import array
from collections.abc import Sequence
from typing import Any

from ._embed import TeiToken
from ._scripted import scripted_tokenize

__all__ = ["CLASSIFIER_LABELS", "ScriptedTeiModel"]

CLS = TeiToken(101, "[CLS]", True, None, None)
SEP = TeiToken(102, "[SEP]", True, None, None)
CLASSIFIER_LABELS = ("negative", "neutral", "positive")


@functools.lru_cache(maxsize=65536)
def _vector(text: str, dim: int) -> tuple[float, ...]:
    """``dim`` values in [-1, 1) from SHAKE-128 of the text (not normalised)."""
    values = array("h", hashlib.shake_128(text.encode()).digest(2 * dim))
    return tuple(v / 32768.0 for v in values)


def _unit_interval(text: str) -> float:
    value = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")
    return value / 2**32


class ScriptedTeiModel:
    """See the module docstring. ``kind``: embedding (pooling mean or splade), reranker, classifier."""

    unit_vectors_only = False
    instant = True

    def __init__(
        self,
        *,
        model_id: str = "hf-endpoint/scripted-embeddings",
        kind: str = "embedding",
        pooling: str = "mean",
        dim: int = 384,
        max_input_length: int = 512,
        similarity_rerank: bool = True,
    ) -> None:
        if kind not in ("embedding", "reranker", "classifier"):
            raise ValueError(f"model type must be embedding, reranker or classifier, not {kind!r}")
        if pooling not in ("mean", "cls", "splade", "last_token"):
            raise ValueError(f"pooling must be mean, cls, splade or last_token, not {pooling!r}")
        self.model_id = model_id
        self.kind = kind
        self.pooling = pooling
        self.labels: tuple[str, ...] = (
            ("LABEL_0",) if kind == "reranker" else CLASSIFIER_LABELS if kind == "classifier" else ()
        )
        self.dim = dim
        self.max_input_length = max_input_length
        self.prompts = {"query": "query: ", "passage": "passage: "}
        self.default_prompt_name: str | None = None
        self.similarity_rerank = similarity_rerank and kind == "embedding" and pooling != "splade"
        self.about: dict[str, Any] = {
            "backend": "scripted",
            "vectors": "deterministic: SHAKE-128 of the text (prompt included); not a language model",
            "prompts": dict(self.prompts),
        }
        if self.similarity_rerank:
            self.about["rerank"] = "cosine similarity of the scripted vectors (an embedding model, not a reranker)"
        self._seen: dict[int, str] = {}

    # -- tokens ----------------------------------------------------------------------------

    def tokenize(self, text: str, add_special_tokens: bool) -> list[TeiToken]:
        tokens = []
        for t in scripted_tokenize(text):
            start = len(text[: t.start].encode())
            stop = start + len(t.text.encode())
            tokens.append(TeiToken(t.id, t.text, False, start, stop))
            if len(self._seen) < 100_000:
                self._seen[t.id] = t.text
        return [CLS, *tokens, SEP] if add_special_tokens else tokens

    def count_tokens(self, text: str) -> int:
        return len(scripted_tokenize(text)) + 2

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        specials = {CLS.id: CLS.text, SEP.id: SEP.text}
        parts = []
        for token_id in ids:
            if token_id in specials:
                if not skip_special_tokens:
                    parts.append(specials[token_id])
                continue
            parts.append(self._seen.get(token_id, "[UNK]"))
        return "".join(parts)

    def truncate(self, text: str, max_tokens: int, direction: str) -> str:
        words = scripted_tokenize(text)
        keep = max(max_tokens - 2, 0)
        if len(words) <= keep:
            return text
        if keep == 0:
            return ""
        if direction == "Left":
            return text[words[len(words) - keep].start :]
        return text[: words[keep - 1].stop]

    # -- vectors and scores ----------------------------------------------------------------

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self.pooling == "splade":
            out = []
            for text in texts:
                dense = [0.0] * self.dim
                for index, value in self.sparse(text):
                    dense[index] = value
                out.append(dense)
            return out
        return [list(_vector(text, self.dim)) for text in texts]

    def embed_all(self, text: str) -> list[list[float]]:
        tokens = self.tokenize(text, True)
        return [list(_vector(f"{i}:{t.text}", self.dim)) for i, t in enumerate(tokens)]

    def sparse(self, text: str) -> list[tuple[int, float]]:
        weights: dict[int, float] = {}
        for token in scripted_tokenize(text):
            index = token.id % self.dim
            weights[index] = max(weights.get(index, 0.0), round(0.1 + 2 * _unit_interval(token.text), 4))
        return sorted(weights.items())

    def logits(self, sequences: list[tuple[str, ...]]) -> list[list[float]]:
        return [
            [round(12 * _unit_interval(f"{label}\x00" + "\x00".join(seq)) - 6, 4) for label in self.labels]
            for seq in sequences
        ]

    def close(self) -> None:
        return None
