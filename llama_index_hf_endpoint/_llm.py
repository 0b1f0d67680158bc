"""``HFEndpoint``: a LlamaIndex ``FunctionCallingLLM`` for TGI servers and Hugging Face Inference Endpoints.

Only the lines that send and iterate differ between the sync and async methods; every conversion is a pure
function in ``_messages`` / ``_responses`` / ``_completion``. Completion methods are chat underneath for a chat model
(the prompt is one user message), calling the undecorated chat bodies so that one call emits one LLM callback event;
an already formatted prompt, or any prompt of a base model, goes to ``/generate`` as it is.

(A little over 400 lines: the fields with their descriptions and LlamaIndex's eight methods are the class itself;
arguments, metadata, tools and conversions live in their own modules.)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_TEMPERATURE
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback

from hf_endpoint import HFEndpointError, Secret, resolve_token
from hf_endpoint._options import ChatOptions, ConnectionOptions
from hf_endpoint._pool import shared

from ._arguments import constructor_arguments
from ._clients import client_options, pooled
from ._completion import acompletion_stream, completion_stream, generate_params, generate_response
from ._messages import to_tgi_messages
from ._metadata import in_event_loop, llm_metadata
from ._responses import (
    StreamAccumulator,
    chat_response,
    completion_response,
)
from ._tools import ToolCallingLLM

if TYPE_CHECKING:
    # The transport (requests, pydantic models) loads when the first HFEndpoint is made, aiohttp with the first
    # async call: importing this module costs little more than LlamaIndex itself.

    from hf_endpoint import AsyncTGIClient, Info, TGIClient

__all__ = ["HFEndpoint"]

logger = logging.getLogger("llama_index_hf_endpoint")

Route = Literal["auto", "chat", "generate"]

# Keyword arguments LlamaIndex passes through to ``chat`` that mean nothing to TGI.
_IGNORED_KWARGS = ("strict", "verbose")


class HFEndpoint(ToolCallingLLM):
    """A TGI server or Hugging Face Inference Endpoint as a LlamaIndex function-calling LLM.

    ``base_url`` is the server's root URL. The token is ``api_key`` or the first of ``HF_TOKEN``,
    ``HUGGING_FACE_HUB_TOKEN``, ``HUGGINGFACEHUB_API_TOKEN``, ``HUGGINGFACE_API_KEY``; it is kept out of
    ``repr``, ``to_dict``/``to_json`` and callback payloads. ``context_window`` defaults to what the server's
    ``/info`` says (fetched once, on first use). ``route`` picks TGI's Messages API (``"chat"``), the native
    ``/generate`` route with a client-side chat template (``"generate"``, see ``chat_template``), or ``"auto"``.
    Call :meth:`close` / :meth:`aclose` (or use ``with``/``async with``) to release connections.

    ``complete`` follows LlamaIndex's meaning: for a chat model (``is_chat_model=True``, the default) the prompt is
    a user message; with ``formatted=True`` (already formatted) or for a base model (``is_chat_model=False``) it is
    sent as it is to ``/generate`` and the model continues it.

    Example::

        llm = HFEndpoint(base_url="https://xyz.endpoints.huggingface.cloud", max_tokens=512)
        print(llm.complete("What is the capital of France?").text)  # answered as a chat turn

        base = HFEndpoint(base_url="http://127.0.0.1:8080", is_chat_model=False, max_tokens=4)
        print(base.complete("One, two, three,").text)  # continued: " four, five,"
    """

    base_url: str | list[str | tuple[str, dict[str, Any]]] = Field(
        description="The TGI server's or Inference Endpoint's root URL, or several (URLs or (url, {'api_key', "
        "'weight', 'route'}) pairs): balanced, with failover; additional_kwargs['endpoint'] says which answered."
    )
    hedge_after: float | None = Field(
        default=None,
        gt=0,
        description="With several endpoints: seconds after which an async stream with no first "
        "token yet is also sent to a second endpoint (the first to answer wins).",
    )
    model: str | None = Field(
        default=None, description="Model name for chat requests (a LoRA adapter id on TGI); None: the served model."
    )
    temperature: float | None = Field(
        default=DEFAULT_TEMPERATURE, ge=0.0, description="Sampling temperature; 0 means greedy; None: server default."
    )
    max_tokens: int | None = Field(default=None, gt=0, description="Most tokens to generate; None: server default.")
    context_window: int | None = Field(
        default=None, gt=0, description="Context window in tokens; None: read from the server's /info."
    )
    timeout: float = Field(default=300.0, gt=0, description="Seconds to wait for each response byte / stream event.")
    max_retries: int = Field(default=3, ge=0, description="Retries of 429s and connection failures.")
    cold_start_timeout: float = Field(
        default=300.0, ge=0, description="Seconds a scaled-to-zero endpoint may take to wake up."
    )
    route: Route = Field(default="auto", description="'chat' (Messages API), 'generate' (native) or 'auto'.")
    chat_template: str | None = Field(
        default=None, description="Jinja chat template or built-in name for the native route (e.g. 'chatml')."
    )
    tokenizer_config: str | None = Field(
        default=None, description="Path to the model's tokenizer_config.json, for its chat template."
    )
    is_chat_model: bool = Field(
        default=True,
        description="False for a base (completion) model: complete() then sends the prompt as is to /generate, and "
        "LlamaIndex formats prompts instead of messages for it.",
    )
    logprobs: bool | None = Field(default=None, description="Return per-token log-probabilities.")
    top_logprobs: int = Field(default=0, ge=0, description="Alternatives per token with logprobs (0: none).")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra chat parameters for every call (top_p, seed, stop, top_k, ...)."
    )
    headers: dict[str, str] | None = Field(
        default=None, exclude=True, repr=False, description="Extra HTTP headers (never serialized)."
    )
    verify: bool | str = Field(default=True, description="TLS verification, or a CA bundle path.")
    allow_insecure_http: bool = Field(
        default=False, description="Send the token over plain http:// to a non-loopback host (a trusted network)."
    )
    payload_limit: int = Field(
        default=2_000_000,
        description="The server's --payload-limit in bytes (TGI's default): inline images over it "
        "are refused before sending.",
    )

    # The per-call paths (_client, _aclient, to_payload, _aensure_info) read these through __pydantic_private__, not
    # pydantic's __getattr__: a fast path into pydantic's internals, kept because it pays: HFEndpoint at 50 requests
    # in flight takes about 7% more instructions without it. test_li_config.py::test_payload_follows_every_change
    # checks to_payload against the plain reads.
    _api_key: Secret | None = PrivateAttr(default=None)
    _client_: TGIClient | None = PrivateAttr(default=None)
    _aclient_: AsyncTGIClient | None = PrivateAttr(default=None)
    _options: tuple[ConnectionOptions, ChatOptions] = PrivateAttr()
    _info: Info | None = PrivateAttr(default=None)
    _info_known: bool = PrivateAttr(default=False)
    _payload_memo: tuple[tuple[Any, ...], dict[str, Any]] | None = PrivateAttr(default=None)
    _info_task: asyncio.Task[None] | None = PrivateAttr(default=None)

    def __init__(
        self, base_url: str | list[Any] | None = None, *, api_key: str | Secret | None = None, **kwargs: Any
    ) -> None:
        """Unknown arguments are refused (pydantic would drop them), naming the one probably meant; the names of
        LlamaIndex's Hugging Face classes are taken where they mean the same (``token``, ``max_new_tokens``,
        ``generate_kwargs``, ``model_url``, ``endpoint_url``)."""
        args, api_key = constructor_arguments(
            type(self).__name__,
            {*type(self).model_fields, "api_key"},
            {"base_url": base_url, "api_key": api_key},
            kwargs,
        )
        base_url = args["base_url"]
        # (a dict, because mypy sees pydantic's synthesized __init__ of the base class, which lacks base_url)
        super().__init__(**args)
        self._api_key = resolve_token(api_key) if api_key else None  # (explicit only: handed to copies)
        self._options = client_options(self, self._api_key)
        self._client_ = self._client  # now: a bad URL or route fails here; it connects later

    @property
    def _client(self) -> TGIClient:
        client: TGIClient = pooled(self.__pydantic_private__, "_client_")  # type: ignore[arg-type]
        return client

    @property
    def _aclient(self) -> AsyncTGIClient:
        client: AsyncTGIClient = pooled(self.__pydantic_private__, "_aclient_")  # type: ignore[arg-type]
        return client

    @classmethod
    def class_name(cls) -> str:
        return "HFEndpoint"

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> HFEndpoint:
        """A copy (with the same shared clients); the key is handed over (``Secret`` refuses to be copied)."""
        fields = {name: copy.deepcopy(getattr(self, name), memo) for name in type(self).model_fields}
        clone = type(self)(api_key=self._api_key, **fields)
        clone._info, clone._info_known = self._info, self._info_known
        return clone

    # ------------------------------------------------------------------------------------------- lifetime

    def close(self) -> None:
        """Close the shared sync connections to this endpoint (the async ones need :meth:`aclose`); instances with
        the same options reconnect on their next call."""
        from hf_endpoint import TGIClient

        shared.close(TGIClient, *self._options)
        self._client_ = None

    async def aclose(self) -> None:
        """Close the shared sync connections and this event loop's async ones."""
        task = self._info_task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.close()
        if self._aclient_ is not None:
            from hf_endpoint import AsyncTGIClient

            await shared.aclose(AsyncTGIClient, *self._options)
            self._aclient_ = None

    def __enter__(self) -> HFEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> HFEndpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------------------- metadata

    @property
    def metadata(self) -> LLMMetadata:
        """Window, output size and model name from the server's ``/info`` (or ``/v1/models``), fetched once, on first
        use. Inside a running event loop a request would block the loop: until the async methods (which await it) or
        a fetch started in the background have it, what is known is reported (``context_window=`` if given, else
        LlamaIndex's default window)."""
        if not self._info_known:
            if in_event_loop():
                self._fetch_info_soon()
            else:
                self._set_info(self._client.info())
        return self._metadata_for(self._info)

    def _fetch_info_soon(self) -> None:
        private = self.__pydantic_private__
        assert private is not None
        loop = asyncio.get_running_loop()
        task: asyncio.Task[None] | None = private["_info_task"]
        if task is None or task.done() or task.get_loop() is not loop:
            # (kept referenced: the loop holds tasks only weakly)
            private["_info_task"] = loop.create_task(self._background_info())

    async def _background_info(self) -> None:
        with contextlib.suppress(HFEndpointError):  # (the next call reports it, with its own request)
            await self._aensure_info()

    def to_payload(self) -> dict[str, Any]:
        """What callback and instrumentation events record about this LLM (never the key or headers)."""
        private = self.__pydantic_private__
        assert private is not None
        if not private["_info_known"] and not in_event_loop():
            # Sync callers: fetch /info now (once; the client asks it anyway on route "auto"). Inside an event
            # loop a sync request would block it, so async callers record what is known until their own fetch.
            with contextlib.suppress(HFEndpointError):
                self._set_info(self._client.info())
        # LlamaIndex asks for this on every call (its callback decorators): remembered for as long as what it is made
        # of stays the same; each caller gets its own dict. A memo, not a second implementation: kept for issue 7's
        # target for HFEndpoint at 50 requests in flight (2.5x raw aiohttp, met at 2.50x), where rebuilding costs 3.8%.
        key = (
            private["_info"],
            private["_info_known"],
            self.max_tokens,
            self.context_window,
            self.model,
            self.is_chat_model,
        )
        memo = private["_payload_memo"]
        if memo is None or memo[0] != key:
            memo = private["_payload_memo"] = (
                key,
                {"class_name": self.class_name(), **self._metadata_for(private["_info"]).model_dump()},
            )
        return dict(memo[1])

    def _set_info(self, info: Info | None) -> None:
        if info is None and self.context_window is None:
            logger.warning(
                "llama_index_hf_endpoint: %s has no /info (not TGI?); assuming a %d-token context window. "
                "Pass context_window= to set it.",
                self.base_url,
                DEFAULT_CONTEXT_WINDOW,
            )
        self._info, self._info_known = info, True

    async def _aensure_info(self) -> None:
        # Async callers fetch /info here, without blocking their loop, so that ``metadata`` needs no sync call.
        if not self.__pydantic_private__["_info_known"]:  # type: ignore[index]  # (see _aclient)
            self._set_info(await self._aclient.info())

    def _served_model(self) -> str | None:
        """The model the server named (``/info``, or ``/v1/models`` on an OpenAI-compatible server), once asked."""
        aclient = self._aclient_
        return self._client.served_model or (aclient.served_model if aclient is not None else None)

    def _metadata_for(self, info: Info | None) -> LLMMetadata:
        return llm_metadata(
            info,
            self._served_model(),
            max_tokens=self.max_tokens,
            context_window=self.context_window,
            model=self.model,
            is_chat_model=self.is_chat_model,
        )

    # ------------------------------------------------------------------------------------------- requests

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Messages as dicts, and the chat parameters: the fields, then ``additional_kwargs``, then the call's."""
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.logprobs or self.top_logprobs:
            params["logprobs"] = True
        if self.top_logprobs:
            params["top_logprobs"] = self.top_logprobs
        params.update(self.additional_kwargs)
        params.update({k: v for k, v in kwargs.items() if k not in _IGNORED_KWARGS})
        return to_tgi_messages(messages), params

    def _raw_request(self, prompt: str, formatted: bool, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The prompt (through ``completion_to_prompt`` unless already formatted) and ``/generate``'s parameters."""
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        return prompt, generate_params(self._request((), kwargs)[1])

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        msgs, params = self._request(messages, kwargs)
        return chat_response(self._client.chat(msgs, **params))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        msgs, params = self._request(messages, kwargs)
        chunks = self._client.chat_stream(msgs, **params)  # validates now; sends when iterated

        def gen() -> ChatResponseGen:
            acc = StreamAccumulator()
            for chunk in chunks:
                response = acc.feed(chunk)
                if response is not None:
                    yield response
            last = acc.finish()
            if last is not None:
                yield last

        return gen()

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        msgs, params = self._request(messages, kwargs)
        await self._aensure_info()
        return chat_response(await self._aclient.chat(msgs, **params))

    async def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        msgs, params = self._request(messages, kwargs)
        await self._aensure_info()

        async def gen() -> ChatResponseAsyncGen:
            acc = StreamAccumulator()
            async for chunk in self._aclient.chat_stream(msgs, **params):
                response = acc.feed(chunk)
                if response is not None:
                    yield response
            last = acc.finish()
            if last is not None:
                yield last

        return gen()

    # ------------------------------------------------------------------------------------------- the eight

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat turn; ``kwargs`` are chat parameters (``tools``, ``response_format``, ``top_p``, ...)."""
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Streamed chat: each response has the message so far and the new text in ``delta``."""
        return self._stream_chat(messages, **kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """A chat model (``is_chat_model=True``, the default): the prompt as one user message, formatted by the
        model's chat template. ``formatted=True`` (the prompt is already formatted: LlamaIndex's meaning) or a base
        model (``is_chat_model=False``): the prompt as it is, on ``/generate``, so the model continues it."""
        if formatted or not self.is_chat_model:
            prompt, params = self._raw_request(prompt, formatted, kwargs)
            return generate_response(self._client.generate(prompt, **params))
        return completion_response(self._chat(_as_messages(prompt), **kwargs))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """Streamed :meth:`complete`."""
        if formatted or not self.is_chat_model:
            prompt, params = self._raw_request(prompt, formatted, kwargs)
            events = self._client.generate_stream(prompt, **params)

            return completion_stream(events)
        stream = self._stream_chat(_as_messages(prompt), **kwargs)

        def gen() -> Generator[CompletionResponse, None, None]:
            for response in stream:
                yield completion_response(response)

        return gen()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        return await self._astream_chat(messages, **kwargs)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Async :meth:`complete`."""
        if formatted or not self.is_chat_model:
            prompt, params = self._raw_request(prompt, formatted, kwargs)
            await self._aensure_info()
            return generate_response(await self._aclient.generate(prompt, **params))
        return completion_response(await self._achat(_as_messages(prompt), **kwargs))

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        if formatted or not self.is_chat_model:
            prompt, params = self._raw_request(prompt, formatted, kwargs)
            await self._aensure_info()
            return acompletion_stream(self._aclient.generate_stream(prompt, **params))
        stream = await self._astream_chat(_as_messages(prompt), **kwargs)

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            async for response in stream:
                yield completion_response(response)

        return gen()


def _as_messages(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]
