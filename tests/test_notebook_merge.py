"""Notebooks merge as notebooks, in both engines (behaviour §5, docs/notebook-merge.md): a teacher's
lesson pulled over git (the smart-HTTP test server, with auth), over file:// and over S3 (moto),
run and answered by a student, then changed upstream.

Each test pulls, lets the student work, changes upstream, pulls again, and looks at the file
and the ``PullResult``; then pulls once more, which must change nothing. The rules themselves
are tested on the merge layer alone in ``tests/test_merging.py``.
"""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys

import pytest
from nbformat.v4 import new_code_cell

from ipy_storage import GitRepository, RemoteStorage
from ipy_storage.storage.mirror.pristine import PRISTINE_NAME, STORE_LIMIT, Pristine
from tests.fixtures.lessons import (
    as_bytes,
    assert_valid,
    cells,
    lesson,
    ran,
    sources,
    with_attachment,
)
from tests.fixtures.upstreams import FolderUpstream

pytestmark = pytest.mark.timeout(180)

NOTEBOOK = "lesson.ipynb"
UTILS = "utils.py"
UTILS_TEXT = "def add(a, b):\n    return a + b\n\n\n\ndef double(a):\n    return 2 * a\n"
# git and s3 start servers through getfixturevalue, which collection cannot see: marked here
ENGINES = [
    pytest.param("git", marks=pytest.mark.server),
    "file",
    pytest.param("s3", marks=[pytest.mark.server, pytest.mark.s3]),
]


class HttpGitUpstream:
    """A repository on the test git server (Basic auth), pulled by ``GitRepository``."""

    def __init__(self, base, server, files) -> None:
        self.base, self.server = base, server
        self.repo = server.create_repo(files)

    def change(self, files=None, delete=()) -> None:
        self.repo.commit(files, delete=delete)

    def storage(self):
        storage = GitRepository(self.repo.url, credentials=self.server.credentials())
        storage.set_base_path(self.base)
        return storage


class S3Upstream:
    """A prefix of a moto bucket, pulled by ``RemoteStorage``."""

    def __init__(self, base, bucket, upload, settings, files) -> None:
        self.base, self.bucket, self.upload, self.settings = base, bucket, upload, settings
        self.change(files)

    def change(self, files=None, delete=()) -> None:
        objects = {f"lesson/{rel}": _bytes(content) for rel, content in (files or {}).items()}
        self.upload(self.bucket, objects | {f"lesson/{rel}": None for rel in delete})

    def storage(self):
        storage = RemoteStorage(f"s3://{self.bucket}/lesson", **self.settings)
        storage.set_base_path(self.base)
        return storage


def _bytes(content) -> bytes:
    return content.encode() if isinstance(content, str) else content


@pytest.fixture(params=ENGINES)
def upstream(request, tmp_path):
    files = {NOTEBOOK: as_bytes(lesson()), UTILS: UTILS_TEXT, "README.md": "# course\n"}
    base = tmp_path / "students-home"
    if request.param == "git":
        return HttpGitUpstream(base, request.getfixturevalue("git_http_server"), files)
    if request.param == "file":
        return FolderUpstream(base, tmp_path / "teacher" / "lesson", files)
    bucket, upload = request.getfixturevalue("s3_bucket"), request.getfixturevalue("s3_upload")
    return S3Upstream(base, bucket, upload, request.getfixturevalue("s3_settings"), files)


@pytest.fixture
def pulled(upstream):
    """``(upstream, storage, destination)`` after the student's first pull."""
    storage = upstream.storage()
    storage.pull()
    return upstream, storage, storage.destination


def student_runs_and_answers(dest, notebook=None):
    student = ran(notebook or lesson())
    student.cells[2].source = "# Exercise 1: set answer to x + 1\nanswer = x + 1"
    (dest / NOTEBOOK).write_bytes(as_bytes(student))
    return student


def teacher_fixes_the_typo_and_adds_exercise_2():
    teacher = lesson()
    teacher.cells[0].source = "# Lesson 1\nWe learn to add numbers."
    teacher.cells.append(new_code_cell("# Exercise 2: double it\nanswer2 = None", id="ex2"))
    return teacher


