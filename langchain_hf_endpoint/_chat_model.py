"""``ChatHFEndpoint``: LangChain's chat-model interface on the shared TGI transport.

(A little over 400 lines: the documented fields and LangChain's methods are the class itself; arguments, clients,
conversions and structured output live in their own modules.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from hf_endpoint._options import ChatOptions, ConnectionOptions, parse_endpoints

from ._arguments import check_connection, constructor_arguments, field_token, read_environment_key, state_without_key
from ._clients import (
    ClientSettings,
    aclose_async_client,
    close_sync_client,
    get_async_client,
    get_sync_client,
    known_served_model,
    served_model,
    token_ids,
)
from ._convert import PROVIDER, StreamAccumulator, completion_to_result, to_openai_messages

if TYPE_CHECKING:
    # Loaded when first used, not at import: the transport clients with the first call (aiohttp is slow to
    # import), LangChain's tool and output-parser modules with bind_tools / with_structured_output.
    from langchain_core.tools import BaseTool

    from hf_endpoint import AsyncTGIClient, TGIClient

    from ._structured import StructuredMethod

__all__ = ["ChatHFEndpoint"]

_SEED_PREFIX = "huggingface/"


class ChatHFEndpoint(BaseChatModel):
    """A chat model served by a Hugging Face Inference Endpoint or any text-generation-inference (TGI) server.

    .. code-block:: python

        from langchain_hf_endpoint import ChatHFEndpoint

        llm = ChatHFEndpoint(base_url="https://xyz.endpoints.huggingface.cloud", temperature=0, max_tokens=256)
        llm.invoke("Hello")

    The token is ``api_key`` or the first of ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, ``HUGGINGFACEHUB_API_TOKEN``,
    ``HUGGINGFACE_API_KEY`` (none is needed for a local server). ``model`` is optional: TGI serves one model, and a
    name other than the served one selects a LoRA adapter. ``route`` picks TGI's Messages API (``"chat"``), the
    native ``/generate`` route with the chat template applied here (``"generate"``, which gives tool calling and
    structured output through TGI's grammar even on servers without tool support), or ``"auto"``.

    Connections are pooled and shared by every instance with the same endpoint settings; they are created on the
    first call, never at construction, and never serialized.
    """

    model_config = ConfigDict(populate_by_name=True)

    base_url: str | list[str | tuple[str, dict[str, Any]]] = Field(default="", alias="endpoint_url")
    """The endpoint or server root URL (``/v1``, ``/generate`` and similar suffixes are accepted and removed), or
    several (URLs or ``(url, {"api_key", "weight", "route"})`` pairs): requests are balanced between them and fail
    over to another when one fails (``response_metadata["endpoint"]`` says which answered)."""
    hedge_after: float | None = None
    """With several endpoints: seconds after which a stream (async) with no first token yet is also sent to a
    second endpoint; the first to answer wins."""
    api_key: SecretStr | None = None
    """The Hugging Face token; read from the environment when not given."""
    model: str | None = None
    """The served model's name or a LoRA adapter id (optional: TGI serves one model)."""
    temperature: float | None = None
    """Sampling temperature; 0 means greedy decoding."""
    max_tokens: int | None = None
    """Maximum number of generated tokens (clamped to what fits the model's context)."""
    top_p: float | None = None
    top_k: int | None = None
    """Sample from the k most likely tokens only."""
    repetition_penalty: float | None = None
    """TGI's repetition penalty (1.0 means none)."""
    seed: int | None = None
    stop: list[str] | None = None
    """Stop sequences (removed from the returned text, as OpenAI does)."""
    logprobs: bool | None = None
    """Return per-token log-probabilities in ``response_metadata["logprobs"]``."""
    top_logprobs: int | None = None
    timeout: float | None = None
    """Seconds to wait for the server between two bytes (so, per streamed token); default 300."""
    max_retries: int = 3
    """Retries of rate limits, cold starts and refused connections (never of rejected requests)."""
    cold_start_timeout: float = 300.0
    """How long a scaled-to-zero endpoint may take to wake up."""
    streaming: bool = False
    """Stream even when ``invoke`` is called (callbacks then get every token)."""
    stream_usage: bool = True
    """Report ``usage_metadata`` on the last streamed chunk."""
    route: Literal["auto", "chat", "generate"] = "auto"
    chat_template: str | None = None
    """For ``route="generate"``: a Jinja chat template or a built-in template name such as ``"chatml"``."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other request parameters (``frequency_penalty``, ``top_k``, ``repetition_penalty``, ``extra_body``, ...)."""
    verify: bool | str = True
    """TLS certificate verification (on by default), or the path of a CA bundle for a private CA."""
    allow_insecure_http: bool = False
    """Send the token over plain ``http://`` to a non-loopback host (a trusted network only). Without it an explicit
    ``api_key`` for such a URL is refused, and a token from the environment is not sent."""
    payload_limit: int = 2_000_000
    """The server's ``--payload-limit`` in bytes (TGI's default): images sent inline that exceed it are refused
    before sending."""

    _token_from_env: bool = PrivateAttr(default=False)
    # (the fields that shape a connection, the ClientSettings made of them): every call needs the settings to find
    # its pooled client, and building them (a frozen dataclass, a Secret) costs more than comparing the fields.
    _settings_memo: tuple[tuple[Any, ...], ClientSettings] | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------------------------------- construction

    def __init__(self, **kwargs: Any) -> None:
        """Unknown arguments are refused (pydantic would drop them), naming the one probably meant; names
        langchain-huggingface and OpenAI use for the same things are taken (``endpoint_url``,
        ``huggingfacehub_api_token``, ``max_new_tokens``, ``max_completion_tokens``, ``stop_sequences``)."""
        # Here rather than in a validator: pydantic wraps a validator's error with the input, which holds the key.
        super().__init__(**constructor_arguments(type(self), kwargs))

    @model_validator(mode="before")
    @classmethod
    def _seed_style_model(cls, values: Any) -> Any:
        """Accept ``model="huggingface/<url>"`` (LiteLLM style) as the endpoint URL."""
        if not isinstance(values, dict):
            return values
        model = values.get("model")
        if isinstance(model, str) and model.startswith(_SEED_PREFIX):
            rest = model[len(_SEED_PREFIX) :]
            values = dict(values)
            if rest.startswith(("http://", "https://")):
                if not (values.get("base_url") or values.get("endpoint_url")):
                    values["base_url"] = rest
                values["model"] = None
            else:
                values["model"] = rest or None
        return values

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> ChatHFEndpoint:
        check_connection(self, "the endpoint's URL")
        return self

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled (multiprocessing, caches) without the key, like ``dumps``: the unpickled model reads it from the
        environment again (``HF_TOKEN``...), or is given it anew."""
        return state_without_key(super().__getstate__(), _settings_memo=None)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        read_environment_key(self)

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "HF_TOKEN"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_hf_endpoint"]

    @property
    def _llm_type(self) -> str:
        return "hf-endpoint-chat"

    # ------------------------------------------------------------------------------------------- clients

    def _settings(self) -> ClientSettings:
        # Private attributes read and written through __pydantic_private__, not pydantic's __getattr__: a fast path
        # into pydantic's internals, kept because it pays: ChatHFEndpoint at 50 requests in flight takes 5.4% more
        # instructions without it. test_lc_chat_model.py::test_settings_follow_every_field_change checks the result.
        private = self.__pydantic_private__
        assert private is not None
        fields = (
            self.base_url,
            self.hedge_after,
            self.api_key,
            self.timeout,
            self.max_retries,
            self.cold_start_timeout,
            self.route,
            self.chat_template,
            self.verify,
            self.allow_insecure_http,
            self.payload_limit,
            private["_token_from_env"],
        )
        memo = private["_settings_memo"]
        if memo is not None and memo[0] == fields:
            return memo[1]  # type: ignore[no-any-return]
        token = field_token(self.api_key, private["_token_from_env"])
        connection = ConnectionOptions.for_urls(
            self.base_url,
            hedge_after=self.hedge_after,
            api_key=token,
            token_from_env=private["_token_from_env"],
            timeout=self.timeout or 300.0,
            max_retries=self.max_retries,
            cold_start_timeout=self.cold_start_timeout,
            verify=self.verify,
            allow_insecure_http=self.allow_insecure_http,
        )
        chat = ChatOptions(route=self.route, chat_template=self.chat_template, payload_limit=self.payload_limit)
        settings = ClientSettings(connection, chat)
        private["_settings_memo"] = (fields, settings)
        return settings

    @property
    def client(self) -> TGIClient:
        """The (shared, lazily created) synchronous transport client."""
        return get_sync_client(self._settings())

    @property
    def async_client(self) -> AsyncTGIClient:
        """The (shared, lazily created) asynchronous transport client of the calling thread."""
        return get_async_client(self._settings())

    def close(self) -> None:
        """Close the pooled connections to this endpoint (shared with every instance with the same settings,
        which simply reconnect on their next call)."""
        close_sync_client(self._settings())

    async def aclose(self) -> None:
        """Close this thread's pooled async connections to this endpoint (see :meth:`close`)."""
        await aclose_async_client(self._settings())

    def _served_model(self, client: TGIClient | AsyncTGIClient) -> str:
        """The model name to report when a response does not carry one: the adapter asked for, else the model the
        server reported in ``/info``, else the URL (the only other name an endpoint has)."""
        return self.model or served_model(client) or parse_endpoints(self.base_url)[0]

    def get_token_ids(self, text: str) -> list[int]:
        """The server's own token ids for ``text`` (TGI's ``/tokenize``, counted as the server counts a prompt, with
        the tokenizer's special tokens; remembered per text), or ``custom_get_token_ids(text)`` when given. Behind
        ``get_num_tokens``, ``get_num_tokens_from_messages`` and ``trim_messages(token_counter=llm)``.

        A server without ``/tokenize`` (an OpenAI-compatible engine) raises ``NotFoundError`` saying to pass
        ``custom_get_token_ids=`` (e.g. a Hugging Face tokenizer's ``encode``); nothing is estimated silently.
        """
        if self.custom_get_token_ids is not None:
            return self.custom_get_token_ids(text)
        return list(token_ids(self._settings(), text))

    # ------------------------------------------------------------------------------------------- parameters

    @property
    def _default_params(self) -> dict[str, Any]:
        params = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "seed": self.seed,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
            **self.model_kwargs,
        }
        return {k: v for k, v in params.items() if v is not None}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "route": self.route, "stop": self.stop, **self._default_params}

    def _request(self, stop: list[str] | None, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The transport's keyword arguments for one call, and whether to report usage when streaming."""
        kwargs = dict(kwargs)
        kwargs.pop("stream", None)  # LangChain's "please stream" flag, already acted upon
        stream_usage = kwargs.pop("stream_usage", None)
        params = {**self._default_params, **kwargs}
        stops = stop if stop is not None else self.stop
        if stops:
            params["stop"] = list(stops)
        params = {k: v for k, v in params.items() if v is not None}
        return params, self.stream_usage if stream_usage is None else bool(stream_usage)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = {**self._default_params, **kwargs}
        ls = LangSmithParams(
            ls_provider=PROVIDER,
            # Tracing must not cost a request: the served model's id is used once a call has learned it.
            ls_model_name=str(
                params.get("model") or known_served_model(self._settings()) or parse_endpoints(self.base_url)[0]
            ),
            ls_model_type="chat",
        )
        if params.get("temperature") is not None:
            ls["ls_temperature"] = params["temperature"]
        if params.get("max_tokens") is not None:
            ls["ls_max_tokens"] = params["max_tokens"]
        stops = stop if stop is not None else self.stop
        if stops:
            ls["ls_stop"] = list(stops)
        return ls

    # ------------------------------------------------------------------------------------------- calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params, _ = self._request(stop, kwargs)
        client = self.client
        completion = client.chat(to_openai_messages(messages), **params)
        return completion_to_result(completion, fallback_model=self._served_model(client))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params, _ = self._request(stop, kwargs)
        client = self.async_client
        completion = await client.chat(to_openai_messages(messages), **params)
        return completion_to_result(completion, fallback_model=self._served_model(client))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        params, stream_usage = self._request(stop, kwargs)
        client = self.client
        acc: StreamAccumulator | None = None
        for chunk in client.chat_stream(to_openai_messages(messages), **params):
            if acc is None:  # after the first chunk, so that /info (and the served model) is known
                acc = StreamAccumulator(fallback_model=self._served_model(client), stream_usage=stream_usage)
            gen = acc.feed(chunk)
            if gen is not None:
                if run_manager:
                    run_manager.on_llm_new_token(gen.text, chunk=gen)
                yield gen
        acc = acc or StreamAccumulator(fallback_model=self._served_model(client), stream_usage=stream_usage)
        last = acc.finish()
        if run_manager:
            run_manager.on_llm_new_token(last.text, chunk=last)
        yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        params, stream_usage = self._request(stop, kwargs)
        client = self.async_client
        acc: StreamAccumulator | None = None
        async for chunk in client.chat_stream(to_openai_messages(messages), **params):
            if acc is None:
                acc = StreamAccumulator(fallback_model=self._served_model(client), stream_usage=stream_usage)
            gen = acc.feed(chunk)
            if gen is not None:
                if run_manager:
                    await run_manager.on_llm_new_token(gen.text, chunk=gen)
                yield gen
        acc = acc or StreamAccumulator(fallback_model=self._served_model(client), stream_usage=stream_usage)
        last = acc.finish()
        if run_manager:
            await run_manager.on_llm_new_token(last.text, chunk=last)
        yield last

    # ------------------------------------------------------------------------------------------- tools, schemas

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, Pydantic models, TypedDicts or OpenAI tool dicts).

        ``tool_choice``: ``"auto"`` (the model decides), ``"none"``, ``"any"``/``"required"``/``True`` (some tool
        must be called), or a tool's name (that tool). TGI's grammar enforces the arguments' schema, so ``strict``
        is accepted for compatibility and changes nothing.
        """
        from langchain_core.utils.function_calling import convert_to_openai_tool

        from hf_endpoint._params import normalize_tool_choice  # the transport's: checked here, where it was written

        formatted = [convert_to_openai_tool(t) for t in tools]
        choice = normalize_tool_choice(tool_choice, formatted)
        if choice is not None:
            kwargs["tool_choice"] = choice
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: StructuredMethod = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning ``schema``-shaped output: a Pydantic object (v2 or v1) for a Pydantic class, else a
        dict (TypedDict, JSON schema).

        ``method``: ``"json_schema"`` (default; TGI's grammar constrains the output to the schema),
        ``"function_calling"`` (the schema as a forced tool) or ``"json_mode"`` (JSON; constrained to the schema
        when one is given). ``include_raw=True`` returns ``{"raw", "parsed", "parsing_error"}``.
        """
        if kwargs:
            raise ValueError(f"unexpected arguments {sorted(kwargs)}")
        from ._structured import structured_output

        return structured_output(self, schema, method=method, include_raw=include_raw, strict=strict)
