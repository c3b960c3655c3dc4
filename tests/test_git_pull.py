"""``GitRepository`` pulls against real git: a smart-HTTP server with Basic auth (plain and TLS) and
local bare repositories (behaviour §3.1, §5). No mocks of git or subprocess."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from ipy_storage import GitRepository, Secret
from ipy_storage.storage.errors import (
    AuthenticationError,
    DestinationConflictError,
    NetworkError,
    SourceNotFoundError,
    StoragePullError,
)
from tests.helpers import snapshot, text_tree

pytestmark = pytest.mark.timeout(120)


def storage(url: str, base: Path, **options) -> GitRepository:
    repo = GitRepository(url, **options)
    repo.set_base_path(base)
    return repo


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


# -- a private repository over HTTP with a token ------------------------------------------------
def test_private_repo_is_pulled_and_updated_with_a_token(git_http_server, tmp_path):
    source = git_http_server.create_repo({"flows/etl.py": "print('v1')\n", "README.md": "hello\n"})
    repo = storage(source.url, tmp_path, credentials=git_http_server.credentials())

    first = repo.pull()
    assert first.added == ["README.md", "flows/etl.py"]
    assert first.revision == source.head()
    assert (repo.destination / "flows/etl.py").read_text() == "print('v1')\n"
    assert git(repo.destination, "rev-parse", "--is-shallow-repository") == "true"

    second_commit = source.commit({"flows/etl.py": "print('v2')\n", "flows/new.py": "x = 1\n"})
    second = repo.pull()
    assert second.modified == ["flows/etl.py"] and second.added == ["flows/new.py"]
    assert second.revision == second_commit and second.changed
    assert (repo.destination / "flows/etl.py").read_text() == "print('v2')\n"
    assert git(repo.destination, "status", "--porcelain") == ""
    assert git(repo.destination, "config", "--get", "remote.origin.url") == source.url
    for path in repo.destination.rglob("*"):  # .git included
        if path.is_file():
            assert not any(
                s.encode() in path.read_bytes() for s in git_http_server.secret_forms()
            ), path


def test_https_private_repo_with_a_token(git_https_server, tmp_path):
    source = git_https_server.create_repo({"a.py": "a = 1\n"})
    repo = storage(source.url, tmp_path, credentials=git_https_server.credentials())
    assert repo.pull().added == ["a.py"]
    source.commit({"a.py": "a = 2\n"})
    assert repo.pull().modified == ["a.py"]
    assert (repo.destination / "a.py").read_text() == "a = 2\n"


def test_bare_token_and_token_in_url_work_without_reaching_disk(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "a = 1\n"})
    bare = storage(
        source.url,
        tmp_path,
        name="bare",
        credentials={"access_token": Secret(git_http_server.token)},
    )
    assert bare.pull().added == ["a.py"]
    token_url = source.url.replace(
        "://", f"://{git_http_server.username}:{quote(git_http_server.token, safe='')}@"
    )
    in_url = storage(token_url, tmp_path, name="in-url")
    assert in_url.pull().added == ["a.py"]
    config = (in_url.destination / ".git" / "config").read_text()
    assert git_http_server.token not in config and source.url in config


def test_no_change_pull_is_one_round_trip_and_changes_nothing(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "a = 1\n", "pkg/b.py": "b = 1\n"})
    repo = storage(source.url, tmp_path, credentials=git_http_server.credentials())
    repo.pull()
    (repo.destination / "a.py").write_text("a = 'edited'\n")  # a user edit stays as it is
    before = snapshot(repo.destination)
    git_http_server.clear_requests()

    result = repo.pull()

    assert not result.changed and not result.kept_local and result.revision == source.head()
    assert git_http_server.requests() == [f"GET /{source.name}.git/info/refs 200"]  # one request
    assert snapshot(repo.destination) == before


def test_repository_with_many_refs_is_checked_with_protocol_v2(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "a\n"})
    head = source.head()
    refs = "".join(f"create refs/tags/t{i:04d} {head}\n" for i in range(1001))
    subprocess.run(
        ["git", "update-ref", "--stdin"], cwd=source.bare, input=refs, text=True, check=True
    )
    repo = storage(source.url, tmp_path, credentials=git_http_server.credentials())
    repo.pull()
    repo.pull()  # one v0 request that lists every ref: too many for next time
    git_http_server.clear_requests()
    assert not repo.pull().changed
    assert [r.split()[0] for r in git_http_server.requests()] == [
        "GET",
        "POST",
    ]  # ls-refs with a prefix
    source.commit({"a.py": "a2\n"})
    assert repo.pull().modified == ["a.py"]


def test_commit_pin_no_change_pull_needs_no_network(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "a = 1\n"})
    pinned = source.head()
    source.commit({"a.py": "a = 2\n"})
    repo = storage(
        source.url, tmp_path, commit_sha=pinned, credentials=git_http_server.credentials()
    )
    result = repo.pull()
    assert result.revision == pinned and (repo.destination / "a.py").read_text() == "a = 1\n"
    assert git(repo.destination, "rev-parse", "HEAD") == pinned
    git_http_server.clear_requests()
    assert repo.pull().revision == pinned
    assert git_http_server.requests() == []


def test_commit_pin_moves_to_a_new_pin(make_repo, tmp_path):
    source = make_repo({"a.py": "a = 1\n", "b.py": "b = 1\n"})
    first = source.head()
    second = source.commit({"a.py": "a = 2\n"})
    source.commit({"a.py": "a = 3\n"})
    assert storage(source.url, tmp_path, name="pin", commit_sha=first).pull().revision == first
    moved = storage(source.url, tmp_path, name="pin", commit_sha=second).pull()
    assert moved.revision == second and moved.modified == ["a.py"]
    assert (tmp_path / "pin" / "a.py").read_text() == "a = 2\n"


def test_abbreviated_commit_pin(make_repo, tmp_path):
    source = make_repo({"a.py": "a = 1\n"})
    first = source.head()
    source.commit({"a.py": "a = 2\n"})
    result = storage(source.url, tmp_path, commit_sha=first[:10]).pull()
    assert result.revision == first
    assert (tmp_path / "repo" / "a.py").read_text() == "a = 1\n"


def test_branch_with_a_slash(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "main\n"})
    source.create_branch("feature/new-ui", {"a.py": "feature\n"})
    repo = storage(
        source.url, tmp_path, branch="feature/new-ui", credentials=git_http_server.credentials()
    )
    assert repo.destination == tmp_path / f"{source.name}-feature-new-ui"
    repo.pull()
    assert (repo.destination / "a.py").read_text() == "feature\n"
    assert git(repo.destination, "symbolic-ref", "HEAD") == "refs/heads/feature/new-ui"
    source.commit({"a.py": "feature 2\n"}, branch="feature/new-ui")
    assert repo.pull().modified == ["a.py"]
    assert git(repo.destination, "rev-parse", "HEAD") == source.head("feature/new-ui")


def test_tag_as_branch(make_repo, tmp_path):
    source = make_repo({"a.py": "v1\n"})
    source.tag("v1.0")
    source.commit({"a.py": "v2\n"})
    repo = storage(source.url, tmp_path, branch="v1.0")
    assert repo.pull().added == ["a.py"]
    assert (repo.destination / "a.py").read_text() == "v1\n"
    source.tag("v1.0", ref=source.head())  # the tag is moved
    assert repo.pull().modified == ["a.py"]
    assert (repo.destination / "a.py").read_text() == "v2\n"


# -- errors ------------------------------------------------------------------------------------
def test_wrong_token_fails_fast_with_a_clear_error(git_http_server, tmp_path):
    source = git_http_server.create_repo()
    wrong = "wrong-" + git_http_server.token[::-1]
    repo = storage(
        source.url, tmp_path, credentials={"username": "alice", "access_token": Secret(wrong)}
    )
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as caught:
        repo.pull()
    assert time.monotonic() - started < 20  # guards against a hang or a prompt, not a timing test
    message = str(caught.value)
    assert "check the token" in message and source.url in message and "\n" not in message
    assert wrong not in message and git_http_server.token not in message
    assert isinstance(caught.value, RuntimeError)
    assert not repo.destination.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and "pulling" in p.name]


def test_missing_token_fails_with_a_hint(git_http_server, tmp_path):
    source = git_http_server.create_repo()
    with pytest.raises(AuthenticationError, match="requires credentials.*check the token"):
        storage(source.url, tmp_path).pull()


def test_wrong_token_on_update(git_http_server, tmp_path, monkeypatch):
    source = git_http_server.create_repo()
    monkeypatch.setenv("IPY_STORAGE_TEST_GIT_TOKEN", git_http_server.token)
    repo = storage(
        source.url,
        tmp_path,
        credentials={
            "username": "alice",
            "access_token": Secret.from_env("IPY_STORAGE_TEST_GIT_TOKEN"),
        },
    )
    repo.pull()
    monkeypatch.setenv("IPY_STORAGE_TEST_GIT_TOKEN", "revoked-token-value")
    with pytest.raises(AuthenticationError) as caught:
        repo.pull()
    assert "revoked-token-value" not in str(caught.value)


def test_unknown_branch(git_http_server, tmp_path):
    source = git_http_server.create_repo()
    repo = storage(
        source.url, tmp_path, branch="no-such-branch", credentials=git_http_server.credentials()
    )
    with pytest.raises(SourceNotFoundError, match="check the branch name"):
        repo.pull()


def test_branch_deleted_upstream_after_first_pull(make_repo, tmp_path):
    source = make_repo()
    source.create_branch("short-lived")
    repo = storage(source.url, tmp_path, branch="short-lived")
    repo.pull()
    subprocess.run(
        ["git", "branch", "-D", "short-lived"], cwd=source.bare, check=True, capture_output=True
    )
    with pytest.raises(
        SourceNotFoundError, match="'short-lived' was not found.*check the branch name"
    ):
        repo.pull()


def test_unknown_commit(git_http_server, tmp_path):
    source = git_http_server.create_repo()
    repo = storage(
        source.url,
        tmp_path,
        commit_sha="0123456789abcdef0123456789abcdef01234567",
        credentials=git_http_server.credentials(),
    )
    with pytest.raises(SourceNotFoundError, match="check the commit"):
        repo.pull()
    short = storage(
        source.url,
        tmp_path,
        name="short",
        commit_sha="abcdef12",
        credentials=git_http_server.credentials(),
    )
    with pytest.raises(SourceNotFoundError, match="check the commit"):
        short.pull()


def test_empty_repository(tmp_path):
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "empty.git")], check=True)
    with pytest.raises(SourceNotFoundError, match="no commits yet"):
        storage((tmp_path / "empty.git").as_uri(), tmp_path / "ws").pull()
    assert not (tmp_path / "ws" / "empty").exists()


def test_repository_not_found(git_http_server, tmp_path):
    repo = storage(
        git_http_server.url_for("no-such-repo"), tmp_path, credentials=git_http_server.credentials()
    )
    with pytest.raises(SourceNotFoundError, match="check the URL"):
        repo.pull()
    with pytest.raises(SourceNotFoundError, match="check the URL"):
        storage(str(tmp_path / "missing.git"), tmp_path).pull()


def test_host_unreachable(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    repo = storage(
        f"http://127.0.0.1:{port}/repo.git",
        tmp_path,
        credentials={"access_token": Secret("tok-unused")},
    )
    with pytest.raises(NetworkError, match="check the network") as caught:
        repo.pull()
    assert "tok-unused" not in str(caught.value)


def test_server_down_then_back(git_http_server, tmp_path):
    source = git_http_server.create_repo()
    repo = storage(source.url, tmp_path, credentials=git_http_server.credentials())
    repo.pull()
    git_http_server.set_status(503)
    with pytest.raises(StoragePullError, match="check the network"):
        repo.pull()
    git_http_server.set_status(None)
    source.commit({"b.py": "b\n"})
    assert repo.pull().added == ["b.py"]


# -- the destination ---------------------------------------------------------------------------
def test_existing_repository_of_another_origin_is_refused(make_repo, tmp_path):
    first, other = make_repo(name="one"), make_repo(name="two")
    storage(first.url, tmp_path, name="shared").pull()
    repo = storage(other.url, tmp_path, name="shared")
    with pytest.raises(ValueError) as caught:
        repo.pull()
    assert isinstance(caught.value, DestinationConflictError)
    assert str(caught.value) == (
        f"The existing repository at {tmp_path / 'shared'} does not match the configured repository {other.url}"
    )


def test_origin_comparison_ignores_credentials_and_dot_git(git_http_server, tmp_path):
    source = git_http_server.create_repo()
    storage(source.url, tmp_path, name="same", credentials=git_http_server.credentials()).pull()
    again = storage(
        source.url.removesuffix(".git") + "/",
        tmp_path,
        name="same",
        credentials=git_http_server.credentials(),
    )
    assert again.pull().revision == source.head()


def test_non_git_folder_is_refused_and_untouched(make_repo, tmp_path):
    source = make_repo()
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "mine.txt").write_text("my work\n")
    with pytest.raises(DestinationConflictError, match="not a git repository"):
        storage(source.url, tmp_path).pull()
    assert text_tree(tmp_path / "repo") == {"mine.txt": "my work\n"}


def test_empty_folder_is_cloned_into(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    (tmp_path / "repo").mkdir()
    assert storage(source.url, tmp_path).pull().added == ["a.py"]


def test_repository_cloned_by_plain_git_is_adopted(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    subprocess.run(["git", "clone", "-q", source.url, str(tmp_path / "repo")], check=True)
    (tmp_path / "repo" / "a.py").write_text("mine\n")
    source.commit({"b.py": "b\n"})
    result = storage(source.url, tmp_path).pull()
    assert result.added == ["b.py"]
    assert (tmp_path / "repo" / "a.py").read_text() == "mine\n"


def test_reset_moves_the_old_folder_to_a_backup(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    repo = storage(source.url, tmp_path)
    repo.pull()
    (repo.destination / "a.py").write_text("my edit\n")
    (repo.destination / "notes.txt").write_text("notes\n")
    result = repo.pull(reset=True)
    assert result.backup is not None and result.backup.name.startswith("repo.backup-")
    assert text_tree(result.backup) == {"a.py": "my edit\n", "notes.txt": "notes\n"}
    assert text_tree(repo.destination) == {"a.py": "a\n"}
    assert result.added == ["a.py"]


# -- sparse checkouts and submodules -----------------------------------------------------------
def _du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*"))


def test_sparse_pull_leaves_large_blobs_outside_on_the_server(git_http_server, tmp_path):
    big = os.urandom(5 * 1024 * 1024)
    source = git_http_server.create_repo(
        {"flows/a.py": "a\n", "data/big.bin": big, "README.md": "r\n"}
    )
    repo = storage(
        source.url, tmp_path, directories=["flows"], credentials=git_http_server.credentials()
    )
    result = repo.pull()
    assert result.added == ["README.md", "flows/a.py"]
    assert not (repo.destination / "data").exists()
    assert _du(repo.destination / ".git") < 1024 * 1024
    source.commit({"flows/a.py": "a2\n", "data/big.bin": os.urandom(5 * 1024 * 1024)})
    update = repo.pull()
    assert update.modified == ["flows/a.py"]
    assert _du(repo.destination / ".git") < 1024 * 1024
    assert git(repo.destination, "status", "--porcelain") == ""


def test_changed_directories_apply_to_an_existing_checkout(git_http_server, tmp_path):
    source = git_http_server.create_repo(
        {"a/1.py": "1\n", "b/2.py": "2\n", "c/3.py": "3\n", "top.py": "t\n"}
    )
    creds = git_http_server.credentials()
    assert storage(source.url, tmp_path, directories=["a"], credentials=creds).pull().added == [
        "a/1.py",
        "top.py",
    ]
    wider = storage(source.url, tmp_path, directories=["a", "b"], credentials=creds).pull()
    assert wider.added == ["b/2.py"] and wider.deleted == []
    narrower = storage(source.url, tmp_path, directories=["b"], credentials=creds).pull()
    assert narrower.deleted == ["a/1.py"]
    everything = storage(source.url, tmp_path, credentials=creds).pull()
    assert everything.added == ["a/1.py", "c/3.py"]
    assert sorted(text_tree(tmp_path / source.name)) == ["a/1.py", "b/2.py", "c/3.py", "top.py"]


def test_a_sparse_checkout_fetches_the_files_it_writes_in_one_request(git_http_server, tmp_path):
    """A partial clone fetches a missing file when it is written; one request for each of 60 files
    would make widening a cone or an update slow on a real host (git's own sparse-checkout
    batches them, and so must the engine)."""
    files = {f"b/{i}.py": f"{i}\n" for i in range(60)} | {"a/1.py": "1\n"}
    source = git_http_server.create_repo(files)
    creds = git_http_server.credentials()
    storage(source.url, tmp_path, directories=["a"], credentials=creds).pull()
    fetches = []
    for change in ("widen", "update"):
        if change == "update":
            source.commit({f"b/{i}.py": f"{i} changed\n" for i in range(60)})
        git_http_server.clear_requests()
        result = storage(source.url, tmp_path, directories=["a", "b"], credentials=creds).pull()
        assert len(result.added if change == "widen" else result.modified) == 60
        fetches.append([r for r in git_http_server.requests() if r.startswith("POST")])

    widen, update = fetches
    assert len(widen) <= 2, widen  # a fetch of the missing files (protocol v2: one POST)
    assert len(update) <= 3, update  # the tip (ls-refs), the commit (shallow), then its files
    assert text_tree(tmp_path / source.name)["b/7.py"] == "7 changed\n"


def test_sparse_directory_named_like_an_option(make_repo, tmp_path):
    source = make_repo({"--odd/a.py": "a\n", "other/b.py": "b\n"})
    with pytest.warns(UserWarning):
        repo = storage(source.url, tmp_path, directories=["--odd"])
    assert repo.pull().added == ["--odd/a.py"]


def test_submodules_on_the_same_host_use_the_same_credentials(git_http_server, tmp_path):
    library = git_http_server.create_repo({"lib.py": "v = 1\n"})
    parent = git_http_server.create_repo({"main.py": "import lib\n"})
    parent.add_submodule("vendor/lib", library)
    repo = storage(
        parent.url, tmp_path, include_submodules=True, credentials=git_http_server.credentials()
    )
    repo.pull()
    assert (repo.destination / "vendor/lib/lib.py").read_text() == "v = 1\n"

    library.commit({"lib.py": "v = 2\n"})
    parent.add_submodule("vendor/lib2", library)  # a second gitlink at the new library commit
    parent_work = parent.work
    subprocess.run(
        ["git", "update-index", "--cacheinfo", f"160000,{library.head()},vendor/lib"],
        cwd=parent_work,
        check=True,
    )
    subprocess.run(
        ["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "bump"],
        cwd=parent_work,
        check=True,
    )
    subprocess.run(
        ["git", "push", "-q", "origin", "HEAD:refs/heads/main"], cwd=parent_work, check=True
    )
    repo.pull()
    assert (repo.destination / "vendor/lib/lib.py").read_text() == "v = 2\n"
    assert (repo.destination / "vendor/lib2/lib.py").read_text() == "v = 2\n"
    for path in repo.destination.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in git_http_server.secret_forms()), (
                path
            )


def test_submodules_with_a_sparse_checkout_and_a_commit_pin(git_http_server, tmp_path):
    library = git_http_server.create_repo({"lib.py": "v = 1\n"})
    parent = git_http_server.create_repo({"main.py": "m\n", "docs/a.md": "a\n"})
    pin = parent.add_submodule("vendor/lib", library)
    creds = git_http_server.credentials()
    sparse = storage(
        parent.url,
        tmp_path,
        name="sparse",
        directories=["vendor"],
        include_submodules=True,
        credentials=creds,
    )
    sparse.pull()
    assert (sparse.destination / "vendor/lib/lib.py").exists() and not (
        sparse.destination / "docs"
    ).exists()
    pinned = storage(
        parent.url,
        tmp_path,
        name="pinned",
        commit_sha=pin,
        include_submodules=True,
        credentials=creds,
    )
    assert pinned.pull().revision == pin
    assert (pinned.destination / "vendor/lib/lib.py").read_text() == "v = 1\n"


def test_submodules_not_fetched_unless_asked(git_http_server, tmp_path):
    library = git_http_server.create_repo({"lib.py": "v = 1\n"})
    parent = git_http_server.create_repo({"main.py": "m\n"})
    parent.add_submodule("lib", library)
    repo = storage(parent.url, tmp_path, credentials=git_http_server.credentials())
    assert repo.pull().added == [".gitmodules", "lib", "main.py"]
    assert not (repo.destination / "lib" / "lib.py").exists()


# -- §5, what only git does (the table itself is tests/test_user_work.py) ---------------------
@pytest.fixture
def pulled(make_repo, tmp_path):
    """A local upstream with a few files and a first pull of it."""
    source = make_repo(
        {
            "f.py": "line 1\nline 2\nline 3\nline 4\nline 5\n",
            "g.py": "g\n",
            "h.py": "h\n",
            "pkg/mod.py": "m\n",
            ".gitignore": "*.log\n",
        }
    )
    repo = storage(source.url, tmp_path / "ws")
    repo.pull()
    return source, repo, repo.destination


def test_row3_binary_both_changed_keeps_the_users_version(make_repo, tmp_path):
    source = make_repo({"data.bin": b"\x00\x01base"})
    repo = storage(source.url, tmp_path)
    repo.pull()
    (repo.destination / "data.bin").write_bytes(b"\x00\x01mine")
    source.commit({"data.bin": b"\x00\x01theirs"})
    result = repo.pull()
    assert (repo.destination / "data.bin").read_bytes() == b"\x00\x01mine"
    assert result.kept_local == ["data.bin"]


def test_paths_that_look_like_globs_are_taken_literally(make_repo, tmp_path):
    source = make_repo(
        {"data[1].csv": "a\nb\nc\nd\n", "data1.csv": "x\n", "*.py": "star\n", "s.py": "s\n"}
    )
    repo = storage(source.url, tmp_path)
    repo.pull()
    dest = repo.destination
    (dest / "data[1].csv").write_text("mine\nb\nc\nd\n")
    (dest / "data1.csv").write_text("my x\n")  # upstream leaves it alone: the edit must survive
    (dest / "*.py").write_text("my star\n")
    (dest / "s.py").write_text("my s\n")
    source.commit({"data[1].csv": "a\nb\nc\nD\n", "*.py": "their star\n"})
    result = repo.pull()
    assert (dest / "data[1].csv").read_text() == "mine\nb\nc\nD\n"
    assert (dest / "data1.csv").read_text() == "my x\n" and (dest / "s.py").read_text() == "my s\n"
    assert (dest / "*.py").read_text() == "my star\n"
    assert result.kept_local == ["*.py"] and result.merged == ["data[1].csv"]


def test_leftovers_of_a_killed_clone_are_cleaned(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    leftover = tmp_path / ".repo.pulling-abc123"
    (leftover / ".git").mkdir(parents=True)
    assert storage(source.url, tmp_path).pull().added == ["a.py"]
    assert not leftover.exists()


def test_row4_user_deleted_files_come_back_on_a_no_change_pull_too(make_repo, tmp_path):
    files = {
        "a.py": "a\n",
        "data[1].csv": "d\n",
        "data1.csv": "x\n",
        "flows/f.py": "f\n",
        "other/o.py": "o\n",
    }
    repo = storage(make_repo(files).url, tmp_path, directories=["flows"])
    repo.pull()
    dest = repo.destination
    (dest / "a.py").unlink()
    (dest / "flows" / "f.py").unlink()
    result = repo.pull()
    assert not result.modified and result.added == ["a.py", "flows/f.py"]
    assert (dest / "a.py").read_text() == "a\n" and (dest / "flows/f.py").read_text() == "f\n"
    assert not (dest / "other").exists()  # outside the sparse cone: still not checked out
    (dest / "data[1].csv").unlink()
    (dest / "data1.csv").write_text("my x\n")  # a glob 'data[1].csv' would match it: must survive
    assert repo.pull().added == ["data[1].csv"]
    assert (dest / "data1.csv").read_text() == "my x\n"
    assert git(dest, "status", "--porcelain") == "M data1.csv"  # (stripped) only the edit
    assert repo.pull().added == []


def test_row7_user_staged_file_that_upstream_adds(pulled):
    source, repo, dest = pulled
    (dest / "staged.py").write_text("mine\n")
    git(dest, "add", "staged.py")
    source.commit({"staged.py": "theirs\n"})
    result = repo.pull()
    assert result.moved_aside == {"staged.py": "staged.local.py"}
    assert (dest / "staged.py").read_text() == "theirs\n"
    assert (dest / "staged.local.py").read_text() == "mine\n"


def test_a_large_upstream_change_keeps_edits_staged_and_unstaged(make_repo, tmp_path):
    """Above a few hundred changed paths git, not a read of each file, finds the user's work."""
    files = {f"m/f{i:03d}.py": f"line 1\nline 2\nv{i}\n" for i in range(400)}
    source = make_repo(files)
    repo = storage(source.url, tmp_path)
    repo.pull()
    dest = repo.destination
    (dest / "m/f000.py").write_text("line 1 (mine)\nline 2\nv0\n")  # merged with upstream's
    (dest / "m/f001.py").write_text("staged edit\n")
    git(dest, "add", "m/f001.py")  # a staged edit upstream also changes: kept
    (dest / "m/f002.py").unlink()  # deleted: upstream's new version comes back
    source.commit({path: text.replace("v", "upstream v") for path, text in files.items()})
    result = repo.pull()
    assert (dest / "m/f000.py").read_text() == "line 1 (mine)\nline 2\nupstream v0\n"
    assert (dest / "m/f001.py").read_text() == "staged edit\n"
    assert (dest / "m/f002.py").read_text() == "line 1\nline 2\nupstream v2\n"
    assert result.merged == ["m/f000.py"] and result.kept_local == ["m/f001.py"]
    assert len(result.modified) == 397 and result.added == ["m/f002.py"]