def pull_and_check_quiet(storage, dest):
    """Pull; then a pull with nothing new upstream changes nothing."""
    result = storage.pull()
    before = (dest / NOTEBOOK).read_bytes()
    again = storage.pull()
    assert not again.changed and again.kept_local == []
    assert (dest / NOTEBOOK).read_bytes() == before
    return result


def test_teacher_fixes_a_typo_and_appends_exercise_2_the_student_gets_both(pulled):
    upstream, storage, dest = pulled
    student_runs_and_answers(dest)
    upstream.change({NOTEBOOK: as_bytes(teacher_fixes_the_typo_and_adds_exercise_2())})

    result = pull_and_check_quiet(storage, dest)

    assert result.merged == [NOTEBOOK] and result.kept_local == []
    report = result.notebooks[NOTEBOOK]
    assert report.updated == (1,) and report.added == (6,) and report.conflicted == ()
    merged = (dest / NOTEBOOK).read_bytes()
    assert_valid(merged)
    assert sources(merged)[0] == "# Lesson 1\nWe learn to add numbers."
    assert sources(merged)[2].endswith("answer = x + 1")  # the student's answer
    assert sources(merged)[5].startswith("# Exercise 2")
    assert cells(merged)[2]["outputs"][0]["text"] == "ran 2\n"  # and their outputs
    assert "cell 1 updated; cell 6 added" in repr(result)
    assert "cell 1 updated; cell 6 added" in result._repr_html_()


def test_student_deleted_a_cell_the_teacher_changed(pulled):
    upstream, storage, dest = pulled
    student = ran(lesson())
    del student.cells[3]
    (dest / NOTEBOOK).write_bytes(as_bytes(student))
    teacher = lesson()
    teacher.cells[3].source = "def check(value):\n    return value == x + 1"
    upstream.change({NOTEBOOK: as_bytes(teacher)})

    result = pull_and_check_quiet(storage, dest)

    assert result.merged == [NOTEBOOK] and result.notebooks[NOTEBOOK].conflicted == (4,)
    shown = sources((dest / NOTEBOOK).read_bytes())[3]
    assert shown.startswith("**Upstream changed a cell you had deleted.**")
    assert "return value == x + 1" in shown


def test_both_changed_one_cell_the_students_stays_upstreams_beside_it(pulled):
    upstream, storage, dest = pulled
    student_runs_and_answers(dest)
    teacher = lesson()
    teacher.cells[2].source = "# Exercise 1: set answer to x plus one\nanswer = None"
    upstream.change({NOTEBOOK: as_bytes(teacher)})

    result = pull_and_check_quiet(storage, dest)

    report = result.notebooks[NOTEBOOK]
    assert report.conflicted == (3,) and report.conflicted_ids == ("exercise-1",)
    merged = cells((dest / NOTEBOOK).read_bytes())
    assert merged[2]["source"].endswith("answer = x + 1")
    assert merged[3]["cell_type"] == "markdown" and "x plus one" in merged[3]["source"]
    assert len(merged) == 6
    assert "cell 3 conflicted" in repr(result)


def test_teacher_reorders_cells(pulled):
    upstream, storage, dest = pulled
    student_runs_and_answers(dest)
    teacher = lesson()
    teacher.cells[1:4] = [teacher.cells[3], teacher.cells[1], teacher.cells[2]]
    upstream.change({NOTEBOOK: as_bytes(teacher)})

    result = pull_and_check_quiet(storage, dest)

    assert result.merged == [NOTEBOOK]
    merged = cells((dest / NOTEBOOK).read_bytes())
    assert [c["id"] for c in merged] == ["title", "helper", "setup", "exercise-1", "notes"]
    assert merged[3]["source"].endswith("answer = x + 1") and merged[3]["outputs"]


