"""Settings read from the environment once, when a client is created: proxy variables (requests' rules, also
for the async client) and the CA bundle of ``REQUESTS_CA_BUNDLE`` (tested with TLS in tests/reliability)."""

from __future__ import annotations

import pytest

from hf_endpoint import APIConnectionError
from hf_endpoint.server import LocalServer

from ._twin import Twin

HI = [{"role": "user", "content": "hi"}]
# Resolves nowhere (RFC 6761): an answer can only come through the proxy.
UNREACHABLE = "http://tgi.invalid:8080"


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch, srv: LocalServer) -> LocalServer:
    """The scripted server as the HTTP proxy: it answers the absolute-form requests a client sends a proxy."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", srv.url)
    return srv


def test_requests_go_through_the_environments_proxy(proxy_env: LocalServer, kind: str) -> None:
    client = Twin(kind, UNREACHABLE, route="chat", max_retries=0)
    try:
        assert client.chat(HI, max_tokens=3).choices[0].message.content
        chunks, error = client.collect("chat_stream", HI, max_tokens=3)
        assert error is None and chunks[-1].usage is not None
        assert client.health() is True
    finally:
        client.close()
    assert proxy_env.stats()["requests"]["/v1/chat/completions"] == 2


def test_no_proxy_bypasses_it(proxy_env: LocalServer, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "tgi.invalid")
    client = Twin(kind, UNREACHABLE, route="chat", max_retries=0)
    try:
        with pytest.raises(APIConnectionError) as info:
            client.chat(HI, max_tokens=3)
    finally:
        client.close()
    assert info.value.error_type == "connection"
    assert proxy_env.stats()["total"] == 0


def test_the_environment_is_read_when_the_client_is_created(
    proxy_env: LocalServer, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Twin(kind, UNREACHABLE, route="chat", max_retries=0)
    monkeypatch.delenv("HTTP_PROXY")  # after creation: the client keeps the proxy it read
    try:
        assert client.chat(HI, max_tokens=3).choices[0].message.content
    finally:
        client.close()
