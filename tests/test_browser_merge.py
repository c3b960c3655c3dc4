"""A merged notebook as the student sees it in JupyterLab (Chromium): the teacher's fixed title
and new exercise, the student's answer with its output, and upstream's version of the cell both
changed, shown as Markdown right after the student's. Saved as
``tests/artifacts/screenshots/20-merged-notebook.png`` for a person to look at."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell

from ipy_storage import RemoteStorage
from tests.fixtures.browser import expect, open_notebook
from tests.fixtures.lessons import as_bytes, lesson, ran, write_lesson_tree

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"


def test_a_merged_notebook_in_jupyterlab(jupyterlab, lab_page, tmp_path):
    teacher_folder = tmp_path / "teacher" / "lesson"
    write_lesson_tree(teacher_folder, lesson())
    storage = RemoteStorage(teacher_folder.as_uri())
    storage.set_base_path(jupyterlab.root / "merge-home")
    storage.pull()
    notebook = storage.destination / "lesson.ipynb"

    student = ran(lesson())
    student.cells[2].source = "# Exercise 1: set answer to x + 1\nanswer = x + 1\nprint(answer)"
    notebook.write_bytes(as_bytes(student))
    teacher = copy.deepcopy(lesson())
    teacher.cells[0].source = "# Lesson 1\nWe learn to add numbers."
    teacher.cells[2].source = "# Exercise 1: set answer to x plus one\nanswer = ...  # your code"
    teacher.cells.append(new_code_cell("# Exercise 2: double it\nanswer2 = None", id="ex2"))
    write_lesson_tree(teacher_folder, teacher)

    result = storage.pull()
    assert result.merged == ["lesson.ipynb"]
    assert result.notebooks["lesson.ipynb"].conflicted == (3,)

    page = lab_page
    open_notebook(page, jupyterlab, "merge-home/lesson/lesson.ipynb")
    panel = page.locator(".jp-NotebookPanel").first
    rendered = panel.locator(".jp-RenderedMarkdown")
    expect(rendered.filter(has_text="We learn to add numbers.")).to_be_visible(timeout=20_000)
    shown = rendered.filter(has_text="Upstream's version of the cell above.")
    expect(shown).to_be_visible()
    expect(shown.locator("pre")).to_contain_text("x plus one")  # upstream's code, fenced
    page.wait_for_timeout(500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "20-merged-notebook.png"), full_page=True)
