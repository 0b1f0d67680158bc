"""The clients the benchmark measures: raw HTTP baselines, ours (transport and adapters), and the peers.

Each client makes the same call: one user message ("Say hello."), answered with 20 tokens on the small server or
2000 on the big one. On TGI's native route every client asks for ``details`` (token counts and finish reason: our
chat-on-/generate needs them, text-generation always asks), so all get the same answer as the raw baseline, except
langchain-huggingface's ``HuggingFaceEndpoint``, which does not ask and so parses less. A client has a sync side (``call``, ``stream``) and/or an async side (``acall``, ``astream``);
``route`` says which raw baseline it is compared with: ``chat`` (``/v1/chat/completions``) or ``generate``
(TGI's native ``/generate``). Each runs in its own worker process, which imports only that client's library.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CLIENTS", "Client"]

PROMPT_TEXT = "Say hello."
MESSAGES = [{"role": "user", "content": PROMPT_TEXT}]
SMALL, BIG = 20, 2000  # tokens per answer on the small and the big server
_HEADERS = {"Content-Type": "application/json"}


def _chat_body(max_tokens: int, stream: bool = False) -> bytes:
    body: dict[str, Any] = {"model": "tgi", "messages": MESSAGES, "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def _gen_body(max_tokens: int) -> bytes:
    # details=True: our native chat route asks for them (finish reason, token counts), text-generation always does
    return json.dumps({"inputs": PROMPT_TEXT, "parameters": {"max_new_tokens": max_tokens, "details": True}}).encode()


class Client:
    """Base: a named client; subclasses implement the sides they have."""

    name = ""
    kind = "peer"  # raw | ours | floor | peer
    route = "chat"  # which raw baseline: chat | generate
    package = ""  # distribution whose version is reported
    label = ""  # what is called, for the table's notes
    has_sync = True
    has_async = True

    def setup(self, small: str, big: str) -> None:
        self.small, self.big = small, big

    def call(self) -> Any:
        raise NotImplementedError

    def stream(self, big: bool = True) -> int:
        raise NotImplementedError

    async def acall(self) -> Any:
        raise NotImplementedError

    async def astream(self, big: bool = True) -> int:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


# ------------------------------------------------------------------------------------------------- raw baselines


class Raw(Client):
    """The floor: ``requests.Session`` (sync) and ``aiohttp.ClientSession`` (async), ``json.loads`` of the body; a
    stream is line iteration plus ``json.loads`` of each ``data:`` line."""

    name = "raw requests / aiohttp"
    kind = "raw"
    package = "requests"
    label = "Session.post + json.loads; iter_lines + json.loads per event"
    path, stream_path = "/v1/chat/completions", "/v1/chat/completions"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        import requests

        self.session = requests.Session()
        self.asession: Any = None

    def _body(self, stream: bool, big: bool) -> bytes:
        return _chat_body(BIG if big else SMALL, stream)

    def call(self) -> Any:
        r = self.session.post(self.small + self.path, data=self._body(False, False), headers=_HEADERS)
        r.raise_for_status()
        return json.loads(r.content)

    def stream(self, big: bool = True) -> int:
        url = (self.big if big else self.small) + self.stream_path
        n = 0
        with self.session.post(url, data=self._body(True, big), headers=_HEADERS, stream=True) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith(b"data:"):
                    payload = line[5:].strip()
                    if payload != b"[DONE]":
                        json.loads(payload)
                        n += 1
        return n

    def _asession(self) -> Any:
        if self.asession is None:
            import aiohttp

            self.asession = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))
        return self.asession

    async def acall(self) -> Any:
        async with self._asession().post(self.small + self.path, data=self._body(False, False), headers=_HEADERS) as r:
            r.raise_for_status()
            return json.loads(await r.read())

    async def astream(self, big: bool = True) -> int:
        url = (self.big if big else self.small) + self.stream_path
        n = 0
        async with self._asession().post(url, data=self._body(True, big), headers=_HEADERS) as r:
            r.raise_for_status()
            async for line in r.content:
                if line.startswith(b"data:"):
                    payload = line[5:].strip()
                    if payload != b"[DONE]":
                        json.loads(payload)
                        n += 1
        return n

    async def aclose(self) -> None:
        if self.asession is not None:
            await self.asession.close()


class RawGenerate(Raw):
    name = "raw requests / aiohttp (/generate)"
    route = "generate"
    path, stream_path = "/generate", "/generate_stream"

    def _body(self, stream: bool, big: bool) -> bytes:
        return _gen_body(BIG if big else SMALL)


class RawHttpx(Client):
    name = "raw httpx"
    kind = "raw"
    package = "httpx"
    label = "httpx.Client / AsyncClient .post + json.loads; iter_lines + json.loads"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        import httpx

        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        self.client = httpx.Client(limits=limits, timeout=300)
        self.aclient = httpx.AsyncClient(limits=limits, timeout=300)

    def call(self) -> Any:
        r = self.client.post(self.small + "/v1/chat/completions", content=_chat_body(SMALL), headers=_HEADERS)
        r.raise_for_status()
        return json.loads(r.content)

    def stream(self, big: bool = True) -> int:
        url = (self.big if big else self.small) + "/v1/chat/completions"
        n = 0
        body = _chat_body(BIG if big else SMALL, True)
        with self.client.stream("POST", url, content=body, headers=_HEADERS) as r:
            for line in r.iter_lines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    json.loads(line[5:])
                    n += 1
        return n

    async def acall(self) -> Any:
        r = await self.aclient.post(self.small + "/v1/chat/completions", content=_chat_body(SMALL), headers=_HEADERS)
        r.raise_for_status()
        return json.loads(r.content)

    async def astream(self, big: bool = True) -> int:
        url = (self.big if big else self.small) + "/v1/chat/completions"
        n = 0
        body = _chat_body(BIG if big else SMALL, True)
        async with self.aclient.stream("POST", url, content=body, headers=_HEADERS) as r:
            async for line in r.aiter_lines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    json.loads(line[5:])
                    n += 1
        return n

    async def aclose(self) -> None:
        await self.aclient.aclose()


# ----------------------------------------------------------------------------------------------------------- ours


class Ours(Client):
    name = "hf_endpoint TGIClient / AsyncTGIClient (chat route)"
    kind = "ours"
    package = "hf-endpoint"
    label = ".chat() / .chat_stream(), route='chat' (Messages API)"
    options: dict[str, Any] = {"route": "chat"}

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from hf_endpoint import AsyncTGIClient, TGIClient

        self.sync = {False: TGIClient(small, **self.options), True: TGIClient(big, **self.options)}
        self.asyncs = {False: AsyncTGIClient(small, **self.options), True: AsyncTGIClient(big, **self.options)}

    def call(self) -> Any:
        return self.sync[False].chat(MESSAGES, max_tokens=SMALL)

    def stream(self, big: bool = True) -> int:
        return sum(1 for _ in self.sync[big].chat_stream(MESSAGES, max_tokens=BIG if big else SMALL))

    async def acall(self) -> Any:
        return await self.asyncs[False].chat(MESSAGES, max_tokens=SMALL)

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in self.asyncs[big].chat_stream(MESSAGES, max_tokens=BIG if big else SMALL):
            n += 1
        return n

    async def aclose(self) -> None:
        for client in self.asyncs.values():
            await client.aclose()


class OursNative(Ours):
    name = "hf_endpoint TGIClient / AsyncTGIClient (native route)"
    route = "generate"
    label = ".chat() / .chat_stream(), route='generate' (chat template applied client-side)"
    options = {"route": "generate", "chat_template": "chatml"}


class OursGenerate(Ours):
    name = "hf_endpoint TGIClient.generate / AsyncTGIClient.generate"
    route = "generate"
    label = ".generate() / .generate_stream() (TGI's native API)"
    options = {"route": "generate"}

    def call(self) -> Any:
        return self.sync[False].generate(PROMPT_TEXT, max_new_tokens=SMALL, details=True)

    def stream(self, big: bool = True) -> int:
        n = BIG if big else SMALL
        return sum(1 for _ in self.sync[big].generate_stream(PROMPT_TEXT, max_new_tokens=n, details=True))

    async def acall(self) -> Any:
        return await self.asyncs[False].generate(PROMPT_TEXT, max_new_tokens=SMALL, details=True)

    async def astream(self, big: bool = True) -> int:
        n = 0
        tokens = BIG if big else SMALL
        async for _ in self.asyncs[big].generate_stream(PROMPT_TEXT, max_new_tokens=tokens, details=True):
            n += 1
        return n


class OursLangChain(Client):
    name = "langchain_hf_endpoint ChatHFEndpoint"
    kind = "ours"
    package = "langchain-core"
    label = ".invoke / .stream / .ainvoke / .astream"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from langchain_hf_endpoint import ChatHFEndpoint

        self.llm = {
            False: ChatHFEndpoint(base_url=small, max_tokens=SMALL),
            True: ChatHFEndpoint(base_url=big, max_tokens=BIG),
        }

    def call(self) -> Any:
        return self.llm[False].invoke(PROMPT_TEXT)

    def stream(self, big: bool = True) -> int:
        return sum(1 for _ in self.llm[big].stream(PROMPT_TEXT))

    async def acall(self) -> Any:
        return await self.llm[False].ainvoke(PROMPT_TEXT)

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in self.llm[big].astream(PROMPT_TEXT):
            n += 1
        return n

    async def aclose(self) -> None:
        from langchain_hf_endpoint._clients import aclose_all

        await aclose_all()


class OursLlamaIndex(Client):
    name = "llama_index_hf_endpoint HFEndpoint"
    kind = "ours"
    package = "llama-index-core"
    label = ".chat / .stream_chat / .achat / .astream_chat"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from llama_index.core.llms import ChatMessage

        from llama_index_hf_endpoint import HFEndpoint

        self.msgs = [ChatMessage(role="user", content=PROMPT_TEXT)]
        self.llm = {False: HFEndpoint(base_url=small, max_tokens=SMALL), True: HFEndpoint(base_url=big, max_tokens=BIG)}

    def call(self) -> Any:
        return self.llm[False].chat(self.msgs)

    def stream(self, big: bool = True) -> int:
        return sum(1 for _ in self.llm[big].stream_chat(self.msgs))

    async def acall(self) -> Any:
        return await self.llm[False].achat(self.msgs)

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in await self.llm[big].astream_chat(self.msgs):
            n += 1
        return n

    async def aclose(self) -> None:
        for llm in self.llm.values():
            await llm.aclose()


# ------------------------------------------------------------------------------------------------ framework floors


class LangChainFloor(Client):
    """What LangChain itself costs per call and per chunk: a ``BaseChatModel`` that returns the same answer as the
    server (20 tokens; 2001 chunks) without any I/O. An adapter cannot cost less than this plus its transport."""

    name = "langchain-core floor: BaseChatModel without I/O"
    kind = "floor"
    package = "langchain-core"
    label = "invoke/stream/ainvoke/astream of a BaseChatModel that returns canned messages (no HTTP)"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from langchain_core.language_models import BaseChatModel
        from langchain_core.messages import AIMessage, AIMessageChunk
        from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

        text = "Hello from the scripted backend." * 3
        meta = {"model_name": "hf-endpoint/scripted", "model_provider": "huggingface", "finish_reason": "stop"}
        usage = {"input_tokens": 5, "output_tokens": SMALL + 1, "total_tokens": SMALL + 6}

        class Floor(BaseChatModel):
            n_chunks: int = SMALL + 1

            @property
            def _llm_type(self) -> str:
                return "floor"

            def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                message = AIMessage(content=text, response_metadata=dict(meta), usage_metadata=dict(usage))  # type: ignore[arg-type]
                return ChatResult(generations=[ChatGeneration(message=message)])

            async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                return self._generate(messages)

            def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                for _ in range(self.n_chunks):
                    yield ChatGenerationChunk(message=AIMessageChunk(content=" tok"))
                yield ChatGenerationChunk(
                    message=AIMessageChunk(content="", chunk_position="last", response_metadata=dict(meta))
                )

            async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                for chunk in self._stream(messages):
                    yield chunk

        self.llm = {False: Floor(n_chunks=SMALL + 1), True: Floor(n_chunks=BIG + 1)}

    call, stream, acall, astream = (
        OursLangChain.call,
        OursLangChain.stream,  # type: ignore[assignment]
        OursLangChain.acall,
        OursLangChain.astream,
    )


class LlamaIndexFloor(Client):
    """What LlamaIndex itself costs: an LLM whose (callback-decorated) chat methods return canned responses (the
    message so far and the delta per chunk, as a streaming LLM must) without any I/O."""

    name = "llama-index-core floor: LLM without I/O"
    kind = "floor"
    package = "llama-index-core"
    label = "chat/stream_chat/achat/astream_chat of an LLM that returns canned responses (no HTTP)"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from llama_index.core.llms import ChatMessage, ChatResponse, CustomLLM, LLMMetadata
        from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback

        text = "Hello from the scripted backend." * 3

        class Floor(CustomLLM):
            n_chunks: int = SMALL + 1

            @property
            def metadata(self) -> LLMMetadata:
                return LLMMetadata(is_chat_model=True)

            @llm_completion_callback()
            def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
                raise NotImplementedError

            @llm_completion_callback()
            def stream_complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
                raise NotImplementedError

            @llm_chat_callback()
            def chat(self, messages: Any, **kw: Any) -> Any:
                return ChatResponse(message=ChatMessage(role="assistant", content=text), raw={})

            @llm_chat_callback()
            def stream_chat(self, messages: Any, **kw: Any) -> Any:
                def gen() -> Any:
                    so_far = ""
                    for _ in range(self.n_chunks):
                        so_far += " tok"
                        yield ChatResponse(message=ChatMessage(role="assistant", content=so_far), delta=" tok", raw={})

                return gen()

            @llm_chat_callback()
            async def achat(self, messages: Any, **kw: Any) -> Any:
                return ChatResponse(message=ChatMessage(role="assistant", content=text), raw={})

            @llm_chat_callback()
            async def astream_chat(self, messages: Any, **kw: Any) -> Any:
                async def gen() -> Any:
                    so_far = ""
                    for _ in range(self.n_chunks):
                        so_far += " tok"
                        yield ChatResponse(message=ChatMessage(role="assistant", content=so_far), delta=" tok", raw={})

                return gen()

        self.msgs = [ChatMessage(role="user", content=PROMPT_TEXT)]
        self.llm = {False: Floor(n_chunks=SMALL + 1), True: Floor(n_chunks=BIG + 1)}

    call, stream, acall, astream = (
        OursLlamaIndex.call,
        OursLlamaIndex.stream,  # type: ignore[assignment]
        OursLlamaIndex.acall,
        OursLlamaIndex.astream,
    )


class _RawEvents(Raw):
    """The raw baseline's requests, handing back what a minimal adapter needs: the answer's text, or each
    streamed delta's text (``json.loads`` per event, as in the raw stream)."""

    def text(self) -> str:
        doc = self.call()
        return str(doc["choices"][0]["message"]["content"] or "")

    async def atext(self) -> str:
        doc = await self.acall()
        return str(doc["choices"][0]["message"]["content"] or "")

    def deltas(self, big: bool) -> Any:
        url = (self.big if big else self.small) + self.stream_path
        with self.session.post(url, data=self._body(True, big), headers=_HEADERS, stream=True) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                text = _delta_text(line)
                if text:
                    yield text

    async def adeltas(self, big: bool) -> Any:
        url = (self.big if big else self.small) + self.stream_path
        async with self._asession().post(url, data=self._body(True, big), headers=_HEADERS) as r:
            r.raise_for_status()
            async for line in r.content:
                text = _delta_text(line)
                if text:
                    yield text


