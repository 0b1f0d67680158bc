"""Settings read from the environment once, when a client is created: proxy variables (requests' rules, also
for the async client), the token (variables, then the file ``hf auth login`` saves) and the CA bundle of
``REQUESTS_CA_BUNDLE`` (tested with TLS in tests/reliability)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hf_endpoint import APIConnectionError, AuthenticationError, Secret, resolve_token
from hf_endpoint._auth import token_file_path
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


# ------------------------------------------------------------------------------------ the token `hf auth login` saved

TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_API_KEY")
SAVED = "hf_saved_by_login_0123456789"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh home directory and no token in the environment: only what a test writes is found."""
    for name in (*TOKEN_VARS, "HF_TOKEN_PATH", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def _save(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_token_file_found_where_huggingface_hub_puts_it(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_token(None) is None
    default = _save(home / ".cache" / "huggingface" / "token", f"{SAVED}\n")
    found = resolve_token(None)
    assert found == Secret(SAVED) and found is not None and found.source == default
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg"))  # huggingface_hub: $XDG_CACHE_HOME/huggingface
    assert resolve_token(None) is None
    xdg = _save(home / "xdg" / "huggingface" / "token", "hf_xdg")
    assert resolve_token(None) == Secret("hf_xdg") and token_file_path() == xdg
    monkeypatch.setenv("HF_HOME", "~/hfhome")  # ~ expanded, and it wins over XDG_CACHE_HOME
    _save(home / "hfhome" / "token", "  hf_home\r\n")
    assert resolve_token(None) == Secret("hf_home")
    monkeypatch.setenv("HF_TOKEN_PATH", str(home / "elsewhere"))  # wins over HF_HOME
    assert resolve_token(None) is None
    _save(home / "elsewhere", "hf_path")
    assert resolve_token(None) == Secret("hf_path")
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_env")  # every variable comes before the file
    assert resolve_token(None) == Secret("hf_env")
    assert resolve_token("hf_arg") == Secret("hf_arg")


def test_saved_token_is_sent(home: Path, kind: str) -> None:
    _save(home / ".cache" / "huggingface" / "token", SAVED)
    with LocalServer(backend="scripted", api_key=SAVED) as guarded:
        client = Twin(kind, guarded.url, max_retries=0)
        try:
            assert client.chat(HI, max_tokens=3).choices[0].message.content
        finally:
            client.close()


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("none", "no token was sent"),
        ("argument", "refused the token from api_key="),
        ("variable", "refused the token from the HUGGINGFACEHUB_API_TOKEN variable"),
        ("file", "refused the token from the file"),
    ],
)
def test_401_says_whether_a_token_was_sent_and_from_where(
    home: Path, kind: str, monkeypatch: pytest.MonkeyPatch, where: str, says: str
) -> None:
    wrong = "hf_wrong_token_42"
    options: dict[str, object] = {"max_retries": 0}
    if where == "argument":
        options["api_key"] = wrong
    elif where == "variable":
        monkeypatch.setenv("HUGGINGFACEHUB_API_TOKEN", wrong)
    elif where == "file":
        path = _save(home / ".cache" / "huggingface" / "token", wrong)
        says += f" {path}"
    with LocalServer(backend="scripted", api_key="hf_the_right_one") as guarded:
        client = Twin(kind, guarded.url, **options)
        try:
            with pytest.raises(AuthenticationError) as info:
                client.chat(HI, max_tokens=3)
        finally:
            client.close()
    assert says in str(info.value), str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    if where == "none":
        assert str(home / ".cache" / "huggingface" / "token") in str(info.value)
        assert "hf auth login" in str(info.value)
