"""Structured output through TGI's grammar (``response_format`` -> a JSON-schema grammar), on both routes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

from hf_endpoint import LengthLimitError
from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint

PROMPT = PromptTemplate("Invent an album about {topic}.")


class Track(BaseModel):
    title: str
    seconds: int


class Album(BaseModel):
    """A music album."""

    name: str
    year: int
    tracks: list[Track]  # a nested model: the schema has $defs/$ref


def _grammar_sent(scripted: LocalServer) -> dict[str, Any]:
    body = json.loads(scripted.last_request()["body"])
    if "parameters" in body:  # the native route
        grammar: dict[str, Any] = body["parameters"]["grammar"]
        return grammar
    fmt: dict[str, Any] = body["response_format"]
    return fmt


def test_structured_predict(route_llm: HFEndpoint, scripted: LocalServer) -> None:
    for _ in range(2):
        album = route_llm.structured_predict(Album, PROMPT, topic="cats")
        assert isinstance(album, Album)
        assert album.tracks and isinstance(album.tracks[0], Track)
        grammar = _grammar_sent(scripted)
        assert grammar["type"] == "json"
        assert grammar["value"]["properties"].keys() == {"name", "year", "tracks"}
        assert "tools" not in json.loads(scripted.last_request()["body"])


async def test_astructured_predict(route_llm: HFEndpoint) -> None:
    for _ in range(2):
        album = await route_llm.astructured_predict(Album, PROMPT, topic="cats")
        assert isinstance(album, Album)


def test_stream_structured_predict(route_llm: HFEndpoint) -> None:
    partials = list(route_llm.stream_structured_predict(Album, PROMPT, topic="cats"))
    assert len(partials) > 1
    final = Album.model_validate(partials[-1].model_dump())
    assert final.tracks


async def test_astream_structured_predict(route_llm: HFEndpoint) -> None:
    partials = [p async for p in await route_llm.astream_structured_predict(Album, PROMPT, topic="cats")]
    assert Album.model_validate(partials[-1].model_dump()).tracks


def test_as_structured_llm(llm: HFEndpoint) -> None:
    structured = llm.as_structured_llm(Album)
    response = structured.chat([ChatMessage(role="user", content="Invent an album.")])
    assert isinstance(response.raw, Album)
    assert Album.model_validate_json(response.message.content or "") == response.raw
    assert isinstance(structured.complete("Invent an album.").raw, Album)


async def test_as_structured_llm_async(llm: HFEndpoint) -> None:
    structured = llm.as_structured_llm(Album)
    response = await structured.achat([ChatMessage(role="user", content="Invent an album.")])
    assert isinstance(response.raw, Album)


# LlamaIndex's StructuredLLM.(a)stream_chat calls pydantic's deprecated ``.json()`` (llama-index-core 0.14.25).
@pytest.mark.filterwarnings("ignore:The `json` method is deprecated:pydantic.warnings.PydanticDeprecatedSince20")
async def test_as_structured_llm_streaming(llm: HFEndpoint) -> None:
    structured = llm.as_structured_llm(Album)
    streamed = list(structured.stream_chat([ChatMessage(role="user", content="Invent an album.")]))
    assert Album.model_validate(streamed[-1].raw.model_dump()).tracks
    chunks = [c async for c in await structured.astream_chat([ChatMessage(role="user", content="Invent an album.")])]
    assert Album.model_validate(chunks[-1].raw.model_dump()).tracks


def test_other_program_modes_use_llamaindex_programs(make_llm: Any, scripted: LocalServer) -> None:
    """``pydantic_program_mode=FUNCTION`` keeps LlamaIndex's own program: a forced tool call, no grammar."""
    llm = make_llm(pydantic_program_mode=PydanticProgramMode.FUNCTION)
    album = llm.structured_predict(Album, PROMPT, topic="cats")
    assert isinstance(album, Album)
    body = json.loads(scripted.last_request()["body"])
    assert body["tools"][0]["function"]["name"] == "Album"
    assert "response_format" not in body


class Joke(BaseModel):
    setup: str
    punchline: str


# The scripted JSON {"setup":"example","punchline":"example"}, one word or mark per token: 15 tokens stop inside the
# last string, which the partial-JSON parser completes into a valid Joke.
CUT = 15


def test_stream_structured_predict_cut_off_is_an_error(route_options: dict[str, Any], make_llm: Any) -> None:
    """Issue 13, item 1 (LlamaIndex's streaming path): the last partial object looked whole; now the stream ends
    with an error naming the limit, like the non-stream call."""
    llm = make_llm(max_tokens=CUT, **route_options)
    with pytest.raises(LengthLimitError, match="raise max_tokens"):
        llm.structured_predict(Joke, PROMPT, topic="cats")
    partials: list[Any] = []
    with pytest.raises(LengthLimitError, match="raise max_tokens"):
        partials.extend(llm.stream_structured_predict(Joke, PROMPT, topic="cats"))
    assert partials  # the partial objects streamed before the error


async def test_astream_structured_predict_cut_off_is_an_error(make_llm: Any) -> None:
    llm = make_llm(max_tokens=CUT)
    with pytest.raises(LengthLimitError):
        _ = [p async for p in await llm.astream_structured_predict(Joke, PROMPT, topic="cats")]