def _delta_text(line: bytes) -> str | None:
    """The delta text of one SSE line of a chat stream (None for other lines and empty deltas)."""
    if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
        return None
    choices = json.loads(line[5:])["choices"]
    return choices[0]["delta"].get("content") if choices else None


class _OverRaw(Client):
    """A framework's own class over the raw baseline's requests (``self.raw``): the floor of that framework's
    adapters."""

    kind = "floor"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        self.raw = _RawEvents()
        self.raw.setup(small, big)

    async def aclose(self) -> None:
        await self.raw.aclose()


class LangChainRawFloor(_OverRaw):
    """LangChain over raw HTTP: a ``BaseChatModel`` whose methods are the raw baseline's requests plus the least
    conversion LangChain needs (text into ``AIMessage`` / ``AIMessageChunk``). No LangChain adapter can cost less;
    ours minus this is what our transport and conversions add."""

    name = "langchain-core over raw requests / aiohttp"
    package = "langchain-core"
    label = "BaseChatModel whose _generate/_stream/... are the raw baseline's calls (json.loads, no checks)"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from langchain_core.language_models import BaseChatModel
        from langchain_core.messages import AIMessage, AIMessageChunk
        from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

        raw = self.raw

        class RawModel(BaseChatModel):
            big: bool = False

            @property
            def _llm_type(self) -> str:
                return "raw-floor"

            def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                return ChatResult(generations=[ChatGeneration(message=AIMessage(content=raw.text()))])

            async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                return ChatResult(generations=[ChatGeneration(message=AIMessage(content=await raw.atext()))])

            def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                for text in raw.deltas(self.big):
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))

            async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                async for text in raw.adeltas(self.big):
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))

        self.llm = {False: RawModel(big=False), True: RawModel(big=True)}

    call, stream, acall, astream = (
        OursLangChain.call,
        OursLangChain.stream,  # type: ignore[assignment]
        OursLangChain.acall,
        OursLangChain.astream,
    )


