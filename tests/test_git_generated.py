"""The git engine on generated histories: upstream commits, force-pushes, ``directories`` that
grow and shrink, and a user who edits, deletes, adds and swaps files and folders between pulls —
drawn by Hypothesis, judged after every pull by the SPEC §5 oracle
(``tests/fixtures/history_oracle.py``).

``make test`` runs a bounded, derandomized profile; ``make fuzz`` runs the same test for as
long as it is given (``IPY_STORAGE_FUZZ_MINUTES``). A failure shrinks to a minimal history; each
one found is kept below it as a plain regression test in ``tests/test_git_regressions.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipy_storage import GitRepository
from tests.fixtures.git_server import run_git
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

pytestmark = pytest.mark.timeout(900)

CONES = st.sampled_from([None, None, ["a"], ["b"], ["a", "b"], ["a/b"]])


class Scenario:
    """One generated story: an upstream, a storage pulling it, and what was pulled last."""

    def __init__(self, folder: Path, tree, cone) -> None:
        self.upstream = Upstream(folder)
        self.base = folder / "ws"
        self.tree = tree
        self.cone = cone
        self.upstream.publish(tree)
        self.pulled: dict[str, Entry] = {}

    @property
    def destination(self) -> Path:
        return self.base / "repo"

    def storage(self) -> GitRepository:
        storage = GitRepository(
            self.upstream.url, name="repo", directories=self.cone, pull_interval=None
        )
        storage.set_base_path(self.base)
        return storage

    def pull_and_judge(self, new_tree, new_cone) -> None:
        """Pull upstream's ``new_tree`` with ``new_cone``; the oracle judges the folder."""
        before = read_tree(self.destination)
        self.tree, self.cone = new_tree, new_cone
        result = self.storage().pull()
        after = read_tree(self.destination)
        upstream = visible(new_tree, new_cone)
        problems = judge(self.pulled, before, upstream, after)
        assert not problems, "\n".join(problems)
        check_report(result, before, after)
        check_git_agrees(self.destination, after, upstream)
        again = self.storage().pull()
        assert read_tree(self.destination) == after, "a second pull changed the folder"
        assert not again.changed, f"a second pull reported changes: {again!r}"
        self.pulled = upstream


def check_report(result, before, after) -> None:
    """What the result says happened did happen."""
    for moved in result.moved_aside.values():
        assert any(p == moved or p.startswith(moved + "/") for p in after), f"{moved} missing"
    for kept in result.kept_local:  # the content is the user's (the mode may follow upstream)
        assert after[kept].data == before[kept].data, f"{kept} reported kept, but changed"
    for path in result.added + result.modified + result.merged:
        assert path in after, f"{path} reported written, but missing"


def check_git_agrees(destination: Path, after, upstream) -> None:
    """git sees no pulled file deleted except where a user's entry stands in its way, and the
    checkout's HEAD is upstream's tree."""
    deleted = run_git(destination, "ls-files", "--deleted").splitlines()
    unexplained = [p for p in deleted if p in after or not _hidden_by_user(p, after)]
    assert not unexplained, f"git sees pulled files deleted: {unexplained}"


def _hidden_by_user(path: str, after) -> bool:
    parts = path.split("/")
    above = ["/".join(parts[:i]) for i in range(1, len(parts))]
    return any(a in after for a in above) or any(p.startswith(path + "/") for p in after)


def play(data, folder: Path) -> None:
    """One story, drawn as it runs: a first tree and cone, then rounds of the user's steps, an
    upstream commit (or force-push) and maybe other ``directories``, each pull judged."""
    story = Scenario(folder, data.draw(trees(), label="first tree"), data.draw(CONES))
    story.storage().pull()
    story.pulled = visible(story.tree, story.cone)
    assert read_tree(story.destination) == story.pulled, "the first pull differs from upstream"
    for _ in range(data.draw(st.integers(1, 4), label="rounds")):
        for _ in range(data.draw(st.integers(0, 3), label="user steps")):
            step = data.draw(user_steps(read_tree(story.destination)), label="user")
            apply_user_step(story.destination, step)
        kind, new = data.draw(commit_steps(story.tree), label="upstream")
        story.upstream.publish(new, unrelated=kind == "rewrite")
        cone = data.draw(CONES, label="directories") if data.draw(st.booleans()) else story.cone
        story.pull_and_judge(new, cone)


@settings(generated(examples=40))
@given(data=st.data())
def test_generated_histories_keep_every_rule(data):
    with tempfile.TemporaryDirectory(prefix="history-") as folder:
        play(data, Path(folder))
