"""The built-in chat templates written as Python functions: the same text as their Jinja sources.

A fast path, and a duplicate of the Jinja sources, kept because it pays in the scenario it targets: the native
route at 50 requests in flight costs 12% fewer instructions per request with it (a Jinja render of a one-message
chatml prompt is about ten times the Python function's; ``python -m tests.benchmarks --instructions`` shows the
route's total). Each one is the plain reading of its Jinja source in ``_templates.BUILTIN_TEMPLATES``, rendered with
``trim_blocks`` and ``lstrip_blocks`` (which only remove the newline after the "qa" template's assistant turn).
tests/transport/test_templates.py checks every one against Jinja on generated conversations. They take messages
as ``build_native_chat`` passes them: normalised dicts with a string ``content`` (absent on an assistant turn
with ``tool_calls``); anything else makes ``ChatTemplate.render`` use Jinja.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["RENDERERS"]

Messages = Sequence[Mapping[str, Any]]
Renderer = Callable[[Messages, bool, str, str], str]


def _text(m: Mapping[str, Any]) -> str:
    # Jinja: {{ (message['content'] or '') }}
    content = m.get("content")
    return str(content) if content else ""


def _calls(m: Mapping[str, Any]) -> str:
    calls = m.get("tool_calls")
    if not calls:
        return ""
    return "".join(
        '{"function": {"name": '
        + json.dumps(c["function"]["name"], ensure_ascii=False)
        + ', "arguments": '
        + str(c["function"]["arguments"])
        + "}}"
        for c in calls
    )


def _split_system(messages: Messages) -> tuple[Any, Messages]:
    if messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return "", messages


def _llama2(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    sys, rest = _split_system(messages)
    out = []
    for i, m in enumerate(rest):
        if m["role"] == "assistant":
            out.append(f" {_text(m)}{_calls(m)} {eos}")
        else:
            head = f"<<SYS>>\n{sys}\n<</SYS>>\n\n" if i == 0 and sys else ""
            tool = "Tool result: " if m["role"] == "tool" else ""
            out.append(f"{bos}[INST] {head}{tool}{_text(m)} [/INST]")
    return "".join(out)


def _llama3(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    out = [bos]
    for m in messages:
        role = "ipython" if m["role"] == "tool" else m["role"]
        out.append(f"<|start_header_id|>{role}<|end_header_id|>\n\n{_text(m)}{_calls(m)}<|eot_id|>")
    if generation_prompt:
        out.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(out)


def _mistral(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    sys, rest = _split_system(messages)
    out = [bos]
    for i, m in enumerate(rest):
        if m["role"] == "assistant":
            out.append(f"{_text(m)}{_calls(m)}{eos}")
        else:
            head = f"{sys}\n\n" if i == 0 and sys else ""
            tool = "Tool result: " if m["role"] == "tool" else ""
            out.append(f"[INST] {head}{tool}{_text(m)} [/INST]")
    return "".join(out)


def _role_turns(messages: Messages, head: str, tail: str, close: str, prompt: str) -> str:
    # The layout zephyr, chatml and phi-3 share: head + role + tail, the text, the end-of-turn marker.
    return "".join([*(f"{head}{m['role']}{tail}{_text(m)}{_calls(m)}{close}" for m in messages), prompt])


def _zephyr(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    return _role_turns(messages, "<|", "|>\n", f"{eos}\n", "<|assistant|>\n" if generation_prompt else "")


def _chatml(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    return _role_turns(
        messages, "<|im_start|>", "\n", "<|im_end|>\n", "<|im_start|>assistant\n" if generation_prompt else ""
    )


def _gemma(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    sys, rest = _split_system(messages)
    if rest is not messages:
        sys = sys + "\n\n"
    out = [bos]
    for i, m in enumerate(rest):
        role = "model" if m["role"] == "assistant" else "user"
        tool = "Tool result: " if m["role"] == "tool" else ""
        out.append(f"<start_of_turn>{role}\n{sys if i == 0 else ''}{tool}{_text(m)}{_calls(m)}<end_of_turn>\n")
    if generation_prompt:
        out.append("<start_of_turn>model\n")
    return "".join(out)


def _phi3(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    return _role_turns(messages, "<|", "|>\n", "<|end|>\n", "<|assistant|>\n" if generation_prompt else "")


def _qa(messages: Messages, generation_prompt: bool, bos: str, eos: str) -> str:
    out: list[str] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            out.append(f"{_text(m)}\n\n")
        elif role == "assistant":
            out.append(f" {_text(m)}{_calls(m)}\n")  # one newline: trim_blocks eats the first after {% endif %}
        elif role == "tool":
            out.append(f"Tool result: {_text(m)}\n\n")
        else:
            out.append(f"Question: {_text(m)}\nAnswer:")
    return "".join(out)


#: Built-in template name -> its Python renderer (same output as the Jinja source).
RENDERERS: dict[str, Renderer] = {
    "llama-2": _llama2,
    "llama-3": _llama3,
    "mistral": _mistral,
    "zephyr": _zephyr,
    "chatml": _chatml,
    "gemma": _gemma,
    "phi-3": _phi3,
    "qa": _qa,
}