def test_row9_unrelated_history_with_user_edits(git_http_server, tmp_path):
    source = git_http_server.create_repo({"keep.py": "k\n", "gone.py": "g\n", "edit.py": "e\n"})
    repo = storage(source.url, tmp_path, credentials=git_http_server.credentials())
    repo.pull()
    dest = repo.destination
    (dest / "edit.py").write_text("my e\n")
    (dest / "gone.py").write_text("my g\n")
    (dest / "fresh.py").write_text("mine\n")
    rewritten = source.rewrite(
        {"keep.py": "k\n", "edit.py": "e\n", "fresh.py": "theirs\n", "brand_new.py": "n\n"}
    )
    result = repo.pull()
    assert result.revision == rewritten
    assert (
        dest / "edit.py"
    ).read_text() == "my e\n"  # upstream did not change it: the user's edit stays
    assert (dest / "gone.py").read_text() == "my g\n" and result.kept_local == ["gone.py"]
    assert (dest / "fresh.py").read_text() == "theirs\n" and result.moved_aside == {
        "fresh.py": "fresh.local.py"
    }
    assert (dest / "brand_new.py").read_text() == "n\n"
    assert "refusing" not in git(dest, "status")
    assert git(dest, "rev-parse", "HEAD") == rewritten


def test_user_commit_is_kept_reachable(pulled):
    source, repo, dest = pulled
    (dest / "g.py").write_text("committed by me\n")
    git(dest, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qam", "mine")
    mine = git(dest, "rev-parse", "HEAD")
    source.commit({"h.py": "h2\n"})
    repo.pull()
    assert (dest / "g.py").read_text() == "committed by me\n" and (
        dest / "h.py"
    ).read_text() == "h2\n"
    assert mine in git(dest, "for-each-ref", "refs/ipy-storage/")


# -- locking and concurrency ----------------------------------------------------------------------
def test_concurrent_pulls_in_threads(git_http_server, tmp_path):
    source = git_http_server.create_repo({f"f{i}.py": f"{i}\n" for i in range(50)})
    results, errors = [], []

    def pull():
        try:
            results.append(
                storage(source.url, tmp_path, credentials=git_http_server.credentials()).pull()
            )
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r.added) for r in results) == [0, 0, 0, 50]
    assert all(r.revision == source.head() for r in results)
    assert git(tmp_path / source.name, "status", "--porcelain") == ""


