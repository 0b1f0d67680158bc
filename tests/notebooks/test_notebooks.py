"""The notebooks: committed with their outputs, and run top to bottom on the local tiny model.

Each notebook starts its own local server (HF_ENDPOINT_URL is removed for the run), exactly as a reader's fresh
kernel would. They run with nbclient in a real ``python3`` Jupyter kernel (ipykernel provides it in any
environment where the ``dev`` extra is installed); the committed files are not modified.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def test_the_three_notebooks_exist() -> None:
    assert IDS == ["01_quickstart", "02_langchain", "03_llama_index"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_with_outputs_in_order(path: Path) -> None:
    """Readers see real results without running anything: every code cell ran, in order, without errors."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warnings on show
    assert all(c.outputs for c in cells[:-1])  # all but the clean-up cell show something
    assert nb.metadata.kernelspec.name == "python3"


def test_the_quickstart_shows_the_plot_and_the_rich_display() -> None:
    nb = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    kinds = {kind for c in nb.cells if c.cell_type == "code" for o in c.outputs for kind in o.get("data", {})}
    assert {"image/png", "text/html"} <= kinds


@pytest.mark.tiny
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xllamacpp")
    from nbclient import NotebookClient

    monkeypatch.delenv("HF_ENDPOINT_URL", raising=False)
    # A source checkout that is not pip-installed still imports the packages in the kernel.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
