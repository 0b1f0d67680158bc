"""Prompts sent as they are, to TGI's ``/generate``: LlamaIndex's ``complete(prompt, formatted=True)``, and every
``complete`` of a base (non-chat) model (``is_chat_model=False``). Pure conversions, shared by sync and async.

LlamaIndex's meaning (``llama_index.core.llms.llm.LLM.predict``): a chat model gets messages; any other model gets a
prompt it formats itself and passes with ``formatted=True``, "already formatted, send as is". Wrapping such a prompt
in the chat template made a base model answer ``"\\nQuestion:"`` to ``"One, two, three,"`` instead of continuing it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import CompletionResponse, LogProb

if TYPE_CHECKING:
    from hf_endpoint import GenerateResponse, StreamResponse, Token

__all__ = ["CompletionStream", "acompletion_stream", "completion_stream", "generate_params", "generate_response"]

# chat parameter -> /generate parameter, where the meaning is the same
_RENAMED = {
    "max_tokens": "max_new_tokens",
    "max_completion_tokens": "max_new_tokens",
    "top_logprobs": "top_n_tokens",
    "response_format": "grammar",
}
_DROPPED = ("logprobs", "stream_options")  # (logprobs: /generate always returns them, with details)


def generate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``HFEndpoint``'s chat parameters as ``/generate``'s (the transport checks what is left, and refuses what
    ``/generate`` does not know, such as ``tools``, by name)."""
    out: dict[str, Any] = {"details": True}
    for name, value in params.items():
        if value is None or name in _DROPPED:
            continue
        if name == "model":
            if value != "tgi":
                out["adapter_id"] = value  # on /generate, a model name selects a LoRA adapter
            continue
        out[_RENAMED.get(name, name)] = value
    return out


def _logprobs(tokens: list[Token], top: list[list[Token]] | None) -> list[list[LogProb]]:
    out = []
    for i, token in enumerate(tokens):
        if token.special:
            continue
        alternatives = (top[i] if top and i < len(top) else None) or [token]
        out.append([LogProb(token=t.text, logprob=_finite(t.logprob), bytes=[]) for t in alternatives])
    return out


def _finite(logprob: float | None) -> float:
    return float("-inf") if logprob is None else logprob


def _usage(prompt_tokens: int | None, completion_tokens: int) -> dict[str, Any]:
    if prompt_tokens is None:
        return {"completion_tokens": completion_tokens}
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def generate_response(resp: GenerateResponse) -> CompletionResponse:
    """A ``/generate`` answer as a ``CompletionResponse`` (text, finish reason, logprobs, the server's counts)."""
    details = resp.details
    extra = _usage(resp.prompt_tokens, details.generated_tokens if details else 0)
    if details is not None:
        extra["finish_reason"] = details.finish_reason
    return CompletionResponse(
        text=resp.generated_text,
        raw=resp.model_dump(),
        logprobs=_logprobs(details.tokens, details.top_tokens) if details else None,
        additional_kwargs=extra,
    )


class CompletionStream:
    """``/generate_stream`` events -> running ``CompletionResponse``s (``text`` so far, ``delta`` the new piece);
    the last carries the finish reason and the server's token counts."""

    def __init__(self) -> None:
        self.text = ""
        self.logprobs: list[list[LogProb]] = []

    def feed(self, event: StreamResponse) -> CompletionResponse:
        token = event.token
        delta = "" if token.special else token.text
        self.text += delta
        if not token.special:
            alternatives = event.top_tokens or [token]
            self.logprobs.append([LogProb(token=t.text, logprob=_finite(t.logprob), bytes=[]) for t in alternatives])
        extra: dict[str, Any] = {}
        details = event.details
        if details is not None:
            extra = _usage(details.input_length, details.generated_tokens)
            extra["finish_reason"] = details.finish_reason
        return CompletionResponse(
            text=self.text, delta=delta, raw=event.model_dump(), logprobs=list(self.logprobs), additional_kwargs=extra
        )


def completion_stream(events: Iterator[StreamResponse]) -> Generator[CompletionResponse, None, None]:
    acc = CompletionStream()
    for event in events:
        yield acc.feed(event)


async def acompletion_stream(events: AsyncIterator[StreamResponse]) -> AsyncGenerator[CompletionResponse, None]:
    acc = CompletionStream()
    async for event in events:
        yield acc.feed(event)
