"""TGI's native routes: /generate, /generate_stream, POST / (compat), /tokenize, /info, /health,
GET /, /v1/models."""

from __future__ import annotations

import time
from contextlib import aclosing
from typing import Any

from aiohttp import web

from ._app import (
    BACKEND,
    CONFIG,
    CONTROL,
    generation_headers,
    image_report,
    json_response,
    read_json,
    request_faults,
    stream_headers,
)
from ._errors import ApiError
from ._generation import collect, collect_best_of, resolve_seed, run
from ._shapes import generate_response, stream_event
from ._sse import EventWriter
from ._validation import parse_generate_body, validate

__all__ = ["add_native_routes", "generation_failed"]


def generation_failed(exc: Exception) -> ApiError:
    """A backend failure, as TGI reports a shard error (424 ``generation``)."""
    return ApiError(424, f"Request failed during generation: {exc}", "generation")


async def _generate_json(
    request: web.Request, inputs: str, params: dict[str, Any] | None, *, compat: bool
) -> web.Response:
    started = time.perf_counter()
    backend = request.app[BACKEND]
    config = request.app[CONFIG]
    prompt, gen_params = await validate(
        backend, inputs, params, config.limits, stream=False, return_full_text_default=compat
    )
    gen_params = resolve_seed(gen_params)
    validated = time.perf_counter()
    try:
        if gen_params.best_of > 1:
            best, others = await collect_best_of(backend, prompt, gen_params)
        else:
            best, others = await collect(backend, prompt, gen_params), []
    except ApiError:
        raise
    except Exception as exc:
        raise generation_failed(exc) from exc
    body = generate_response(
        best,
        prefix=inputs if gen_params.return_full_text else "",
        details=gen_params.details,
        top_n=gen_params.top_n_tokens,
        others=others,
    )
    headers = generation_headers(
        config,
        started,
        characters=len(inputs),
        prompt_tokens=prompt.input_length,
        generated_tokens=len(best.tokens),
        validated=validated,
        queue=best.queue_time,
    )
    headers.update(image_report(request, prompt))
    return json_response([body] if compat else body, headers=headers)


async def _generate_sse(
    request: web.Request, inputs: str, params: dict[str, Any] | None, *, compat: bool
) -> web.StreamResponse:
    backend = request.app[BACKEND]
    config = request.app[CONFIG]
    headers = stream_headers(config, len(inputs))
    try:
        prompt, gen_params = await validate(
            backend, inputs, params, config.limits, stream=True, return_full_text_default=compat
        )
        headers.update(image_report(request, prompt))
        failure = None
    except ApiError as exc:
        failure = exc
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    writer = EventWriter(request, response, request_faults(request), openai=False, coalesce=backend.instant)
    if failure is not None:
        # TGI reports validation failures of a stream inside the 200 stream.
        await writer.error(failure.body())
        return response
    gen_params = resolve_seed(gen_params)
    prefix = inputs if gen_params.return_full_text else ""
    index = 0
    try:
        async with aclosing(run(backend, prompt, gen_params)) as events:
            async for step, final in events:
                index += 1
                event = stream_event(
                    index,
                    step,
                    final,
                    prefix=prefix,
                    details=gen_params.details,
                    input_length=prompt.input_length,
                    top_n=gen_params.top_n_tokens,
                )
                if not await writer.send(event, final=final is not None):
                    break
    except (ConnectionResetError, ConnectionError):
        return response
    except ApiError as exc:  # e.g. a grammar the backend rejects when it starts
        await writer.error(exc.body())
    except Exception as exc:
        await writer.error(generation_failed(exc).body())
    await writer.flush()
    return response


async def generate(request: web.Request) -> web.StreamResponse:
    body, raw = await read_json(request)
    inputs, params, _ = parse_generate_body(body, raw, compat=False)
    return await _generate_json(request, inputs, params, compat=False)


async def generate_stream(request: web.Request) -> web.StreamResponse:
    body, raw = await read_json(request)
    inputs, params, _ = parse_generate_body(body, raw, compat=False)
    return await _generate_sse(request, inputs, params, compat=False)


async def compat_generate(request: web.Request) -> web.StreamResponse:
    body, raw = await read_json(request)
    inputs, params, stream = parse_generate_body(body, raw, compat=True)
    if stream:
        return await _generate_sse(request, inputs, params, compat=True)
    return await _generate_json(request, inputs, params, compat=True)


async def tokenize(request: web.Request) -> web.StreamResponse:
    body, raw = await read_json(request)
    inputs, _, _ = parse_generate_body(body, raw, compat=False)
    tokens = await request.app[BACKEND].tokenize(inputs, True)
    return json_response([t.to_json() for t in tokens])


async def info(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    config = request.app[CONFIG]
    limits = config.limits
    body: dict[str, Any] = {
        "model_id": backend.model_id,
        "model_sha": None,
        "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": limits.max_concurrent_requests,
        "max_best_of": limits.max_best_of,
        "max_stop_sequences": limits.max_stop_sequences,
        "max_input_tokens": limits.max_input_tokens,
        "max_total_tokens": limits.max_total_tokens,
        "validation_workers": 2,
        "max_client_batch_size": limits.max_client_batch_size,
        "router": "text-generation-router",
        "version": config.version,
        "sha": None,
        "docker_label": None,
    }
    if "info_max_input_length" in request.app[CONTROL].legacy:
        body = {("max_input_length" if k == "max_input_tokens" else k): v for k, v in body.items()}
    return json_response(body)


async def health(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200)


async def models(request: web.Request) -> web.StreamResponse:
    model_id = request.app[BACKEND].model_id
    owner = "vllm" if request.app[CONTROL].mode == "openai" else model_id
    return json_response(
        {"object": "list", "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": owner}]}
    )


def add_native_routes(app: web.Application) -> None:
    app.router.add_post("/generate", generate)
    app.router.add_post("/generate_stream", generate_stream)
    app.router.add_post("/", compat_generate)
    app.router.add_post("/tokenize", tokenize)
    app.router.add_get("/info", info)
    app.router.add_get("/health", health)
    app.router.add_get("/ping", health)
    app.router.add_get("/", health)
    app.router.add_get("/v1/models", models)
