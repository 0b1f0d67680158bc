"""``AsyncTGIClient``: the same plans as ``TGIClient``, sent by the asynchronous shell (aiohttp)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ._async_shell import AsyncShell
from ._base import TGIBase
from ._options import Route
from ._tgi import generate_plan, info_steps, tokenize_plan
from ._types import ChatCompletion, ChatCompletionChunk, GenerateResponse, Info, StreamResponse, TokenizedToken

__all__ = ["AsyncTGIClient"]


class AsyncTGIClient(TGIBase, AsyncShell):
    """The asynchronous twin of :class:`~hf_endpoint.TGIClient`: same constructor, same method names."""

    _multi_class = "._async_multi:AsyncMultiTGIClient"

    async def __aenter__(self) -> AsyncTGIClient:
        return self

    async def info(self) -> Info | None:
        """``GET /info`` (cached). ``None`` when the server has no ``/info`` (not TGI)."""
        if not self._state.info_known:
            await self._prepare(info_steps(self._state))
        info: Info | None = self._state.info
        return info

    async def tokenize(self, text: str) -> list[TokenizedToken]:
        return await self._run(tokenize_plan(self._state, text))

    async def generate(self, prompt: str, **params: Any) -> GenerateResponse:
        plan = generate_plan(self._state, prompt, params, stream=False, clamp_max_tokens=self._chat.clamp_max_tokens)
        result: GenerateResponse = await self._run(plan)
        return result

    async def generate_stream(self, prompt: str, **params: Any) -> AsyncIterator[StreamResponse]:
        plan = generate_plan(self._state, prompt, params, stream=True, clamp_max_tokens=self._chat.clamp_max_tokens)
        async for item in self._stream(plan):
            yield item

    async def chat(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> ChatCompletion:
        plan = await self._prepare(
            self._chat_steps(messages, tools, tool_choice, response_format, route, params, False)
        )
        result: ChatCompletion = await self._run(plan)
        return result

    async def chat_stream(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> AsyncIterator[ChatCompletionChunk]:
        plan = await self._prepare(self._chat_steps(messages, tools, tool_choice, response_format, route, params, True))
        async for item in self._stream(plan):
            yield item