class LlamaIndexRawFloor(_OverRaw):
    """LlamaIndex over raw HTTP: an LLM whose callback-decorated chat methods are the raw baseline's requests
    (``ChatResponse`` with the message so far and the delta per chunk). No LlamaIndex adapter can cost less."""

    name = "llama-index-core over raw requests / aiohttp"
    package = "llama-index-core"
    label = "LLM whose chat/stream_chat/achat/astream_chat are the raw baseline's calls"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from llama_index.core.llms import ChatMessage, ChatResponse, CustomLLM, LLMMetadata
        from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback

        raw = self.raw

        class RawLLM(CustomLLM):
            big: bool = False

            @property
            def metadata(self) -> LLMMetadata:
                return LLMMetadata(is_chat_model=True)

            @llm_completion_callback()
            def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
                raise NotImplementedError

            @llm_completion_callback()
            def stream_complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
                raise NotImplementedError

            @llm_chat_callback()
            def chat(self, messages: Any, **kw: Any) -> Any:
                return ChatResponse(message=ChatMessage(role="assistant", content=raw.text()), raw={})

            @llm_chat_callback()
            def stream_chat(self, messages: Any, **kw: Any) -> Any:
                def gen() -> Any:
                    so_far = ""
                    for text in raw.deltas(self.big):
                        so_far += text
                        yield ChatResponse(message=ChatMessage(role="assistant", content=so_far), delta=text, raw={})

                return gen()

            @llm_chat_callback()
            async def achat(self, messages: Any, **kw: Any) -> Any:
                return ChatResponse(message=ChatMessage(role="assistant", content=await raw.atext()), raw={})

            @llm_chat_callback()
            async def astream_chat(self, messages: Any, **kw: Any) -> Any:
                async def gen() -> Any:
                    so_far = ""
                    async for text in raw.adeltas(self.big):
                        so_far += text
                        yield ChatResponse(message=ChatMessage(role="assistant", content=so_far), delta=text, raw={})

                return gen()

        self.msgs = [ChatMessage(role="user", content=PROMPT_TEXT)]
        self.llm = {False: RawLLM(big=False), True: RawLLM(big=True)}

    call, stream, acall, astream = (
        OursLlamaIndex.call,
        OursLlamaIndex.stream,  # type: ignore[assignment]
        OursLlamaIndex.acall,
        OursLlamaIndex.astream,
    )


