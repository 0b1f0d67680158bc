"""``LocalServer`` (in-process, subprocess, async) and the ``hf-endpoint serve`` command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest
import requests

import hf_endpoint.server
from hf_endpoint.server import LocalServer, ServerStartError
from hf_endpoint.server.testing import FAULT_FIELDS

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*extra.pop("PREPEND", "").split(os.pathsep), str(ROOT)]).strip(os.pathsep)
    env.update(extra)
    return env


def test_in_process_server_lifecycle() -> None:
    server = LocalServer("scripted", reply="Bonjour.")
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        r = requests.post(server.url + "/generate", json={"inputs": "x"}, timeout=10)
        assert r.json()["generated_text"] == "Bonjour."
        assert server.configure(cold_start=1)["cold_start"] == 1
        assert server.config()["cold_start"] == 1
        server.reset()
        assert server.stats() == {"requests": {}, "total": 0}
        assert server.last_request() is None
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.url if server._url else "http://127.0.0.1:9/health", timeout=2)


def test_fault_fields_are_documented_as_testing_switches_apart_from_the_public_api() -> None:
    assert {"cold_start", "status", "stream_error", "drop_after", "reset", "legacy", "mode"} <= set(FAULT_FIELDS)
    assert hf_endpoint.server.__all__ == ["LocalServer", "ServerStartError"]
    assert not hasattr(hf_endpoint.server, "FAULT_FIELDS")


async def test_async_context_manager() -> None:
    body = {"inputs": "x", "parameters": {"details": True}}
    async with (
        LocalServer("scripted", n_tokens=3) as server,
        aiohttp.ClientSession() as session,
        session.post(server.url + "/generate", json=body) as response,
    ):
        result = await response.json()
    assert result["details"]["generated_tokens"] == 4


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerStartError, match="failed to start"), LocalServer("scripted", port=port):
            pass


def test_subprocess_mode_and_api_key_stays_off_the_command_line() -> None:
    with LocalServer("scripted", subprocess=True, api_key="topsecret", max_total_tokens=64) as server:
        assert requests.get(server.url + "/info", timeout=10).json()["max_total_tokens"] == 64
        assert requests.post(server.url + "/generate", json={"inputs": "x"}, timeout=10).status_code == 401
        ok = requests.post(
            server.url + "/generate", json={"inputs": "x"}, headers={"Authorization": "Bearer topsecret"}, timeout=10
        )
        assert ok.status_code == 200
        server.configure(status={"code": 503, "body": "x"})
        assert (
            requests.post(
                server.url + "/generate",
                json={"inputs": "x"},
                headers={"Authorization": "Bearer topsecret"},
                timeout=10,
            ).status_code
            == 503
        )
        assert server._process is not None
        assert "topsecret" not in " ".join(server._argv())


def test_subprocess_start_failure_includes_stderr() -> None:
    with (
        pytest.raises(ServerStartError, match="stderr tail"),
        LocalServer("scripted", subprocess=True, max_total_tokens="not-a-number", startup_timeout=30),
    ):
        pass


def test_cli_sigint_exits_zero() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hf_endpoint.server", "--backend", "scripted", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert process.stdout is not None
    assert "listening on" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 0


def test_missing_local_extra_explains_how_to_install(tmp_path: Path) -> None:
    shim = tmp_path / "xllamacpp"
    shim.mkdir()
    (shim / "__init__.py").write_text(textwrap.dedent("raise ImportError('No module named xllamacpp')\n"))
    result = subprocess.run(
        [sys.executable, "-m", "hf_endpoint.server", "--backend", "tiny", "--port", "0"],
        capture_output=True,
        text=True,
        env=_env(PREPEND=str(tmp_path)),
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert 'pip install "hf-endpoint[local]"' in result.stderr


def test_importing_the_package_is_lazy() -> None:
    code = "import hf_endpoint.server, sys; print('aiohttp.web' in sys.modules, 'xllamacpp' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60
    )
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ServerStartError, match="unknown server options"), LocalServer("scripted", replyy="x"):
        pass


def test_the_api_key_stays_out_of_the_server_configs_repr() -> None:
    from hf_endpoint.server._app import ServerConfig

    assert "topsecret" not in repr(ServerConfig(api_key="topsecret"))
    with LocalServer("scripted", api_key="topsecret") as server:
        assert "topsecret" not in repr(server)
