"""The demo notebooks (behaviour §7) run top to bottom in a real kernel with no network, from a temp
copy so that the repository stays clean, and leave no timer running; they are saved without
outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"quickstart", "git", "remote", "form", "timers", "prefect"}

# Appended to every notebook: a timer thread stops right after unwatch (or within a pull in flight).
NO_TIMER_LEFT = """
def _ipy_storage_timers(timeout=5.0):
    import threading, time
    deadline = time.monotonic() + timeout
    while True:
        names = [t.name for t in threading.enumerate() if t.name.startswith("ipy-storage-watch")]
        if not names or time.monotonic() > deadline:
            return names
        time.sleep(0.05)

assert not _ipy_storage_timers(), f"timers still running at the end: {_ipy_storage_timers(0)}"
"""


def _ids(path: Path) -> str:
    return path.stem


def test_the_six_demo_notebooks_exist():
    assert {path.stem for path in NOTEBOOKS} >= EXPECTED, sorted(path.name for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_saved_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown", "a notebook starts with a short introduction"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"clear the outputs of {path.name}"
            )


@pytest.mark.kernel
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_runs_top_to_bottom(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    nb.cells.append(new_code_cell(NO_TIMER_LEFT))
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )

    client.execute()  # raises CellExecutionError, with the failing cell and traceback, on the first error

    errors = [
        f"cell {index}: {output.ename}: {output.evalue}"
        for index, cell in enumerate(nb.cells)
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert not errors, errors
    if path.stem == "form":
        _each_step_shows_a_form(nb)


def _each_step_shows_a_form(nb) -> None:
    """form.ipynb shows a form at each step (widget views), and never a raw HTML string."""
    outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) >= 7, f"only {len(views)} form views"
    texts = [o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs]
    assert not [text for text in texts if "<span" in text or "</" in text], texts
