"""A pull killed anywhere — at any write of the engine (its journal, a file moved into place, a
removal, a move aside), before or after any git command, or at a random moment inside a long one
(a clone, a fetch, a checkout of hundreds of files, a submodule clone) — costs the user nothing:
the next pull, in a fresh process, ends with exactly the folder an uninterrupted pull gives, with
no moved-aside twins, nothing left beside it, and no git still running (SPEC §3.1, §5).

The moments are drawn by Hypothesis (fixed seeds in ``make test``, random under ``make fuzz``);
the generated stories reuse ``tests/test_git_generated.py``'s histories and user.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipy_storage import GitRepository
from tests.fixtures.history import (
    Entry,
    Upstream,
    apply_user_step,
    commit_steps,
    generated,
    read_tree,
    trees,
    user_steps,
)
from tests.fixtures.history_oracle import judge, visible
from tests.fixtures.interrupted_pull import (
    calls,
    pull_in_child,
    wait_for_no_processes,
    wrapper_dir,
    writes,
)

pytestmark = pytest.mark.timeout(900)


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
        problems = judge(self.pulled, read_tree(self.template / "repo"), upstream, after)
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
