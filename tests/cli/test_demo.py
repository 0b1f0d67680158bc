"""`hf-endpoint demo` end to end, run as a user runs it: a separate process, here on the real tiny model."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hf_endpoint.cli", "demo", *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.tiny
def test_demo_runs_every_step(tiny_url: str, embed_url: str) -> None:
    done = run_demo("--url", tiny_url, "--embed-url", embed_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All steps passed." in done.stdout
    assert "Paris" in done.stdout  # the real model answers the question
    assert done.stdout.count("tool call: get_weather") == 2  # the LangChain and the LlamaIndex agent
    # Retrieval on the real embedding model: the right document among the other capitals, reranked first.
    france = "'The capital of France is Paris. Paris is on the Seine.'"
    reranked = next(line for line in done.stdout.splitlines() if "reranked best" in line)
    assert reranked.endswith(france)
    assert f"): {france}" in done.stdout.split("LlamaIndex: a query engine")[1]  # its one source after the reranker
    assert "MockEmbedding" not in (ROOT / "hf_endpoint" / "cli" / "_demo.py").read_text()


def test_demo_reports_failures() -> None:
    done = run_demo("--url", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert "FAILED: APIConnectionError" in done.stdout
    assert "step(s) failed" in done.stderr


def _closure(requirements: list[str]) -> set[str]:
    """Distribution names reachable from ``requirements`` through the installed packages' metadata."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        for extra in req.extras or {""}:
            for text in metadata.requires(req.name) or []:
                dep = Requirement(text)
                if dep.marker is None or dep.marker.evaluate({"extra": extra}):
                    todo.append(dep)
    return seen


def test_the_all_extra_provides_what_the_demo_imports() -> None:
    """The README's first command installs ``.[all]`` on a fresh machine; CI installs ``dev``, which has more."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = list(project["dependencies"])
    for req in map(Requirement, extras["all"]):
        own = req.name == project["name"]
        wanted += [r for extra in sorted(req.extras) for r in extras[extra]] if own else [str(req)]
    provided = _closure(wanted)
    source = (ROOT / "hf_endpoint" / "cli" / "_demo.py").read_text()
    imported = {
        (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0)
        for alias in node.names
    }
    ours = {"hf_endpoint", "langchain_hf_endpoint", "llama_index_hf_endpoint", "__future__"}
    third_party = imported - ours - set(sys.stdlib_module_names)
    assert {"langchain", "langchain_core", "llama_index"} <= third_party
    dists = metadata.packages_distributions()
    missing = {m: dists[m] for m in third_party if not {canonicalize_name(d) for d in dists[m]} & provided}
    assert not missing, f"the demo imports these, but .[all] does not install them: {missing}"
