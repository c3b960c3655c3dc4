"""behaviour §5, user work is never lost: the table once, run against every engine.

Each row is a test over ``upstream`` (``tests/fixtures/upstreams.py``): a git repository pulled
by ``GitRepository``, and a folder (``file://``) and a memory prefix (``memory://``) pulled by
``RemoteStorage``. The rows where the engines differ by design (git knows history) stand after
the shared table, each marked with the engines it is for. Notebooks merged cell by cell, over
these engines and S3: ``tests/test_notebook_merge.py``.
"""

from __future__ import annotations

import pytest

from tests.fixtures.upstreams import FolderUpstream, GitUpstream, MemoryUpstream
from tests.helpers import snapshot, text_tree, write_tree

pytestmark = pytest.mark.timeout(120)

FILES = {
    "f.py": "line 1\nline 2\nline 3\nline 4\nline 5\n",
    "g.py": "g\n",
    "h.py": "h\n",
    "pkg/mod.py": "m\n",
    "pkg/util.py": "u\n",
    "docs/guide.md": "# guide\n",
}
ENGINES = ["git", "file", "memory"]


def make_upstream(kind: str, tmp_path, make_repo, files: dict[str, str]):
    base = tmp_path / "ws"
    if kind == "git":
        return GitUpstream(base, make_repo, files)
    if kind == "file":
        return FolderUpstream(base, tmp_path / "upstream-folder" / "repo", files)
    return MemoryUpstream(base, files)


@pytest.fixture(params=ENGINES)
def upstream(request, tmp_path, make_repo):
    """An upstream holding ``FILES``, of each kind."""
    made = make_upstream(request.param, tmp_path, make_repo, FILES)
    yield made
    if isinstance(made, MemoryUpstream):
        made.remove()


@pytest.fixture
def pulled(upstream):
    """``(upstream, storage, destination)`` after a first pull."""
    storage = upstream.storage()
    first = storage.pull()
    assert sorted(first.added) == sorted(FILES) and text_tree(storage.destination) == FILES
    return upstream, storage, storage.destination


def engines(*kinds: str):
    """A row for some engines only (the others behave otherwise by design)."""
    return pytest.mark.parametrize("upstream", kinds, indirect=True)


# --------------------------------------------------------------------------- the shared table


def test_upstream_changed_f_user_did_not_touch_it(pulled):
    upstream, storage, dest = pulled
    upstream.change({"g.py": "g2\n", "pkg/new.py": "n\n"})

    result = storage.pull()

    assert result.modified == ["g.py"] and result.added == ["pkg/new.py"]
    assert text_tree(dest) == {**FILES, "g.py": "g2\n", "pkg/new.py": "n\n"}
    assert result.kept_local == [] and result.moved_aside == {} and result.merged == []


def test_user_edited_f_upstream_did_not_change_it(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"g.py": "my g\n"})
    upstream.change({"h.py": "h2\n"})

    result = storage.pull()

    assert (dest / "g.py").read_text() == "my g\n" and result.modified == ["h.py"]
    assert result.kept_local == [] and result.moved_aside == {}
    assert not storage.pull().changed and (dest / "g.py").read_text() == "my g\n"


def test_both_changed_f_in_the_same_place_the_users_version_wins(pulled):
    upstream, storage, dest = pulled
    mine = "line 1\nline 2 MINE\nline 3\nline 4\nline 5\n"
    write_tree(dest, {"f.py": mine})
    upstream.change({"f.py": "line 1\nline 2 THEIRS\nline 3\nline 4\nline 5\n", "h.py": "h2\n"})

    result = storage.pull()

    assert (dest / "f.py").read_text() == mine
    assert result.kept_local == ["f.py"] and result.modified == ["h.py"]
    assert result.merged == [] and result.moved_aside == {}
    assert result.reasons == {"f.py": "both changed the same lines: your version is kept"}


def test_both_changed_f_in_different_places_upstreams_change_is_merged_in(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"f.py": "line 1 (mine)\nline 2\nline 3\nline 4\nline 5\n"})
    upstream.change({"f.py": "line 1\nline 2\nline 3\nline 4\nline 5 (upstream)\n"})

    result = storage.pull()

    merged = "line 1 (mine)\nline 2\nline 3\nline 4\nline 5 (upstream)\n"
    assert (dest / "f.py").read_text() == merged
    assert result.merged == ["f.py"] and result.kept_local == []
    upstream.change({"g.py": "g2\n"})  # the merge is the user's file now: left alone
    assert storage.pull().modified == ["g.py"] and (dest / "f.py").read_text() == merged
    upstream.change({"f.py": "line 1\nline 2\nline 3\nline 4 (up)\nline 5 (upstream)\n"})
    again = storage.pull()  # merged against upstream's last version, as git does
    assert again.merged == ["f.py"]
    assert (dest / "f.py").read_text() == merged.replace("line 4", "line 4 (up)")


