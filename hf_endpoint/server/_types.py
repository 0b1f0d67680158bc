"""Plain data passed between the routes, the generation driver and the backends.

Kept free of HTTP and of any backend so both backends and all routes share one vocabulary.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "Backend",
    "FinishReason",
    "GenParams",
    "Generation",
    "Grammar",
    "Prompt",
    "SimpleToken",
    "Step",
    "Token",
]

FinishReason = Literal["length", "eos_token", "stop_sequence"]


@dataclass(slots=True)
class Token:
    """One generated (or top-n candidate) token, TGI's ``Token`` object."""

    id: int
    text: str
    logprob: float | None
    special: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "logprob": self.logprob, "special": self.special}


@dataclass(slots=True)
class SimpleToken:
    """A prompt token with its character span, TGI's ``/tokenize`` item."""

    id: int
    text: str
    start: int
    stop: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "start": self.start, "stop": self.stop}


@dataclass(slots=True)
class Grammar:
    """A validated grammar: a JSON schema (``kind="json"``) or a regular expression."""

    kind: Literal["json", "regex"]
    value: Any


@dataclass(slots=True)
class Prompt:
    """The text sent to the model and its tokens (already truncated when asked).

    ``chunks`` is the request's input as TGI's router splits it, text pieces (``str``) and images (``Image`` from
    ``_images``) in order; the model reads only the text.
    """

    text: str
    tokens: list[SimpleToken]
    chunks: tuple[Any, ...] = ()

    @property
    def images(self) -> tuple[Any, ...]:
        return tuple(c for c in self.chunks if not isinstance(c, str))

    @property
    def input_length(self) -> int:
        return len(self.tokens)


@dataclass(slots=True)
class GenParams:
    """Validated generation parameters, with TGI's defaults resolved."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    typical_p: float = 1.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    top_n_tokens: int = 0
    grammar: Grammar | None = None
    best_of: int = 1
    details: bool = False
    decoder_input_details: bool = False
    return_full_text: bool = False
    # End-of-turn text of the backend's chat template: generation ends there (like EOS) and
    # the marker is not part of the answer. Empty on the native routes.
    end_of_turn: tuple[str, ...] = ()


@dataclass(slots=True)
class Step:
    """One generation step: the chosen token and, when asked, the top-n candidates."""

    token: Token
    top_tokens: list[Token] = field(default_factory=list)
    #: On a sequence's first step: seconds the request waited for the model (TGI's x-queue-time).
    queued: float = 0.0


@dataclass(slots=True)
class Generation:
    """A finished sequence, enough to write TGI's ``details``."""

    text: str
    tokens: list[Token]
    top_tokens: list[list[Token]]
    finish_reason: FinishReason
    seed: int | None
    prefill: list[dict[str, Any]]
    #: Seconds the request waited for the model before generating (its first step's ``queued``).
    queue_time: float = 0.0

    def mean_logprob(self) -> float:
        values = [t.logprob for t in self.tokens if t.logprob is not None]
        return sum(values) / len(values) if values else float("-inf")


class Backend(Protocol):
    """What the routes need from a model. Implemented by the scripted and tiny backends."""

    model_id: str
    max_total_tokens: int
    max_input_tokens: int
    # Text appended after the answer by the chat template; see GenParams.end_of_turn.
    end_of_turn: tuple[str, ...]
    # Scripted only: answer in text when the conversation ends with a tool result, so agent
    # loops terminate without the backend reading the prompt.
    text_after_tool_result: bool

    @property
    def instant(self) -> bool:
        """True when tokens come without waiting (scripted): streams are then written in one go."""
        ...

    async def tokenize(self, text: str, add_special_tokens: bool) -> list[SimpleToken]:
        """Tokenize ``text`` with the model's tokenizer."""
        ...

    def generate(self, prompt: Prompt, params: GenParams) -> AsyncGenerator[Step, None]:
        """Yield tokens until EOS (yielded with ``special=True``) or ``params.max_new_tokens``.

        Stop sequences, the end-of-turn marker and best_of are applied by the driver, which
        closes the iterator early when it has what it needs.
        """
        ...

    def prefill(self, prompt: Prompt) -> list[dict[str, Any]]:
        """TGI's ``prefill`` list for ``decoder_input_details`` (may be empty, as on flash models)."""
        ...

    def chat_prompt(self, messages: list[dict[str, Any]], tools_text: str | None) -> str:
        """Apply the chat template; ``tools_text`` is injected before the last user turn."""
        ...

    async def close(self) -> None:
        """Release the model."""
        ...
