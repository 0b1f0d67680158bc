"""The Messages API request side: deserialize, pick tools, template, map to generate parameters.

Follows TGI's ``ChatRequest::try_into_generate`` and ``prepare_chat_input`` (``router/src/{lib,server}.rs``):
``temperature: 0`` means greedy and an absent temperature samples; ``presence_penalty`` becomes
``repetition_penalty = presence_penalty + 2``; ``top_logprobs`` becomes ``top_n_tokens``; tools
are injected into the prompt and the output is constrained by the JSON grammar
``{"function": {"_name": <tool>, ...arguments}}``; ``response_format`` and ``tools`` together are
a ``tool_error``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from ._errors import missing_field, serde_error, tool_error
from ._serde import CHAT_FIELDS, check_fields, check_grammar
from ._types import Backend, GenParams, Prompt
from ._validation import Limits, validate

__all__ = [
    "DEFAULT_TOOL_PROMPT",
    "ChatPlan",
    "chat_input",
    "message_text",
    "plan_chat",
    "tools_schema",
]

DEFAULT_TOOL_PROMPT = (
    "\nGiven the functions available, please respond with a JSON for a function call with its proper "
    "arguments that best answers the given prompt. Respond in the format {name: function name, "
    "parameters: dictionary of argument name and its value}.Do not use variables.\n"
)

NO_TOOL = {
    "type": "function",
    "function": {
        "name": "no_tool",
        "description": "Open ended response with no specific tool selected",
        "arguments": {
            "type": "object",
            "properties": {"content": {"type": "string", "description": "The response content"}},
            "required": ["content"],
        },
    },
}


@dataclass(slots=True)
class ChatPlan:
    """A validated chat request, ready to generate."""

    prompt: Prompt
    params: GenParams
    model: str
    stream: bool
    include_usage: bool
    logprobs: bool
    using_tools: bool
    # For re-running without tools when the model picks ``no_tool`` (TGI's auto fallback).
    plain_prompt: Prompt | None = None
    plain_params: GenParams | None = None


def message_text(message: dict[str, Any]) -> str:
    """A message's content as text (chunks joined, images as markdown, as TGI does)."""
    content = message.get("content")
    if isinstance(content, list):
        parts = []
        for chunk in content:
            if isinstance(chunk, dict) and chunk.get("type") == "image_url":
                parts.append(f"![]({(chunk.get('image_url') or {}).get('url', '')})")
            elif isinstance(chunk, dict):
                parts.append(str(chunk.get("text", "")))
        return "".join(parts)
    if content is None and message.get("tool_calls"):
        return json.dumps([c.get("function", {}) for c in message["tool_calls"]], ensure_ascii=False)
    return "" if content is None else str(content)


def _is_chunk(chunk: Any) -> bool:
    """A ``MessageChunk``: ``{"type": "text", "text": str}`` or ``{"type": "image_url", "image_url": {"url": str}}``."""
    if not isinstance(chunk, dict):
        return False
    if chunk.get("type") == "text":
        return isinstance(chunk.get("text"), str)
    url = chunk.get("image_url")
    return chunk.get("type") == "image_url" and isinstance(url, dict) and isinstance(url.get("url"), str)