def test_user_deleted_f_upstream_did_not_change_it(pulled):
    upstream, storage, dest = pulled
    (dest / "g.py").unlink()
    upstream.change({"h.py": "h2\n"})

    result = storage.pull()

    assert "g.py" in result.added and (dest / "g.py").read_text() == "g\n"
    (dest / "pkg/util.py").unlink()
    (dest / "docs/guide.md").unlink()
    (dest / "docs").rmdir()
    again = storage.pull()  # upstream unchanged: deleted files come back all the same
    assert again.added == ["docs/guide.md", "pkg/util.py"]
    assert text_tree(dest) == {**FILES, "h.py": "h2\n"}


def test_upstream_deleted_f_user_did_not_touch_it(pulled):
    upstream, storage, dest = pulled
    upstream.change(delete=["g.py", "docs/guide.md"])

    result = storage.pull()

    assert result.deleted == ["docs/guide.md", "g.py"]
    assert not (dest / "g.py").exists() and not (dest / "docs").exists()  # emptied folder too
    assert result.kept_local == [] and result.moved_aside == {}


def test_upstream_deleted_f_user_edited_it(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"g.py": "my g\n"})
    upstream.change(delete=["g.py"])

    result = storage.pull()

    assert (dest / "g.py").read_text() == "my g\n"
    assert result.kept_local == ["g.py"] and result.deleted == []
    again = storage.pull()  # the user's own file from now on: not mentioned again
    assert again.kept_local == [] and (dest / "g.py").read_text() == "my g\n"


@pytest.mark.parametrize("how", ["added", "renamed"])
def test_user_created_g_upstream_now_adds_g(pulled, how):
    upstream, storage, dest = pulled
    write_tree(dest, {"notes.py": "my notes\n"})
    if how == "added":
        upstream.change({"notes.py": "upstream notes\n"})
    else:
        upstream.change(rename={"h.py": "notes.py"})

    result = storage.pull()

    assert result.moved_aside == {"notes.py": "notes.local.py"}
    assert (dest / "notes.local.py").read_text() == "my notes\n"
    assert (dest / "notes.py").read_text() == ("upstream notes\n" if how == "added" else "h\n")
    assert result.added == ["notes.py"]
    if how == "renamed":
        assert result.deleted == ["h.py"] and not (dest / "h.py").exists()


def test_users_file_or_folder_where_upstream_adds_the_other(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"lib": "a file named lib\n", "models/keep.txt": "mine\n"})
    upstream.change({"lib/util.py": "u\n", "models": "upstream's file\n"})

    result = storage.pull()

    assert result.moved_aside == {"lib": "lib.local", "models": "models.local"}
    assert (dest / "lib/util.py").read_text() == "u\n"
    assert (dest / "lib.local").read_text() == "a file named lib\n"
    assert (dest / "models").read_text() == "upstream's file\n"
    assert (dest / "models.local/keep.txt").read_text() == "mine\n"


def test_users_untracked_files_are_untouched(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"scratch.py": "s\n", "pkg/extra.py": "e\n", "mydir/x.txt": "x\n"})
    mine = ("scratch.py", "pkg/extra.py", "mydir/x.txt", "mydir")
    before = {rel: snapshot(dest)[rel] for rel in mine}
    upstream.change({"g.py": "g2\n"}, delete=["pkg/mod.py", "pkg/util.py"])

    result = storage.pull()

    after = snapshot(dest)
    assert {rel: after[rel] for rel in mine} == before
    assert result.moved_aside == {} and result.kept_local == []
    assert (dest / "pkg/extra.py").read_text() == "e\n"  # the folder upstream emptied stays


@pytest.mark.parametrize("upstream_change", ["changes it", "changes another file", "nothing"])
def test_user_replaced_a_tracked_file_by_a_folder(pulled, upstream_change):
    upstream, storage, dest = pulled
    (dest / "g.py").unlink()
    write_tree(dest, {"g.py/notes.txt": "my notes\n", "g.py/sub/more.txt": "more\n"})
    if upstream_change == "changes it":
        upstream.change({"g.py": "g2\n"})
    elif upstream_change == "changes another file":
        upstream.change({"h.py": "h2\n"})

    result = storage.pull()

    if upstream_change == "changes it":  # upstream's g.py needs the place
        assert result.moved_aside == {"g.py": "g.local.py"}
        assert (dest / "g.py").read_text() == "g2\n" and result.modified == ["g.py"]
        mine = dest / "g.local.py"
    else:
        assert result.moved_aside == {} and "g.py" not in result.added
        assert (dest / "g.py").is_dir()
        mine = dest / "g.py"
    assert text_tree(mine) == {"notes.txt": "my notes\n", "sub/more.txt": "more\n"}
    assert not storage.pull().changed  # and the next pull is quiet


