"""Tool calling for ``HFEndpoint``: LlamaIndex's ``FunctionCallingLLM`` hooks, on the transport's OpenAI-shaped tools
(the conversions are pure functions in ``_messages`` and ``_responses``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.llms.llm import ToolSelection

from ._messages import resolve_tool_choice, to_tgi_tools
from ._responses import force_single_tool_call, tool_selections
from ._structured import GrammarStructuredLLM

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["ToolCallingLLM"]


class ToolCallingLLM(GrammarStructuredLLM):
    """``chat_with_tools`` and friends: tools and ``tool_choice`` in, ``ToolSelection``s out."""

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat arguments for a tool-calling turn (the caller's ``chat_history`` is not modified)."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if tools:
            prepared["tools"] = to_tgi_tools(tools)
            choice = resolve_tool_choice(tool_choice, tool_required)
            if choice is not None:
                prepared["tool_choice"] = choice
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if not allow_parallel_tool_calls:
            force_single_tool_call(response)
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The response's tool calls as ``ToolSelection``s with parsed arguments (partial ones while streaming)."""
        return tool_selections(response, error_on_no_tool_call=error_on_no_tool_call)
