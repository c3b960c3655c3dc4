"""A pull killed anywhere — at any write of the engine (its journal, a file moved into place, a
removal, a move aside), before or after any git command, or at a random moment inside a long one
(a clone, a fetch, a checkout of hundreds of files, a submodule clone) — costs the user nothing:
the next pull, in a fresh process, ends with exactly the folder an uninterrupted pull gives, with
no moved-aside twins, nothing left beside it, and no git still running (behaviour §3.1, §5).

The moments are drawn by Hypothesis (fixed seeds in ``make test``, random under ``make fuzz``);
the generated stories reuse ``tests/test_git_generated.py``'s histories and user.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipy_storage import GitRepository
from tests.fixtures.fuzzing import count_fuzzing, generated
from tests.fixtures.history import (
    Entry,
    Upstream,
    apply_user_step,
    commit_steps,
    folders_in,
    read_tree,
    trees,
    user_steps,
)
from tests.fixtures.history_oracle import judge, visible
from tests.fixtures.interrupted_pull import (
    calls,
    commands,
    pull_in_child,
    pull_killed_after,
    wait_for_no_processes,
    wrapper_dir,
    writes,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


class Prepared:
    """A destination after a first pull and the user's edits, with upstream's next commit
    published: ``copy()`` gives a fresh copy of that moment for each kill."""

    def __init__(self, folder: Path, first, options: dict | None = None) -> None:
        self.folder = folder
        self.options = options or {}
        self.upstream = Upstream(folder / "upstream")
        self.upstream.publish(first)
        self.template = folder / "template"
        storage = GitRepository(self.upstream.url, name="repo", **self.options)
        storage.set_base_path(self.template)
        storage.pull()
        self.pulled = read_tree(self.template / "repo")
        self.tree = first
        self.runs = 0

    def user_edits(self, data) -> None:
        for _ in range(data.draw(st.integers(0, 3), label="user steps")):
            step = data.draw(user_steps(read_tree(self.template / "repo")), label="user")
            apply_user_step(self.template / "repo", step)

    def publish(self, step) -> None:
        kind, self.tree = step
        self.upstream.publish(self.tree, unrelated=kind == "rewrite")

    def copy(self) -> Path:
        self.runs += 1
        base = self.folder / f"run-{self.runs}"
        shutil.copytree(self.template, base, symlinks=True)
        return base

    def pull(self, base: Path, **how):
        return pull_in_child(self.upstream.url, base, self.options, token=base.name, **how)

    def reference(self) -> dict[str, Entry]:
        """The folder an uninterrupted pull gives, judged by the oracle first."""
        base = self.copy()
        done = self.pull(base)
        assert done.returncode == 0, done.stderr
        after = read_tree(base / "repo")
        upstream = visible(self.tree, self.options.get("directories"))
        template = self.template / "repo"
        problems = judge(self.pulled, read_tree(template), upstream, after, folders_in(template))
        assert not problems, problems
        return after

    def converges(self, base: Path, reference: dict[str, Entry]) -> None:
        alive = wait_for_no_processes(base.name)
        assert alive == [], f"git outlived its pull: {alive}"
        again = pull_in_child(self.upstream.url, base, self.options, token=base.name + "-again")
        assert again.returncode == 0, again.stderr
        assert read_tree(base / "repo") == reference
        beside = [p.name for p in base.iterdir() if p.name not in ("repo", ".repo.lock")]
        assert beside == [], f"left beside the destination: {beside}"
        assert not (base / "repo" / ".git" / "ipy-storage" / "staging").exists()


@settings(generated(examples=12))
@given(data=st.data())
def test_killed_at_any_write_or_git_command_of_a_generated_update(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill")
    prepared = Prepared(folder, data.draw(trees(min_size=2), label="first tree"))
    prepared.user_edits(data)
    prepared.publish(data.draw(commit_steps(prepared.tree), label="upstream"))
    reference = prepared.reference()
    counting = prepared.copy()
    prepared.pull(counting, kill_at_write=(0, "count"))
    counter = wrapper_dir(folder / "count")
    prepared.pull(prepared.copy(), wrapper=counter)
    kind = data.draw(st.sampled_from(["write", "git"]), label="kill at")
    when = data.draw(st.sampled_from(["before", "after"]), label="when")
    base = prepared.copy()
    if kind == "write" and writes(counting):
        at = data.draw(st.integers(1, len(writes(counting))), label="write")
        prepared.pull(base, kill_at_write=(at, when))
    else:
        at = data.draw(st.integers(1, max(calls(counter), 1)), label="git command")
        prepared.pull(base, wrapper=wrapper_dir(folder / f"w{at}", at, when))
    prepared.converges(base, reference)
    count_fuzzing("kills", 6)


def many_files(count: int, prefix: str = "data") -> dict[str, str]:
    return {f"{prefix}/d{n % 10}/f{n}.txt": f"file {n}\n" * 20 for n in range(count)}


def timed_reference(prepared: Prepared) -> tuple[dict[str, Entry], float]:
    started = time.monotonic()
    reference = prepared.reference()
    return reference, time.monotonic() - started


@settings(generated(examples=10))
@given(inside=st.sampled_from(["checkout-index", "fetch", "the pull"]), moment=st.floats(0, 1))
def test_killed_at_a_random_moment_of_an_update_of_hundreds_of_files(
    inside, moment, tmp_path_factory
):
    """Inside the fetch or the checkout of 300 new files, or anywhere in the pull (which also
    merges a file and moves one aside)."""
    folder = tmp_path_factory.mktemp("big-update")
    first = {"f.txt": "one\ntwo\nthree\nfour\n", "old.txt": "old\n", **many_files(20, "keep")}
    prepared = Prepared(folder, {p: Entry("file", t) for p, t in first.items()})
    repo = prepared.template / "repo"
    (repo / "f.txt").write_text("ONE\ntwo\nthree\nfour\n")
    (repo / "data").mkdir()
    (repo / "data" / "notes.txt").write_text("mine\n")
    (repo / "keep" / "d1" / "f1.txt").unlink()
    second = {**first, **many_files(300), "f.txt": "one\ntwo\nthree\nFOUR\n"}
    second["data/notes.txt"] = "upstream's notes\n"
    del second["old.txt"]
    prepared.publish(("commit", {p: Entry("file", t) for p, t in second.items()}))
    reference, duration = timed_reference(prepared)
    assert reference["f.txt"].data == "ONE\ntwo\nthree\nFOUR\n"
    assert reference["data/notes.local.txt"].data == "mine\n"
    counter = wrapper_dir(folder / "count")
    prepared.pull(prepared.copy(), wrapper=counter)
    base = prepared.copy()
    if inside == "the pull":
        pull_killed_after(prepared.upstream.url, base, duration * moment, token=base.name)
    else:  # checkout-index of 300 files takes about 0.1 s here, a fetch about as long
        at = commands(counter).index(inside) + 1
        wrapper = wrapper_dir(folder / "kill", at, "during", delay=0.15 * moment)
        prepared.pull(base, wrapper=wrapper)
    prepared.converges(base, reference)
    count_fuzzing("kills-inside-an-update", 4)


@settings(generated(examples=8))
@given(moment=st.floats(0.05, 1.0), sparse=st.booleans())
def test_killed_at_a_random_moment_of_a_first_clone(moment, sparse, tmp_path_factory):
    folder = tmp_path_factory.mktemp("big-clone")
    files = {**many_files(1500), **many_files(300, "other")}
    options = {"directories": ["data"]} if sparse else {}
    upstream = Upstream(folder / "upstream")
    upstream.publish({p: Entry("file", t) for p, t in files.items()})
    expected = {p: Entry("file", t) for p, t in files.items() if not sparse or p[:4] == "data"}
    started = time.monotonic()
    done = pull_in_child(upstream.url, folder / "timing", options, token="timing")
    assert done.returncode == 0, done.stderr
    duration = time.monotonic() - started
    base = folder / "killed"
    pull_killed_after(upstream.url, base, duration * moment, options, token="killed")
    assert wait_for_no_processes("killed") == []
    again = pull_in_child(upstream.url, base, options, token="again")
    assert again.returncode == 0, again.stderr
    assert read_tree(base / "repo") == expected
    assert sorted(p.name for p in base.iterdir()) == [".repo.lock", "repo"]
    count_fuzzing("kills-inside-a-clone", 3)


@settings(generated(examples=6))
@given(moment=st.floats(0.05, 1.0))
def test_killed_at_a_random_moment_of_a_submodule_clone(
    moment, _git_http_server_session, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("submodules")
    library = _git_http_server_session.create_repo(many_files(400, "lib"), public=True)
    project = _git_http_server_session.create_repo({"main.py": "import lib\n"}, public=True)
    project.add_submodule("vendor/lib", library)
    options = {"include_submodules": True}
    started = time.monotonic()
    done = pull_in_child(project.url, folder / "timing", options, token="timing")
    assert done.returncode == 0, done.stderr
    duration = time.monotonic() - started
    expected = read_tree(folder / "timing" / project.name)
    assert len(expected) == 402  # main.py, .gitmodules and the library's files
    base = folder / "killed"
    pull_killed_after(project.url, base, duration * moment, options, token="killed")
    assert wait_for_no_processes("killed") == []
    again = pull_in_child(project.url, base, options, token="again")
    assert again.returncode == 0, again.stderr
    assert read_tree(base / project.name) == expected
