"""The tiny backend's chat template and grammar translation (pure functions).

Chat template: Gemma 3 270M is a *base* model; with Gemma's own turn template it only echoes.
It does answer completion-style prompts, so the template is question/answer, starting with BOS::

    <bos>{system}\\n
    Tools: [...]{tool prompt}          (when tools are offered, before the last question)
    Question: {user}\\n
    Answer: {assistant}\\n
    Tool result: {tool}\\n
    Answer:                            (generation starts here)

The answer ends at the first newline (``END_OF_TURN``), which the driver cuts and reports as EOS.

Grammars go to llama.cpp's LLGuidance: JSON schemas as ``json_schema`` with compact whitespace
(LLGuidance otherwise lets a small model emit endless whitespace) and, like TGI's outlines, no
properties beyond the listed ones; regular expressions as a Lark rule ``start: /regex/``.
Unsupported: lookarounds and backreferences in regexes (Rust regex syntax), and schema keywords
LLGuidance ignores. llama.cpp silently drops a grammar it cannot compile, so the checks below
reject what is detectably wrong with TGI-style 422s instead.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from ._chat import message_text
from ._errors import validation_error

__all__ = ["END_OF_TURN", "chat_prompt", "json_schema_for_llama", "regex_grammar", "tool_call_text"]

END_OF_TURN = ("\n",)
_JSON_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def chat_prompt(messages: list[dict[str, Any]], tools_text: str | None) -> str:
    """Render the conversation with the question/answer template above."""
    system = "\n".join(message_text(m) for m in messages if m.get("role") == "system")
    turns = [m for m in messages if m.get("role") != "system"]
    last_user = max((i for i, m in enumerate(turns) if m.get("role") == "user"), default=len(turns))
    parts = ["<bos>"]
    if system:
        parts.append(system + "\n")
    for i, message in enumerate(turns):
        if i == last_user and tools_text:
            parts.append(tools_text.strip("\n") + "\n")
        role = message.get("role")
        text = message_text(message)
        if role == "assistant" and message.get("tool_calls") and not message.get("content"):
            text = " ".join(tool_call_text(call) for call in message["tool_calls"])
        if role == "assistant":
            parts.append(f"Answer: {text}\n")
        elif role == "tool":
            parts.append(f"Tool result: {text}\n")
        else:
            parts.append(f"Question: {text}\n")
    if tools_text and last_user == len(turns):
        parts.append(tools_text.strip("\n") + "\n")
    if not turns or turns[-1].get("role") != "assistant":
        parts.append("Answer:")
    return "".join(parts)


def _check_schema(node: Any, root: dict[str, Any], path: str) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_schema(item, root, f"{path}/{i}")
        return
    if not isinstance(node, dict):
        return
    kinds = node.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds] if kinds is not None else []:
        if kind not in _JSON_TYPES:
            raise validation_error(f"cannot compile regex from schema: unknown type {kind!r} at {path or '/'}")
    ref = node.get("$ref")
    if isinstance(ref, str):
        target: Any = root
        for part in ref.lstrip("#").strip("/").split("/") if ref.startswith("#") else ["?"]:
            if part and (not isinstance(target, dict) or part not in target):
                raise validation_error(f"cannot compile regex from schema: unresolvable $ref {ref!r}")
            target = target[part] if part else target
    for key, value in node.items():
        if key not in ("enum", "const", "default", "examples"):
            _check_schema(value, root, f"{path}/{key}")


def _close_objects(node: Any) -> None:
    """Add ``additionalProperties: false`` where a schema leaves it open (outlines' behaviour)."""
    if isinstance(node, list):
        for item in node:
            _close_objects(item)
        return
    if not isinstance(node, dict):
        return
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    for key, value in node.items():
        if key not in ("enum", "const", "default", "examples"):
            _close_objects(value)


def json_schema_for_llama(schema: dict[str, Any]) -> dict[str, Any]:
    """A checked copy of ``schema`` with compact whitespace and closed objects."""
    _check_schema(schema, schema, "")
    prepared = copy.deepcopy(schema)
    _close_objects(prepared)
    prepared["x-guidance"] = {"whitespace_flexible": False, **prepared.get("x-guidance", {})}
    return prepared


_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]|\(\?P=")


def regex_grammar(pattern: str) -> str:
    """An LLGuidance Lark grammar whose only rule matches ``pattern`` in full."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise validation_error(f"grammar is not valid: {exc}") from None
    if _UNSUPPORTED.search(pattern):
        raise validation_error(
            "grammar is not valid: lookarounds and backreferences are not supported by the tiny backend"
        )
    body = re.sub(r"(?<!\\)/", r"\\/", pattern)
    return "%llguidance {}\nstart: /" + body + "/"


def tool_call_text(call: dict[str, Any]) -> str:
    """How an assistant tool call appears in the transcript (the grammar's own shape)."""
    function = call.get("function", {})
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            arguments = {"arguments": arguments}
    return json.dumps({"function": {"_name": function.get("name"), **arguments}}, ensure_ascii=False)
