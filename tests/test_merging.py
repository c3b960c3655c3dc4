"""The shared merge layer (``ipy_storage.storage.merging``) on its own: text as ``git merge-file``
merges it, notebooks cell by cell (docs/notebook-merge.md), and the promise both engines rely
on: merging a merge again changes nothing. Generated notebooks and edits (Hypothesis) are judged
by an oracle that states the rules."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from ipy_storage.storage.merging import merge_file
from tests.fixtures.fuzzing import generated
from tests.fixtures.lessons import (
    as_bytes,
    assert_valid,
    cells,
    lesson,
    ran,
    sources,
    with_attachment,
)

BASE = lesson()


def merged(local, upstream, base=BASE, path="lesson.ipynb"):
    """Merge, check the result is valid and idempotent, return the outcome."""
    outcome = merge_file(path, as_bytes(base), as_bytes(local), as_bytes(upstream))
    if outcome.content is not None:
        assert_valid(outcome.content)
        again = merge_file(path, as_bytes(base), outcome.content, as_bytes(upstream))
        assert again.content == outcome.content, "merging the merge again changed it"
    return outcome


def teacher_fixes_and_adds():
    upstream = copy.deepcopy(BASE)
    upstream.cells[0].source = "# Lesson 1\nWe learn to add numbers."
    upstream.cells.append(
        new_code_cell("# Exercise 2: double the answer\nanswer2 = None", id="ex2")
    )
    return upstream


def student_answers():
    student = ran(BASE)
    student.cells[2].source = "# Exercise 1: set answer to x + 1\nanswer = x + 1"
    return student


# --------------------------------------------------------------------------- text


def test_text_merges_as_git_merge_file_does():
    base = b"a\nb\nc\nd\ne\n"
    outcome = merge_file("f.py", base, b"a (mine)\nb\nc\nd\ne\n", b"a\nb\nc\nd\ne (up)\n")
    assert outcome.content == b"a (mine)\nb\nc\nd\ne (up)\n" and outcome.notebook is None
    again = merge_file("f.py", base, outcome.content, b"a\nb\nc\nd\ne (up)\n")
    assert again.content == outcome.content


def test_text_conflict_and_binary_keep_the_users_file_with_a_reason():
    conflict = merge_file("f.py", b"a\n", b"mine\n", b"theirs\n")
    assert conflict.content is None and "same lines" in conflict.reason
    binary = merge_file("x.bin", b"\0a", b"\0b", b"\0c")
    assert binary.content is None and "\n" not in binary.reason and binary.reason


def test_no_trailing_newline_survives():
    outcome = merge_file("f.txt", b"a\nb\nc\nd", b"A\nb\nc\nd", b"a\nb\nc\nD")
    assert outcome.content == b"A\nb\nc\nD"


# --------------------------------------------------------------------------- notebooks


def test_teacher_fixes_a_typo_and_adds_an_exercise_the_student_ran_and_answered():
    outcome = merged(student_answers(), teacher_fixes_and_adds())

    result = cells(outcome.content)
    assert [c["source"] for c in result] == [
        "# Lesson 1\nWe learn to add numbers.",
        "x = 1\nprint(x)",
        "# Exercise 1: set answer to x + 1\nanswer = x + 1",
        "def check(value):\n    return value == 2",
        "## Notes\nKeep going.",
        "# Exercise 2: double the answer\nanswer2 = None",
    ]
    assert result[2]["outputs"][0]["text"] == "ran 2\n" and result[2]["execution_count"] == 2
    notebook = json.loads(outcome.content)
    assert notebook["metadata"]["language_info"]["name"] == "python"  # the student's kernel info
    assert notebook["metadata"]["widgets"]  # and widget state
    assert outcome.notebook.updated == (1,) and outcome.notebook.added == (6,)
    assert outcome.notebook.conflicted == () and outcome.notebook.removed == ()


def test_a_cell_both_changed_keeps_the_users_and_shows_upstreams_right_after_it():
    upstream = copy.deepcopy(BASE)
    upstream.cells[2].source = "# Exercise 1: set answer to x plus one\nanswer = None  # fill in"

    outcome = merged(student_answers(), upstream)

    result = cells(outcome.content)
    assert result[2]["source"].endswith("answer = x + 1")  # the student's, untouched
    assert result[2]["outputs"][0]["text"] == "ran 2\n"
    shown = result[3]
    assert shown["cell_type"] == "markdown"  # never runs with "Run All"
    assert "Upstream's version of the cell above" in shown["source"]
    assert (
        "```python\n# Exercise 1: set answer to x plus one\nanswer = None  # fill in\n```"
        in (shown["source"])
    )
    assert outcome.notebook.conflicted == (3,) and outcome.notebook.conflicted_ids == (
        "exercise-1",
    )
    assert len(result) == len(BASE.cells) + 1


def test_student_deleted_a_cell_the_teacher_changed():
    student = ran(BASE)
    del student.cells[3]
    upstream = copy.deepcopy(BASE)
    upstream.cells[3].source = "def check(value):\n    return value == x + 1"

    outcome = merged(student, upstream)

    result = cells(outcome.content)
    assert "Upstream changed a cell you had deleted" in result[3]["source"]
    assert "return value == x + 1" in result[3]["source"]
    assert outcome.notebook.conflicted == (4,)


def test_teacher_deleted_a_cell_the_student_only_ran_and_one_the_student_changed():
    student = student_answers()
    upstream = copy.deepcopy(BASE)
    del upstream.cells[1:3]  # setup (only run by the student) and exercise 1 (answered)

    outcome = merged(student, upstream)

    assert "x = 1\nprint(x)" not in sources(outcome.content)
    assert any(s.endswith("answer = x + 1") for s in sources(outcome.content))
    assert outcome.notebook.removed == (2,) and outcome.notebook.conflicted == (2,)


def test_teacher_reorders_cells_the_students_answer_moves_with_its_cell():
    upstream = copy.deepcopy(BASE)
    upstream.cells[2], upstream.cells[3] = upstream.cells[3], upstream.cells[2]

    outcome = merged(student_answers(), upstream)

    result = cells(outcome.content)
    assert [c["id"] for c in result] == ["title", "setup", "helper", "exercise-1", "notes"]
    assert result[3]["source"].endswith("answer = x + 1") and result[3]["outputs"]
    assert result[2]["outputs"][0]["text"] == "ran 3\n"  # the student's run of the moved helper


def test_upstreams_change_to_a_cell_the_student_only_ran_brings_upstreams_outputs():
    upstream = copy.deepcopy(BASE)
    upstream.cells[1].source = "x = 1\nprint('x is', x)"

    outcome = merged(ran(BASE), upstream)

    setup = cells(outcome.content)[1]
    assert setup["source"] == "x = 1\nprint('x is', x)"
    assert setup["outputs"] == [] and setup["execution_count"] is None  # no stale output
    assert cells(outcome.content)[2]["outputs"][0]["text"] == "ran 2\n"  # untouched cell: kept


def test_widget_state_and_attachments_survive_and_follow_their_sides():
    student = with_attachment(student_answers(), 4)
    upstream = with_attachment(teacher_fixes_and_adds(), 0)
    upstream.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}

    outcome = merged(student, upstream)

    result = cells(outcome.content)
    assert (
        result[0]["attachments"]["dot.png"]["image/png"]
        == upstream.cells[0].attachments["dot.png"]["image/png"]
    )
    assert result[4]["attachments"] == student.cells[4].attachments
    state = json.loads(outcome.content)["metadata"]["widgets"]
    assert state == student.metadata["widgets"]  # the student's run wins over upstream's


@pytest.mark.parametrize(
    "broken, reason",
    [
        (b'{"cells": [', "not a notebook (not JSON)"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{}]}', "not a valid"),
        (b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}', "nbformat 3"),
    ],
)
def test_an_invalid_upstream_notebook_keeps_the_users_file_with_a_one_line_reason(broken, reason):
    outcome = merge_file("lesson.ipynb", as_bytes(BASE), as_bytes(student_answers()), broken)
    assert outcome.content is None
    assert reason in outcome.reason and "upstream's version" in outcome.reason
    assert "\n" not in outcome.reason and outcome.reason.endswith("your version is kept")


def test_nbformat_4_4_notebooks_merge_without_ids():
    def without_ids(notebook):
        notebook = copy.deepcopy(notebook)
        notebook.nbformat_minor = 4
        for cell in notebook.cells:
            cell.pop("id", None)
        return notebook

    upstream = without_ids(BASE)
    upstream.cells[0].source = "# Lesson 1\nWe learn to add numbers."
    outcome = merged(without_ids(student_answers()), upstream, base=without_ids(BASE))

    assert json.loads(outcome.content)["nbformat_minor"] == 4
    assert not any("id" in cell for cell in cells(outcome.content))
    assert sources(outcome.content)[0].endswith("learn to add numbers.")


# --------------------------------------------------------------------------- generated


LINES = st.sampled_from(["x = 1", "print(x)", "", "# note", "y = x * 2", "for i in range(3):"])


@st.composite
def notebooks_and_edits(draw):
    """A base notebook, the user's version (cells run, edited, deleted, added) and upstream's
    (cells edited, deleted, added, one moved). Sources carry a unique tag, so the oracle can
    tell every cell apart; the extra lines make cells look alike to nbdime's similarity."""
    tags = iter(range(10_000))

    def new_cell(who):
        text = f"# {who}{next(tags)}\n" + "\n".join(draw(st.lists(LINES, max_size=3)))
        kind = draw(st.sampled_from(["code", "code", "markdown"]))
        make = new_code_cell if kind == "code" else new_markdown_cell
        return make(text, id=f"{who}{next(tags)}")

    base = new_notebook(cells=[new_cell("b") for _ in range(draw(st.integers(0, 8)))])
    local, touched = [], []
    for cell in base.cells:
        action = draw(st.sampled_from(["keep", "run", "edit", "delete"]))
        if action == "delete":
            continue
        cell = copy.deepcopy(cell)
        if action == "run" and cell.cell_type == "code":
            cell.outputs, cell.execution_count = [new_output("stream", text="out\n")], 1
        if action == "edit":
            cell.source += f"\n# mine{next(tags)}"
            touched.append(cell.source)
        local.append(cell)
    for _ in range(draw(st.integers(0, 3))):
        cell = new_cell("l")
        touched.append(cell.source)
        local.insert(draw(st.integers(0, len(local))), cell)
    upstream = []
    for cell in base.cells:
        action = draw(st.sampled_from(["keep", "keep", "edit", "delete"]))
        if action != "delete":
            cell = copy.deepcopy(cell)
            if action == "edit":
                cell.source += f"\n# theirs{next(tags)}"
            upstream.append(cell)
    for _ in range(draw(st.integers(0, 3))):
        upstream.insert(draw(st.integers(0, len(upstream))), new_cell("u"))
    if len(upstream) > 1 and draw(st.booleans()):
        moved = upstream.pop(draw(st.integers(0, len(upstream) - 1)))
        upstream.insert(draw(st.integers(0, len(upstream))), moved)
    return base, new_notebook(cells=local), new_notebook(cells=upstream), touched


