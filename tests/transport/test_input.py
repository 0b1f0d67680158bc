"""Bad input is refused locally, before anything is sent, with a message naming the fix; secrets stay secret;
chat templates are sandboxed."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_endpoint import (
    BUILTIN_TEMPLATES,
    AsyncTGIClient,
    HFEndpointError,
    InvalidRequestError,
    Secret,
    TGIClient,
    builtin_template_for,
    completion,
    load_chat_template,
    resolve_token,
)
from hf_endpoint._chat_route import ChatStreamConverter, parse_chat_completion
from hf_endpoint._native_chat import parse_stream_event
from hf_endpoint._protocol import error_from_response
from hf_endpoint.server import LocalServer

from ._twin import Twin

HI = [{"role": "user", "content": "Hi"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}

BAD_CHAT = [
    ({"max_tokens": -1}, "max_tokens=-1 is invalid"),
    ({"max_tokens": 0}, "max_tokens=0 is invalid"),
    ({"temperature": -0.5}, "must be >= 0"),
    ({"top_p": 1.5}, "must be in"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4 stop sequences"),
    ({"stop": [""]}, "non-empty strings"),
    ({"seed": -3}, "seed=-3"),
    ({"frequency_penalty": 3}, "between -2 and 2"),
    ({"tool_choice": "get_weather", "tools": [TOOL]}, "not one of the tools"),
    ({"tool_choice": 42, "tools": [TOOL]}, "tool_choice=42"),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
        "no top-level 'properties'",
    ),
    ({"tools": [TOOL, TOOL]}, "two tools are named"),
    ({"tools": [{"function": {}}]}, "tools\\[0\\] must look like"),
    ({"response_format": {"type": "xml"}}, "type must be one of"),
    ({"response_format": {"type": "json", "value": {"type": "array"}}}, "no top-level 'properties'"),
    ({"tools": [TOOL], "response_format": {"type": "json_object"}}, "cannot be combined"),
    ({"frobnicate": 1}, "unknown chat parameter"),
    # TGI's Messages API ignores n (one choice comes back): refused, never silently one choice.
    ({"n": 2}, "n=2 is invalid: TGI returns one choice per request"),
    ({"n": 0}, "n=0 is invalid"),
    ({"presence_penalty": 5}, "presence_penalty=5 is invalid"),
    ({"presence_penalty": -2}, "greater than -2"),
    ({"top_logprobs": 50}, "top_logprobs=50 is invalid: TGI returns at most 5"),
    ({"top_logprobs": -1}, "top_logprobs=-1 is invalid"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CHAT, ids=[m for _, m in BAD_CHAT])
def test_bad_chat_input_is_refused_before_sending(twin: Twin, srv: LocalServer, kwargs: dict, message: str) -> None:
    twin.info()  # the limits (4 stop sequences) come from /info
    before = srv.stats()["total"]
    with pytest.raises(InvalidRequestError, match=message):
        twin.chat(HI, **kwargs)
    assert srv.stats()["total"] == before  # nothing was sent


@pytest.mark.parametrize(
    ("call", "kwargs", "route"),
    [
        ("chat", {"extra_body": {"when": datetime.datetime(2026, 1, 1)}}, "chat"),
        ("chat", {"extra_body": {"penalty": float("inf")}}, "chat"),
        ("chat_stream", {"extra_body": {"penalty": float("nan")}}, "chat"),
        ("chat", {"extra_body": {"when": object()}}, "generate"),
    ],
    ids=["datetime", "infinity", "nan-stream", "object-native-route"],
)
def test_values_json_cannot_carry_are_refused_before_sending(
    kind: str, srv: LocalServer, call: str, kwargs: dict, route: str
) -> None:
    """Not a bare TypeError, nor an ``Infinity`` token that TGI's JSON parser would reject: a named error."""
    twin = Twin(kind, srv.url, route=route, chat_template="chatml")
    try:
        twin.info()
        before = srv.stats()["total"]
        try:
            items, error = twin.collect(call, HI, **kwargs)  # a stream's error is returned, a call's raised
        except InvalidRequestError as exc:
            items, error = [], exc
        assert not items
        assert isinstance(error, InvalidRequestError)
        assert "cannot be sent as JSON" in error.message and "plain JSON values" in error.message
        assert srv.stats()["total"] == before
    finally:
        twin.close()


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "non-empty list"),
        ("Hi", "non-empty list"),
        ([{"role": "wizard", "content": "x"}], "role 'wizard'"),
        ([{"content": "x"}], "role None"),
        ([{"role": "user"}], "has no content"),
        ([{"role": "user", "content": 3}], "must be a string"),
        (["Hi"], "must be a dict"),
    ],
)
def test_bad_messages(twin: Twin, srv: LocalServer, messages: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        twin.chat(messages)
    assert srv.stats()["requests"].get("/v1/chat/completions") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens=0"),
        ({"best_of": 2, "seed": 1}, "does not allow a seed"),
        ({"top_k": 0}, "top_k=0"),
        ({"maxnewtokens": 3}, "unknown generate parameter"),
        ({"grammar": {"type": "json"}}, "needs a .value."),
    ],
)
def test_bad_generate_input(twin: Twin, srv: LocalServer, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        twin.generate("Hello", **kwargs)
    assert srv.stats()["total"] == 0


def test_stream_only_rules() -> None:
    with TGIClient("http://127.0.0.1:9") as client, pytest.raises(InvalidRequestError, match="best_of"):
        client.generate_stream("Hello", best_of=2)
    with TGIClient("http://127.0.0.1:9") as client, pytest.raises(InvalidRequestError, match="prefill"):
        client.generate_stream("Hello", decoder_input_details=True)


@pytest.mark.parametrize("url", ["", "127.0.0.1:8080", "ftp://x", "huggingface/meta-llama/Llama-3"])
def test_bad_base_url(url: str) -> None:
    with pytest.raises(InvalidRequestError, match="base_url"):
        TGIClient(url)


def test_n_on_an_openai_compatible_server_is_checked_on_the_answer(twin: Twin, srv: LocalServer) -> None:
    """vLLM-like servers support n: it is sent, and an answer with fewer choices is an error, not the answer."""
    srv.configure(mode="openai")  # the scripted engine answers one choice whatever n is
    assert twin.info() is None
    with pytest.raises(HFEndpointError, match="asked for n=2 choices, the server returned 1"):
        twin.chat(HI, n=2)
    assert sent_n(srv) == 2
    with pytest.raises(InvalidRequestError, match="top_logprobs=21 is invalid: OpenAI-compatible servers accept"):
        twin.chat(HI, top_logprobs=21)
    assert len(twin.chat(HI, n=1, top_logprobs=3).choices) == 1


def sent_n(srv: LocalServer) -> object:
    last = srv.last_request()
    assert last is not None
    body = last["body"]
    return (json.loads(body) if isinstance(body, str) else body).get("n")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/?code=s3cret",
        "http://127.0.0.1:8080/v1?code=s3cret",
        "http://127.0.0.1:8080#code=s3cret",
        "http://127.0.0.1:8080?",
    ],
)
def test_base_url_with_a_query_string_is_refused(url: str) -> None:
    """It would land inside every path (``/?code=s3cret/info``) and be sent with none of the requests."""
    for make in (TGIClient, AsyncTGIClient):
        with pytest.raises(InvalidRequestError, match=r"query string or fragment.*'http://127.0.0.1:8080") as info:
            make(url)
        assert "s3cret" not in str(info.value)
    with pytest.raises(InvalidRequestError, match="query string"):
        completion(model="tgi", api_base=url, messages=[{"role": "user", "content": "hi"}])


