"""The git engine on generated histories: upstream commits, force-pushes, ``directories`` that
grow and shrink, and a user who edits, deletes, adds and swaps files and folders between pulls —
drawn by Hypothesis, judged after every pull by the behaviour §5 oracle
(``tests/fixtures/history_oracle.py``).

``make test`` runs a bounded, derandomized profile; ``make fuzz`` runs the same test with random
seeds for as long as it is given (``FUZZ_MINUTES``). A failure shrinks to a minimal history;
each one found is kept as a plain regression test in ``tests/test_git_regressions.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.fuzzing import count_fuzzing, generated
from tests.fixtures.history import (
    apply_user_step,
    commit_steps,
    read_tree,
    trees,
    user_steps,
)
from tests.fixtures.history_story import Scenario

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CONES = st.sampled_from([None, None, ["a"], ["b"], ["a", "b"], ["a/b"]])


def play(data, folder: Path) -> None:
    """One story, drawn as it runs: a first tree and cone, then rounds of the user's steps, an
    upstream commit (or force-push) and maybe other ``directories``, each pull judged."""
    story = Scenario(folder, data.draw(trees(), label="first tree"), data.draw(CONES))
    story.first_pull()
    rounds = data.draw(st.integers(1, 4), label="rounds")
    for _ in range(rounds):
        for _ in range(data.draw(st.integers(0, 3), label="user steps")):
            step = data.draw(user_steps(read_tree(story.destination)), label="user")
            apply_user_step(story.destination, step)
        kind, new = data.draw(commit_steps(story.tree), label="upstream")
        story.upstream.publish(new, unrelated=kind == "rewrite")
        cone = data.draw(CONES, label="directories") if data.draw(st.booleans()) else story.cone
        story.pull_and_judge(new, cone)
    count_fuzzing("histories", 1 + 2 * rounds)


@settings(generated(examples=40))
@given(data=st.data())
def test_generated_histories_keep_every_rule(data):
    with tempfile.TemporaryDirectory(prefix="history-") as folder:
        play(data, Path(folder))
