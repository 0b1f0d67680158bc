"""The tiny backend: a real model (Gemma 3 270M on llama.cpp) behind the TGI protocol."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
import requests

from hf_endpoint.server import LocalServer
from hf_endpoint.server._gguf import read_metadata
from hf_endpoint.server._model_file import model_path

from ._gguf_writer import with_string_metadata
from ._helpers import sse_json, validate

pytestmark = pytest.mark.tiny

FRANCE = "Question: What is the capital of France?\nAnswer:"
IP = r"((25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(25[0-5]|2[0-4]\d|[01]?\d\d?)"


def post(url: str, path: str, body: object) -> requests.Response:
    return requests.post(url + path, json=body, timeout=120)


def test_info_reports_the_model(tiny_url: str) -> None:
    info = requests.get(tiny_url + "/info", timeout=10).json()
    validate(info, "Info")
    assert info["model_id"] == "google/gemma-3-270m"
    assert info["model_pipeline_tag"] == "text-generation"
    assert info["max_total_tokens"] == 4096


def test_greedy_answer_is_paris_with_real_logprobs(tiny_url: str) -> None:
    params = {"max_new_tokens": 5, "details": True, "top_n_tokens": 3}
    body = post(tiny_url, "/generate", {"inputs": FRANCE, "parameters": params}).json()
    validate(body, "GenerateResponse")
    assert "Paris" in body["generated_text"]
    details = body["details"]
    assert details["seed"] is None  # greedy
    for token, tops in zip(details["tokens"], details["top_tokens"], strict=True):
        assert token["logprob"] is None or token["logprob"] <= 0
        assert [t["logprob"] for t in tops] == sorted((t["logprob"] for t in tops), reverse=True)
        assert tops[0]["id"] == token["id"]  # greedy picks the most likely token


def test_stream_tokens_concatenate_to_the_final_text(tiny_url: str) -> None:
    params = {"max_new_tokens": 8, "details": True}
    events = sse_json(post(tiny_url, "/generate_stream", {"inputs": FRANCE, "parameters": params}))
    for event in events:
        validate(event, "StreamResponse")
    final = events[-1]
    text = "".join(e["token"]["text"] for e in events if not e["token"]["special"])
    assert text == final["generated_text"]
    assert final["details"]["generated_tokens"] == len(events)
    assert final["details"]["input_length"] == 13
    assert all(e["token"]["logprob"] is None or e["token"]["logprob"] <= 0 for e in events)


def test_stop_sequence_is_kept(tiny_url: str) -> None:
    params = {"max_new_tokens": 10, "stop": ["\n"], "details": True}
    body = post(tiny_url, "/generate", {"inputs": FRANCE, "parameters": params}).json()
    assert body["details"]["finish_reason"] == "stop_sequence"
    assert body["generated_text"].endswith("\n")


def test_json_schema_grammar_yields_valid_json(tiny_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string", "enum": ["Paris", "London", "Rome"]},
            "population_millions": {"type": "integer", "minimum": 0, "maximum": 50},
        },
        "required": ["city", "population_millions"],
    }
    params = {"max_new_tokens": 40, "grammar": {"type": "json", "value": schema}, "details": True}
    inputs = "Question: Describe the capital of France as JSON.\nAnswer:"
    body = post(tiny_url, "/generate", {"inputs": inputs, "parameters": params}).json()
    assert body["details"]["finish_reason"] == "eos_token"
    jsonschema.validate(json.loads(body["generated_text"]), schema)


def test_regex_grammar(tiny_url: str) -> None:
    params = {"max_new_tokens": 20, "grammar": {"type": "regex", "value": IP}}
    inputs = "Question: What is the IP address of the Google DNS servers?\nAnswer: "
    body = post(tiny_url, "/generate", {"inputs": inputs, "parameters": params}).json()
    assert re.fullmatch(IP, body["generated_text"])


def test_unsupported_regex_is_a_422(tiny_url: str) -> None:
    params = {"max_new_tokens": 5, "grammar": {"type": "regex", "value": r"(?=a)b"}}
    r = post(tiny_url, "/generate", {"inputs": "x", "parameters": params})
    assert r.status_code == 422
    assert r.json()["error"].startswith("Input validation error: grammar is not valid: ")


def test_seed_makes_sampling_reproducible(tiny_url: str) -> None:
    params = {"max_new_tokens": 8, "do_sample": True, "temperature": 1.0, "seed": 42, "details": True}
    first = post(tiny_url, "/generate", {"inputs": "Once upon a time", "parameters": params}).json()
    second = post(tiny_url, "/generate", {"inputs": "Once upon a time", "parameters": params}).json()
    assert first["generated_text"] == second["generated_text"]
    assert first["details"]["seed"] == 42


def test_tokenize_uses_the_real_tokenizer(tiny_url: str) -> None:
    tokens = post(tiny_url, "/tokenize", {"inputs": "Hello wörld"}).json()
    validate(tokens, "TokenizeResponse")
    assert tokens[0] == {"id": 2, "text": "", "start": 0, "stop": 0}  # Gemma's <bos>
    assert tokens[1] == {"id": 9259, "text": "Hello", "start": 0, "stop": 5}
    assert "".join(t["text"] for t in tokens) == "Hello wörld"


def test_chat_greedy_answer(tiny_url: str) -> None:
    request = {
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 10,
        "temperature": 0,
        "logprobs": True,
    }
    body = post(tiny_url, "/v1/chat/completions", request).json()
    validate(body, "ChatCompletion")
    assert "Paris" in body["choices"][0]["message"]["content"]
    assert body["usage"]["prompt_tokens"] == 13
    assert all(item["logprob"] <= 0 for item in body["choices"][0]["logprobs"]["content"])
    tokenized = post(tiny_url, "/chat_tokenize", request).json()
    assert tokenized["templated_text"] == "<bos>" + FRANCE


def test_chat_stream_concatenates(tiny_url: str) -> None:
    request = {
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 10,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    chunks = sse_json(post(tiny_url, "/v1/chat/completions", request))
    usage = chunks.pop()
    assert usage["choices"] == []
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks)
    assert "Paris" in text
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_chat_tool_call(tiny_url: str) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "maxLength": 20}},
                    "required": ["city"],
                },
            },
        }
    ]
    request = {
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": tools,
        "tool_choice": "required",
        "max_tokens": 40,
        "temperature": 0,
    }
    body = post(tiny_url, "/v1/chat/completions", request).json()
    validate(body, "ChatCompletion")
    message = body["choices"][0]["message"]
    assert "content" not in message
    call = message["tool_calls"][0]
    assert (call["id"], call["type"], call["function"]["name"]) == ("0", "function", "get_weather")
    assert set(json.loads(call["function"]["arguments"])) == {"city"}
    chunks = sse_json(post(tiny_url, "/v1/chat/completions", {**request, "stream": True}))
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks]
    assert calls[0]["function"] == {"name": "get_weather", "arguments": "{"}
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == json.loads(call["function"]["arguments"])


def test_chat_response_format(tiny_url: str) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 30}}, "required": ["answer"]}
    request = {
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 30,
        "temperature": 0,
        "response_format": {"type": "json_object", "value": schema},
    }
    body = post(tiny_url, "/v1/chat/completions", request).json()
    jsonschema.validate(json.loads(body["choices"][0]["message"]["content"]), schema)


# A character llama.cpp spells with several byte tokens (Gemma's byte fallback): its stream reports the character
# once, as one entry. Each token must still count, as in TGI, or max_new_tokens is never reached.
FLAMINGOS = "🦩🦩🦩🦩🦩🦩🦩"


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_a_character_of_several_tokens_counts_each_token(tiny_url: str, n: int) -> None:
    params = {"max_new_tokens": n, "details": True}
    response = post(tiny_url, "/generate", {"inputs": FLAMINGOS, "parameters": params})
    assert response.status_code == 200, response.text
    details = response.json()["details"]
    assert details["generated_tokens"] == n == len(details["tokens"])
    assert details["finish_reason"] == "length"
    events = sse_json(post(tiny_url, "/generate_stream", {"inputs": FLAMINGOS, "parameters": params}))
    assert len(events) == n and events[-1]["details"]["generated_tokens"] == n
    text = "".join(e["token"]["text"] for e in events)
    assert text == events[-1]["generated_text"] == response.json()["generated_text"]
    assert set(text) <= {"🦩"}  # whole characters only (a cut-off one has no text yet, as in TGI)


@pytest.mark.load
def test_parallel_short_sampled_requests_all_complete(tiny_url: str) -> None:
    """16 requests in flight, max_new_tokens=3, sampled (so some answers split a character over tokens): every
    one completes with its tokens. Before the fix, each answer that split a character over tokens failed with a 424
    ("ended a sequence without EOS"): what looked like a race under concurrency was those answers."""

    def one(i: int) -> tuple[int, object]:
        params = {"max_new_tokens": 3, "do_sample": True, "temperature": 1.5, "seed": i, "details": True}
        prompt = FLAMINGOS if i % 2 else "Emoji and symbols: 🦩 𓀀 ✨ 🌍"
        r = post(tiny_url, "/generate", {"inputs": prompt, "parameters": params})
        return r.status_code, (r.json().get("details") or {}).get("generated_tokens") if r.ok else r.text

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(128)))
    failures = [r for r in results if r[0] != 200]
    assert not failures, failures[:3]
    assert all(tokens in (1, 2, 3) for _, tokens in results)


# A ChatML template, as SmolLM2-Instruct's GGUF carries it, with the BOS a template writes itself.
CHATML = (
    "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def test_the_packaged_model_has_no_template_so_the_chat_route_uses_the_qa_layout(tiny_url: str) -> None:
    assert "tokenizer.chat_template" not in read_metadata(model_path(), {"tokenizer.chat_template"})
    body = post(tiny_url, "/chat_tokenize", {"messages": [{"role": "user", "content": "hi"}]}).json()
    assert body["templated_text"] == "<bos>Question: hi\nAnswer:"


def test_generate_adds_the_bos_token_once(tiny_url: str) -> None:
    """As TGI's /generate: the tokenizer's special tokens are added to the inputs (so a prompt must not bring its
    own: the client's templates write none there)."""
    ids = [t["id"] for t in post(tiny_url, "/tokenize", {"inputs": "Question: hi\nAnswer:"}).json()]
    assert ids[0] == 2 and ids.count(2) == 1


def test_chat_route_uses_the_models_own_template(tmp_path: Path) -> None:
    """With --model-path, a GGUF that carries tokenizer.chat_template is formatted with it, as TGI formats with
    the model's template (the question/answer layout suits only the packaged base model)."""
    path = with_string_metadata(model_path(), tmp_path / "chatml.gguf", {"tokenizer.chat_template": CHATML})
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    with LocalServer("tiny", model_path=str(path)) as server:
        body = post(server.url, "/chat_tokenize", {"messages": messages}).json()
        expected = (
            "<bos><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        )
        assert body["templated_text"] == expected
        assert [t["id"] for t in body["tokenize_response"]].count(2) == 1  # the template's BOS, not a second one
        answer = post(server.url, "/v1/chat/completions", {"messages": messages, "max_tokens": 4})
        assert answer.status_code == 200 and answer.json()["usage"]["completion_tokens"] >= 1


def test_timing_headers_show_the_queue(tiny_url: str) -> None:
    """The model serves one sequence at a time: requests sent together wait, and x-queue-time says for how long
    (it was always 0), x-inference-time is the rest."""

    def one(i: int) -> dict[str, int]:
        r = post(tiny_url, "/generate", {"inputs": f"Count: {i}, {i + 1},", "parameters": {"max_new_tokens": 8}})
        assert r.status_code == 200, r.text
        names = ("x-queue-time", "x-inference-time", "x-validation-time", "x-total-time", "x-generated-tokens")
        return {name: int(r.headers[name]) for name in names}

    with ThreadPoolExecutor(max_workers=4) as pool:
        headers = list(pool.map(one, range(4)))
    assert max(h["x-queue-time"] for h in headers) > 0  # at least the last one waited for three others
    for h in headers:
        parts = h["x-queue-time"] + h["x-inference-time"] + h["x-validation-time"]
        assert h["x-total-time"] - 3 <= parts <= h["x-total-time"]  # (each rounded down to whole ms)
