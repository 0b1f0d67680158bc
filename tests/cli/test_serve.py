"""``hf-endpoint serve``: the command line's serve command (the server itself is tested in tests/server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hf_endpoint.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def test_cli_parser_has_serve_flags() -> None:
    args = build_parser().parse_args(["serve", "--backend", "scripted", "--port", "0", "--api-key", "k"])
    assert (args.backend, args.host, args.port, args.api_key, args.max_total_tokens) == (
        "scripted",
        "127.0.0.1",
        0,
        "k",
        4096,
    )
    assert build_parser().parse_args(["serve"]).backend == "tiny"


def test_cli_serve_prints_url_and_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hf_endpoint.cli", "serve", "--backend", "scripted", "--port", "0", "--api-key", "k3y"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("hf-endpoint serve: listening on http://127.0.0.1:")
    assert "(backend scripted, model hf-endpoint/scripted)" in line
    url = line.split("listening on ", 1)[1].split()[0]
    assert requests.get(url + "/health", timeout=10).status_code == 200
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "k3y" not in line + out + err


def test_main_returns_exit_code_for_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` fail
    monkeypatch.delitem(sys.modules, "hf_endpoint.server._tiny", raising=False)
    assert main(["serve", "--backend", "tiny", "--port", "0"]) == 2