# ---------------------------------------------------------------------------------------------------------- peers


class HubChat(Client):
    name = "huggingface_hub InferenceClient.chat_completion"
    package = "huggingface_hub"
    label = "InferenceClient / AsyncInferenceClient(base_url=...).chat_completion"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from huggingface_hub import AsyncInferenceClient, InferenceClient

        self.sync = {False: InferenceClient(base_url=small), True: InferenceClient(base_url=big)}
        self.asyncs = {False: AsyncInferenceClient(base_url=small), True: AsyncInferenceClient(base_url=big)}

    def call(self) -> Any:
        return self.sync[False].chat_completion(MESSAGES, max_tokens=SMALL)

    def stream(self, big: bool = True) -> int:
        return sum(1 for _ in self.sync[big].chat_completion(MESSAGES, max_tokens=BIG if big else SMALL, stream=True))

    async def acall(self) -> Any:
        return await self.asyncs[False].chat_completion(MESSAGES, max_tokens=SMALL)

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in await self.asyncs[big].chat_completion(MESSAGES, max_tokens=BIG if big else SMALL, stream=True):
            n += 1
        return n

    async def aclose(self) -> None:
        for client in self.asyncs.values():
            close = getattr(client, "close", None)
            if close is not None:
                await close()


class HubGenerate(Client):
    name = "huggingface_hub InferenceClient.text_generation"
    route = "generate"
    package = "huggingface_hub"
    label = "InferenceClient / AsyncInferenceClient(model=url).text_generation"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from huggingface_hub import AsyncInferenceClient, InferenceClient

        self.sync = {False: InferenceClient(model=small), True: InferenceClient(model=big)}
        self.asyncs = {False: AsyncInferenceClient(model=small), True: AsyncInferenceClient(model=big)}

    def call(self) -> Any:
        return self.sync[False].text_generation(PROMPT_TEXT, max_new_tokens=SMALL, details=True)

    def stream(self, big: bool = True) -> int:
        n = BIG if big else SMALL
        return sum(1 for _ in self.sync[big].text_generation(PROMPT_TEXT, max_new_tokens=n, stream=True, details=True))

    async def acall(self) -> Any:
        return await self.asyncs[False].text_generation(PROMPT_TEXT, max_new_tokens=SMALL, details=True)

    async def astream(self, big: bool = True) -> int:
        n = 0
        tokens = BIG if big else SMALL
        stream = await self.asyncs[big].text_generation(PROMPT_TEXT, max_new_tokens=tokens, stream=True, details=True)
        async for _ in stream:
            n += 1
        return n

    async def aclose(self) -> None:
        for client in self.asyncs.values():
            close = getattr(client, "close", None)
            if close is not None:
                await close()