# ----------------------------------------------------------------------------------------------------- secrets

KEY = "hf_ThisIsASecretTokenValue1234567890"


def test_key_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    with LocalServer(backend="scripted", api_key=KEY) as srv:
        client = TGIClient(srv.url, api_key=KEY)
        with caplog.at_level(logging.DEBUG):
            assert client.chat(HI).content
            srv.configure(status={"code": 500, "count": -1, "body": "boom"})
            with pytest.raises(HFEndpointError) as info:
                client.chat(HI)
        texts = [
            repr(client),
            str(client),
            str(info.value),
            repr(info.value),
            caplog.text,
            repr(client._conn),
            repr(resolve_token(KEY)),
            str(resolve_token(KEY)),
        ]
        assert all(KEY not in t for t in texts)
        with pytest.raises(TypeError, match="pickl"):
            pickle.dumps(client)
        with pytest.raises(TypeError, match="pickle an API key"):
            pickle.dumps(Secret(KEY))
        assert KEY not in str(pickle.loads(pickle.dumps(info.value)))
        client.close()


def test_token_from_environment_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_token(None) is None
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "d")
    monkeypatch.setenv("HUGGINGFACEHUB_API_TOKEN", "c")
    assert resolve_token(None) == Secret("c")
    monkeypatch.setenv("HF_TOKEN", "a")
    assert resolve_token(None) == Secret("a")
    assert resolve_token("explicit") == Secret("explicit")


def test_key_not_sent_to_another_host_after_redirect(srv: LocalServer, kind: str) -> None:
    port = srv.url.rsplit(":", 1)[1]
    # 127.0.0.1 -> localhost is another host as far as credentials go.
    srv.configure(
        status={"code": 307, "count": 1, "headers": {"Location": f"http://localhost:{port}/generate"}, "body": ""},
        routes=["/generate"],
    )
    twin = Twin(kind, srv.url, api_key=KEY)
    try:
        assert twin.generate("Hello", max_new_tokens=2).generated_text
        last = srv.last_request()
        headers = {k.lower(): v for k, v in last["headers"].items()}
        assert "authorization" not in headers
        assert "localhost" in headers["host"]
    finally:
        twin.close()