def test_widget_state_and_attachments(pulled):
    upstream, storage, dest = pulled
    student = with_attachment(ran(lesson()), 4)
    (dest / NOTEBOOK).write_bytes(as_bytes(student))
    teacher = with_attachment(teacher_fixes_the_typo_and_adds_exercise_2(), 0)
    upstream.change({NOTEBOOK: as_bytes(teacher)})

    result = pull_and_check_quiet(storage, dest)

    assert result.merged == [NOTEBOOK]
    merged = json.loads((dest / NOTEBOOK).read_bytes())
    assert merged["metadata"]["widgets"] == student.metadata["widgets"]
    assert merged["cells"][0]["attachments"] == teacher.cells[0].attachments
    assert merged["cells"][4]["attachments"] == student.cells[4].attachments


def test_an_invalid_upstream_notebook_is_not_merged_the_students_file_is_kept(pulled):
    upstream, storage, dest = pulled
    student_runs_and_answers(dest)
    mine = (dest / NOTEBOOK).read_bytes()
    upstream.change({NOTEBOOK: b'{"cells": [ <<<<<<< HEAD'})

    result = storage.pull()

    assert result.kept_local == [NOTEBOOK] and result.merged == []
    assert (dest / NOTEBOOK).read_bytes() == mine
    reason = result.reasons[NOTEBOOK]
    assert reason.startswith("upstream's version is not a notebook") and "\n" not in reason
    assert reason in repr(result)
    assert not storage.pull().changed


def test_a_text_file_both_changed_takes_upstreams_other_hunks(pulled):
    upstream, storage, dest = pulled
    (dest / UTILS).write_text(UTILS_TEXT.replace("return a + b", "return a + b  # mine"))
    upstream.change({UTILS: UTILS_TEXT.replace("return 2 * a", "return a + a")})

    result = storage.pull()

    assert result.merged == [UTILS]
    assert (dest / UTILS).read_text() == UTILS_TEXT.replace(
        "return a + b", "return a + b  # mine"
    ).replace("return 2 * a", "return a + a")


# --------------------------------------------------------------------------- a killed pull

_KILLED_PULL = """
import json, os, signal, sys
from pathlib import Path
real_replace = os.replace

def replace(source, target, *args, **kwargs):
    real_replace(source, target, *args, **kwargs)
    if str(target).endswith("lesson.ipynb"):  # the merge is written: die before anything else
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
from ipy_storage import GitRepository, RemoteStorage
arguments = json.loads(sys.argv[1])
kind = GitRepository if arguments["engine"] == "git" else RemoteStorage
storage = kind(arguments["url"])
storage.set_base_path(Path(arguments["base"]))
storage.pull()
"""


@pytest.mark.parametrize("engine", ["git", "file"])
def test_a_pull_killed_after_writing_the_merge_merges_again_to_the_same_file(
    engine, tmp_path, make_repo
):
    files = {NOTEBOOK: as_bytes(lesson()), UTILS: UTILS_TEXT}
    base = tmp_path / "home"
    upstream = (
        FolderUpstream(base, tmp_path / "teacher" / "lesson", files)
        if engine == "file"
        else _FileGit(base, make_repo(files))
    )
    storage = upstream.storage()
    storage.pull()
    dest = storage.destination
    student = copy.deepcopy(lesson())
    student.cells[2].source = "answer = 2"
    student.cells.append(new_code_cell("scratch = 1", id="mine"))
    (dest / NOTEBOOK).write_bytes(as_bytes(student))
    teacher = teacher_fixes_the_typo_and_adds_exercise_2()
    teacher.cells[2].source = "answer = None  # fill in"  # both changed it: a marked version
    upstream.change({NOTEBOOK: as_bytes(teacher)})
    url = upstream.root.as_uri() if engine == "file" else upstream.repo.url
    arguments = json.dumps({"engine": engine, "url": url, "base": str(base)})

    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_PULL, arguments],
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    written = (dest / NOTEBOOK).read_bytes()

    result = storage.pull()

    assert (dest / NOTEBOOK).read_bytes() == written  # merged again: the same file
    assert result.merged == [NOTEBOOK] or not result.changed
    texts = sources(written)
    assert sum("fill in" in text for text in texts) == 1  # upstream's version shown once
    assert texts.count("scratch = 1") == 1 and texts.count("answer = 2") == 1
    assert not storage.pull().changed