def _check_body(body: Any, raw: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise serde_error(raw, "", "invalid type: sequence, expected struct ChatRequest")
    if "messages" not in body:
        raise missing_field(raw, "messages")
    check_fields(body, CHAT_FIELDS, raw)
    for i, message in enumerate(body["messages"]):
        if not isinstance(message, dict):
            raise serde_error(raw, f"messages[{i}]", "invalid type: expected struct Message")
        if "role" not in message:
            raise missing_field(raw, "role", f"messages[{i}]")
        if isinstance(message.get("content"), list) and not all(_is_chunk(c) for c in message["content"]):
            # MessageContent is untagged: a chunk other than text/image_url matches no variant of the body.
            raise serde_error(raw, f"messages[{i}]", "data did not match any variant of untagged enum MessageBody")
    check_grammar(body.get("response_format"), raw, "response_format")
    for i, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or "name" not in function:
            raise missing_field(raw, "name", f"tools[{i}].function")
    return body


def _choice(tool_choice: Any) -> tuple[str, str | None]:
    """TGI's ``ToolChoice``: ("auto"|"none"|"required"|"function", name)."""
    if tool_choice is None or tool_choice == "auto":
        return "auto", None
    if tool_choice in ("none", "required"):
        return str(tool_choice), None
    if isinstance(tool_choice, str):
        return "function", tool_choice  # a bare string is a function name
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function") or {}
        return "function", str(function.get("name", ""))
    return "auto", None


def _parameters(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    params = function.get("parameters", function.get("arguments")) or {}
    return params if isinstance(params, dict) else {}


def tools_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The grammar ``{"function": {"_name": <name>, ...args}}`` over ``tools`` (TGI's ToolGrammar)."""
    options = []
    defs: dict[str, Any] = {}
    for tool in tools:
        params = _parameters(tool)
        name = tool["function"]["name"]
        defs.update(params.get("$defs", {}))
        properties = {"_name": {"type": "string", "const": name}, **params.get("properties", {})}
        options.append(
            {
                "type": "object",
                "properties": properties,
                "required": ["_name", *params.get("required", [])],
                "additionalProperties": False,
            }
        )
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"function": {"anyOf": options}},
        "required": ["function"],
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def _select_tools(body: dict[str, Any], backend: Backend) -> list[dict[str, Any]] | None:
    """The tools the grammar offers, or None for a plain-text answer."""
    tools = body.get("tools") or []
    if not tools:
        return None
    mode, name = _choice(body.get("tool_choice"))
    if mode == "none":
        return None
    if mode == "function":
        chosen = [t for t in tools if t["function"]["name"] == name]
        if not chosen:
            raise tool_error(f"Tool with name {name} not found")
        tools = chosen
    messages = body["messages"]
    if backend.text_after_tool_result and messages and messages[-1].get("role") == "tool":
        return None
    if mode == "auto" and not backend.text_after_tool_result:
        tools = [*tools, NO_TOOL]
    return list(tools)


def _tools_text(tools: list[dict[str, Any]], tool_prompt: str) -> str:
    listed = json.dumps([t["function"] for t in tools], ensure_ascii=False)
    return f"Tools: {listed}{tool_prompt}"


def _generate_params(body: dict[str, Any], grammar: dict[str, Any] | None) -> dict[str, Any]:
    temperature = body.get("temperature")
    presence = body.get("presence_penalty")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_completion_tokens")
    return {
        "do_sample": temperature != 0,
        "temperature": None if temperature == 0 else temperature,
        "top_p": body.get("top_p"),
        "frequency_penalty": body.get("frequency_penalty"),
        "repetition_penalty": None if presence is None else presence + 2.0,
        "max_new_tokens": max_tokens,
        "stop": body.get("stop") or [],
        "seed": body.get("seed"),
        "top_n_tokens": body.get("top_logprobs"),
        "details": True,
        "grammar": grammar,
    }


def chat_input(
    backend: Backend, body: Any, raw: str
) -> tuple[dict[str, Any], str, dict[str, Any] | None, list[dict[str, Any]] | None]:
    """Deserialize and template a chat body: ``(body, prompt text, grammar, tools)``.

    Shared by ``/v1/chat/completions`` and ``/chat_tokenize`` (which shows the templated text).
    """
    body = _check_body(body, raw)
    response_format = body.get("response_format")
    if response_format is not None and body.get("tools"):
        raise tool_error("Grammar and tools are mutually exclusive")
    tools = None if response_format is not None else _select_tools(body, backend)
    tool_prompt = body.get("tool_prompt") or DEFAULT_TOOL_PROMPT
    tools_text = _tools_text(tools, tool_prompt) if tools else None
    grammar = response_format
    if tools:
        grammar = {"type": "json", "value": tools_schema(tools)}
    return body, backend.chat_prompt(body["messages"], tools_text), grammar, tools


async def plan_chat(backend: Backend, body: Any, raw: str, limits: Limits) -> ChatPlan:
    """Turn a chat body into a prompt and parameters; raise TGI's errors."""
    body, text, grammar, tools = chat_input(backend, body, raw)
    prompt, params = await validate(
        backend, text, _generate_params(body, grammar), limits, stream=False, add_special_tokens=False
    )
    params = replace(params, end_of_turn=() if grammar else backend.end_of_turn)
    model = body.get("model")
    plan = ChatPlan(
        prompt=prompt,
        params=params,
        model=model if model and model != "tgi" else backend.model_id,
        stream=bool(body.get("stream", False)),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        logprobs=bool(body.get("logprobs")),
        using_tools=bool(tools),
    )
    if tools and any(t["function"]["name"] == "no_tool" for t in tools):
        plain = backend.chat_prompt(body["messages"], None)
        plan.plain_prompt, plain_params = await validate(
            backend, plain, _generate_params(body, None), limits, stream=False, add_special_tokens=False
        )
        plan.plain_params = replace(plain_params, end_of_turn=backend.end_of_turn)
    return plan