@settings(generated(examples=60))
@given(notebooks_and_edits())
def test_generated_merges_keep_the_users_work_and_take_upstreams(case):
    base, local, upstream, touched = case
    outcome = merge_file("n.ipynb", as_bytes(base), as_bytes(local), as_bytes(upstream))

    assert outcome.content is not None, outcome.reason
    assert_valid(outcome.content)
    result = sources(outcome.content)
    for source in touched:  # every cell the user wrote or changed is there, as they left it
        assert source in result
    base_by_id = {cell.id: cell for cell in base.cells}
    local_by_id = {cell.id: cell for cell in local.cells}
    # upstream's cells the user did not touch are upstream's. When upstream shares no cell id
    # with the base (every cell deleted, or ids written anew), cells pair by content instead: a
    # new cell like one the user changed is then shown beside it, in a Markdown cell
    trusted = bool(base_by_id.keys() & {cell.id for cell in upstream.cells}) or not base.cells
    for cell in upstream.cells:
        was = base_by_id.get(cell.id)
        if was is None or (cell.id in local_by_id and local_by_id[cell.id].source == was.source):
            assert cell.source in result or (
                not trusted and any(f"\n{cell.source}\n```" in text for text in result)
            )
    again = merge_file("n.ipynb", as_bytes(base), outcome.content, as_bytes(upstream))
    assert again.content == outcome.content