class _FileGit:
    def __init__(self, base, repo) -> None:
        self.base, self.repo = base, repo

    def change(self, files=None) -> None:
        self.repo.commit(files)

    def storage(self):
        storage = GitRepository(self.repo.url)
        storage.set_base_path(self.base)
        return storage


# --------------------------------------------------------------------------- the pristine store


def test_the_mirrors_pristine_store_holds_what_was_pulled_and_old_versions_go_for_room(
    tmp_path, monkeypatch
):
    from ipy_storage.storage.mirror import pristine

    files = {NOTEBOOK: as_bytes(lesson()), UTILS: UTILS_TEXT, "logo.png": b"\x89PNG\0\0binary"}
    upstream = FolderUpstream(tmp_path / "home", tmp_path / "teacher" / "lesson", files)
    storage = upstream.storage()
    storage.pull()
    store = storage.destination / PRISTINE_NAME
    held = {path.read_bytes() for path in store.iterdir()}
    assert held == {files[NOTEBOOK], UTILS_TEXT.encode()}  # text and notebooks, not binaries

    upstream.change({UTILS: "v2\n"}, delete=[NOTEBOOK])
    storage.pull()
    assert {path.read_bytes() for path in store.iterdir()} >= {b"v2\n"}  # old ones may stay

    monkeypatch.setattr(pristine, "STORE_LIMIT", len(UTILS_TEXT) + 10)
    upstream.change({UTILS: "v3\n"})
    storage.pull()
    held = {path.read_bytes() for path in store.iterdir()}
    assert held == {b"v2\n", b"v3\n"}  # no room: what no entry named went (v2 still was)


def test_the_pristine_store_stops_at_its_bound(tmp_path):
    from ipy_storage.storage.mirror.manifest import Copy, Manifest, file_digest
    from ipy_storage.storage.mirror.pristine import blob_name

    source = tmp_path / "file.txt"
    source.write_text("twenty bytes of text")
    copy = Copy(20, 0, 0, file_digest(source))
    (tmp_path / PRISTINE_NAME).mkdir()
    pristine = Pristine(tmp_path, Manifest({}, {}, rewrite=False))
    pristine.used, pristine.pruned = STORE_LIMIT - 10, True  # full of versions still named
    pristine.keep(str(source), copy)
    assert pristine.base(copy) is None  # over the bound: not kept
    pristine.used = 0
    pristine.keep(str(source), copy)
    assert pristine.base(copy) == b"twenty bytes of text"
    assert Pristine(tmp_path, Manifest({}, {}, rewrite=False))._count() == 20  # from the names
    (tmp_path / PRISTINE_NAME / blob_name(copy)).write_text("tampered")
    assert pristine.base(copy) is None  # not what its name says: no base


def test_nbdime_and_nbformat_load_only_when_a_notebook_merges():
    code = (
        "import sys, time\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "start = time.perf_counter()\n"
        "ip.run_line_magic('load_ext', 'ipy_storage')\n"
        "import ipy_storage.storage.merging, ipy_storage.storage.mirror.pristine\n"
        "print([m for m in ('nbdime', 'nbformat') if m in sys.modules])\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.stdout.strip() == "[]", output.stderr[-2000:]


@pytest.mark.filterwarnings("ignore::ipy_storage.storage.step_warnings.PullStepWarning")
def test_storage_show_lists_the_last_pulls_notebook_cells(ip, tmp_path):
    from tests.fixtures.upstreams import MemoryUpstream

    upstream = MemoryUpstream(tmp_path, {NOTEBOOK: as_bytes(lesson())})
    try:
        storage = ip.run_line_magic(
            "storage", f"add memory://{upstream.prefix} --name lesson-show --once --pull"
        )
        student_runs_and_answers(storage.destination)
        upstream.change({NOTEBOOK: as_bytes(teacher_fixes_the_typo_and_adds_exercise_2())})
        ip.run_line_magic("storage", "pull lesson-show")

        card = ip.run_line_magic("storage", "show lesson-show")

        line = "lesson.ipynb: cell 1 updated; cell 6 added"
        assert line in repr(card) and line in card._repr_html_()
    finally:
        upstream.remove()
