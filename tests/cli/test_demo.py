"""`hf-endpoint demo` end to end, run as a user runs it: a separate process, here on the real tiny model."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hf_endpoint.cli", "demo", *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.tiny
def test_demo_runs_every_step(tiny_url: str) -> None:
    done = run_demo("--url", tiny_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All steps passed." in done.stdout
    assert "Paris" in done.stdout  # the real model answers the question
    assert done.stdout.count("tool call: get_weather") == 2  # the LangChain and the LlamaIndex agent


def test_demo_reports_failures() -> None:
    done = run_demo("--url", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert "FAILED: APIConnectionError" in done.stdout
    assert "step(s) failed" in done.stderr