class TextGeneration(Client):
    name = "text-generation Client / AsyncClient"
    route = "generate"
    package = "text-generation"
    label = "Client(url).generate / generate_stream (TGI's own client)"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from text_generation import AsyncClient, Client

        self.sync = {False: Client(small, timeout=300), True: Client(big, timeout=300)}
        self.asyncs = {False: AsyncClient(small, timeout=300), True: AsyncClient(big, timeout=300)}

    def call(self) -> Any:
        return self.sync[False].generate(PROMPT_TEXT, max_new_tokens=SMALL)

    def stream(self, big: bool = True) -> int:
        n = BIG if big else SMALL
        return sum(1 for _ in self.sync[big].generate_stream(PROMPT_TEXT, max_new_tokens=n))

    async def acall(self) -> Any:
        return await self.asyncs[False].generate(PROMPT_TEXT, max_new_tokens=SMALL)

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in self.asyncs[big].generate_stream(PROMPT_TEXT, max_new_tokens=BIG if big else SMALL):
            n += 1
        return n


class LangChainHF(Client):
    name = "langchain-huggingface ChatHuggingFace"
    package = "langchain-huggingface"
    label = "ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=...)) .invoke / .stream / .ainvoke / .astream"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

        def make(url: str, n: int) -> Any:
            return ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=url, max_new_tokens=n))

        self.llm = {False: make(small, SMALL), True: make(big, BIG)}

    def call(self) -> Any:
        return self.llm[False].invoke(PROMPT_TEXT)

    def stream(self, big: bool = True) -> int:
        return sum(1 for _ in self.llm[big].stream(PROMPT_TEXT))

    async def acall(self) -> Any:
        return await self.llm[False].ainvoke(PROMPT_TEXT)

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in self.llm[big].astream(PROMPT_TEXT):
            n += 1
        return n