_PULL_SCRIPT = """
import sys
from ipy_storage import GitRepository
repo = GitRepository(sys.argv[1])
repo.set_base_path(sys.argv[2])
print(len(repo.pull().added))
"""


def test_concurrent_pulls_in_two_processes(make_repo, tmp_path):
    source = make_repo({f"f{i}.py": f"{i}\n" for i in range(200)})
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PULL_SCRIPT, source.url, str(tmp_path / "ws")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted(int(out) for out, _ in outputs) == [0, 200]
    assert git(tmp_path / "ws" / "repo", "status", "--porcelain") == ""


def _hold_lock(destination: str, ready) -> None:
    from ipy_storage.storage.destination import destination_lock

    with destination_lock(Path(destination)):
        ready.set()
        time.sleep(600)


def test_stale_lock_from_a_dead_process_is_taken_over(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold_lock, args=(str(tmp_path / "repo"), ready))
    holder.start()
    assert ready.wait(30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    assert storage(source.url, tmp_path).pull().added == ["a.py"]


# -- progress ---------------------------------------------------------------------------------
def test_progress_is_reported_and_a_failing_callback_is_harmless(git_http_server, tmp_path):
    source = git_http_server.create_repo({f"f{i}.py": f"{i}\n" for i in range(100)})
    events = []

    def callback(progress):
        events.append(progress)
        raise RuntimeError("display broke")

    repo = storage(source.url, tmp_path, credentials=git_http_server.credentials())
    result = repo.pull(progress=callback)
    assert len(result.added) == 100
    stages = {event.stage for event in events}
    assert {"cloning", "Receiving objects", "done"} <= stages
    receiving = [e for e in events if e.stage == "Receiving objects" and e.total]
    assert receiving[-1].done == receiving[-1].total
    for event in events:
        assert git_http_server.token not in event.message


def test_async_pull_code(make_repo, tmp_path):
    import asyncio

    source = make_repo({"a.py": "a\n"})
    result = asyncio.run(storage(source.url, tmp_path).pull_code())
    assert result.added == ["a.py"]


def test_a_folder_made_with_git_init_and_the_right_origin_is_filled(make_repo, tmp_path):
    """No commit to compare with: upstream's files are written, the user's own stay (found by
    mypy: this path once handed None where the snapshot's changes belong)."""
    repo = make_repo({"a.txt": "a\n"})
    dest = tmp_path / "ws" / "r"
    dest.mkdir(parents=True)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "remote", "add", "origin", repo.url)
    (dest / "mine.txt").write_text("mine\n")
    result = storage(repo.url, tmp_path / "ws", name="r").pull()
    assert (dest / "a.txt").read_text() == "a\n" and (dest / "mine.txt").read_text() == "mine\n"
    assert result.revision == repo.head()