@pytest.mark.parametrize("upstream_change", ["changes it", "changes another file", "nothing"])
def test_user_replaced_a_tracked_folder_by_a_file(pulled, upstream_change):
    upstream, storage, dest = pulled
    for rel in ("pkg/mod.py", "pkg/util.py"):
        (dest / rel).unlink()
    (dest / "pkg").rmdir()
    write_tree(dest, {"pkg": "my notes about pkg\n"})
    if upstream_change == "changes it":
        upstream.change({"pkg/mod.py": "m2\n"})
    elif upstream_change == "changes another file":
        upstream.change({"h.py": "h2\n"})

    result = storage.pull()

    if upstream_change == "changes it":  # upstream's pkg/mod.py needs the place
        assert result.moved_aside == {"pkg": "pkg.local"}
        assert text_tree(dest / "pkg") == {"mod.py": "m2\n", "util.py": "u\n"}
        assert (dest / "pkg.local").read_text() == "my notes about pkg\n"
    else:
        assert result.moved_aside == {} and result.added == []
        assert (dest / "pkg").read_text() == "my notes about pkg\n"
    assert not storage.pull().changed


def test_upstream_turns_a_folder_into_a_file_while_the_user_works_inside(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"pkg/mod.py": "my edit\n", "pkg/mine.py": "my module\n"})
    upstream.change({"pkg": "now a file\n"}, delete=["pkg/mod.py", "pkg/util.py"])

    result = storage.pull()

    assert (dest / "pkg").read_text() == "now a file\n"
    assert result.moved_aside == {"pkg": "pkg.local"}
    assert text_tree(dest / "pkg.local") == {"mod.py": "my edit\n", "mine.py": "my module\n"}
    assert "pkg" in result.added + result.modified


def test_reset_makes_the_destination_exactly_upstream_after_a_backup(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"g.py": "my g\n", "scratch.txt": "notes\n"})
    upstream.change({"h.py": "h2\n"})

    result = storage.pull(reset=True)

    assert text_tree(dest) == {**FILES, "h.py": "h2\n"}
    assert result.backup is not None and result.backup.parent == dest.parent
    assert result.backup.name.startswith(f"{dest.name}.backup-")
    assert text_tree(result.backup) == {**FILES, "g.py": "my g\n", "scratch.txt": "notes\n"}


# --------------------------------------------------------------------------- engine-specific rows


@engines("git")
def test_git_force_push_keeps_every_rule(pulled):
    upstream, storage, dest = pulled
    write_tree(dest, {"g.py": "my g\n", "untracked.txt": "u\n", "added.py": "mine\n"})
    write_tree(dest, {"f.py": "line 1 (mine)\nline 2\nline 3\nline 4\nline 5\n"})
    rewritten = upstream.force_push(
        {
            "h.py": "h amended\n",
            "f.py": "line 1\nline 2\nline 3\nline 4\nline 5 (up)\n",
            "added.py": "theirs\n",
        }
    )

    result = storage.pull()

    assert result.revision == rewritten
    assert (dest / "g.py").read_text() == "my g\n" and (dest / "h.py").read_text() == "h amended\n"
    assert (dest / "f.py").read_text() == "line 1 (mine)\nline 2\nline 3\nline 4\nline 5 (up)\n"
    assert (dest / "untracked.txt").read_text() == "u\n"
    assert result.moved_aside == {"added.py": "added.local.py"}
    assert (dest / "added.local.py").read_text() == "mine\n"


@engines("git")
def test_git_sparse_directories_keep_the_users_work(upstream):
    storage = upstream.storage(directories=["pkg"])
    assert sorted(storage.pull().added) == ["f.py", "g.py", "h.py", "pkg/mod.py", "pkg/util.py"]
    dest = storage.destination
    write_tree(dest, {"pkg/mod.py": "my m\n", "docs/mine.md": "my doc\n"})
    (dest / "pkg/util.py").unlink()
    upstream.change({"pkg/mod.py": "m2\n", "docs/guide.md": "# guide v2\n", "g.py": "g2\n"})

    result = storage.pull()

    assert (dest / "pkg/mod.py").read_text() == "my m\n" and result.kept_local == ["pkg/mod.py"]
    assert (dest / "pkg/util.py").read_text() == "u\n"  # restored
    assert (dest / "docs/mine.md").read_text() == "my doc\n"
    assert not (dest / "docs/guide.md").exists()  # outside the sparse cone
    assert result.modified == ["g.py"] and result.moved_aside == {}
