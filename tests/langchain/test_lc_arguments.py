"""``ChatHFEndpoint``'s constructor arguments and token counting (issue 13, items 4 and 6), against the scripted
server: other integrations' names are taken and sent, anything unknown is refused naming the right one, and
``get_num_tokens`` / ``trim_messages(token_counter=llm)`` count with the server's own ``/tokenize``."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages
from lc_helpers import last_body

from hf_endpoint import InvalidRequestError, NotFoundError
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint

pytestmark = pytest.mark.usefixtures("close_pooled_clients")

KEY = "hf_topsecret_0123456789"


def test_langchain_huggingface_names_are_taken_and_sent(scripted: LocalServer) -> None:
    """ChatHFEndpoint(endpoint_url=U, max_new_tokens=5) sent no limit: the argument was dropped."""
    llm = ChatHFEndpoint(
        endpoint_url=scripted.url,
        max_new_tokens=5,
        huggingfacehub_api_token=KEY,
        top_k=3,
        repetition_penalty=1.2,
        stop_sequences=["END"],
    )
    assert llm.api_key is not None and llm.api_key.get_secret_value() == KEY
    llm.invoke("hi")
    body = last_body(scripted)
    assert (body["max_tokens"], body["top_k"], body["repetition_penalty"], body["stop"]) == (5, 3, 1.2, ["END"])
    assert scripted.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"  # type: ignore[index]
    ChatHFEndpoint(base_url=scripted.url, max_completion_tokens=4).invoke("hi")
    assert last_body(scripted)["max_tokens"] == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temprature": 0}, "unknown argument 'temprature': did you mean 'temperature'?"),
        ({"max_token": 5}, "did you mean 'max_tokens'?"),
        ({"top_kk": 5}, "did you mean 'top_k'?"),
        ({"repo_id": "HuggingFaceH4/zephyr-7b-beta"}, "pass base_url="),
        ({"do_sample": False}, "temperature=0"),
        ({"max_tokens": 5, "max_new_tokens": 6}, "'max_new_tokens' and 'max_tokens' mean the same thing"),
    ],
)
def test_unknown_arguments_are_refused_naming_the_right_one(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match="ChatHFEndpoint") as info:
        ChatHFEndpoint(base_url="http://127.0.0.1:9", api_key=KEY, **kwargs)
    assert message in str(info.value)
    assert KEY not in str(info.value)  # the key is not echoed with the arguments


def test_get_num_tokens_counts_with_the_servers_tokenize(scripted: LocalServer) -> None:
    """get_num_tokens and trim_messages(token_counter=llm) failed with ImportError: transformers."""
    llm = ChatHFEndpoint(base_url=scripted.url)
    text = "Hello, world! How are you?"
    # The scripted tokenizer splits words and punctuation: Hello , world ! How are you ?
    assert llm.get_num_tokens(text) == 8
    assert llm.get_token_ids(text) == [t.id for t in llm.client.tokenize(text)]
    before = scripted.stats()["total"]
    assert llm.get_num_tokens(text) == 8  # remembered per text: no second request
    assert scripted.stats()["total"] == before
    messages = [
        SystemMessage("You are nice."),
        HumanMessage("Hi there, how are you?"),
        AIMessage("Fine, and you?"),
        HumanMessage("What is the weather?"),
    ]
    assert llm.get_num_tokens_from_messages(messages) > llm.get_num_tokens_from_messages(messages[-1:])
    kept = trim_messages(messages, token_counter=llm, max_tokens=15, strategy="last", include_system=True)
    assert kept == [messages[0], messages[-1]]


def test_get_num_tokens_without_tokenize_says_what_to_do(scripted: LocalServer) -> None:
    scripted.configure(mode="openai")  # a vLLM-like server: no /tokenize
    llm = ChatHFEndpoint(base_url=scripted.url, max_retries=0)
    with pytest.raises(NotFoundError, match="custom_get_token_ids="):
        llm.get_num_tokens("hello")
    counted = ChatHFEndpoint(base_url=scripted.url, custom_get_token_ids=lambda text: list(range(len(text.split()))))
    assert counted.get_num_tokens("one two three") == 3
