"""The Messages API: POST /v1/chat/completions (stream and not) and POST /chat_tokenize."""

from __future__ import annotations

import time
from collections.abc import Collection
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
from ._chat import ChatPlan, chat_input, plan_chat
from ._errors import ApiError
from ._generation import collect, resolve_seed, run
from ._routes_native import generation_failed
from ._shapes import (
    chat_chunk,
    chat_finish_reason,
    chat_logprobs,
    chat_response,
    tool_call_message,
)
from ._sse import EventWriter
from ._tool_calls import ToolStreamParser, parse_tool_call
from ._types import Backend, Generation

__all__ = ["add_chat_routes"]


class _Chunks:
    """Builds the chunks of one chat stream (same envelope on every chunk)."""

    def __init__(self, model: str, fingerprint: str, legacy: Collection[str]) -> None:
        self.model = model
        self.fingerprint = fingerprint
        self.legacy = legacy

    def text(self, content: str, finish: str | None, logprobs: dict[str, Any] | None) -> dict[str, Any]:
        delta = {"role": "assistant", "content": content}
        return chat_chunk(
            model=self.model,
            fingerprint=self.fingerprint,
            delta=delta,
            finish_reason=finish,
            logprobs=logprobs,
            legacy=self.legacy,
        )

    def tool(self, name: str | None, arguments: str) -> dict[str, Any]:
        call: dict[str, Any] = {
            "index": 0,
            "id": "0",
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        calls: Any = call if "tool_calls_object" in self.legacy else [call]
        delta = {"role": "assistant", "tool_calls": calls}
        return chat_chunk(model=self.model, fingerprint=self.fingerprint, delta=delta, legacy=self.legacy)

    def usage(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return chat_chunk(model=self.model, fingerprint=self.fingerprint, delta=None, usage=usage, legacy=self.legacy)


async def _complete(
    backend: Backend, plan: ChatPlan, legacy: Collection[str]
) -> tuple[dict[str, Any], Generation, int]:
    """Run a non-stream chat: ``(message, generation, prompt tokens)``."""
    gen = await collect(backend, plan.prompt, plan.params)
    if not plan.using_tools:
        return {"role": "assistant", "content": gen.text}, gen, plan.prompt.input_length
    name, arguments = parse_tool_call(gen.text)
    if name == "no_tool" and plan.plain_prompt is not None and plan.plain_params is not None:
        # TGI's auto fallback: the model declined the tools, so answer again in plain text.
        gen = await collect(backend, plan.plain_prompt, resolve_seed(plan.plain_params))
        return {"role": "assistant", "content": gen.text}, gen, plan.plain_prompt.input_length
    return tool_call_message(name, arguments, legacy), gen, plan.prompt.input_length


async def _chat_json(request: web.Request, plan: ChatPlan, started: float, validated: float) -> web.Response:
    backend = request.app[BACKEND]
    config = request.app[CONFIG]
    legacy = request.app[CONTROL].legacy
    try:
        message, gen, prompt_tokens = await _complete(backend, plan, legacy)
    except ApiError:
        raise
    except Exception as exc:
        raise generation_failed(exc) from exc
    logprobs = chat_logprobs(list(zip(gen.tokens, gen.top_tokens, strict=True))) if plan.logprobs else None
    body = chat_response(
        model=plan.model,
        fingerprint=config.fingerprint,
        message=message,
        finish_reason=chat_finish_reason(gen.finish_reason, legacy),
        logprobs=logprobs,
        prompt_tokens=prompt_tokens,
        completion_tokens=len(gen.tokens),
        legacy=legacy,
    )
    headers = generation_headers(
        config,
        started,
        characters=len(plan.prompt.text),
        prompt_tokens=prompt_tokens,
        generated_tokens=len(gen.tokens),
        validated=validated,
        queue=gen.queue_time,
    )
    headers.update(image_report(request, plan.prompt))
    return json_response(body, headers=headers)


async def _stream_text(
    backend: Backend, plan: ChatPlan, writer: EventWriter, chunks: _Chunks, *, plain: bool = False
) -> int | None:
    """Stream a text answer; returns the completion token count, or None if the stream was cut."""
    prompt = plan.plain_prompt if plain and plan.plain_prompt else plan.prompt
    params = plan.plain_params if plain and plan.plain_params else plan.params
    async with aclosing(run(backend, prompt, resolve_seed(params))) as events:
        async for step, final in events:
            token = step.token
            logprobs = chat_logprobs([(token, step.top_tokens)]) if plan.logprobs else None
            finish = None if final is None else chat_finish_reason(final.finish_reason, chunks.legacy)
            payload = chunks.text("" if token.special else token.text, finish, logprobs)
            if not await writer.send(payload, final=final is not None):
                return None
            if final is not None:
                return len(final.tokens)
    return None


async def _stream_tool(backend: Backend, plan: ChatPlan, writer: EventWriter, chunks: _Chunks) -> int | None:
    """Stream a tool call like TGI >= 3.2 (no finish_reason chunk); falls back to text on no_tool."""
    parser = ToolStreamParser()
    count = 0
    async with aclosing(run(backend, plan.prompt, plan.params)) as events:
        async for step, final in events:
            count += 1
            pieces = parser.feed("" if step.token.special else step.token.text)
            if parser.name == "no_tool":
                break
            if final is not None:
                pieces += parser.finish()
            for name, piece in pieces:
                if not await writer.send(chunks.tool(name, piece)):
                    return None
            if final is not None:
                return count
    if parser.name == "no_tool":
        return await _stream_text(backend, plan, writer, chunks, plain=True)
    return count


async def _chat_stream(request: web.Request, plan: ChatPlan) -> web.StreamResponse:
    backend = request.app[BACKEND]
    config = request.app[CONFIG]
    headers = {**stream_headers(config, len(plan.prompt.text)), **image_report(request, plan.prompt)}
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    writer = EventWriter(request, response, request_faults(request), openai=True, coalesce=backend.instant)
    chunks = _Chunks(plan.model, config.fingerprint, request.app[CONTROL].legacy)
    try:
        if plan.using_tools:
            completion = await _stream_tool(backend, plan, writer, chunks)
        else:
            completion = await _stream_text(backend, plan, writer, chunks)
    except (ConnectionResetError, ConnectionError):
        return response
    except ApiError as exc:
        await writer.error(exc.body())
        return response
    except Exception as exc:
        await writer.error(generation_failed(exc).body())
        return response
    if completion is not None and plan.include_usage:
        await writer.send(chunks.usage(plan.prompt.input_length, completion), final=True)
    await writer.done()
    return response


async def _stream_validation_error(request: web.Request, error: ApiError) -> web.StreamResponse:
    """A chat stream whose request fails validation: 200, one OpenAI-shaped error event, [DONE]."""
    config = request.app[CONFIG]
    response = web.StreamResponse(headers=stream_headers(config, 0))
    await response.prepare(request)
    writer = EventWriter(request, response, request_faults(request), openai=True)
    await writer.error(error.body())
    return response


async def chat_completions(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    body, raw = await read_json(request)
    try:
        plan = await plan_chat(request.app[BACKEND], body, raw, request.app[CONFIG].limits)
    except ApiError as exc:
        # Template and tool errors come before the stream; validation errors inside it.
        if isinstance(body, dict) and body.get("stream") is True and exc.error_type == "validation":
            return await _stream_validation_error(request, exc)
        raise
    plan.params = resolve_seed(plan.params)
    if plan.stream:
        return await _chat_stream(request, plan)
    return await _chat_json(request, plan, started, time.perf_counter())


async def chat_tokenize(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    body, raw = await read_json(request)
    _, text, _, _ = chat_input(backend, body, raw)
    tokens = await backend.tokenize(text, False)
    return json_response({"tokenize_response": [t.to_json() for t in tokens], "templated_text": text})


def add_chat_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/chat_tokenize", chat_tokenize)
