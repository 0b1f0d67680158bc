"""Rich display of results in Jupyter: the text with each token shaded by its probability, and the call's facts."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._types import ChatCompletion

__all__ = ["render_chat_completion_html"]


def _shade(logprob: float | None) -> str:
    # p = 1 -> no tint; p -> 0 -> strong orange. Readers see at a glance where the model hesitated.
    p = 1.0 if logprob is None else math.exp(max(logprob, -50.0))
    alpha = round((1.0 - p) * 0.75, 3)
    return f"background: rgba(255, 140, 0, {alpha})"


def render_chat_completion_html(result: ChatCompletion) -> str:
    if not result.choices:
        return "<div><i>(no choices)</i></div>"
    choice = result.choices[0]
    message = choice.message
    parts: list[str] = []
    tokens = choice.logprobs.content if choice.logprobs else None
    if tokens:
        for tok in tokens:
            p = "n/a" if tok.logprob is None else f"{math.exp(tok.logprob):.3f}"
            title = f"p={p} logprob={tok.logprob}"
            parts.append(f'<span title="{title}" style="{_shade(tok.logprob)}">{html.escape(tok.token)}</span>')
        body = "".join(parts)
    else:
        body = html.escape(message.content or "")
    calls = ""
    for call in message.tool_calls or ():
        calls += f"<div>🔧 <code>{html.escape(call.function.name)}({html.escape(call.function.arguments)})</code></div>"
    usage = result.usage
    facts = [f"finish: <b>{html.escape(str(choice.finish_reason))}</b>", f"model: {html.escape(result.model)}"]
    if usage:
        facts.append(f"tokens: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion")
    if choice.logprobs and choice.logprobs.content:
        facts.append(f"sum logprob: {choice.logprobs.sum_logprob:.3f}")
    if result.elapsed is not None:
        facts.append(f"time: {result.elapsed:.2f} s")
    return (
        '<div style="font-family: system-ui, sans-serif; line-height: 1.5">'
        f'<div style="white-space: pre-wrap; font-family: monospace">{body}</div>{calls}'
        f'<div style="color: #666; font-size: 85%">{" · ".join(facts)}</div></div>'
    )
