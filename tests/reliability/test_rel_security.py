"""Security: the key appears in no output (transport and both adapters), it does not follow redirects to another
origin (host, port or scheme), it is not sent over plain HTTP to a remote host without an opt-in, and TLS is
verified by default, with custom CA bundles supported.

The TLS servers use a CA made at test time (``trustme``) and serve the scripted application on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
import socket
import ssl
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import certifi
import llama_index.core.instrumentation as instrument
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, CBEventType
from llama_index.core.callbacks.base_handler import BaseCallbackHandler as LIBaseCallbackHandler
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from rel_helpers import AppServer, scripted_app, tls_files

import hf_endpoint
from hf_endpoint import (
    APIConnectionError,
    AsyncTGIClient,
    HFEndpointError,
    InvalidRequestError,
    TGIClient,
)
from hf_endpoint.server import LocalServer
from langchain_hf_endpoint import ChatHFEndpoint
from llama_index_hf_endpoint import HFEndpoint

pytestmark = pytest.mark.usefixtures("close_lc_pools")

KEY = "hf_RelSecretKey_0123456789abcdefXYZ"
WRONG = "hf_WrongKey_9876543210zyxwvuTSR"
HI = [{"role": "user", "content": "Hi"}]
LI_HI = [ChatMessage(role="user", content="Hi")]
LOGGERS = (
    "",
    "urllib3",
    "requests",
    "aiohttp",
    "asyncio",
    "hf_endpoint",
    "langchain",
    "langchain_core",
    "llama_index",
    "llama_index_hf_endpoint",
    "langchain_hf_endpoint",
)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def debug_log() -> Iterator[list[str]]:
    """Every log record at every level, from every library, as its message and its full ``vars()``."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.name} {record.levelname} {record.getMessage()} {vars(record)!r}")

    handler = Keep(logging.DEBUG)
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield records
    logging.getLogger().removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


class Outputs:
    """Everything a key could leak into, by label."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.blobs: dict[str, bytes] = {}

    def see(self, label: str, value: Any) -> None:
        self.texts[label] = value if isinstance(value, str) else repr(value)

    def see_error(self, label: str, err: BaseException) -> None:
        self.see(f"{label}: str", str(err))
        self.see(f"{label}: repr", repr(err))
        self.see(f"{label}: traceback with causes", "".join(traceback.format_exception(err)))
        self.see(f"{label}: attributes", vars(err))
        self.blobs[f"{label}: pickle"] = pickle.dumps(err)

    def leaks(self, secret: str) -> list[str]:
        return [k for k, v in self.texts.items() if secret in v] + [
            k for k, v in self.blobs.items() if secret.encode() in v
        ]


class LCRecorder(BaseCallbackHandler):
    """Every LangChain callback with all its arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def _keep(self, _event: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(f"{_event} {args!r} {kwargs!r}")

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, **kwargs: Any) -> None:
        self._keep("on_chat_model_start", serialized, messages, **kwargs)

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self._keep("on_llm_new_token", token, **kwargs)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self._keep("on_llm_end", response, **kwargs)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._keep("on_llm_error", error, "".join(traceback.format_exception(error)), **kwargs)


class LIRecorder(LIBaseCallbackHandler):
    def __init__(self) -> None:
        super().__init__([], [])
        self.calls: list[str] = []

    def on_event_start(
        self, event_type: CBEventType, payload: Any = None, event_id: str = "", parent_id: str = "", **kwargs: Any
    ) -> str:
        self.calls.append(f"start {event_type} {payload!r}")
        return event_id

    def on_event_end(self, event_type: CBEventType, payload: Any = None, event_id: str = "", **kwargs: Any) -> None:
        self.calls.append(f"end {event_type} {payload!r}")

    def start_trace(self, trace_id: str | None = None) -> None:
        return None

    def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
        return None


