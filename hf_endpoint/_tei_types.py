"""Typed results of text-embeddings-inference (TEI): ``/info``, ``/rerank``, ``/embed_sparse``, ``/predict``,
``/tokenize``.

Like the TGI models, every model ignores unknown fields and treats missing keys as "old server" (``None``), so
that any TEI version since v0.4 parses. Shapes follow TEI's ``router/src/http/types.rs``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ModelKind", "Prediction", "Rank", "SparseValue", "TEIInfo", "TEIToken"]

ModelKind = Literal["embedding", "classifier", "reranker"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TEIInfo(_Model):
    """``GET /info`` of a TEI server (every field optional: older servers send fewer).

    ``model_type`` is TEI's one-key object (``{"embedding": {"pooling": "cls"}}``, ``{"reranker": {...}}``,
    ``{"classifier": {"id2label": ...}}``); :attr:`kind`, :attr:`pooling` and :attr:`labels` read it.
    ``auto_truncate`` is what the server does when a request does not say (this client always says).
    """

    model_id: str | None = None
    model_sha: str | None = None
    model_dtype: str | None = None
    served_model_name: str | None = None
    model_type: dict[str, Any] | None = None
    max_concurrent_requests: int | None = None
    max_input_length: int | None = None
    max_batch_tokens: int | None = None
    max_batch_requests: int | None = None
    max_client_batch_size: int | None = None
    auto_truncate: bool | None = None
    tokenization_workers: int | None = None
    version: str | None = None
    sha: str | None = None
    docker_label: str | None = None

    @property
    def kind(self) -> ModelKind | None:
        """``"embedding"``, ``"classifier"`` or ``"reranker"`` (TEI v0.5 showed rerankers as classifiers)."""
        keys: tuple[ModelKind, ...] = ("embedding", "classifier", "reranker")
        for key in keys:
            if self.model_type and key in self.model_type:
                return key
        return None

    @property
    def pooling(self) -> str | None:
        """The embedding model's pooling (``cls``, ``mean``, ``splade``, ``last_token``), else None."""
        inner = (self.model_type or {}).get("embedding")
        return str(inner["pooling"]) if isinstance(inner, dict) and inner.get("pooling") else None

    @property
    def labels(self) -> list[str]:
        """A classifier's or reranker's labels in id order (``id2label``), else ``[]``."""
        for key in ("classifier", "reranker"):
            inner = (self.model_type or {}).get(key)
            if isinstance(inner, dict) and isinstance(inner.get("id2label"), dict):
                table = inner["id2label"]
                return [str(table[k]) for k in sorted(table, key=lambda k: int(k) if str(k).isdigit() else 0)]
        return []

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """``"1.9.3"`` -> ``(1, 9, 3)``; ``()`` when unknown."""
        parts = []
        for piece in (self.version or "").split("-")[0].split("."):
            if not piece.isdigit():
                break
            parts.append(int(piece))
        return tuple(parts)


class Rank(_Model):
    """One reranked text: ``index`` into the texts given to ``rerank()``, its ``score`` (sigmoid 0..1, or the raw
    logit with ``raw_scores=True``) and the ``text`` itself when ``return_text=True``."""

    index: int
    score: float
    text: str | None = None


class SparseValue(_Model):
    """One non-zero weight of a sparse (SPLADE) embedding: vocabulary ``index`` and ``value``."""

    index: int
    value: float


class Prediction(_Model):
    """One label of a classification, with its ``score`` (softmax/sigmoid, or raw with ``raw_scores=True``)."""

    label: str
    score: float


class TEIToken(_Model):
    """One token of ``/tokenize``: ``start``/``stop`` are UTF-8 *byte* offsets (None for special tokens)."""

    id: int
    text: str
    special: bool = False
    start: int | None = None
    stop: int | None = None
