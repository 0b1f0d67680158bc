"""Every code block in README.md: python blocks run against a local server, bash blocks are checked command by command.

Python blocks read ``HF_ENDPOINT_URL`` (a reader's endpoint) and ``HF_EMBED_URL`` (their embedding endpoint); here they
are the tiny local model and the local embedding model, so each block runs as a reader would run it, in a fresh
interpreter. Bash blocks install packages or start long-running servers, so instead
each command is checked: ``hf-endpoint`` command lines parse with the real argument parser, extras exist in
pyproject.toml, exported variables are ones the package reads.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hf_endpoint import TOKEN_ENV_VARS
from hf_endpoint.cli import build_parser

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.M | re.S)]
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
BASH = [code for lang, code in BLOCKS if lang == "bash"]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_block_is_python_or_bash() -> None:
    assert sorted({lang for lang, _ in BLOCKS}) == ["bash", "python"]
    assert len(PYTHON) >= 4 and len(BASH) >= 3


def test_the_two_set_up_commands() -> None:
    assert 'pip install -e ".[all]" && hf-endpoint demo\n' in BASH
    assert 'pip install -e ".[dev]" && python -m pytest\n' in BASH


def test_the_examples_default_to_hf_endpoint_serve() -> None:
    defaults = set(re.findall(r'os\.environ\.get\("HF_ENDPOINT_URL", "([^"]+)"\)', README))
    port = build_parser().parse_args(["serve"]).port
    assert defaults == {f"http://127.0.0.1:{port}"}


def test_the_retrieval_examples_default_to_the_embedding_server_the_readme_starts() -> None:
    (default,) = set(re.findall(r'os\.environ\.get\("HF_EMBED_URL", "([^"]+)"\)', README))
    port = int(default.rsplit(":", 1)[1])
    assert f"hf-endpoint serve --backend embed --port {port}" in README
    assert build_parser().parse_args(["serve", "--backend", "embed", "--port", str(port)]).port == port


@pytest.mark.tiny
@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_block_runs(code: str, tiny_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "HF_ENDPOINT_URL": tiny_url, "PYTHONPATH": path}
    if "HF_EMBED_URL" in code:  # the embedding model's server starts only for the blocks that use it
        env["HF_EMBED_URL"] = request.getfixturevalue("embed_url")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip()  # every block prints what it shows
    if "LocalServer(" in code:  # its own fresh servers, greedy: the answers are fixed
        assert "Paris" in done.stdout and "Hello from the scripted backend." in done.stdout
        assert done.stderr.count("retrying in") == 2  # the two cold-start 503s, logged as a reader would see them


def check_command(argv: list[str]) -> None:
    name, args = argv[0], argv[1:]
    if name == "export":
        (assignment,) = args
        assert assignment.split("=", 1)[0] in {"HF_ENDPOINT_URL", "HF_EMBED_URL", *TOKEN_ENV_VARS}, assignment
    elif name == "pip":
        assert shutil.which("pip") or importlib.util.find_spec("pip")
        assert args[:2] == ["install", "-e"], argv
        extras = re.fullmatch(r"\.\[([\w,-]+)\]", args[2])
        assert extras, argv
        assert set(extras.group(1).split(",")) <= set(PROJECT["optional-dependencies"]), argv
    elif name == "hf-endpoint":
        assert "hf-endpoint" in PROJECT["scripts"]
        build_parser().parse_args(args)  # exits (SystemExit) on an unknown command or option
    elif argv[:2] == ["python", "-m"]:  # e.g. pytest, or a module of this repository
        assert importlib.util.find_spec(argv[2]), argv
    elif name == "python":
        assert (ROOT / args[0]).is_file(), argv
    else:
        raise AssertionError(f"a README command this test does not know how to check: {argv}")


@pytest.mark.parametrize("code", BASH, ids=[f"bash-{i}" for i in range(len(BASH))])
def test_bash_block_commands_exist(code: str) -> None:
    for line in code.splitlines():
        line = line.split(" #", 1)[0].strip()
        for command in filter(None, (part.strip() for part in line.split("&&"))):
            check_command(shlex.split(command))
