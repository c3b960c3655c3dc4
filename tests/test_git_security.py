"""Tokens never reach disk, command lines, errors or progress (behaviour §3.1): checked on real clones
against the Basic-auth git server, with a /proc watcher running during slowed pulls."""

from __future__ import annotations

import base64
import logging
import os
import threading
from pathlib import Path

import pytest

from ipy_storage import GitRepository, Secret, Workspace
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(120)


class CmdlineWatcher:
    """Records the command line of every process visible in /proc while it runs."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        own = str(os.getpid())
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or entry.name == own:
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                if data:
                    self.seen.add(data)

    def __enter__(self) -> CmdlineWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def git_commands(self) -> set[bytes]:
        return {
            cmd for cmd in self.seen if cmd.split(b"\0")[0].rsplit(b"/", 1)[-1].startswith(b"git")
        }


def files_containing(root: Path, secrets: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(secret.encode() in data for secret in secrets):
                hits.append(str(path))
    return hits


def test_token_never_in_argv_or_on_disk_during_slowed_pulls(git_http_server, tmp_path):
    source = git_http_server.create_repo(
        {"flows/a.py": "a\n", "data/b.txt": "b\n", "README.md": "r\n"}
    )
    library = git_http_server.create_repo({"lib.py": "l\n"})
    source.add_submodule("vendor/lib", library)
    secrets = git_http_server.secret_forms()
    repo = GitRepository(
        source.url, credentials=git_http_server.credentials(), include_submodules=True
    )
    repo.set_base_path(tmp_path)
    sparse = GitRepository(
        source.url, credentials=git_http_server.credentials(), directories=["flows"], name="sparse"
    )
    sparse.set_base_path(tmp_path)
    messages = []

    git_http_server.set_delay(0.15)
    with CmdlineWatcher() as watcher:
        repo.pull(progress=lambda p: messages.append(p.message))
        sparse.pull(progress=lambda p: messages.append(p.message))
        source.commit({"flows/a.py": "a2\n", "data/b.txt": "b2\n"})
        library.commit({"lib.py": "l2\n"})
        repo.pull(progress=lambda p: messages.append(p.message))
        sparse.pull(progress=lambda p: messages.append(p.message))
        repo.pull()  # no change: ls-remote only
    git_http_server.set_delay(None)

    commands = watcher.git_commands()
    joined = b"\n".join(commands)
    # the watcher really saw the network side of git (so it cannot pass vacuously)
    assert (
        b"remote-http" in joined
        and b"clone" in joined
        and b"fetch" in joined
        and b"ls-remote" in joined
    )
    for secret in secrets:
        assert secret.encode() not in b"\n".join(watcher.seen), (
            "a secret appeared in a command line"
        )
    assert (repo.destination / "flows/a.py").read_text() == "a2\n"
    assert (repo.destination / "vendor/lib/lib.py").read_text() == "l\n"  # the gitlink did not move
    assert files_containing(repo.destination, secrets) == []
    assert files_containing(sparse.destination, secrets) == []
    assert not any(secret in message for message in messages for secret in secrets)
    assert "extraheader" not in (repo.destination / ".git" / "config").read_text().lower()


def test_failures_never_show_the_token(git_http_server, tmp_path):
    source = git_http_server.create_repo()
    secrets = git_http_server.secret_forms()
    for options in (
        {"credentials": {"username": "alice", "access_token": Secret(git_http_server.token + "x")}},
        {"credentials": git_http_server.credentials(), "branch": "missing"},
        {"credentials": git_http_server.credentials(), "commit_sha": "f" * 40},
    ):
        repo = GitRepository(source.url, name="d", **options)
        repo.set_base_path(tmp_path)
        with pytest.raises(RuntimeError) as caught:
            repo.pull()
        text = str(caught.value) + repr(caught.value)
        assert not any(secret in text for secret in secrets)
    url_with_token = source.url.replace("://", "://alice:not-the-token-1234@")
    repo = GitRepository(url_with_token, name="u")
    repo.set_base_path(tmp_path)
    with pytest.raises(RuntimeError) as caught:
        repo.pull()
    assert "not-the-token-1234" not in str(caught.value) and "not-the-token-1234" not in repr(repo)


def test_no_token_in_logs_status_or_reprs_of_a_failing_timer(git_http_server, tmp_path, caplog):
    """A timer pulling with a rejected token logs at DEBUG with tracebacks: the token and its
    base64 pair must appear in none of it, nor in the status and the workspace's reprs."""
    git_http_server.create_repo({"a.py": "A\n"}, name="logged")
    wrong = "wrong-token-Zq8x!@#"
    workspace = Workspace(tmp_path)
    workspace.add(
        GitRepository(
            git_http_server.url_for("logged"),
            credentials={
                "username": git_http_server.username,
                "access_token": Secret(wrong, name="logged-token"),
            },
        ),
        name="logged",
    )
    caplog.set_level(logging.DEBUG, logger="ipy_storage")
    try:
        workspace.watch("logged", interval=0.2)
        assert wait_until(lambda: workspace.status("logged")["logged"]["failures"] >= 2)
    finally:
        workspace.unwatch()
    status = workspace.status("logged")["logged"]
    assert "check" in status["last_error"]
    texts = [caplog.text, repr(status), repr(workspace), workspace._repr_html_()]
    texts += [logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info]
    forms = [wrong, base64.b64encode(f"{git_http_server.username}:{wrong}".encode()).decode()]
    assert caplog.records, "the failing timer logged nothing, so this test would prove nothing"
    assert not [form for form in forms for text in texts if form in text]
