"""The tiny backend: Gemma 3 270M (base model, Q4_K_M GGUF) on llama.cpp through ``xllamacpp``.

One generation runs at a time, on a dedicated worker thread, so the event loop keeps serving
other requests (health, info, tokenize) while the model works. llama.cpp streams each token to a
callback on that thread; the callback hands it to the event loop and stops llama.cpp (by returning
True) as soon as the driver closes the stream (stop sequence, client gone).

Tokenization uses llama.cpp's own tokenizer through the HTTP server ``xllamacpp`` embeds (bound to
127.0.0.1 and protected by a random key; xllamacpp has no direct tokenize call). Generation takes
the prompt as token ids, so what the model sees is exactly what ``/tokenize`` and the input-length
validation counted.

Logprobs are llama.cpp's pre-sampling log-softmax of the chosen token (real, <= 0). A character made
of several tokens (byte-fallback tokens, split UTF-8) reaches us from llama.cpp's stream as one entry,
the last token's: like TGI, each token becomes its own step, the leading ones with empty text, a null
logprob and the ids llama.cpp's tokenizer gives the character. (Counting entries instead made
``max_new_tokens`` fall short and the driver fail with "ended a sequence without EOS"; and llama.cpp
drops a character cut off by ``max_tokens``, so it is asked for a few tokens more than the driver keeps.)
When the model stops by itself (EOS or a finished grammar), llama.cpp does not report the EOS token, so a final
``<eos>`` token is added with ``special: true`` and a null logprob (TGI serializes NaN as null).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import xllamacpp

from ._gguf import read_metadata
from ._model_file import model_path as default_model_path
from ._model_template import ModelTemplate
from ._tiny_prompting import END_OF_TURN, chat_prompt, json_schema_for_llama, regex_grammar
from ._types import GenParams, Prompt, SimpleToken, Step, Token

__all__ = ["TinyBackend"]

EOS_ID = 1
EOS_TEXT = "<eos>"
_DONE = object()
# A UTF-8 character is at most 4 bytes, so at most 3 tokens follow the one the driver may stop on.
_CHAR_MARGIN = 3


class TinyBackend:
    """A real language model on the CPU; see the module docstring."""

    end_of_turn: tuple[str, ...] = END_OF_TURN
    text_after_tool_result = False
    instant = False

    def __init__(
        self,
        *,
        model_path: str | None = None,
        n_ctx: int = 4096,
        threads: int = 1,
        model_id: str = "google/gemma-3-270m",
        max_input_tokens: int | None = None,
    ) -> None:
        self.model_id = model_id
        self.max_total_tokens = n_ctx
        self.max_input_tokens = max_input_tokens if max_input_tokens is not None else n_ctx - 1
        self._key = secrets.token_hex(16)
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path or default_model_path())
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1
        params.api_keys = [self._key]
        self._server: Any = xllamacpp.Server(params)
        self._address = str(self._server.listening_address)
        # Like TGI, the chat route uses the model's own template when its file has one (the packaged Gemma base
        # model has none: the question/answer layout, whose answer ends at a newline).
        self.template = self._model_template(params.model.path)
        if self.template is not None:
            self.end_of_turn = ()  # the template's end of turn is an EOS token, which llama.cpp stops on
        # One worker: llama.cpp generations are serialized, never interleaved.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiny-llama")
        self._session: aiohttp.ClientSession | None = None

    # -- tokenizer -------------------------------------------------------------------------

    async def tokenize(self, text: str, add_special_tokens: bool) -> list[SimpleToken]:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self._key}"})
        payload = {"content": text, "add_special": add_special_tokens, "parse_special": True, "with_pieces": True}
        async with self._session.post(f"{self._address}/tokenize", json=payload) as response:
            response.raise_for_status()
            data = await response.json()
        return _spans(text, data["tokens"])

    # -- generation ------------------------------------------------------------------------

    def _request(self, prompt: Prompt, params: GenParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": [t.id for t in prompt.tokens],
            # The driver stops at max_new_tokens; the margin lets a character cut there complete (see above).
            "max_tokens": max(
                min(params.max_new_tokens + _CHAR_MARGIN, self.max_total_tokens - len(prompt.tokens)),
                params.max_new_tokens,
            ),
            "stream": True,
            "timings_per_token": True,  # each chunk's running token count (predicted_n)
            "n_probs": max(params.top_n_tokens, 1),
            "post_sampling_probs": False,
            "temperature": params.temperature if params.do_sample else 0.0,
            "top_k": params.top_k,
            "top_p": params.top_p,
            "min_p": 0.0,
            "typical_p": params.typical_p,
            "repeat_penalty": params.repetition_penalty,
            "frequency_penalty": params.frequency_penalty,
            # Reusing a cached prompt prefix changes how the prompt is batched and so, slightly, the logits: greedy
            # answers then depend on what ran before. Determinism matters more here than the saved prefill.
            "cache_prompt": False,
        }
        if params.seed is not None:
            body["seed"] = params.seed % 0xFFFFFFFF
        grammar = params.grammar
        if grammar is not None and grammar.kind == "json":
            body["json_schema"] = json_schema_for_llama(grammar.value)
        elif grammar is not None:
            body["grammar"] = regex_grammar(str(grammar.value))
        return body

    async def generate(self, prompt: Prompt, params: GenParams) -> AsyncGenerator[Step, None]:
        request = self._request(prompt, params)  # raises TGI-style 422s for bad grammars
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()
        # One generation at a time: the wait for the worker is this request's queue time (x-queue-time).
        submitted = time.perf_counter()
        began: list[float] = []

        def on_chunk(chunk: Any) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return cancelled.is_set()

        def work() -> None:
            began.append(time.perf_counter())
            try:
                result = self._server.handle_completions(request, on_chunk)
                if isinstance(result, dict) and "error" in result:
                    loop.call_soon_threadsafe(queue.put_nowait, RuntimeError(str(result["error"])))
            except Exception as exc:  # reported to the request, not lost in the worker
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        future = loop.run_in_executor(self._worker, work)
        counted = 0  # tokens yielded so far, to compare with llama.cpp's running count
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, dict) and "error" in item:
                    raise RuntimeError(str(item["error"]))
                steps = _steps(item, params.top_n_tokens)
                produced = (item.get("timings") or {}).get("predicted_n") if isinstance(item, dict) else None
                entries = sum(1 for s in steps if not s.token.special)
                if isinstance(produced, int) and entries == 1 and produced - counted > 1:
                    steps[:0] = await self._leading_tokens(steps[0].token, produced - counted)
                if steps and counted == 0 and began:
                    steps[0].queued = began[0] - submitted
                for step in steps:
                    counted += not step.token.special
                    yield step
        finally:
            cancelled.set()
            # The worker stops at llama.cpp's next token; don't hold up the caller for it.
            future.add_done_callback(lambda f: f.exception())

    async def _leading_tokens(self, last: Token, count: int) -> list[Step]:
        """The ``count - 1`` tokens before ``last`` that llama.cpp folded into its entry for one character."""
        ids = [t.id for t in await self.tokenize(last.text, False)]
        if len(ids) != count or ids[-1] != last.id:  # not its usual spelling: the count is still right
            ids = [last.id] * count
        return [Step(Token(i, "", None, False), []) for i in ids[:-1]]

    def prefill(self, prompt: Prompt) -> list[dict[str, Any]]:
        # Like TGI's flash models without --enable-prefill-logprobs: no prompt logprobs.
        return []

    def chat_prompt(self, messages: list[dict[str, Any]], tools_text: str | None) -> str:
        if self.template is not None:
            return self.template.render(messages, tools_text)
        return chat_prompt(messages, tools_text)

    def _model_template(self, path: str) -> ModelTemplate | None:
        source = read_metadata(path, {"tokenizer.chat_template"}).get("tokenizer.chat_template")
        if not isinstance(source, str) or not source.strip():
            return None
        # The BOS and EOS texts the template writes, as llama.cpp's tokenizer spells them.
        request = urllib.request.Request(f"{self._address}/props", headers={"Authorization": f"Bearer {self._key}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        with opener.open(request, timeout=30) as response:
            props = json.loads(response.read())
        return ModelTemplate(
            source, bos_token=str(props.get("bos_token") or ""), eos_token=str(props.get("eos_token") or "")
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._server = None


def _steps(chunk: dict[str, Any], top_n: int) -> list[Step]:
    """Tokens of one streamed llama.cpp chunk (usually one; more after split UTF-8)."""
    choices = chunk.get("choices") or []
    if not choices:
        return []
    choice = choices[0]
    text = str(choice.get("text") or "")
    entries = (choice.get("logprobs") or {}).get("content") or []
    steps = []
    for i, entry in enumerate(entries):
        # The chunk's text belongs to its last token; earlier ones were incomplete UTF-8.
        token_text = text if i == len(entries) - 1 else ""
        token = Token(int(entry["id"]), token_text, min(float(entry["logprob"]), 0.0), False)
        tops = [
            Token(int(t["id"]), str(t.get("token", "")), min(float(t["logprob"]), 0.0), False)
            for t in (entry.get("top_logprobs") or [])[:top_n]
        ]
        steps.append(Step(token, tops if top_n > 0 else []))
    if choice.get("finish_reason") == "stop":
        steps.append(Step(Token(EOS_ID, EOS_TEXT, None, True), []))
    return steps


def _spans(text: str, tokens: list[dict[str, Any]]) -> list[SimpleToken]:
    """Character spans of llama.cpp's token pieces within ``text``."""
    out = []
    pos = 0
    pending = b""
    for item in tokens:
        piece = item.get("piece", "")
        if isinstance(piece, list):  # bytes of a partial UTF-8 character
            pending += bytes(piece)
            try:
                piece = pending.decode("utf-8")
                pending = b""
            except UnicodeDecodeError:
                out.append(SimpleToken(int(item["id"]), "", pos, pos))
                continue
        found = text.find(piece, pos) if piece else -1
        if found == pos or (found > pos and not text[pos:found].strip()):
            start, stop = found, found + len(piece)
            pos = stop
        else:  # a special token added by the tokenizer (BOS), not present in the text
            start = stop = pos
        out.append(SimpleToken(int(item["id"]), text[start:stop], start, stop))
    return out
