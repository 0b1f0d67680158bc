"""Progress for long waits: a live line on a TTY, log records elsewhere (cold starts, first-run model preparation)."""

from __future__ import annotations

import hashlib
import io
import logging
import sys
from pathlib import Path

import pytest

from hf_endpoint import AsyncTGIClient, EndpointUnavailableError, RateLimitError, TGIClient
from hf_endpoint._progress import RetryWait
from hf_endpoint._terminal import ProgressLine, is_tty
from hf_endpoint.server import LocalServer
from hf_endpoint.server._model_file import _assemble

QUESTION = [{"role": "user", "content": "Hi"}]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def cold(status: int = 503) -> EndpointUnavailableError:
    return EndpointUnavailableError("Service Unavailable", status_code=status)


def test_is_tty() -> None:
    assert is_tty(FakeTTY())
    assert not is_tty(io.StringIO())
    assert not is_tty(object())
    closed = io.StringIO()
    closed.close()
    assert not is_tty(closed)


def test_progress_line_redraws_in_place_and_pads_shorter_text() -> None:
    out = FakeTTY()
    line = ProgressLine(out)
    line.show("long text")
    line.show("short")
    line.end("done")
    assert out.getvalue() == "\rlong text\rshort    \rdone \n"
    line.end()  # nothing shown since: no stray newline
    assert out.getvalue().endswith("done \n")


def test_progress_line_is_silent_off_a_tty() -> None:
    out = io.StringIO()
    line = ProgressLine(out)
    line.show("x")
    line.end("y")
    assert out.getvalue() == ""


def test_cold_start_on_a_tty_ticks_every_second(caplog: pytest.LogCaptureFixture) -> None:
    out = FakeTTY()
    wait = RetryWait(300, out)
    pauses = list(wait.pauses(cold(), attempt=3, elapsed=35.0, delay=2.5))
    assert pauses == [1.0, 1.0, 0.5]
    wait.close(woke=True)
    text = out.getvalue()
    for seconds in (35, 36, 37, 38):  # 37.5 shows as 38
        assert f"\rwaiting for the endpoint to wake (503): {seconds} s / 300 s" in text
    assert text.endswith("\n") and text.rstrip().endswith("\rthe endpoint woke after 38 s")
    assert not caplog.records  # the line replaces the per-retry warnings


def test_off_a_tty_each_retry_is_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    wait = RetryWait(300, out)
    with caplog.at_level(logging.WARNING, logger="hf_endpoint"):
        assert list(wait.pauses(cold(502), attempt=0, elapsed=0.0, delay=2.5)) == [2.5]
    wait.close(woke=True)
    assert out.getvalue() == ""
    assert "EndpointUnavailableError: Service Unavailable (attempt 1, 0/300 s); retrying in 2.5 s" in caplog.text


def test_other_retries_stay_log_lines_on_a_tty(caplog: pytest.LogCaptureFixture) -> None:
    out = FakeTTY()
    wait = RetryWait(300, out)
    with caplog.at_level(logging.WARNING, logger="hf_endpoint"):
        assert list(wait.pauses(RateLimitError("overloaded", status_code=429), 0, 0.0, 0.2)) == [0.2]
    assert out.getvalue() == ""
    assert "RateLimitError" in caplog.text


def test_sync_client_shows_the_wake_up_line(
    scripted: LocalServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "stderr", FakeTTY())
    scripted.configure(cold_start=2)
    with TGIClient(scripted.url) as client:
        assert client.chat(QUESTION, max_tokens=4).content
    text = sys.stderr.getvalue()
    assert "\rwaiting for the endpoint to wake (503): 0 s / 300 s" in text
    assert "the endpoint woke after" in text and text.endswith("\n")
    assert "retrying" not in caplog.text


async def test_async_client_logs_retries_off_a_tty(
    scripted: LocalServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    scripted.configure(cold_start=2)
    with caplog.at_level(logging.WARNING, logger="hf_endpoint"):
        async with AsyncTGIClient(scripted.url) as client:
            assert (await client.chat(QUESTION, max_tokens=4)).content
    assert caplog.text.count("retrying in") == 2
    assert sys.stderr.getvalue() == ""


async def test_async_client_shows_the_wake_up_line(scripted: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", FakeTTY())
    scripted.configure(cold_start=1)
    async with AsyncTGIClient(scripted.url) as client:
        assert (await client.chat(QUESTION, max_tokens=4)).content
    assert "the endpoint woke after" in sys.stderr.getvalue()


def test_chat_results_carry_their_time(scripted_url: str) -> None:
    with TGIClient(scripted_url) as client:
        result = client.chat(QUESTION, max_tokens=4)
    assert result.elapsed is not None and 0 < result.elapsed < 30
    assert "time: " in result._repr_html_()


def chunks(tmp_path: Path, parts: list[bytes]) -> tuple[list[Path], str]:
    paths = []
    for i, part in enumerate(parts):
        path = tmp_path / f"part{i}"
        path.write_bytes(part)
        paths.append(path)
    return paths, hashlib.sha256(b"".join(parts)).hexdigest()


def test_model_preparation_shows_progress_on_a_tty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", FakeTTY())
    paths, digest = chunks(tmp_path, [b"a" * 3_000_000, b"b" * 2_000_000])
    target = tmp_path / "cache" / "model.gguf"
    assert _assemble(target, paths, digest) == target
    assert target.read_bytes() == b"a" * 3_000_000 + b"b" * 2_000_000
    assert sys.stderr.getvalue().startswith("\rpreparing the tiny model (first run): 0 / 5 MB")
    assert "preparing the tiny model (first run): 5 MB in " in sys.stderr.getvalue()
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf"]


def test_model_preparation_logs_off_a_tty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    paths, digest = chunks(tmp_path, [b"x" * 10])
    with caplog.at_level(logging.INFO, logger="hf_endpoint"):
        _assemble(tmp_path / "m.gguf", paths, digest)
    assert sys.stderr.getvalue() == ""
    assert "preparing the tiny model (first run)" in caplog.text and "done in" in caplog.text


def test_a_corrupt_model_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    paths, _ = chunks(tmp_path, [b"x" * 10])
    target = tmp_path / "out" / "m.gguf"
    with pytest.raises(ValueError, match="SHA-256"):
        _assemble(target, paths, "0" * 64)
    assert list(target.parent.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="reinstall"):
        _assemble(target, [tmp_path / "missing"], "0" * 64)