class LIEvents(BaseEventHandler):
    events: list[str] = []

    def handle(self, event: Any, **kwargs: Any) -> None:
        self.events.append(f"{event!r} {event.model_dump()!r}")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _transport_outputs(out: Outputs, srv: LocalServer, tls_url: str) -> None:
    sync, aclient = TGIClient(srv.url, api_key=KEY), AsyncTGIClient(srv.url, api_key=KEY)
    for name, client in (("TGIClient", sync), ("AsyncTGIClient", aclient)):
        out.see(f"{name} repr", repr(client))
        out.see(f"{name} str", str(client))
        out.see(f"{name} core repr", [repr(client._conn), repr(client._options), repr(client._state)])
    out.see("resolved token", [repr(hf_endpoint.resolve_token(KEY)), str(hf_endpoint.resolve_token(KEY))])
    out.see("sync results", [sync.chat(HI), list(sync.chat_stream(HI)), sync.generate("x", max_new_tokens=2)])
    out.see("async results", [await aclient.chat(HI), [c async for c in aclient.chat_stream(HI)]])
    assert srv.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"  # the key really is in use

    faults: list[tuple[str, dict[str, Any]]] = [
        ("500", {"status": {"code": 500, "body": "boom", "count": -1}}),
        ("404", {"status": {"code": 404, "body": "Not Found", "count": -1}}),
        ("in-stream error", {"stream_error": {"after": 1, "message": "Request failed during generation: x"}}),
        ("drop", {"drop_after": 1}),
        ("stall", {"stall_between": 1.0}),
    ]
    quick = {"timeout": 0.3, "max_retries": 0}
    qsync, qasync = TGIClient(srv.url, api_key=KEY, **quick), AsyncTGIClient(srv.url, api_key=KEY, **quick)
    for label, fault in faults:
        srv.reset()
        srv.configure(**fault)
        with pytest.raises(HFEndpointError) as info:
            list(qsync.chat_stream(HI))
        out.see_error(f"sync {label}", info.value)
        with pytest.raises(HFEndpointError) as info:
            [c async for c in qasync.chat_stream(HI)]
        out.see_error(f"async {label}", info.value)
    srv.reset()
    # Refused, TLS failure (self-signed: no CA given), and a wrong key (401): neither key is shown.
    for label, url, key in (
        ("refused", f"http://127.0.0.1:{_closed_port()}", KEY),
        ("tls", tls_url, KEY),
        ("401", srv.url, WRONG),
    ):
        with TGIClient(url, api_key=key, max_retries=0) as client, pytest.raises(HFEndpointError) as info:
            client.chat(HI)
        out.see_error(f"sync {label}", info.value)
        async with AsyncTGIClient(url, api_key=key, max_retries=0) as aclient2:
            with pytest.raises(HFEndpointError) as info:
                await aclient2.chat(HI)
        out.see_error(f"async {label}", info.value)
    for client in (sync, aclient):
        with pytest.raises(TypeError, match="pickl"):
            pickle.dumps(client)
    sync.close()
    qsync.close()
    await aclient.aclose()
    await qasync.aclose()


