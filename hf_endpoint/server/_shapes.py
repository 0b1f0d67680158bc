"""TGI's response bodies, built from a ``Generation``: native routes and the Messages API.

Key omissions follow TGI's serde attributes exactly: ``details`` is left out unless asked,
``top_tokens`` unless ``top_n_tokens > 0``, ``best_of_sequences`` unless ``best_of > 1``; a text
message has no ``tool_calls`` key and a tool-call message no ``content`` key (as in tests/data/tgi).
``legacy`` holds the scripted backend's old-format switches (tool-call ``arguments`` as an object,
``object: "text_completion"``, ``finish_reason: "eos_token"``, integer tool-call id).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import Any

from ._types import Generation, Step, Token

__all__ = [
    "chat_chunk",
    "chat_finish_reason",
    "chat_logprobs",
    "chat_response",
    "generate_response",
    "stream_event",
    "tool_call_message",
]


def _details(gen: Generation, top_n: int) -> dict[str, Any]:
    details: dict[str, Any] = {
        "finish_reason": gen.finish_reason,
        "generated_tokens": len(gen.tokens),
        "seed": gen.seed,
        "prefill": gen.prefill,
        "tokens": [t.to_json() for t in gen.tokens],
    }
    if top_n > 0:
        details["top_tokens"] = [[t.to_json() for t in tops] for tops in gen.top_tokens]
    return details


def generate_response(
    gen: Generation,
    *,
    prefix: str,
    details: bool,
    top_n: int,
    others: list[Generation] | None = None,
) -> dict[str, Any]:
    """``GenerateResponse``; ``prefix`` is the prompt when ``return_full_text``."""
    body: dict[str, Any] = {"generated_text": prefix + gen.text}
    if details:
        body["details"] = _details(gen, top_n)
        if others:
            body["details"]["best_of_sequences"] = [
                {"generated_text": prefix + o.text, **_details(o, top_n)} for o in others
            ]
    return body


def stream_event(
    index: int,
    step: Step,
    final: Generation | None,
    *,
    prefix: str,
    details: bool,
    input_length: int,
    top_n: int,
) -> dict[str, Any]:
    """One ``StreamResponse`` of ``/generate_stream``; the last carries text and details."""
    event: dict[str, Any] = {"index": index, "token": step.token.to_json()}
    if top_n > 0:
        event["top_tokens"] = [t.to_json() for t in step.top_tokens]
    event["generated_text"] = None if final is None else prefix + final.text
    event["details"] = None
    if final is not None and details:
        event["details"] = {
            "finish_reason": final.finish_reason,
            "generated_tokens": len(final.tokens),
            "seed": final.seed,
            "input_length": input_length,
        }
    return event


def chat_finish_reason(finish: str, legacy: Collection[str] = ()) -> str:
    """TGI ≥ 2.3 reports EOS as ``stop`` on the Messages API (``eos_token`` before)."""
    if finish == "eos_token" and "finish_reason_eos_token" not in legacy:
        return "stop"
    return finish


def _top(tokens: list[Token]) -> list[dict[str, Any]]:
    return [{"token": t.text, "logprob": t.logprob} for t in tokens]


def chat_logprobs(steps: list[tuple[Token, list[Token]]]) -> dict[str, Any]:
    """``ChatCompletionLogprobs`` for the given tokens; special tokens without a logprob are skipped."""
    return {
        "content": [
            {"token": tok.text, "logprob": tok.logprob, "top_logprobs": _top(tops)}
            for tok, tops in steps
            if tok.logprob is not None
        ]
    }


def _envelope(model: str, fingerprint: str, obj: str, legacy: Collection[str]) -> dict[str, Any]:
    if "object_text_completion" in legacy:
        obj = "text_completion"
    return {"object": obj, "id": "", "created": int(time.time()), "model": model, "system_fingerprint": fingerprint}


def tool_call_message(name: str, arguments: dict[str, Any], legacy: Collection[str] = ()) -> dict[str, Any]:
    """The assistant message of a non-stream tool call (TGI ≥ 3.2: arguments as a JSON string)."""
    args: Any = arguments
    if "tool_arguments_object" not in legacy:
        args = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    call_id: Any = 0 if "tool_call_id_int" in legacy else "0"
    return {
        "role": "assistant",
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"description": None, "name": name, "arguments": args},
            }
        ],
    }


def chat_response(
    *,
    model: str,
    fingerprint: str,
    message: dict[str, Any],
    finish_reason: str,
    logprobs: dict[str, Any] | None,
    prompt_tokens: int,
    completion_tokens: int,
    legacy: Collection[str] = (),
) -> dict[str, Any]:
    """A non-stream ``chat.completion``."""
    body = _envelope(model, fingerprint, "chat.completion", legacy)
    body["choices"] = [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish_reason}]
    body["usage"] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return body


def chat_chunk(
    *,
    model: str,
    fingerprint: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    logprobs: dict[str, Any] | None = None,
    usage: dict[str, int] | None = None,
    legacy: Collection[str] = (),
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; ``delta=None`` gives the usage-only chunk (``choices: []``)."""
    body = _envelope(model, fingerprint, "chat.completion.chunk", legacy)
    body["choices"] = (
        [] if delta is None else [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}]
    )
    body["usage"] = usage
    return body
