"""A pull killed at any moment never costs the user work (behaviour §3.1, §5): SIGKILL before and
after every git command of a first pull, an update with user edits, a ``directories`` change and
a reset, then a pull in a fresh process; and the same for an interrupt (the notebook's stop
button). Each time: upstream plus the user's edits in place, no moved-aside twins, no partial
folder beside the destination, no git process left running."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.git_server import run_git
from tests.fixtures.interrupted_pull import (
    calls,
    pull_in_child,
    seconds_since_signal,
    wait_for_no_processes,
    wrapper_dir,
)
from tests.helpers import text_tree

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

FIVE_LINES = "line 1\nline 2\nline 3\nline 4\nline 5\n"
V1 = {
    "f.py": FIVE_LINES,
    "g.py": "g\n",
    "h.py": "h\n",
    "gone.py": "deleted upstream soon\n",
    "keep.py": "k\n",
    "pkg/mod.py": "m\n",
}
V2_CHANGES = {
    "f.py": FIVE_LINES.replace("line 5", "line 5 (upstream)"),
    "g.py": "g2\n",
    "pkg/new.py": "n\n",
}


def edit_like_a_user(dest: Path) -> None:
    (dest / "f.py").write_text(FIVE_LINES.replace("line 1", "line 1 (mine)"))
    (dest / "keep.py").write_text("my k\n")
    (dest / "h.py").unlink()
    (dest / "notes.txt").write_text("my notes\n")


EXPECTED_AFTER_UPDATE = {
    "f.py": FIVE_LINES.replace("line 1", "line 1 (mine)").replace("line 5", "line 5 (upstream)"),
    "g.py": "g2\n",
    "h.py": "h\n",
    "keep.py": "my k\n",
    "notes.txt": "my notes\n",
    "pkg/mod.py": "m\n",
    "pkg/new.py": "n\n",
}


def kill_points(tmp_path: Path, run) -> list[tuple[int, str]]:
    """Every (call, before|after) of the scenario ``run(wrapper)``, counted on a dry run."""
    counter = wrapper_dir(tmp_path / "count")
    run(counter, tmp_path / "dry-run")
    total = calls(counter)
    assert total >= 2
    return [(n, when) for n in range(1, total + 1) for when in ("before", "after")]


def assert_clean_beside(base: Path) -> None:
    leftovers = [p.name for p in base.iterdir() if ".pulling-" in p.name or ".local" in p.name]
    assert leftovers == []


def converge(url: str, base: Path, expected: dict[str, str], token: str, **pull) -> None:
    alive = wait_for_no_processes(token)
    assert alive == [], f"git outlived its pull: {alive}"
    again = pull_in_child(url, base, token=token + "-again", **pull)
    assert again.returncode == 0, again.stderr
    dest = base / "repo"
    assert text_tree(dest) == expected
    assert not [p for p in dest.rglob("*.local*")], "moved-aside twins after recovery"
    assert_clean_beside(base)


@pytest.mark.parametrize("sig", ["KILL", "INT"])
def test_killed_first_pull_converges(make_repo, tmp_path, sig):
    source = make_repo(V1)

    def run(wrapper, base):
        return pull_in_child(source.url, base, wrapper=wrapper, token=base.name)

    for n, when in kill_points(tmp_path, run):
        base = tmp_path / f"k{n}{when}"
        wrapper = wrapper_dir(tmp_path / f"w{n}{when}", n, when, sig)
        run(wrapper, base)
        assert seconds_since_signal(wrapper) < 3, "the interrupted pull did not stop at once"
        base.mkdir(exist_ok=True)
        converge(source.url, base, V1, token=base.name)


V3_CHANGES = {"g.py": "g\n", "late.py": "late\n"}  # g.py back as it was; pkg/new.py gone
EXPECTED_AFTER_MOVING_ON = {
    **{k: v for k, v in EXPECTED_AFTER_UPDATE.items() if k != "pkg/new.py"},
    "g.py": "g\n",
    "late.py": "late\n",
}


@pytest.fixture
def edited_checkout(make_repo, tmp_path):
    """A first pull with the user's edits in it, upstream one commit further (V2), and a later
    commit (V3) waiting on a branch. Each kill point works on copies of both."""
    source = make_repo(V1)
    template = tmp_path / "template"
    first = pull_in_child(source.url, template, token="template")
    assert first.returncode == 0, first.stderr
    edit_like_a_user(template / "repo")
    v2 = source.commit(V2_CHANGES, delete=["gone.py"])
    source.create_branch("v3", start="main")
    v3 = source.commit(V3_CHANGES, delete=["pkg/new.py"], branch="v3")
    run_git(source.bare, "update-ref", "refs/heads/main", v2)

    def copy(base: Path) -> str:
        """A copy of upstream and of the edited checkout; returns the copy's URL."""
        upstream = base.parent / f"{base.name}-upstream" / "repo.git"  # same folder name
        shutil.copytree(source.bare, upstream, symlinks=True)
        shutil.copytree(template, base, symlinks=True)
        url = upstream.as_uri()
        run_git(base / "repo", "remote", "set-url", "origin", url)
        return url

    copy.v3 = v3  # noqa: B018 - the branch tip upstream moves to in the moving-on test
    return copy


