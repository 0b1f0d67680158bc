"""TGI chat: the route choice and the plans of both routes (the Messages API and ``/generate`` with the chat
template applied here). Plan builders are functions of their inputs: the call's arguments, the client's
:class:`ChatConfig`, and the endpoint's :class:`EndpointState` (read; the only write is the fallback to the native
route when the Messages API turns out to be missing, :meth:`EndpointState.use_native_route`).

(How a protocol plugs into the shells: see ``_plan``.)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._chat_route import ChatStreamConverter, build_chat_body, cut_tool_call_error, parse_chat_completion
from ._endpoint import EndpointState
from ._errors import HFEndpointError, InvalidRequestError, NotFoundError, RequestValidationError, ResponseError
from ._images import PAYLOAD_LIMIT as TGI_PAYLOAD_LIMIT
from ._native_chat import NativeChatStreamConverter, build_native_chat, native_chat_completion
from ._options import ChatOptions, Route
from ._params import (
    CHAT_PARAMS,
    check_chat_choices,
    normalize_messages,
    normalize_response_format,
    normalize_sampling,
    normalize_stop,
    normalize_tool_choice,
    normalize_tools,
)
from ._plan import Plan, Response, Steps, StreamConverter
from ._protocol import Request
from ._templates import ChatTemplate, builtin_template_for
from ._tgi import clamp_handler, info_steps, parse_generate_response
from ._timings import FinalChunk, server_timings
from ._types import ChatCompletion, ChatCompletionChunk, GenerateSummary, assign

__all__ = ["ChatConfig", "chat_plan", "chat_steps", "choose_route"]


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """:class:`ChatOptions` with the chat template loaded (by the client's constructor: it may read a file)."""

    route: Route = "auto"
    model: str | None = None
    template: ChatTemplate | None = None
    clamp_max_tokens: bool = True
    payload_limit: int = TGI_PAYLOAD_LIMIT

    @classmethod
    def load(cls, options: ChatOptions) -> ChatConfig:
        return cls(
            options.route, options.model, options.load_template(), options.clamp_max_tokens, options.payload_limit
        )


def needs_info(cfg: ChatConfig, state: EndpointState, route: Route | None) -> bool:
    return not state.info_known and ((route or state.route) != "chat" or cfg.template is None)


def chat_steps(
    cfg: ChatConfig,
    state: EndpointState,
    messages: Sequence[Any],
    *,
    tools: Sequence[Any] | None,
    tool_choice: Any,
    response_format: Any,
    params: Mapping[str, Any],
    stream: bool,
    route: Route | None = None,
) -> Steps[Plan[Any]]:
    """A chat call: ``/info`` first when the route or the template depends on it, then the chat plan."""
    started = None if stream else time.perf_counter()
    if needs_info(cfg, state, route):
        yield from info_steps(state)
    return chat_plan(
        cfg,
        state,
        messages,
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        params=params,
        stream=stream,
        route=route,
        started=started,
    )


def choose_route(cfg: ChatConfig, state: EndpointState, *, has_tools: bool = False) -> Literal["chat", "generate"]:
    """The route for a chat call (after ``/info`` was asked when the route is ``auto``)."""
    if state.route != "auto":
        return state.route
    # The choice depends only on what is known of the server: made once per (info, tools or not).
    key = (state.info, cfg.template, has_tools)
    memo = state.route_memo
    if memo is not None and memo[0] == key:
        return memo[1]
    route, why = _auto_route(cfg, state, has_tools)
    state.route_memo = (key, state.log_route(route, why))
    return route


def _auto_route(cfg: ChatConfig, state: EndpointState, has_tools: bool) -> tuple[Literal["chat", "generate"], str]:
    info = state.info
    if cfg.template is not None:
        return "generate", "a chat template was given, so the prompt is formatted here"
    if info is None:
        return "chat", "the server has no /info: an OpenAI-compatible engine (vLLM, SGLang, llama.cpp)"
    version = info.version_tuple
    if version and version < (1, 4):
        return "generate", f"TGI {info.version} predates the Messages API"
    if has_tools and version and version < (1, 4, 3):
        return "generate", f"TGI {info.version} has no tool support; using grammar"
    return "chat", f"TGI {info.version or '(unknown version)'} serves the Messages API"


def native_template(cfg: ChatConfig, state: EndpointState) -> ChatTemplate:
    if cfg.template is not None:
        return cfg.template
    model_id = state.info.model_id if state.info else None
    template = builtin_template_for(model_id)
    if template is None:
        raise InvalidRequestError(
            f"no chat template is known for model {model_id!r} on the native route: pass chat_template= "
            "(Jinja source or a built-in name such as 'chatml', 'llama-3'), tokenizer_config= (path to the "
            "model's tokenizer_config.json), or use route='chat'"
        )
    return template


def chat_plan(
    cfg: ChatConfig,
    state: EndpointState,
    messages: Sequence[Any],
    *,
    tools: Sequence[Any] | None,
    tool_choice: Any,
    response_format: Any,
    params: Mapping[str, Any],
    stream: bool,
    route: Route | None = None,
    started: float | None = None,
) -> Plan[Any]:
    """The plan of one chat call; ``started`` (non-stream calls): when the call began, for ``elapsed``."""
    unknown = set(params) - CHAT_PARAMS
    if unknown:
        raise InvalidRequestError(
            f"unknown chat parameter(s) {sorted(unknown)}; valid ones are {sorted(CHAT_PARAMS)}. "
            "Other server-specific fields go in extra_body={...}"
        )
    msgs = normalize_messages(messages, payload_limit=cfg.payload_limit)
    tool_defs = normalize_tools(tools)
    choice = normalize_tool_choice(tool_choice, tool_defs)
    grammar = normalize_response_format(response_format)
    p = {k: v for k, v in params.items() if v is not None}
    for alias in ("max_new_tokens", "max_completion_tokens"):
        if alias in p:
            p["max_tokens"] = p.pop(alias)
    if p.get("max_tokens") is not None and (
        isinstance(p["max_tokens"], bool) or not isinstance(p["max_tokens"], int) or p["max_tokens"] <= 0
    ):
        raise InvalidRequestError(f"max_tokens={p['max_tokens']!r} is invalid: expected a whole number > 0")
    normalize_sampling(p)
    stop = normalize_stop(p.get("stop"), state.max_stop_sequences)
    if stop:
        p["stop"] = stop
    chosen = route if route in ("chat", "generate") else choose_route(cfg, state, has_tools=bool(tool_defs))
    # Unless the server is known not to be TGI (no /info), TGI's rules apply.
    n = check_chat_choices(p, tgi=not (state.info_known and state.info is None), stream=stream)
    if p.get("top_logprobs") is not None:
        p["logprobs"] = True
    if chosen == "generate":
        return _native_plan(cfg, state, msgs, tool_defs, choice, grammar, p, stream, started)
    if tool_defs and grammar is not None:
        raise InvalidRequestError("tools and response_format cannot be combined (TGI: mutually exclusive)")
    model = p.pop("model", None)  # kept for the native route's adapter_id should the Messages API be missing
    body = build_chat_body(
        msgs,
        p,
        model=model or cfg.model or _served_model_for_body(state),
        tools=tool_defs,
        tool_choice=choice,
        grammar=grammar,
        stream=stream,
    )
    stops = tuple(stop or ())

    def parse(resp: Response) -> ChatCompletion:
        out = parse_chat_completion(resp.body, stops=stops, request_id=resp.request_id, url=resp.url)
        if len(out.choices) < n:  # never fewer choices than asked for, passed off as the answer
            raise ResponseError(f"asked for n={n} choices, the server returned {len(out.choices)}", url=resp.url)
        if started is not None:
            assign(out, elapsed=time.perf_counter() - started)
        timings = server_timings(resp.headers)
        if timings is not None:
            assign(out, timings=timings)
        return out

    start = time.perf_counter() if started is None else started  # (a stream's time to first token counts from here)
    separate_usage = _separate_usage(p)

    def converter(request_id: str | None, url: str) -> StreamConverter[ChatCompletionChunk]:
        inner = ChatStreamConverter(stops=stops, request_id=request_id, url=url, max_tokens=body.get("max_tokens"))
        return FinalChunk(inner, start=start, separate_usage=separate_usage)

    request = Request("POST", "/v1/chat/completions", body, stream=stream)
    clamp = clamp_handler(request, parse, converter, "max_tokens", cfg.clamp_max_tokens)

    def on_error(err: HFEndpointError) -> Plan[Any] | None:
        fixed = clamp(err)
        if fixed is not None:
            return fixed
        if tool_defs and (cut := cut_tool_call_error(err, max_tokens=body.get("max_tokens"), stops=stops)):
            raise cut from err
        if state.route == "auto" and _chat_route_missing(cfg, state, err):
            state.use_native_route(err.message)
            return _native_plan(cfg, state, msgs, tool_defs, choice, grammar, {**p, "model": model}, stream, started)
        return None

    return Plan(request, parse, converter, on_error)


def _served_model_for_body(state: EndpointState) -> str:
    # TGI reads any model name other than "tgi" as a LoRA adapter id; other engines want their model's name.
    if state.info is None and state.served_model:
        return state.served_model
    return "tgi"


def _chat_route_missing(cfg: ChatConfig, state: EndpointState, err: HFEndpointError) -> bool:
    if state.info is None:
        return False  # not TGI: the native route does not exist either
    if cfg.template is None and builtin_template_for(state.info.model_id) is None:
        return False  # nothing to format the prompt with: the server's own error says more
    if isinstance(err, NotFoundError):
        return True
    return isinstance(err, RequestValidationError) and "template not found" in err.message.lower()


def _native_plan(
    cfg: ChatConfig,
    state: EndpointState,
    msgs: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    choice: Any,
    grammar: dict[str, Any] | None,
    params: dict[str, Any],
    stream: bool,
    started: float | None,
) -> Plan[Any]:
    adapter = params.pop("model", None) or cfg.model
    if adapter and adapter != "tgi" and "adapter_id" not in params:
        params = {**params, "adapter_id": adapter}  # on /generate, a model name selects a LoRA adapter
    native = build_native_chat(
        msgs,
        params,
        template=native_template(cfg, state),
        tools=tools,
        tool_choice=choice,
        grammar=grammar,
        max_stop_sequences=state.max_stop_sequences,
        model=adapter or state.served_model or "",
    )
    path = "/generate_stream" if stream else "/generate"
    body = {"inputs": native.prompt, "parameters": native.parameters}

    def parse(resp: Response) -> ChatCompletion:
        # Per-token details become objects only when logprobs were asked for.
        if native.want_logprobs:
            out = native_chat_completion(parse_generate_response(resp, path), native)
        else:
            out = native_chat_completion(parse_generate_response(resp, path, GenerateSummary), native)
        if started is not None:
            assign(out, elapsed=time.perf_counter() - started)
        return out

    start = time.perf_counter() if started is None else started
    separate_usage = _separate_usage(params)

    def converter(request_id: str | None, url: str) -> StreamConverter[ChatCompletionChunk]:
        inner = NativeChatStreamConverter(native, request_id=request_id, url=url)
        return FinalChunk(inner, start=start, separate_usage=separate_usage)

    request = Request("POST", path, body, stream=stream)
    return Plan(
        request, parse, converter, clamp_handler(request, parse, converter, "max_new_tokens", cfg.clamp_max_tokens)
    )


def _separate_usage(params: Mapping[str, Any]) -> bool:
    """Whether the caller asked for OpenAI's usage-only last chunk (else the usage rides on the finishing chunk)."""
    options = params.get("stream_options")
    return bool(isinstance(options, Mapping) and options.get("include_usage"))
