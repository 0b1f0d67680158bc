"""TEI's routes: /embed, /embed_all, /embed_sparse, /v1/embeddings (and /embeddings), /rerank,
/predict, /similarity, /tokenize, /decode, /info, /health (and GET /, /ping), POST / and /invocations.

Each handler follows TEI's ``router/src/http/server.rs``: the empty and batch-size checks, one
permit per input, the model-type checks, then the per-input encoding (``_tei_encode``) and the
model. Answers have TEI's shapes; the OpenAI route answers errors in its own flat shape.
"""

from __future__ import annotations

import base64
import math
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._app import json_response
from ._embed import EmbedModel, Unsupported, cosine, normalized, sigmoid, softmax
from ._errors import ApiError
from ._tei_app import MODEL, STATE, TEI_CONFIG, compute_headers, request_body, run_model
from ._tei_encode import backend_error, encode, encode_pair, tokenize_text
from ._tei_validation import (
    EmbedRequest,
    Item,
    Options,
    TeiLimits,
    batch_size_error,
    empty_error,
    parse_decode,
    parse_embed,
    parse_predict,
    parse_rerank,
    parse_similarity,
    parse_tokenize,
    tei_validation,
)

__all__ = ["add_tei_routes"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _limits(request: web.Request) -> TeiLimits:
    return request.app[TEI_CONFIG].limits


def _check_batch(size: int, limits: TeiLimits) -> None:
    if size > limits.max_client_batch_size:
        raise batch_size_error(size, limits.max_client_batch_size)


def _check_list(size: int, limits: TeiLimits, empty: str) -> None:
    """A list sent where one item or a list is accepted: not empty, and within the batch size."""
    if not size:
        raise empty_error(empty)
    _check_batch(size, limits)


def _not_embedding(model: EmbedModel) -> None:
    if model.kind != "embedding":
        raise backend_error("Model is not an embedding model")


def _not_classifier(model: EmbedModel) -> None:
    if model.kind == "embedding":
        raise backend_error("Model is not a classifier model")


async def _infer(request: web.Request, work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    try:
        result = await run_model(request.app, work)
    except ApiError:
        raise
    except Unsupported as exc:
        raise backend_error(str(exc)) from None
    except Exception as exc:  # a failed forward pass: TEI's 424 Backend, not a bare 500
        raise backend_error(f"{type(exc).__name__}: {exc}") from exc
    return result, time.perf_counter() - started


async def _infer_inputs(
    request: web.Request,
    inputs: int,
    work: Callable[[], tuple[Any, int]],
    *,
    batch: bool = True,
    check: Callable[[EmbedModel], None] | None = None,
) -> tuple[Any, int, float]:
    """A call on ``inputs`` inputs in TEI's order: the batch-size check (``batch``: a list was sent), one permit per
    input, the model checks (``check``), then ``work`` on the model. Its result, the tokens it read, its seconds."""
    limits = _limits(request)
    if batch:
        _check_batch(inputs, limits)
    with request.app[STATE].permits(inputs, limits.max_concurrent_requests):
        if check is not None:
            check(request.app[MODEL])
        (result, tokens), seconds = await _infer(request, work)
    return result, tokens, seconds


# -- embeddings ------------------------------------------------------------------------------


def _model_checks(model: EmbedModel, req: EmbedRequest, route: str) -> None:
    """The checks TEI's core runs for each input before tokenizing (the same for every input)."""
    splade = model.kind == "embedding" and model.pooling == "splade"
    if route == "embed_sparse":
        if not splade:
            raise backend_error("Model is not an embedding model with SPLADE pooling")
        return
    if route == "embed_all":
        if splade:
            raise backend_error("`embed_all` is not available for SPLADE models")
        _not_embedding(model)
        return
    if splade and req.normalize:
        raise backend_error("`normalize` is not available for SPLADE models")
    if req.dimensions == 0:
        raise tei_validation("`dimensions` should be positive")
    _not_embedding(model)
    if model.unit_vectors_only and not req.normalize:
        raise backend_error(
            f"`normalize: false` is not available for {model.model_id}: its engine returns unit vectors only"
        )


def _pooled(vector: list[float], req: EmbedRequest) -> list[float]:
    if req.dimensions is not None:
        if req.dimensions > len(vector):
            raise tei_validation("`dimensions` should be smaller than the maximum embedding dimension.")
        vector = vector[: req.dimensions]
    # TEI writes f32 values (about 9 significant digits); 9 decimals keep what an f32 holds at these magnitudes
    # and halve the body (and the client's parsing) compared with Python's 17-digit floats.
    return [round(x, 9) for x in (normalized(vector) if req.normalize else vector)]


async def _embeddings(request: web.Request, req: EmbedRequest, route: str) -> tuple[list[Any], dict[str, str], int]:
    model = request.app[MODEL]
    limits = _limits(request)
    started = time.perf_counter()

    def work() -> tuple[list[Any], int]:
        encoded = [encode(model, item, req.options, limits) for item in req.items]
        texts = [text for text, _ in encoded]
        tokens = sum(count for _, count in encoded)
        if route == "embed_all":
            return [model.embed_all(text) for text in texts], tokens
        if route == "embed_sparse":
            return [[{"index": i, "value": v} for i, v in model.sparse(text)] for text in texts], tokens
        return [_pooled(v, req) for v in model.embed(texts)], tokens

    results, tokens, seconds = await _infer_inputs(
        request, len(req.items), work, batch=req.batch, check=lambda m: _model_checks(m, req, route)
    )
    chars = sum(item.chars for item in req.items)
    headers = compute_headers(started, characters=chars, tokens=tokens, inputs=len(req.items), inference=seconds)
    return results, headers, tokens


def _embed_route(route: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body, raw = request_body(request)
        req = parse_embed(body, raw, route, _limits(request))
        results, headers, _ = await _embeddings(request, req, route)
        return json_response(results, headers=headers)

    return handler


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


async def openai_embed(request: web.Request) -> web.StreamResponse:
    try:
        body, raw = request_body(request)
        req = parse_embed(body, raw, "openai", _limits(request))
        vectors, headers, tokens = await _embeddings(request, req, "embed")
    except ApiError as exc:
        return json_response({"message": exc.message, "code": exc.status, "type": exc.error_type}, status=exc.status)
    data = [
        {"object": "embedding", "embedding": _b64(v) if req.encoding_format == "base64" else v, "index": i}
        for i, v in enumerate(vectors)
    ]
    config = request.app[TEI_CONFIG]
    name = config.served_model_name or request.app[MODEL].model_id
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return json_response({"object": "list", "data": data, "model": name, "usage": usage}, headers=headers)


# -- scores ----------------------------------------------------------------------------------


def _scores(model: EmbedModel, logits: list[float], raw_scores: bool) -> list[float]:
    if raw_scores:
        return logits
    return [sigmoid(logits[0])] if len(logits) == 1 else softmax(logits)


def _side_prompt(model: EmbedModel, name: str) -> Options:
    return Options(truncate=True, prompt_name=name if name in model.prompts else None)


async def rerank(request: web.Request) -> web.StreamResponse:
    model = request.app[MODEL]
    limits = _limits(request)
    started = time.perf_counter()
    body, raw = request_body(request)
    req = parse_rerank(body, raw, limits)
    if not req.texts:
        raise empty_error("`texts` cannot be empty")
    if model.kind != "reranker" and not model.similarity_rerank:
        raise backend_error("model is not a re-ranker model")

    def work() -> tuple[list[float], int]:
        if model.kind == "reranker":
            pairs = [encode_pair(model, req.query, text, req.options, limits) for text in req.texts]
            logits = model.logits([(a, b) for a, b, _ in pairs])
            scores = [_scores(model, row, req.raw_scores)[0] for row in logits]
            return scores, sum(count for _, _, count in pairs)
        # Similarity ranking: the query with the "query" prompt, the texts with "passage", when the model has them.
        query_options = _side_prompt(model, "query")
        text_options = _side_prompt(model, "passage")
        query_options.truncate = text_options.truncate = req.options.truncate
        query_options.direction = text_options.direction = req.options.direction
        query, query_tokens = encode(model, Item(text=req.query), query_options, limits)
        encoded = [encode(model, Item(text=text), text_options, limits) for text in req.texts]
        vectors = model.embed([query, *(text for text, _ in encoded)])
        scores = [cosine(vectors[0], v) for v in vectors[1:]]
        return scores, query_tokens * len(req.texts) + sum(count for _, count in encoded)

    scores, tokens, seconds = await _infer_inputs(request, len(req.texts), work)
    if any(math.isnan(s) for s in scores):
        raise ApiError(424, "score is NaN", "Backend")
    ranks = []
    for index, score in enumerate(scores):
        rank: dict[str, Any] = {"index": index}
        if req.return_text:
            rank["text"] = req.texts[index]
        rank["score"] = score
        ranks.append(rank)
    # TEI sorts ascending (stable) and reverses: highest first, and the higher index first among equal scores.
    ranks.sort(key=lambda r: r["score"])
    ranks.reverse()
    chars = len(req.query) * len(req.texts) + sum(len(t) for t in req.texts)
    headers = compute_headers(started, characters=chars, tokens=tokens, inputs=len(req.texts), inference=seconds)
    return json_response(ranks, headers=headers)


async def predict(request: web.Request) -> web.StreamResponse:
    model = request.app[MODEL]
    limits = _limits(request)
    started = time.perf_counter()
    body, raw = request_body(request)
    req = parse_predict(body, raw, limits)

    def work() -> tuple[list[list[float]], int]:
        prepared: list[tuple[str, ...]] = []
        tokens = 0
        for seq in req.sequences:
            if len(seq) == 2:
                first, second, count = encode_pair(model, seq[0], seq[1], req.options, limits)
                prepared.append((first, second))
            else:
                text, count = encode(model, Item(text=seq[0]), req.options, limits)
                prepared.append((text,))
            tokens += count
        return model.logits(prepared), tokens

    logits, tokens, seconds = await _infer_inputs(
        request, len(req.sequences), work, batch=req.batch, check=_not_classifier
    )
    results = []
    for row in logits:
        scores = _scores(model, row, req.raw_scores)
        if any(math.isnan(s) for s in scores):
            raise ApiError(424, "score is NaN", "Backend")
        pairs = sorted(zip(scores, model.labels, strict=True), key=lambda p: p[0], reverse=True)
        results.append([{"score": s, "label": label} for s, label in pairs])
    chars = sum(sum(len(s) for s in seq) for seq in req.sequences)
    headers = compute_headers(started, characters=chars, tokens=tokens, inputs=len(req.sequences), inference=seconds)
    return json_response(results if req.batch else results[0], headers=headers)


async def similarity(request: web.Request) -> web.StreamResponse:
    model = request.app[MODEL]
    limits = _limits(request)
    started = time.perf_counter()
    body, raw = request_body(request)
    req = parse_similarity(body, raw, limits)
    if not req.sentences:
        raise empty_error("`inputs.sentences` cannot be empty")
    inputs = len(req.sentences) + 1  # (the source sentence is one of them)

    def work() -> tuple[list[float], int]:
        encoded = [encode(model, Item(text=t), req.options, limits) for t in [req.source, *req.sentences]]
        vectors = model.embed([text for text, _ in encoded])
        return [cosine(vectors[0], v) for v in vectors[1:]], sum(count for _, count in encoded)

    scores, tokens, seconds = await _infer_inputs(request, inputs, work, check=_not_embedding)
    chars = len(req.source) + sum(len(s) for s in req.sentences)
    headers = compute_headers(started, characters=chars, tokens=tokens, inputs=inputs, inference=seconds)
    return json_response(scores, headers=headers)


# -- tokens and facts ------------------------------------------------------------------------


async def tokenize(request: web.Request) -> web.StreamResponse:
    model = request.app[MODEL]
    limits = _limits(request)
    body, raw = request_body(request)
    req = parse_tokenize(body, raw)
    if req.batch:
        _check_list(len(req.texts), limits, "`inputs` cannot be empty")

    def work() -> list[list[dict[str, Any]]]:
        full = [tokenize_text(model, text, req.prompt_name, limits) for text in req.texts]
        return [[t.to_json() for t in model.tokenize(text, req.add_special_tokens)] for text in full]

    result, _ = await _infer(request, work)
    return json_response(result)


async def decode(request: web.Request) -> web.StreamResponse:
    model = request.app[MODEL]
    limits = _limits(request)
    body, raw = request_body(request)
    req = parse_decode(body, raw)
    if req.batch:
        _check_list(len(req.ids), limits, "`ids` cannot be empty")
    if any(not ids for ids in req.ids):
        raise empty_error("`input_ids` cannot be empty", core=True)
    texts, _ = await _infer(request, lambda: [model.decode(ids, req.skip_special_tokens) for ids in req.ids])
    return json_response(texts)


def model_type(model: EmbedModel) -> dict[str, Any]:
    if model.kind == "embedding":
        return {"embedding": {"pooling": model.pooling}}
    labels = {str(i): label for i, label in enumerate(model.labels)}
    return {model.kind: {"id2label": labels, "label2id": {label: i for i, label in enumerate(model.labels)}}}


async def info(request: web.Request) -> web.StreamResponse:
    model = request.app[MODEL]
    config = request.app[TEI_CONFIG]
    limits = config.limits
    body = {
        "model_id": model.model_id,
        "model_sha": None,
        "model_dtype": "float32",
        "served_model_name": config.served_model_name or model.model_id,
        "model_type": model_type(model),
        "max_concurrent_requests": limits.max_concurrent_requests,
        "max_input_length": limits.max_input_length,
        "max_batch_tokens": limits.max_batch_tokens,
        "max_batch_requests": None,
        "max_client_batch_size": limits.max_client_batch_size,
        "auto_truncate": limits.auto_truncate,
        "tokenization_workers": 1,
        "version": config.version,
        "sha": None,
        "docker_label": None,
        # Not a TEI field: what this local server really runs (clients ignore unknown fields).
        "local_server": model.about,
    }
    return json_response(body)


async def health(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200)


def add_tei_routes(app: web.Application) -> None:
    model = app[MODEL]
    router = app.router
    embed = _embed_route("embed")
    embed_sparse = _embed_route("embed_sparse")
    router.add_post("/embed", embed)
    router.add_post("/embed_all", _embed_route("embed_all"))
    router.add_post("/embed_sparse", embed_sparse)
    router.add_post("/v1/embeddings", openai_embed)
    router.add_post("/embeddings", openai_embed)
    router.add_post("/rerank", rerank)
    router.add_post("/predict", predict)
    router.add_post("/similarity", similarity)
    router.add_post("/tokenize", tokenize)
    router.add_post("/decode", decode)
    router.add_get("/info", info)
    router.add_get("/health", health)
    router.add_get("/ping", health)
    router.add_get("/", health)
    # POST / and /invocations: bound by model type when the server starts, as TEI does.
    alias: Handler = embed_sparse if model.pooling == "splade" else embed
    if model.kind in ("classifier", "reranker"):
        alias = predict if model.kind == "classifier" else rerank
    router.add_post("/", alias)
    router.add_post("/invocations", alias)
