"""The scripted backend: deterministic, instant, no model.

It answers every prompt with the same configured reply (or ``n_tokens`` tokens of it, cycled, for
benchmarks), followed by an EOS token, so tests and benchmarks get exact, repeatable output. With a
grammar it emits JSON built from the schema (``_schema_value``); it never reads the prompt's text.
Token ids come from a hash of the token text, logprobs are fake but consistent (always <= 0, and
varied by the seed when sampling) and the tokenizer is a simple word/punctuation split, so
``/tokenize`` and the input-length limits work.
"""

from __future__ import annotations

import asyncio
import functools
import re
import zlib
from collections.abc import AsyncGenerator
from typing import Any

from ._chat import message_text
from ._schema_value import regex_sample, sample_json
from ._types import GenParams, Prompt, SimpleToken, Step, Token

__all__ = ["DEFAULT_REPLY", "ScriptedBackend", "scripted_tokenize"]

DEFAULT_REPLY = "Hello from the scripted backend."
EOS = Token(id=2, text="</s>", logprob=-0.01, special=True)
_WORDS = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


# Caches keep the scripted backend cheap enough for benchmarks (thousands of requests/s).
@functools.lru_cache(maxsize=65536)
def _token_id(text: str) -> int:
    return zlib.crc32(text.encode()) % 32000 + 3


@functools.lru_cache(maxsize=256)
def _pieces(text: str) -> tuple[str, ...]:
    return tuple(m.group() for m in _WORDS.finditer(text))


def scripted_tokenize(text: str) -> list[SimpleToken]:
    """Split into words and punctuation, each carrying its leading whitespace."""
    return [SimpleToken(_token_id(m.group()), m.group(), m.start(), m.end()) for m in _WORDS.finditer(text)]


@functools.lru_cache(maxsize=65536)
def _logprob(token_id: int, index: int, seed: int | None) -> float:
    mix = zlib.crc32(f"{token_id}:{index}:{seed}".encode())
    return -round(0.01 + (mix % 1000) / 500.0, 4)


class ScriptedBackend:
    """Deterministic stand-in for a model; see the module docstring."""

    end_of_turn: tuple[str, ...] = ()
    text_after_tool_result = True

    def __init__(
        self,
        *,
        reply: str = DEFAULT_REPLY,
        n_tokens: int | None = None,
        model_id: str = "hf-endpoint/scripted",
        max_total_tokens: int = 4096,
        max_input_tokens: int | None = None,
        token_delay: float = 0.0,
    ) -> None:
        self.model_id = model_id
        self.max_total_tokens = max_total_tokens
        self.max_input_tokens = max_input_tokens if max_input_tokens is not None else max_total_tokens - 1
        self.reply = reply
        self.n_tokens = n_tokens
        self.token_delay = token_delay
        # Set per request by the fault layer (``huge_token_chars``).
        self.huge_token_chars = 0

    async def tokenize(self, text: str, add_special_tokens: bool) -> list[SimpleToken]:
        return scripted_tokenize(text)

    @property
    def instant(self) -> bool:
        return not self.token_delay

    def _content(self, params: GenParams) -> list[str]:
        grammar = params.grammar
        if grammar is not None:
            text = sample_json(grammar.value) if grammar.kind == "json" else regex_sample(grammar.value)
            return list(_pieces(text)) or [text]
        pieces = list(_pieces(self.reply)) or ["."]
        if self.n_tokens is not None:
            pieces = [pieces[i % len(pieces)] for i in range(self.n_tokens)]
        if self.huge_token_chars and pieces:
            pieces = ["x" * self.huge_token_chars, *pieces[1:]]
        return pieces

    def _top(self, chosen: Token, n: int, index: int) -> list[Token]:
        if n <= 0:
            return []
        out = [Token(chosen.id, chosen.text, chosen.logprob, chosen.special)]
        base = chosen.logprob if chosen.logprob is not None else 0.0
        for k in range(1, n):
            alt = f" alt{k}"
            out.append(Token(_token_id(alt) + index, alt, round(base - k * 0.5, 4), False))
        return out

    async def generate(self, prompt: Prompt, params: GenParams) -> AsyncGenerator[Step, None]:
        seed = params.seed if params.do_sample else None
        for index, piece in enumerate(self._content(params)):
            token_id = _token_id(piece)
            token = Token(token_id, piece, _logprob(token_id, index, seed), False)
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            yield Step(token, self._top(token, params.top_n_tokens, index))
        eos = Token(EOS.id, EOS.text, EOS.logprob, True)
        yield Step(eos, self._top(eos, params.top_n_tokens, 0))

    def prefill(self, prompt: Prompt) -> list[dict[str, Any]]:
        # Like TGI on non-flash models: every prompt token, the first without a logprob.
        return [
            {"id": t.id, "text": t.text, "logprob": None if i == 0 else _logprob(t.id, i, None)}
            for i, t in enumerate(prompt.tokens)
        ]

    def chat_prompt(self, messages: list[dict[str, Any]], tools_text: str | None) -> str:
        """A plain role-prefixed transcript; the scripted backend never reads it back."""
        lines = [f"{m.get('role', 'user')}: {message_text(m)}" for m in messages]
        if tools_text:
            lines.insert(max(len(lines) - 1, 0), tools_text)
        return "\n".join([*lines, "assistant:"])

    async def close(self) -> None:
        return None