class LangChainHFLLM(LangChainHF):
    name = "langchain-huggingface HuggingFaceEndpoint (LLM)"
    route = "generate"
    label = "HuggingFaceEndpoint(endpoint_url=...) .invoke / .stream / .ainvoke / .astream (text generation)"

    def setup(self, small: str, big: str) -> None:
        Client.setup(self, small, big)
        from langchain_huggingface import HuggingFaceEndpoint

        self.llm = {
            False: HuggingFaceEndpoint(endpoint_url=small, max_new_tokens=SMALL),
            True: HuggingFaceEndpoint(endpoint_url=big, max_new_tokens=BIG),
        }


class LlamaIndexHF(Client):
    name = "llama-index-llms-huggingface-api HuggingFaceInferenceAPI"
    package = "llama-index-llms-huggingface-api"
    label = "HuggingFaceInferenceAPI(model=url) .chat / .stream_chat / .achat / .astream_chat"

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        from llama_index.core.llms import ChatMessage
        from llama_index.llms.huggingface_api import HuggingFaceInferenceAPI

        self.msgs = [ChatMessage(role="user", content=PROMPT_TEXT)]
        self.llm = {
            False: HuggingFaceInferenceAPI(model=small, num_output=SMALL),
            True: HuggingFaceInferenceAPI(model=big, num_output=BIG),
        }

    def call(self) -> Any:
        return self.llm[False].chat(self.msgs)

    def stream(self, big: bool = True) -> int:
        return sum(1 for _ in self.llm[big].stream_chat(self.msgs))

    async def acall(self) -> Any:
        return await self.llm[False].achat(self.msgs)

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in await self.llm[big].astream_chat(self.msgs):
            n += 1
        return n


