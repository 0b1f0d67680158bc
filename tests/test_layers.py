"""The layers' one-way arrows, read from every module's source (the AST, not ``sys.modules``).

cli -> adapters -> transport <- (nothing) server. Reading the source sees what an import test in a fresh
interpreter cannot: imports inside functions (the demo's are), under ``if TYPE_CHECKING:``, through
``import_module("...")`` and through ``hf_endpoint``'s lazy-name table. The rules (see ARCHITECTURE.md):

- the transport (``hf_endpoint`` but its ``server`` and ``cli`` subpackages) imports no framework, no adapter, no
  server and no command-line module;
- the server (``hf_endpoint.server``) imports nothing of this distribution but itself and the ``_terminal`` leaf,
  so that it stays an independent implementation of the protocol the clients are tested against;
- ``hf_endpoint._terminal`` is a leaf: it imports nothing of this distribution;
- the LangChain adapter never imports LlamaIndex or its adapter, and the other way round; neither imports the
  server or the command line;
- only ``hf_endpoint.cli`` may import everything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hf_endpoint", "langchain_hf_endpoint", "llama_index_hf_endpoint")
LAZY_TABLE = "_LAZY"  # hf_endpoint/__init__.py: public name -> relative module, imported on first use (PEP 562)


def module_sources() -> dict[str, tuple[str, bool]]:
    """``{module name: (source, is_package)}`` for every module of the three packages."""
    found: dict[str, tuple[str, bool]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join(parts)] = (path.read_text(encoding="utf-8"), is_package)
    return found


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if not level:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _relative(module: str, is_package: bool, name: str) -> str:
    """``import_module(".x", __name__)``-style names: leading dots are levels, as in ``from .x import``."""
    dots = len(name) - len(name.lstrip("."))
    return _resolve(module, is_package, dots, name.lstrip(".") or None)


def imported_modules(module: str, source: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` may import, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node.level, node.module)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import _x` names a module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__"):
                found.add(_relative(module, is_package, str(node.args[0].value)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == LAZY_TABLE for t in targets):
                for value in node.value.values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.add(_relative(module, is_package, value.value))
    found.discard("")
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer(module: str) -> str:
    """Which layer a module (ours or not) belongs to."""
    top = module.split(".")[0]
    if _within(module, "hf_endpoint._terminal"):
        return "leaf"
    if _within(module, "hf_endpoint.cli"):
        return "cli"
    if _within(module, "hf_endpoint.server"):
        return "server"
    if top == "hf_endpoint":
        return "transport"
    if top in ("langchain_hf_endpoint", "llama_index_hf_endpoint"):
        return top
    if top.startswith("langchain"):
        return "langchain"
    if top.startswith("llama_index"):
        return "llama_index"
    return "other"


# For each layer, the layers it must not import ("ours" = any module of the three packages but its own layer).
FORBIDDEN: dict[str, set[str]] = {
    "transport": {"cli", "server", "langchain_hf_endpoint", "llama_index_hf_endpoint", "langchain", "llama_index"},
    "server": {"ours", "langchain", "llama_index"},
    "leaf": {"ours", "langchain", "llama_index"},
    "langchain_hf_endpoint": {"cli", "server", "llama_index_hf_endpoint", "llama_index"},
    "llama_index_hf_endpoint": {"cli", "server", "langchain_hf_endpoint", "langchain"},
    "cli": set(),
}
OURS = {"transport", "server", "cli", "leaf", "langchain_hf_endpoint", "llama_index_hf_endpoint"}
ALLOWED_TO_SERVER = {"leaf"}  # the progress line: no protocol code, no client state


def violations(module: str, imported: set[str]) -> Iterator[str]:
    own = layer(module)
    forbidden = FORBIDDEN[own]
    for target in sorted(imported):
        other = layer(target)
        if other == own:
            continue
        bad = other in forbidden or ("ours" in forbidden and other in OURS and other not in ALLOWED_TO_SERVER)
        if own == "leaf" and other in OURS:
            bad = True
        if bad:
            yield f"{module} ({own}) imports {target} ({other})"


SOURCES = module_sources()


def test_every_module_is_read() -> None:
    expected = {"hf_endpoint", "hf_endpoint.cli._demo", "hf_endpoint.server._app", "langchain_hf_endpoint._chat_model"}
    assert expected | {"llama_index_hf_endpoint._llm"} <= set(SOURCES)
    assert {layer(m) for m in SOURCES} == OURS


def test_imports_inside_functions_type_checking_and_the_lazy_table_are_seen() -> None:
    source, is_package = SOURCES["hf_endpoint.cli._demo"]
    assert {"langchain_hf_endpoint", "llama_index_hf_endpoint"} <= imported_modules("hf_endpoint.cli._demo", source)
    source, is_package = SOURCES["hf_endpoint"]
    found = imported_modules("hf_endpoint", source, is_package)
    assert {"hf_endpoint._client", "hf_endpoint._async_client"} <= found


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_layers_import_one_way(module: str) -> None:
    source, is_package = SOURCES[module]
    assert list(violations(module, imported_modules(module, source, is_package))) == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("hf_endpoint._x", "def f():\n    import langchain_core.messages\n", "imports langchain_core.messages"),
        ("hf_endpoint._x", "if TYPE_CHECKING:\n    from llama_index.core import LLM\n", "imports llama_index.core"),
        ("hf_endpoint._x", "from .cli import main\n", "imports hf_endpoint.cli"),
        ("hf_endpoint._x", "from . import server\n", "imports hf_endpoint.server"),
        ("hf_endpoint._x", "_LAZY = {'X': '.server._local'}\n", "imports hf_endpoint.server._local"),
        ("hf_endpoint._x", "import_module('langchain_hf_endpoint')\n", "imports langchain_hf_endpoint"),
        ("hf_endpoint.server._x", "from .._client import TGIClient\n", "imports hf_endpoint._client"),
        ("hf_endpoint.server._x", "from hf_endpoint import TGIClient\n", "imports hf_endpoint (transport)"),
        ("hf_endpoint._terminal", "from ._errors import HFEndpointError\n", "imports hf_endpoint._errors"),
        ("langchain_hf_endpoint._x", "def f():\n    import llama_index.core\n", "imports llama_index.core"),
        ("llama_index_hf_endpoint._x", "from langchain_hf_endpoint import ChatHFEndpoint\n", "langchain_hf_endpoint"),
        ("llama_index_hf_endpoint._x", "from hf_endpoint.server import LocalServer\n", "hf_endpoint.server"),
    ],
)
def test_a_violation_is_caught(module: str, source: str, expected: str) -> None:
    found = list(violations(module, imported_modules(module, source)))
    assert any(expected in v for v in found), found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("hf_endpoint.cli._x", "import langchain_core\nimport llama_index.core\nfrom hf_endpoint.server import X\n"),
        ("hf_endpoint.server._x", "from .._terminal import ByteProgress\nfrom ._app import build_app\n"),
        ("hf_endpoint._x", "from ._terminal import ProgressLine\nimport aiohttp\n"),
        ("langchain_hf_endpoint._x", "from hf_endpoint import TGIClient\nimport langchain_core\n"),
    ],
)
def test_allowed_imports_pass(module: str, source: str) -> None:
    assert list(violations(module, imported_modules(module, source))) == []
