"""Pulls that recover by themselves (behaviour §3.1): git locks a dead process left behind, a reset
while the server is down, an abbreviated pin on a shallow checkout, file-system errors."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from ipy_storage import GitRepository, Workspace
from ipy_storage.storage.errors import NetworkError, StoragePullError
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(120)

GIT_LOCKS = ["index.lock", "shallow.lock", "HEAD.lock", "refs/heads/main.lock", "config.lock"]


def storage(url: str, base: Path, **options) -> GitRepository:
    repo = GitRepository(url, pull_interval=None, **options)
    repo.set_base_path(base)
    return repo


@pytest.mark.parametrize("lock", GIT_LOCKS)
def test_a_stale_git_lock_never_blocks_pulls(make_repo, tmp_path, lock):
    source = make_repo({"a.py": "a\n", "b.py": "b\n"})
    repo = storage(source.url, tmp_path)
    repo.pull()
    (repo.destination / ".git" / lock).write_text("left by a git that was killed\n")
    source.commit({"a.py": "a2\n"})
    result = repo.pull()
    assert result.modified == ["a.py"] and (repo.destination / "a.py").read_text() == "a2\n"
    assert not (repo.destination / ".git" / lock).exists()


@pytest.mark.slow
def test_a_lock_a_live_git_holds_is_waited_for_not_removed(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    repo = storage(source.url, tmp_path)
    repo.pull()
    lock = repo.destination / ".git" / "index.lock"
    holder = subprocess.Popen(
        ["python3", "-c", f"f = open({str(lock)!r}, 'w'); import time; time.sleep(1.5)"]
    )
    try:
        assert wait_until(lock.exists, timeout=10)
        started = time.monotonic()
        repo.pull()
        assert time.monotonic() - started >= 1.0  # waited for the live holder
    finally:
        holder.wait()


def test_timed_pulls_recover_from_a_stale_lock_by_themselves(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    ws = Workspace(tmp_path)
    ws.add(GitRepository(source.url, pull_interval=0.2), name="repo")
    ws.pull("repo")
    (tmp_path / "repo" / ".git" / "index.lock").write_text("")
    source.commit({"a.py": "a2\n"})
    ws.watch("repo")
    try:
        assert wait_until(lambda: (tmp_path / "repo" / "a.py").read_text() == "a2\n", timeout=20)
        assert ws.status("repo")["repo"]["last_error"] is None
    finally:
        ws.unwatch()


def test_reset_while_the_server_is_down_leaves_the_folder_in_place(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "a\n"})
    repo = storage(source.url, tmp_path, credentials=git_http_server.credentials())
    repo.pull()
    (repo.destination / "a.py").write_text("my edit\n")
    git_http_server.set_status(503)
    try:
        with pytest.raises(NetworkError):
            repo.pull(reset=True)
    finally:
        git_http_server.set_status(None)
    assert (repo.destination / "a.py").read_text() == "my edit\n"
    assert not [p for p in tmp_path.iterdir() if ".backup-" in p.name or ".pulling-" in p.name]
    result = repo.pull(reset=True)  # and once the server is back, the reset happens
    assert (repo.destination / "a.py").read_text() == "a\n"
    assert (result.backup / "a.py").read_text() == "my edit\n"


@pytest.mark.parametrize("digits", [4, 10, 39])
def test_an_abbreviated_pin_works_on_an_existing_shallow_checkout(make_repo, tmp_path, digits):
    source = make_repo({"a.py": "v1\n"})
    first = source.head()
    source.commit({"a.py": "v2\n"})
    repo = storage(source.url, tmp_path)
    repo.pull()  # a shallow clone of the tip
    pinned = storage(source.url, tmp_path, commit_sha=first[:digits])
    result = pinned.pull()
    assert result.revision == first and (pinned.destination / "a.py").read_text() == "v1\n"


def test_a_file_system_error_names_the_path(make_repo, tmp_path):
    source = make_repo({"a.py": "a\n"})
    repo = storage(source.url, tmp_path, name="x" * 300)
    with pytest.raises(StoragePullError, match="x" * 40) as failure:
        repo.pull()
    assert "File name too long" in str(failure.value) and "\n" not in str(failure.value)


def test_a_foreign_git_dir_in_the_environment_is_refused(make_repo, tmp_path, monkeypatch):
    source = make_repo({"a.py": "a\n"})
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere" / ".git"))
    with pytest.raises(StoragePullError, match="GIT_DIR.*unset it"):
        storage(source.url, tmp_path).pull()
    assert not os.path.exists(tmp_path / "repo")
