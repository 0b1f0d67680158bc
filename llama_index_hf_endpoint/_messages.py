"""LlamaIndex messages and tools -> the transport's OpenAI-shaped dicts (pure; shared by sync and async).

Tool calls live in two places on a LlamaIndex message: ``ToolCallBlock`` blocks (what current integrations
write) and ``additional_kwargs["tool_calls"]`` (older integrations, and memory that was serialized to dicts).
Both are read; blocks win so that a call is never sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from hf_endpoint import image_data_uri

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["resolve_tool_choice", "to_tgi_messages", "to_tgi_tools"]

# LlamaIndex roles other providers use; TGI knows system/user/assistant/tool.
_ROLES = {"chatbot": "assistant", "model": "assistant", "function": "tool", "developer": "system"}

# Blocks that carry nothing a TGI prompt can use: reasoning traces are not replayed, cache points are
# Anthropic-only hints, and tool calls are sent as ``tool_calls``.
_SKIPPED_BLOCKS = (ThinkingBlock, CachePoint, ToolCallBlock)


def to_tgi_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """LlamaIndex ``ChatMessage``s -> OpenAI-style dicts (roles, text/image content, tool calls and results)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = str(message.role.value)
        role = _ROLES.get(role, role)
        item: dict[str, Any] = {"role": role, "content": _content(message)}
        if role == "assistant":
            calls = tool_calls_of(message)
            if calls:
                item["tool_calls"] = calls
        elif role == "tool":
            extra = message.additional_kwargs
            item["tool_call_id"] = str(extra.get("tool_call_id") or "")
            if extra.get("name"):
                item["name"] = str(extra["name"])
        out.append(item)
    return out


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """Text joined like ``ChatMessage.content`` does; a list of content parts only when there are images."""
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block)}})
        elif not isinstance(block, _SKIPPED_BLOCKS):
            raise ValueError(f"{type(block).__name__} content is not supported by TGI's chat API; send text or images")
    if len(parts) > len(texts):
        return parts
    return "\n".join(texts)


def _image_url(block: ImageBlock) -> str:
    """A URL as given (the transport checks it; ``file://`` is read there); bytes or a path as a data URI whose
    mime type comes from the bytes themselves (``image_mimetype`` is a guess LlamaIndex may make from a name)."""
    if block.url is not None:
        return str(block.url)
    return image_data_uri(block.resolve_image(as_base64=False).read())


def tool_calls_of(message: ChatMessage) -> list[dict[str, Any]]:
    """The tool calls an assistant message made, as OpenAI dicts with ``arguments`` as a JSON string."""
    blocks = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    if blocks:
        return [_call(b.tool_call_id, b.tool_name, b.tool_kwargs, i) for i, b in enumerate(blocks)]
    calls = []
    for i, raw in enumerate(message.additional_kwargs.get("tool_calls") or ()):
        call = raw.model_dump() if hasattr(raw, "model_dump") else raw
        if not isinstance(call, Mapping):
            continue
        fn = call.get("function") or {}
        name = fn.get("name") if isinstance(fn, Mapping) else getattr(fn, "name", None)
        args = fn.get("arguments") if isinstance(fn, Mapping) else getattr(fn, "arguments", None)
        if name:
            calls.append(_call(call.get("id"), str(name), args, i))
    return calls


def _call(call_id: Any, name: str, arguments: Any, index: int) -> dict[str, Any]:
    if arguments is None or arguments == "":
        arguments = {}
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": str(call_id or f"call_{index}"), "type": "function", "function": {"name": name, "arguments": args}}


def to_tgi_tools(tools: Sequence[BaseTool]) -> list[dict[str, Any]]:
    """LlamaIndex tools -> OpenAI tool dicts (the transport turns them into TGI tools or a grammar)."""
    return [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]


def resolve_tool_choice(tool_choice: Any, tool_required: bool) -> Any:
    """An explicit choice wins; ``tool_required`` means ``"required"``; otherwise TGI's default (auto)."""
    if tool_choice is not None:
        return tool_choice
    return "required" if tool_required else None