def _code_cells(*cells: tuple[str, str]):
    return new_notebook(cells=[new_code_cell(source, id=cell_id) for cell_id, source in cells])


B = [(f"b{i}", f"# b{i}\n") for i in range(7)]
SHRUNK = {  # failures the generated test found once, kept as they were shrunk
    "upstream deleted every cell and added one like the user's": (
        [("b0", "# b0\n"), ("b1", "# b1\nx = 1")],
        [("b0", "# b0\n"), ("b1", "# b1\nx = 1\n# mine")],
        [("u0", "# u0\nx = 1")],
    ),
    "the user deleted the only cell, upstream added one before it": (
        B[:1],
        [],
        [("u0", "# u0\n"), *B[:1]],
    ),
    "upstream replaced the only cell, the user added one above it": (
        [("b0", "# b0\nfor i in range(3):")],
        [("l0", "# l0\nfor i in range(3):"), ("b0", "# b0\nfor i in range(3):")],
        [("u0", "# u0\nfor i in range(3):")],
    ),
    "upstream moved a cell both changed to the end": (
        B[:6],
        [B[0], ("b1", "# b1\n# mine"), *B[2:5]],
        [*B[2:3], B[4], B[5], ("b1", "# b1\n# theirs")],
    ),
    "upstream moved a cell below its new cells, the user deleted another": (
        B,
        B[1:],
        [("u0", "# u0\n"), ("u1", "# u1\n"), B[1], B[0], ("u2", "# u2\n"), *B[2:]],
    ),
    "upstream moved a cell right below one both changed": (
        B,
        [("l0", "# l0\n"), B[0], ("b1", "# b1\n# mine"), *B[2:]],
        [("b1", "# b1\n# theirs"), B[3], B[2], *B[4:]],
    ),
    "upstream replaced the one cell the user deleted with two new ones": (
        [("b1", "# b0\n")],
        [],
        [("u3", "# u2\n"), ("u5", "# u4\n")],
    ),
    "upstream moved a cell below one the user deleted, then added cells after it": (
        B[:4],
        [B[0], B[1], B[3]],
        [B[1], B[2], B[0], ("u0", "# u0\n"), ("u1", "# u1\n"), ("u2", "# u2\n"), B[3]],
    ),
}


@pytest.mark.parametrize("case", SHRUNK.values(), ids=SHRUNK.keys())
def test_shrunk_cases_merge_again_to_the_same_notebook(case):
    base, local, upstream = (as_bytes(_code_cells(*cells)) for cells in case)
    outcome = merge_file("n.ipynb", base, local, upstream)
    assert outcome.content is not None, outcome.reason
    assert_valid(outcome.content)
    assert merge_file("n.ipynb", base, outcome.content, upstream).content == outcome.content
