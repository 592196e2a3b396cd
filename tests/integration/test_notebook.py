"""The exploration notebook, executed top to bottom on the tiny run by a real Jupyter kernel."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import install
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from tests.conftest import REPO_ROOT
from tests.integration.conftest import TinyRun

pytestmark = pytest.mark.slow

NOTEBOOK = REPO_ROOT / "notebooks" / "exploration.ipynb"
KERNEL = "audiometric-clustering-test"


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec that starts this very interpreter (the project's venv), found first."""
    prefix = tmp_path / "jupyter"
    install(kernel_name=KERNEL, prefix=str(prefix))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return KERNEL


def outputs(cell: nbformat.NotebookNode, mime: str) -> list[str]:
    """Everything a cell displayed or printed under ``mime`` (``text`` for its prints)."""
    found = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream" and mime == "text":
            found.append(output["text"])
        elif mime in output.get("data", {}):
            found.append(output["data"][mime])
    return found


def test_notebook_runs_on_the_latest_run_of_a_project(
    tiny_run: TinyRun, kernel_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name, value in tiny_run.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUDIOMETRIC_PROJECT_PATH", str(tiny_run.project))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(new_code_cell("import sys\nprint(sys.prefix)"))

    # Raises CellExecutionError, with the failing cell's traceback, if any cell fails.
    NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    ).execute()

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    printed = "".join(text for cell in code for text in outputs(cell, "text"))
    assert f"project: {tiny_run.project}" in printed
    assert outputs(code[-1], "text")[0].strip() == sys.prefix, "kernel is not the venv's python"

    figures = [png for cell in code for png in outputs(cell, "image/png")]
    assert len(figures) == 2, "cluster audiograms and latent projection"
    tables = [html for cell in code for html in outputs(cell, "text/html")]
    enriched = tables[-1]
    assert "gene_symbol" in enriched and "q_value" in enriched
    assert enriched.count("<tr>") > 1, "the top enriched lines table has rows"
