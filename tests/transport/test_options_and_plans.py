"""The options object, the connection values, the endpoint state and the plans, without a server (pure).

The plans are fed values (an :class:`EndpointState`, results, errors) and checked for what they send and what they
change; the steps generators are driven by hand, the way the shells drive them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hf_endpoint import Info, InvalidRequestError, NotFoundError, RequestValidationError, TGIClient
from hf_endpoint._auth import Secret
from hf_endpoint._connection import connect
from hf_endpoint._endpoint import EndpointState
from hf_endpoint._options import ChatOptions, ConnectionOptions
from hf_endpoint._tgi import info_steps
from hf_endpoint._tgi_chat import ChatConfig, chat_plan, chat_steps

KEY = "hf_options_test_key_0123456789"
HI = [{"role": "user", "content": "hi"}]


def test_options_are_validated_once_normalized_frozen_and_hashable() -> None:
    a = ConnectionOptions("http://127.0.0.1:8080/v1/", api_key=Secret(KEY), headers={"X-A": "1"}, timeout=5)
    b = ConnectionOptions("http://127.0.0.1:8080", api_key=Secret(KEY), headers={"X-A": "1"}, timeout=5.0)
    assert a.base_url == "http://127.0.0.1:8080"
    assert a == b
    assert hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert a != dataclasses.replace(b, timeout=6)
    assert KEY not in repr(a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.timeout = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.headers["X-A"] = "2"  # type: ignore[index]  # read-only: the options cannot change under a pooled client


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"timeout": 0}, "timeout=0"),
        ({"timeout": -1.0}, "timeout=-1.0"),
        ({"connect_timeout": 0}, "connect_timeout=0"),
        ({"max_retries": -1}, "max_retries=-1"),
        ({"max_retries": 1.5}, "max_retries=1.5"),
        ({"cold_start_timeout": -1}, "cold_start_timeout=-1"),
        ({"max_connections": 0}, "max_connections=0"),
        ({"verify": 1.0}, "verify=1.0"),
        ({"headers": {"X-A": 1}}, "headers"),
    ],
)
def test_bad_connection_options_are_refused_by_name(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidRequestError, match=named.replace(".", r"\.")):
        ConnectionOptions("http://127.0.0.1:1", **kwargs)
    with pytest.raises(InvalidRequestError, match=named.replace(".", r"\.")):
        TGIClient("http://127.0.0.1:1", **kwargs)  # the public constructor refuses the same, with the same words


def test_bad_route_and_url_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="route='fast'"):
        ChatOptions(route="fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="not an http"):
        ConnectionOptions("ftp://example.com")


def test_the_public_constructor_builds_the_same_options() -> None:
    with TGIClient("http://127.0.0.1:1/generate", api_key=KEY, timeout=7, max_retries=1, route="chat") as client:
        assert client._options == ConnectionOptions("http://127.0.0.1:1", api_key=Secret(KEY), timeout=7, max_retries=1)
        assert client._chat_options == ChatOptions(route="chat")
    again = TGIClient.from_options(client._options, client._chat_options)
    assert again._conn.headers == client._conn.headers
    again.close()


def test_connect_reads_the_given_environment_once_and_only_there() -> None:
    env = {"HF_TOKEN": KEY, "REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"}
    conn = connect(ConnectionOptions("https://example.invalid"), env)
    assert conn.headers["Authorization"] == f"Bearer {KEY}"
    assert conn.verify == "/etc/ssl/bundle.pem"
    env.clear()  # later changes are not seen: the values were copied
    assert conn.headers["Authorization"] == f"Bearer {KEY}"
    # A token from the environment is withheld from a remote plain-HTTP host; an explicit one is refused there.
    assert connect(ConnectionOptions("http://example.invalid"), {"HF_TOKEN": KEY}).token is None
    with pytest.raises(InvalidRequestError, match="plain HTTP"):
        connect(ConnectionOptions("http://example.invalid", api_key=Secret(KEY)), {})
    found = ConnectionOptions("http://example.invalid", api_key=Secret(KEY), token_from_env=True)
    assert connect(found, {}).token is None


def _tgi_state(version: str = "3.0.0", model_id: str = "Qwen/Qwen2.5-0.5B-Instruct") -> EndpointState:
    state = EndpointState("http://127.0.0.1:1")
    state.set_info(Info.model_validate({"model_id": model_id, "version": version}))
    return state


def test_building_a_chat_plan_changes_nothing_but_the_route_memo() -> None:
    state = _tgi_state()
    before = (state.info, state.info_known, state.served_model, state.route)
    cfg = ChatConfig()
    plan = chat_plan(cfg, state, HI, tools=None, tool_choice=None, response_format=None, params={}, stream=False)
    assert plan.request.path == "/v1/chat/completions"
    assert (state.info, state.info_known, state.served_model, state.route) == before
    native = chat_plan(
        cfg, _tgi_state("1.3.0"), HI, tools=None, tool_choice=None, response_format=None, params={}, stream=True
    )
    assert native.request.path == "/generate_stream"


def test_the_fallback_to_the_native_route_is_the_one_write_and_happens_on_the_state() -> None:
    state = _tgi_state()
    plan = chat_plan(
        ChatConfig(), state, HI, tools=None, tool_choice=None, response_format=None, params={}, stream=False
    )
    assert plan.on_error(RequestValidationError("some other problem", status_code=422)) is None
    assert state.route == "auto"
    nxt = plan.on_error(NotFoundError("no route", status_code=404))
    assert nxt is not None and nxt.request.path == "/generate"
    assert state.route == "generate"  # later calls go straight to the native route
    # A client with route="chat" never falls back.
    fixed = EndpointState("http://127.0.0.1:1", "chat")
    fixed.set_info(state.info)
    plan = chat_plan(
        ChatConfig(route="chat"), fixed, HI, tools=None, tool_choice=None, response_format=None, params={}, stream=False
    )
    assert plan.on_error(NotFoundError("no route", status_code=404)) is None


def test_info_steps_driven_by_hand_like_the_shells_do() -> None:
    state = EndpointState("http://127.0.0.1:1")
    steps = chat_steps(
        ChatConfig(), state, HI, tools=None, tool_choice=None, response_format=None, params={}, stream=False
    )
    first = next(steps)
    assert first.request.path == "/info"
    second = steps.throw(NotFoundError("no /info", status_code=404))  # not TGI: ask /v1/models
    assert second.request.path == "/v1/models"
    with pytest.raises(StopIteration) as done:
        steps.send("served-model")
    plan = done.value.value
    assert plan.request.path == "/v1/chat/completions"
    assert plan.request.body["model"] == "served-model"  # an OpenAI-compatible engine wants its model's name
    assert (state.info_known, state.info, state.served_model) == (True, None, "served-model")


def test_an_info_error_that_is_not_a_missing_route_is_raised() -> None:
    steps = info_steps(EndpointState("http://127.0.0.1:1"))
    next(steps)
    with pytest.raises(RequestValidationError):
        steps.throw(RequestValidationError("bad", status_code=422, error_type="validation"))
