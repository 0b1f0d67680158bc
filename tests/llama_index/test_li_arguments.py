"""``HFEndpoint`` (issue 13): constructor arguments (item 4), ``complete`` with ``formatted`` / ``is_chat_model``
(item 11), and ``metadata`` on OpenAI-compatible servers and inside a running event loop (item 12). Against the
scripted server over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate

from hf_endpoint import InvalidRequestError
from hf_endpoint.server import LocalServer
from llama_index_hf_endpoint import HFEndpoint

KEY = "hf_topsecret_0123456789"


def _body(server: LocalServer) -> dict[str, Any]:
    record = server.last_request()
    assert record is not None
    body: dict[str, Any] = json.loads(record["body"])
    return body


# ------------------------------------------------------------------------------------------------ item 4


def test_llamaindex_hf_names_are_taken_and_sent(scripted: LocalServer) -> None:
    """HFEndpoint(token=..., max_new_tokens=..., generate_kwargs=...) dropped all three."""
    llm = HFEndpoint(
        model_url=scripted.url, token=KEY, max_new_tokens=5, generate_kwargs={"top_k": 3}, top_p=0.5, temperature=0
    )
    assert (llm.base_url, llm.max_tokens) == (scripted.url, 5)
    llm.chat([ChatMessage(role="user", content="hi")])
    body = _body(scripted)
    assert (body["max_tokens"], body["top_k"], body["top_p"]) == (5, 3, 0.5)
    assert scripted.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"  # type: ignore[index]
    assert HFEndpoint(endpoint_url=scripted.url).base_url == scripted.url


def test_serialization_round_trips_without_the_key(scripted: LocalServer) -> None:
    llm = HFEndpoint(scripted.url, token=KEY, max_new_tokens=5, repetition_penalty=1.1, is_chat_model=False)
    data = llm.to_dict()
    assert KEY not in json.dumps(data)
    again = HFEndpoint.from_dict(data)
    assert again.to_dict() == data
    assert (again.max_tokens, again.additional_kwargs, again.is_chat_model) == (5, {"repetition_penalty": 1.1}, False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temprature": 0}, "unknown argument 'temprature': did you mean 'temperature'?"),
        ({"max_token": 5}, "did you mean 'max_tokens'?"),
        ({"model_name": "HuggingFaceH4/zephyr-7b-beta"}, "pass base_url="),
        ({"num_output": 5}, "use max_tokens="),
        ({"max_tokens": 5, "max_new_tokens": 6}, "'max_new_tokens' and 'max_tokens' mean the same thing"),
        ({"api_key": KEY, "token": KEY}, "'token' and 'api_key' mean the same thing"),
    ],
)
def test_unknown_arguments_are_refused_naming_the_right_one(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match="HFEndpoint") as info:
        HFEndpoint("http://127.0.0.1:9", **kwargs)
    assert message in str(info.value)
    assert KEY not in str(info.value)


def test_no_url_says_which_argument() -> None:
    with pytest.raises(InvalidRequestError, match="needs base_url="):
        HFEndpoint(token=KEY)


# ------------------------------------------------------------------------------------------------ item 11


def test_formatted_prompt_is_sent_as_is(make_llm: Any, scripted: LocalServer) -> None:
    """complete(prompt, formatted=True) wrapped an already formatted prompt in the chat template."""
    llm = make_llm(max_tokens=5)
    prompt = "<|user|>One, two, three,<|assistant|>"
    response = llm.complete(prompt, formatted=True)
    record = scripted.last_request()
    assert record is not None and record["path"] == "/generate"
    assert _body(scripted)["inputs"] == prompt
    assert response.text == "Hello from the scripted backend"  # the scripted reply's 5 first tokens
    assert response.additional_kwargs["finish_reason"] == "length"
    assert response.additional_kwargs["completion_tokens"] == 5
    streamed = list(llm.stream_complete(prompt, formatted=True))
    assert "".join(r.delta or "" for r in streamed) == streamed[-1].text == response.text
    assert _body(scripted)["inputs"] == prompt
    llm.complete("One, two, three,")  # a chat model without formatted=True: one user message, as before
    assert scripted.last_request()["path"] == "/v1/chat/completions"  # type: ignore[index]


async def test_formatted_prompt_async(make_llm: Any, scripted: LocalServer) -> None:
    llm = make_llm(max_tokens=5)
    assert (await llm.acomplete("One, two,", formatted=True)).text == "Hello from the scripted backend"
    assert _body(scripted)["inputs"] == "One, two,"
    streamed = [r async for r in await llm.astream_complete("Three, four,", formatted=True)]
    assert streamed[-1].text == "Hello from the scripted backend"
    assert _body(scripted)["inputs"] == "Three, four,"


def test_base_model_completes_the_prompt_itself(make_llm: Any, scripted: LocalServer) -> None:
    """is_chat_model=False: complete() continues the prompt (through completion_to_prompt), and LlamaIndex's
    predict formats a prompt instead of messages for it."""
    llm = make_llm(is_chat_model=False, completion_to_prompt=lambda p: f"Q: {p}\nA:")
    assert llm.metadata.is_chat_model is False
    llm.complete("One, two, three,")
    assert _body(scripted)["inputs"] == "Q: One, two, three,\nA:"
    llm.predict(PromptTemplate("Count: {start}"), start="one, two,")
    assert _body(scripted)["inputs"] == "Q: Count: one, two,\nA:"  # formatted once, by LlamaIndex: sent as is


# ------------------------------------------------------------------------------------------------ item 12


def test_model_name_from_v1_models(make_llm: Any, scripted: LocalServer) -> None:
    """An OpenAI-compatible server has no /info, but /v1/models names the model: metadata said 'unknown'."""
    scripted.configure(mode="openai")
    assert make_llm(context_window=2048).metadata.model_name == "hf-endpoint/scripted"


async def test_metadata_in_a_running_loop_does_not_block(make_llm: Any, scripted: LocalServer) -> None:
    """metadata made a blocking /info request inside the running loop; now it reports what is known and fetches
    /info in the background."""
    llm = make_llm(context_window=1000)
    meta = llm.metadata
    assert scripted.stats()["requests"].get("/info") is None  # no request while the loop was held
    assert (meta.context_window, meta.model_name) == (1000, "unknown")
    for _ in range(500):  # the background fetch runs while the loop is free (waiting here, not timing anything)
        await asyncio.sleep(0.01)
        if llm.metadata.model_name != "unknown":
            break
    assert llm.metadata.model_name == "hf-endpoint/scripted"
    assert scripted.stats()["requests"].get("/info") == 1
