"""``HFEndpoint.metadata``: LlamaIndex's ``LLMMetadata`` from what the server said (``/info``, ``/v1/models``) and
the fields that override it. Pure, but for ``in_event_loop``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from llama_index.core.base.llms.types import LLMMetadata
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS

if TYPE_CHECKING:
    from hf_endpoint import Info

__all__ = ["context_window_of", "in_event_loop", "llm_metadata"]


def context_window_of(info: Info | None, num_output: int) -> int | None:
    """The usable window from ``/info``: ``max_total_tokens``, but no more than the largest prompt the server
    accepts (``max_input_tokens``, or the older ``max_input_length``) plus the answer."""
    if info is None:
        return None
    total, inputs = info.max_total_tokens, info.max_input_tokens
    if total and inputs:
        return min(total, inputs + num_output)
    return total or (inputs + num_output if inputs else None)


def llm_metadata(
    info: Info | None,
    served_model: str | None,
    *,
    max_tokens: int | None,
    context_window: int | None,
    model: str | None,
    is_chat_model: bool,
) -> LLMMetadata:
    """The fields first, then the server's values, then LlamaIndex's defaults; the model name is the server's
    (``/info``'s ``model_id``, else the first of ``/v1/models``), else ``model``, else ``"unknown"``."""
    num_output = max_tokens or DEFAULT_NUM_OUTPUTS
    window = context_window or context_window_of(info, num_output) or DEFAULT_CONTEXT_WINDOW
    return LLMMetadata(
        context_window=window,
        num_output=min(num_output, max(window - 1, 1)),
        is_chat_model=is_chat_model,
        is_function_calling_model=True,
        model_name=(info.model_id if info is not None else None) or served_model or model or "unknown",
    )


def in_event_loop() -> bool:
    """Whether an event loop runs in this thread (a blocking request there would stall it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
