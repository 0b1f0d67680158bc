"""Query engines, chat engines, ``Settings.llm`` and token counting, on a real index (its embeddings from the scripted
TEI server: deterministic vectors over real HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer

from llama_index_hf_endpoint import HFEndpoint, HFEndpointEmbedding

REPLY = "Hello from the scripted backend."
DOCS = [
    Document(text="The Eiffel Tower is in Paris. It was finished in 1889."),
    Document(text="Mount Fuji is the highest mountain in Japan."),
]


@pytest.fixture
async def index(tei_url: str) -> AsyncIterator[VectorStoreIndex]:
    embed_model = HFEndpointEmbedding(base_url=tei_url)
    yield VectorStoreIndex.from_documents(DOCS, embed_model=embed_model)
    await embed_model.aclose()


def _memory() -> ChatMemoryBuffer:
    # The chat engines' default ``Memory`` keeps an in-memory aiosqlite database that LlamaIndex never closes
    # (a ResourceWarning at garbage collection, which this suite treats as an error); the buffer is plain Python.
    return ChatMemoryBuffer.from_defaults(token_limit=3000)


def test_query_engine(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    engine = index.as_query_engine(llm=llm)
    for _ in range(2):
        response = engine.query("When was the Eiffel Tower finished?")
        assert str(response) == REPLY
        assert response.source_nodes


async def test_query_engine_async(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    engine = index.as_query_engine(llm=llm)
    for _ in range(2):
        assert str(await engine.aquery("When was the Eiffel Tower finished?")) == REPLY


def test_query_engine_streaming(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    engine = index.as_query_engine(llm=llm, streaming=True)
    for _ in range(2):
        response: Any = engine.query("When was the Eiffel Tower finished?")
        pieces = list(response.response_gen)
        assert len(pieces) > 1
        assert "".join(pieces) == REPLY


async def test_query_engine_async_streaming(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    engine = index.as_query_engine(llm=llm, streaming=True)
    for _ in range(2):
        response: Any = await engine.aquery("When was the Eiffel Tower finished?")
        pieces = [piece async for piece in response.async_response_gen()]
        assert "".join(pieces) == REPLY


def test_query_engine_tree_summarize(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    engine = index.as_query_engine(llm=llm, response_mode="tree_summarize", similarity_top_k=2)
    assert str(engine.query("Summarize.")) == REPLY


def test_chat_engine(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    engine = index.as_chat_engine(llm=llm, memory=_memory())
    assert str(engine.chat("Where is the Eiffel Tower?")) == REPLY
    assert str(engine.chat("And when was it finished?")) == REPLY  # with history now
    streamed = engine.stream_chat("Tell me more.")
    assert "".join(streamed.response_gen) == REPLY
    assert len(engine.chat_history) == 6


async def test_chat_engine_async(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    engine = index.as_chat_engine(llm=llm, memory=_memory())
    assert str(await engine.achat("Where is the Eiffel Tower?")) == REPLY
    streamed = await engine.astream_chat("And when was it finished?")
    assert "".join([piece async for piece in streamed.async_response_gen()]) == REPLY


@pytest.mark.parametrize("mode", ["simple", "context", "condense_question"])
def test_other_chat_modes(index: VectorStoreIndex, llm: HFEndpoint, mode: str) -> None:
    engine = index.as_chat_engine(chat_mode=mode, llm=llm, memory=_memory())
    assert REPLY in str(engine.chat("Where is the Eiffel Tower?"))


@pytest.mark.usefixtures("restore_settings")
async def test_settings_llm(make_llm: Any, tei_url: str) -> None:
    Settings.llm = make_llm()
    Settings.embed_model = embed_model = HFEndpointEmbedding(base_url=tei_url)
    engine = VectorStoreIndex.from_documents(DOCS).as_query_engine()
    assert isinstance(engine._response_synthesizer._llm, HFEndpoint)
    assert str(engine.query("Where is Mount Fuji?")) == REPLY
    assert str(await engine.aquery("Where is Mount Fuji?")) == REPLY
    await embed_model.aclose()


def _counter() -> TokenCountingHandler:
    # The tokenizer only matters when a response has no usage; ours always has the server's counts.
    return TokenCountingHandler(tokenizer=lambda text: text.split())


async def test_token_counting_every_method(llm: HFEndpoint) -> None:
    """One LLM event per call, each with the server's own counts (5 prompt + 7 completion tokens)."""
    counter = _counter()
    llm.callback_manager = CallbackManager([counter])
    messages = [ChatMessage(role="user", content="hi")]
    llm.chat(messages)
    llm.complete("hi")
    list(llm.stream_chat(messages))
    list(llm.stream_complete("hi"))
    await llm.achat(messages)
    await llm.acomplete("hi")
    [r async for r in await llm.astream_chat(messages)]
    [r async for r in await llm.astream_complete("hi")]
    assert len(counter.llm_token_counts) == 8
    assert {(e.prompt_token_count, e.completion_token_count) for e in counter.llm_token_counts} == {(5, 7)}
    assert counter.total_llm_token_count == 8 * 12


@pytest.mark.usefixtures("restore_settings")
def test_token_counting_in_a_query_engine(index: VectorStoreIndex, llm: HFEndpoint) -> None:
    counter = _counter()
    Settings.callback_manager = CallbackManager([counter])
    engine = index.as_query_engine(llm=llm)
    engine.query("When was the Eiffel Tower finished?")
    (event,) = counter.llm_token_counts
    assert event.completion_token_count == 7
    assert event.prompt_token_count > 20  # the server's count of the whole RAG prompt, not an estimate of it
