"""``TGIClient``: TGI's calls as plans (``_tgi``, ``_tgi_chat``), sent by the synchronous shell."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ._base import TGIBase
from ._options import Route
from ._sync_shell import SyncShell
from ._tgi import generate_plan, info_steps, tokenize_plan
from ._types import ChatCompletion, ChatCompletionChunk, GenerateResponse, Info, StreamResponse, TokenizedToken

__all__ = ["TGIClient"]


class TGIClient(TGIBase, SyncShell):
    """A client for one TGI server or Hugging Face Inference Endpoint (synchronous, pooled, thread-safe).

    ``base_url`` is the server's root URL. The token is ``api_key`` or the first of ``HF_TOKEN``,
    ``HUGGING_FACE_HUB_TOKEN``, ``HUGGINGFACEHUB_API_TOKEN``, ``HUGGINGFACE_API_KEY``; none is needed for a local
    server. ``timeout`` is the read timeout between two bytes (so, per streamed event), ``max_retries`` bounds
    retries of 429/connection failures, ``cold_start_timeout`` how long a scaled-to-zero endpoint may take to
    wake. ``route`` picks the Messages API (``"chat"``), the native route with client-side chat templates
    (``"generate"``), or ``"auto"``. ``verify`` is TLS verification (on by default) or a CA bundle path. A token is
    sent over plain ``http://`` only to loopback hosts unless ``allow_insecure_http=True``: an explicit ``api_key``
    for a remote ``http://`` URL is refused, one from the environment is not sent. The proxy variables
    (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) and ``REQUESTS_CA_BUNDLE`` are read once, when the
    client is created. Every option is described in :class:`hf_endpoint._options.ConnectionOptions` and
    :class:`~hf_endpoint._options.ChatOptions`.

    Several endpoints (``base_url=[url, url, ...]``, or ``(url, {"api_key": ..., "weight": ..., "route": ...})``
    pairs) make one client that balances requests between them and fails over (``hf_endpoint._multi``).
    """

    _multi_class = "._multi:MultiTGIClient"

    def __enter__(self) -> TGIClient:
        return self

    def info(self) -> Info | None:
        """``GET /info`` (cached). ``None`` when the server has no ``/info`` (not TGI)."""
        if not self._state.info_known:
            self._prepare(info_steps(self._state))
        info: Info | None = self._state.info
        return info

    def tokenize(self, text: str) -> list[TokenizedToken]:
        """The server's own tokenization of ``text`` (``POST /tokenize``)."""
        return self._run(tokenize_plan(self._state, text))

    def generate(self, prompt: str, **params: Any) -> GenerateResponse:
        """``POST /generate`` with TGI's parameters (``max_new_tokens``, ``temperature``, ``details``, ...)."""
        plan = generate_plan(self._state, prompt, params, stream=False, clamp_max_tokens=self._chat.clamp_max_tokens)
        result: GenerateResponse = self._run(plan)
        return result

    def generate_stream(self, prompt: str, **params: Any) -> Iterator[StreamResponse]:
        """``POST /generate_stream``: one :class:`StreamResponse` per token; the last has ``generated_text``."""
        plan = generate_plan(self._state, prompt, params, stream=True, clamp_max_tokens=self._chat.clamp_max_tokens)
        return self._stream(plan)

    def chat(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> ChatCompletion:
        """An OpenAI-shaped chat completion, by the Messages API or the native route (see ``route``)."""
        plan = self._prepare(self._chat_steps(messages, tools, tool_choice, response_format, route, params, False))
        result: ChatCompletion = self._run(plan)
        return result

    def chat_stream(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        route: Route | None = None,
        **params: Any,
    ) -> Iterator[ChatCompletionChunk]:
        """Streamed chat: :class:`ChatCompletionChunk` objects, the last with ``usage`` and ``choices == []``."""
        plan = self._prepare(self._chat_steps(messages, tools, tool_choice, response_format, route, params, True))
        return self._stream(plan)