@pytest.mark.parametrize(
    "sig, moves_on",
    [("KILL", False), ("INT", False), ("KILL", True)],
    ids=["kill", "interrupt", "kill-then-upstream-moves-on"],
)
def test_killed_update_with_user_edits_converges(edited_checkout, tmp_path, sig, moves_on):
    urls = {}

    def run(wrapper, base):
        urls[base] = edited_checkout(base)
        return pull_in_child(urls[base], base, wrapper=wrapper, token=base.name)

    expected = EXPECTED_AFTER_MOVING_ON if moves_on else EXPECTED_AFTER_UPDATE
    for n, when in kill_points(tmp_path, run):
        base = tmp_path / f"k{n}{when}"
        wrapper = wrapper_dir(tmp_path / f"w{n}{when}", n, when, sig)
        run(wrapper, base)
        assert seconds_since_signal(wrapper) < 3, "the interrupted pull did not stop at once"
        if moves_on:  # the next pull sees an upstream that moved again
            upstream = Path(urls[base].removeprefix("file://"))
            run_git(upstream, "update-ref", "refs/heads/main", edited_checkout.v3)
        converge(urls[base], base, expected, token=base.name)


def test_killed_directories_change_converges(make_repo, tmp_path):
    source = make_repo({"top.py": "t\n", "a/x.py": "a\n", "b/y.py": "b\n", "c/z.py": "c\n"})
    template = tmp_path / "template"
    first = pull_in_child(source.url, template, {"directories": ["a"]}, token="template")
    assert first.returncode == 0, first.stderr
    (template / "repo" / "a" / "x.py").write_text("my a\n")
    wider = {"directories": ["a", "b"]}

    def run(wrapper, base):
        shutil.copytree(template, base, symlinks=True)
        return pull_in_child(source.url, base, wider, wrapper=wrapper, token=base.name)

    expected = {"top.py": "t\n", "a/x.py": "my a\n", "b/y.py": "b\n"}
    for n, when in kill_points(tmp_path, run):
        base = tmp_path / f"k{n}{when}"
        run(wrapper_dir(tmp_path / f"w{n}{when}", n, when), base)
        converge(source.url, base, expected, token=base.name, options=wider)


def test_killed_reset_never_loses_the_users_folder(edited_checkout, tmp_path):
    urls = {}

    def run(wrapper, base):
        urls[base] = edited_checkout(base)
        return pull_in_child(urls[base], base, reset=True, wrapper=wrapper, token=base.name)

    upstream = {**{k: v for k, v in V1.items() if k != "gone.py"}, **V2_CHANGES}
    for n, when in kill_points(tmp_path, run):
        base = tmp_path / f"k{n}{when}"
        run(wrapper_dir(tmp_path / f"w{n}{when}", n, when), base)
        converge(urls[base], base, upstream, token=base.name, reset=True)
        backups = [text_tree(p) for p in base.iterdir() if ".backup-" in p.name]
        assert any(b.get("keep.py") == "my k\n" for b in backups), "the user's edits are gone"