class LiteLLM(Client):
    name = "litellm completion (api_base=url)"
    package = "litellm"
    label = 'completion(model="huggingface/tgi", api_base=url) / acompletion'

    def setup(self, small: str, big: str) -> None:
        super().setup(small, big)
        import litellm

        litellm.telemetry = False
        self.litellm = litellm

    def _kw(self, big: bool) -> dict[str, Any]:
        return {
            "model": "huggingface/tgi",
            "api_base": self.big if big else self.small,
            "messages": MESSAGES,
            "max_tokens": BIG if big else SMALL,
        }

    def call(self) -> Any:
        return self.litellm.completion(**self._kw(False))

    def stream(self, big: bool = True) -> int:
        return sum(1 for _ in self.litellm.completion(**self._kw(big), stream=True))

    async def acall(self) -> Any:
        return await self.litellm.acompletion(**self._kw(False))

    async def astream(self, big: bool = True) -> int:
        n = 0
        async for _ in await self.litellm.acompletion(**self._kw(big), stream=True):
            n += 1
        return n


class LiteLLMUrl(LiteLLM):
    name = 'litellm completion (model="huggingface/<url>")'
    label = 'completion(model="huggingface/" + url): the form the issue names'

    def _kw(self, big: bool) -> dict[str, Any]:
        url = self.big if big else self.small
        return {"model": "huggingface/" + url, "messages": MESSAGES, "max_tokens": BIG if big else SMALL}


#: Client ids (used on the command line and in the JSON) -> client classes, in table order.
CLIENTS: dict[str, type[Client]] = {
    "raw": Raw,
    "raw-generate": RawGenerate,
    "httpx": RawHttpx,
    "ours-chat": Ours,
    "ours-native": OursNative,
    "ours-generate": OursGenerate,
    "ours-langchain": OursLangChain,
    "ours-llama-index": OursLlamaIndex,
    "langchain-floor": LangChainFloor,
    "llama-index-floor": LlamaIndexFloor,
    "langchain-raw-floor": LangChainRawFloor,
    "llama-index-raw-floor": LlamaIndexRawFloor,
    "hub-chat": HubChat,
    "hub-generate": HubGenerate,
    "text-generation": TextGeneration,
    "langchain-huggingface": LangChainHF,
    "langchain-huggingface-llm": LangChainHFLLM,
    "llama-index-hf-api": LlamaIndexHF,
    "litellm": LiteLLM,
    "litellm-url": LiteLLMUrl,
}
