"""git through GitPython (behaviour §3.1): nothing GitPython starts outlives a pull, its debug logging
never carries a token, an interrupt stops a pull at once, and a command past its time limit or
abandoned ends with every helper it started."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from ipy_storage import GitRepository, Workspace
from ipy_storage.storage.errors import NetworkError
from ipy_storage.storage.git.runner import GitRunner
from ipy_storage.storage.git.source import GitSource
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(120)


def git_children() -> list[str]:
    """Command lines of this process's live git child processes."""
    me, found = str(os.getpid()), []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            program = os.path.basename(argv[0]).decode(errors="replace")
            if fields[1] == me and fields[0] != "Z" and program.startswith(("git", "setpriv")):
                found.append(b" ".join(argv).decode(errors="replace"))
        except OSError:
            continue
    return found


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_fifty_timed_pulls_leave_no_git_process_and_no_open_descriptor(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "a\n"})
    ws = Workspace(tmp_path)
    repo = GitRepository(source.url, credentials=git_http_server.credentials(), pull_interval=0.01)
    ws.add(repo, name="repo")
    ws.pull("repo")  # imports and first-use caches settle before counting
    before = open_descriptors()
    pulls: list[object] = []
    ws.add_listener(lambda name, status: status and pulls.append(status["last_pull"]))
    ws.watch("repo")
    try:
        for version in range(3):  # some of the timed pulls bring changes
            source.commit({"a.py": f"a{version}\n"})
            time.sleep(0.2)
        assert wait_until(lambda: len(set(pulls)) >= 50, timeout=60)
    finally:
        ws.unwatch()
    status = ws.status("repo")["repo"]
    assert status["last_error"] is None, status
    assert wait_until(lambda: not git_children(), timeout=5), git_children()
    assert wait_until(lambda: open_descriptors() <= before, timeout=5), (
        before,
        os.listdir("/proc/self/fd"),
    )
    assert (repo.destination / "a.py").read_text() == "a2\n"


def test_debug_logging_of_every_library_carries_no_token(git_http_server, tmp_path, caplog):
    source = git_http_server.create_repo({"a.py": "a\n"})
    repo = GitRepository(source.url, credentials=git_http_server.credentials())
    repo.set_base_path(tmp_path)
    with caplog.at_level(logging.DEBUG):
        repo.pull()
        source.commit({"a.py": "a2\n"})
        repo.pull()
        bad = GitRepository(source.url, credentials={"access_token": "wrong-" + "x" * 20})
        bad.set_base_path(tmp_path / "bad")
        with pytest.raises(RuntimeError):
            bad.pull()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "Popen" in records  # GitPython's command log was captured
    for secret in [*git_http_server.secret_forms(), "wrong-" + "x" * 20]:
        assert secret not in records


def test_an_interrupt_stops_a_pull_at_once_and_ends_its_git(git_http_server, tmp_path):
    source = git_http_server.create_repo({"a.py": "a\n"})
    repo = GitRepository(source.url, credentials=git_http_server.credentials())
    repo.set_base_path(tmp_path)
    git_http_server.set_delay(3)

    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            repo.pull()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        git_http_server.set_delay(None)
    assert time.monotonic() - started < 1.5
    assert wait_until(lambda: not git_children(), timeout=2), git_children()
    assert repo.pull().added == ["a.py"]  # the next pull converges


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers (a stalled host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/repo.git"
    server.close()


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line holds ``text`` (git and its remote helpers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in argv and state != "Z" and "pytest" not in argv:
            found.append(argv)
    return found


def test_a_command_past_its_time_limit_stops_with_its_helpers(silent_server, tmp_path):
    runner = GitRunner(GitSource(silent_server), tmp_path / "dest", network_timeout=1.0)
    for command in (
        lambda: runner.stream(
            "clone", "--", silent_server, str(tmp_path / "dest"), action="Cloning"
        ),
        lambda: runner.run("ls-remote", silent_server, network=True, action="Checking"),
    ):
        started = time.monotonic()
        with pytest.raises(NetworkError, match=r"into .*dest did not finish within 1s"):
            command()
        assert time.monotonic() - started < 5
        assert wait_until(lambda: not processes_mentioning(silent_server), timeout=2), (
            processes_mentioning(silent_server)
        )


def test_an_abandoned_command_stops_with_its_helpers(silent_server, tmp_path):
    """An interrupt while git waits (the notebook's stop button) ends git and git-remote-http."""
    runner = GitRunner(GitSource(silent_server), tmp_path / "dest")
    process = runner.start("ls-remote", silent_server, lasting=True)
    assert wait_until(lambda: len(processes_mentioning(silent_server)) >= 2, timeout=5)

    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.finish(process, network=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert process.proc.returncode is not None
    assert wait_until(lambda: not processes_mentioning(silent_server), timeout=2), (
        processes_mentioning(silent_server)
    )