def reach_a_remote_host_through(srv: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to any plain-http host go to ``srv`` as their HTTP proxy, which answers them itself and records what
    it received: what a client sends to a remote host can be checked without leaving 127.0.0.1."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", srv.url)


def sent_authorization(twin: Twin, srv: LocalServer) -> str | None:
    twin.generate("Hello", max_new_tokens=2)
    headers = {k.lower(): v for k, v in srv.last_request()["headers"].items()}
    return headers.get("authorization")


def test_plain_http_to_a_remote_host_needs_an_opt_in(
    srv: LocalServer, kind: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = TGIClient if kind == "sync" else AsyncTGIClient
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(InvalidRequestError, match=r"plain HTTP to example\.invalid.*allow_insecure_http=True") as info:
        cls("http://example.invalid", api_key=KEY)  # an explicit key: refused, before anything is sent
    assert KEY not in str(info.value)
    reach_a_remote_host_through(srv, monkeypatch)
    monkeypatch.setenv("HF_TOKEN", KEY)
    with caplog.at_level(logging.WARNING, logger="hf_endpoint"):
        ambient = Twin(kind, "http://example.invalid")  # a token from the environment: not sent
        opted_in = Twin(kind, "http://example.invalid", api_key=KEY, allow_insecure_http=True)
        loopback = Twin(kind, srv.url, api_key=KEY)  # loopback needs no opt-in, and no warning
        Twin(kind, "https://example.invalid", api_key=KEY).close()  # https needs none either (nothing sent here)
    try:
        assert sent_authorization(ambient, srv) is None
        assert srv.last_request()["headers"]["Host"] == "example.invalid"  # it did go "to" the remote host
        assert sent_authorization(opted_in, srv) == sent_authorization(loopback, srv) == f"Bearer {KEY}"
    finally:
        for twin in (ambient, opted_in, loopback):
            twin.close()
    assert caplog.text.count("plain HTTP") == 2  # the withheld token, and the opt-in
    assert KEY not in caplog.text


# --------------------------------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.__class__.__init__.__globals__ }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% set x = messages.append(1) %}",
    ],
)
def test_template_escapes_fail_safely(source: str) -> None:
    template = load_chat_template(source)
    assert template is not None
    with pytest.raises(InvalidRequestError, match="chat template"):
        template.render(HI)


def test_private_attributes_render_as_nothing() -> None:
    template = load_chat_template("{{ self._TemplateReference__context }}{{ messages.__len__ }}")
    assert template is not None
    assert template.render(HI) == ""  # the sandbox hides private and dunder attributes


def test_builtin_templates_are_chosen_from_model_id() -> None:
    assert builtin_template_for("meta-llama/Llama-3.1-8B-Instruct").name == "llama-3"
    assert builtin_template_for("meta-llama/Llama-2-7b-chat-hf").name == "llama-2"
    assert builtin_template_for("mistralai/Mistral-7B-Instruct-v0.3").name == "mistral"
    assert builtin_template_for("HuggingFaceH4/zephyr-7b-beta").name == "zephyr"
    assert builtin_template_for("Qwen/Qwen2.5-7B-Instruct").name == "chatml"
    assert builtin_template_for("google/gemma-2-9b-it").name == "gemma"
    assert builtin_template_for("google/gemma-3-270m").name == "qa"  # a base model
    assert builtin_template_for("microsoft/Phi-3-mini-4k-instruct").name == "phi-3"
    assert builtin_template_for("acme/unknown") is None


@pytest.mark.parametrize("name", sorted(BUILTIN_TEMPLATES))
def test_builtin_templates_render_every_role(name: str) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "w", "arguments": '{"city": "Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "1", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "Thanks"},
    ]
    text = BUILTIN_TEMPLATES[name].render(messages)
    for piece in ("Be brief.", "Weather?", '"city": "Paris"', "sunny", "Sunny.", "Thanks"):
        assert piece in text


def test_tokenizer_config_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "tokenizer_config.json"
    config.write_text(
        '{"chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\\n'
        '{% endfor %}", "bos_token": {"content": "<s>"}, "eos_token": "</s>"}'
    )
    template = load_chat_template(tokenizer_config=config)
    assert template.render(HI) == "<s>[user] Hi\n"
    assert template.stop == ("</s>",)


# ------------------------------------------------------------------------------------- parsers never explode

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(payload=st.one_of(st.binary(max_size=200), json_values.map(lambda v: __import__("json").dumps(v).encode())))
def test_parsers_raise_only_our_errors(payload: bytes) -> None:
    for parse in (
        lambda: parse_chat_completion(payload),
        lambda: parse_stream_event(payload, request_id=None, url=None),
        lambda: ChatStreamConverter().feed(payload),
        lambda: error_from_response(500, payload),
    ):
        with contextlib.suppress(HFEndpointError):
            parse()