async def _langchain_outputs(out: Outputs, srv: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = LCRecorder()
    llm = ChatHFEndpoint(base_url=srv.url, api_key=KEY, temperature=0, callbacks=[recorder])
    monkeypatch.setenv("HF_TOKEN", KEY)
    from_env = ChatHFEndpoint(base_url=srv.url)
    for name, model in (("explicit", llm), ("from env", from_env)):
        out.see(f"lc {name} repr", repr(model))
        out.see(f"lc {name} str", str(model))
        out.see(f"lc {name} dumps", dumps(model))
        out.see(f"lc {name} dumps pretty", dumps(model, pretty=True))
        out.see(f"lc {name} dumpd", json.dumps(dumpd(model)))
        out.see(f"lc {name} to_json", model.to_json())
        out.see(f"lc {name} model_dump", model.model_dump())
        out.see(f"lc {name} model_dump_json", model.model_dump_json())
        out.see(f"lc {name} params", [model._identifying_params, model._get_ls_params(), model._settings()])
        out.see(f"lc {name} clients", [model.client, model.async_client])
        out.blobs[f"lc {name} pickle"] = pickle.dumps(model)
    out.see(
        "lc results",
        [
            llm.invoke("hi"),
            list(llm.stream("hi")),
            await llm.ainvoke("hi"),
            [c async for c in llm.astream("hi")],
            from_env.invoke("hi"),
        ],
    )
    assert srv.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"
    monkeypatch.delenv("HF_TOKEN")
    srv.configure(status={"code": 500, "body": "boom", "count": -1})
    with pytest.raises(HFEndpointError) as info:
        llm.invoke("hi")
    out.see_error("lc invoke error", info.value)
    with pytest.raises(HFEndpointError) as info:
        [c async for c in llm.astream("hi")]
    out.see_error("lc astream error", info.value)
    srv.reset()
    out.see("lc callbacks", recorder.calls)
    assert any("on_llm_error" in c for c in recorder.calls)


async def _llama_index_outputs(out: Outputs, srv: LocalServer) -> None:
    recorder, events = LIRecorder(), LIEvents(events=[])
    root = instrument.get_dispatcher()
    root.add_event_handler(events)
    llm = HFEndpoint(base_url=srv.url, api_key=KEY, callback_manager=CallbackManager([recorder]))
    try:
        out.see(
            "li results",
            [
                llm.chat(LI_HI),
                list(llm.stream_chat(LI_HI)),
                await llm.achat(LI_HI),
                [r async for r in await llm.astream_chat(LI_HI)],
                llm.complete("hi"),
            ],
        )
        assert srv.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"
        srv.configure(status={"code": 500, "body": "boom", "count": -1})
        with pytest.raises(HFEndpointError) as info:
            llm.chat(LI_HI)
        out.see_error("li chat error", info.value)
        with pytest.raises(HFEndpointError) as info:
            [r async for r in await llm.astream_chat(LI_HI)]
        out.see_error("li astream error", info.value)
        srv.reset()
    finally:
        root.event_handlers.remove(events)
    out.see("li repr", repr(llm))
    out.see("li str", str(llm))
    out.see("li to_dict", json.dumps(llm.to_dict()))
    out.see("li to_json", llm.to_json())
    out.see("li model_dump_json", llm.model_dump_json())
    out.see("li payload and metadata", [llm.to_payload(), llm.metadata])
    out.blobs["li pickle"] = pickle.dumps(llm)
    clone = copy.deepcopy(llm)
    out.see("li deepcopy repr", repr(clone))
    out.see("li callbacks", recorder.calls)
    out.see("li instrumentation events", events.events)
    assert any("LLMChatStartEvent" in e for e in events.events)
    await llm.aclose()
    await clone.aclose()


async def test_the_key_appears_in_no_output(
    tls: tuple[ssl.SSLContext, Path], debug_log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transport, LangChain and LlamaIndex, in success and failure, at DEBUG on every logger: no trace of the key."""
    for name in hf_endpoint.TOKEN_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    out = Outputs()
    with LocalServer("scripted", api_key=KEY) as srv, AppServer(scripted_app(), tls[0]) as tls_server:
        await _transport_outputs(out, srv, tls_server.url)
        await _langchain_outputs(out, srv, monkeypatch)
        await _llama_index_outputs(out, srv)
    out.see("logs", "\n".join(debug_log))
    assert len(debug_log) > 20  # DEBUG really was on (urllib3, aiohttp, asyncio, retries, ...)
    assert len(out.texts) + len(out.blobs) > 80
    assert out.leaks(KEY) == []
    assert out.leaks(WRONG) == []


# --------------------------------------------------------------------------------------------------- redirects


def _redirect(srv: LocalServer, location: str, route: str) -> None:
    srv.configure(status={"code": 307, "count": 1, "headers": {"Location": location}, "body": ""}, routes=[route])


async def _adapter_call(adapter: str, url: str, **options: Any) -> str:
    if adapter == "lc.invoke":
        return str(ChatHFEndpoint(base_url=url, **options).invoke("hi").content)
    if adapter == "lc.ainvoke":
        return str((await ChatHFEndpoint(base_url=url, **options).ainvoke("hi")).content)
    async with HFEndpoint(base_url=url, **options) as llm:
        if adapter == "li.chat":
            return str(llm.chat(LI_HI).message.content)
        return str((await llm.achat(LI_HI)).message.content)


@pytest.mark.parametrize("adapter", ["lc.invoke", "lc.ainvoke", "li.chat", "li.achat"])
async def test_adapters_drop_the_key_on_a_redirect_to_another_host(scripted: LocalServer, adapter: str) -> None:
    port = scripted.url.rsplit(":", 1)[1]
    # 127.0.0.1 -> localhost is another host as far as credentials go.
    _redirect(scripted, f"http://localhost:{port}/v1/chat/completions", "/v1/chat/completions")
    assert await _adapter_call(adapter, scripted.url, api_key=KEY) == "Hello from the scripted backend."
    headers = {k.lower(): v for k, v in scripted.last_request()["headers"].items()}
    assert headers["host"].startswith("localhost")
    assert "authorization" not in headers


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("direction", ["https->http", "http->https"])
async def test_the_key_does_not_follow_a_scheme_change(
    scripted: LocalServer, tls: tuple[ssl.SSLContext, Path], kind: str, direction: str
) -> None:
    """A redirect that changes the scheme (and so the origin) on the same host: followed, without the key."""
    with AppServer(scripted_app(), tls[0]) as secure:
        if direction == "https->http":
            start, landing = secure.url, scripted
            secure.control.update(
                {"status": {"code": 307, "count": 1, "body": "", "headers": {"Location": f"{scripted.url}/generate"}}}
            )
        else:
            start, landing = scripted.url, None
            _redirect(scripted, f"{secure.url}/generate", "/generate")
        if kind == "sync":
            with TGIClient(start, api_key=KEY, verify=str(tls[1])) as client:
                assert client.generate("Hello", max_new_tokens=2).generated_text
        else:
            async with AsyncTGIClient(start, api_key=KEY, verify=str(tls[1])) as aclient:
                assert (await aclient.generate("Hello", max_new_tokens=2)).generated_text
        last = landing.last_request() if landing is not None else secure.control.last
        assert last is not None
        assert last["path"] == "/generate"
        assert "authorization" not in {k.lower() for k in last["headers"]}


# ------------------------------------------------------------------------------------------ plain HTTP opt-in


@pytest.mark.parametrize("adapter", ["lc", "li"])
def test_adapters_refuse_an_explicit_key_over_plain_http(
    adapter: str, scripted: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in hf_endpoint.TOKEN_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    url = "http://tgi.example.invalid:8080"

    def ask(**options: Any) -> str | None:
        """The Authorization header the server received for one call to the remote host (see below)."""
        if adapter == "lc":
            ChatHFEndpoint(base_url=url, **options).invoke("hi")
        else:
            HFEndpoint(base_url=url, **options).complete("hi")
        return {k.lower(): v for k, v in scripted.last_request()["headers"].items()}.get("authorization")

    with pytest.raises(InvalidRequestError, match="allow_insecure_http=True") as info:
        ask(api_key=KEY)  # refused before any connection is tried
    assert KEY not in str(info.value)
    # The remote host is reached through the scripted server as its HTTP proxy: it answers and records the request.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", scripted.url)
    assert ask(api_key=KEY, allow_insecure_http=True) == f"Bearer {KEY}"  # opted in: sent
    assert scripted.last_request()["headers"]["Host"] == "tgi.example.invalid:8080"
    monkeypatch.setenv("HF_TOKEN", KEY)
    assert ask() is None  # a token from the environment is withheld instead of refused


def test_langchain_pickle_drops_the_key(scripted: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like ``dumps``: the unpickled model takes the key from the environment again."""
    llm = ChatHFEndpoint(base_url=scripted.url, api_key=KEY, temperature=0.5)
    data = pickle.dumps(llm)
    assert KEY.encode() not in data
    monkeypatch.setenv("HF_TOKEN", KEY)
    clone = pickle.loads(data)
    assert clone.temperature == 0.5
    assert clone.invoke("hi").content
    assert scripted.last_request()["headers"]["Authorization"] == f"Bearer {KEY}"


def test_langchain_unpickled_model_reads_the_environment_not_a_shared_keyless_client(
    scripted: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients are shared by options: an unpickled model (key dropped) must read the environment's key itself, not
    reuse the client a model made earlier, before the environment had a key, without one."""
    from langchain_hf_endpoint import HFEndpointEmbeddings

    monkeypatch.delenv("HF_TOKEN", raising=False)
    url = scripted.url + "/"  # (a URL no other test's models share)
    ChatHFEndpoint(base_url=url).invoke("hi")  # a keyless client for these options, now in the pool
    assert "Authorization" not in scripted.last_request()["headers"]
    data = pickle.dumps(ChatHFEndpoint(base_url=url, api_key=KEY))
    embeddings = pickle.dumps(HFEndpointEmbeddings(base_url=url, api_key=KEY))
    monkeypatch.setenv("HF_TOKEN", KEY)
    pickle.loads(data).invoke("hi")
    assert scripted.last_request()["headers"].get("Authorization") == f"Bearer {KEY}"
    assert pickle.loads(embeddings).api_key.get_secret_value() == KEY


# -------------------------------------------------------------------------------------------------------- TLS


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_tls_is_verified_by_default(tls: tuple[ssl.SSLContext, Path], kind: str) -> None:
    """An HTTPS server whose certificate no system CA signed: refused at once (never retried), saying why."""

    async def generate(url: str) -> None:
        if kind == "sync":
            with TGIClient(url, api_key=KEY, max_retries=3) as client:
                client.generate("Hello")
        else:
            async with AsyncTGIClient(url, api_key=KEY, max_retries=3) as aclient:
                await aclient.generate("Hello")

    with AppServer(scripted_app(), tls[0]) as secure:
        with pytest.raises(APIConnectionError, match=r"TLS failure.*(?i:certificate)") as info:
            await generate(secure.url)
        assert info.value.error_type == "tls"
        assert secure.control.stats()["total"] == 0  # the handshake failed: no request was sent


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request:urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("verify", ["ca-bundle", False])
@pytest.mark.parametrize("call", ["sync", "async", "lc.invoke", "lc.ainvoke", "li.chat", "li.achat"])
async def test_a_custom_ca_bundle_is_trusted(
    tls: tuple[ssl.SSLContext, Path], call: str, verify: str | bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``verify=`` a CA bundle (or ``False``) wins over ``REQUESTS_CA_BUNDLE``, which ``requests`` would otherwise
    let override a session's own setting."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    with AppServer(scripted_app(api_key=KEY), tls[0]) as secure:
        options = {"api_key": KEY, "verify": str(tls[1]) if verify == "ca-bundle" else False}
        if call == "sync":
            with TGIClient(secure.url, **options) as client:
                assert client.chat(HI).content
        elif call == "async":
            async with AsyncTGIClient(secure.url, **options) as aclient:
                assert (await aclient.chat(HI)).content
        else:
            assert await _adapter_call(call, secure.url, **options)
            if call.startswith("lc."):
                await ChatHFEndpoint(base_url=secure.url, **options).aclose()
                ChatHFEndpoint(base_url=secure.url, **options).close()
        assert secure.control.last is not None
        assert secure.control.last["headers"]["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("call", ["sync", "async"])
async def test_requests_ca_bundle_is_trusted_by_default(
    tls: tuple[ssl.SSLContext, Path], call: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``verify`` left on, ``REQUESTS_CA_BUNDLE`` names the CA to trust (a proxy that re-signs TLS), for the
    async client too, as requests does it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls[1]))
    with AppServer(scripted_app(api_key=KEY), tls[0]) as secure:
        if call == "sync":
            with TGIClient(secure.url, api_key=KEY) as client:
                assert client.chat(HI).content
        else:
            async with AsyncTGIClient(secure.url, api_key=KEY) as aclient:
                assert (await aclient.chat(HI)).content
        assert secure.control.stats()["total"] == 2  # /info, then the chat
