"""The one place that runs git (imported only when a pull starts, so ``%load_ext`` stays fast),
through GitPython's public command layer: ``Git.execute``, ``handle_process_output``, its
``RemoteProgress`` parser and its unsafe protocol / option guards. Time limits and stopping a
command with its helpers are ours (``processes``).

Every command gets the same environment: no prompt ever (``GIT_TERMINAL_PROMPT=0``, no askpass,
ssh in batch mode), pathspecs as written, English messages, and git configuration through
``GIT_CONFIG_COUNT`` / ``GIT_CONFIG_KEY_n`` / ``GIT_CONFIG_VALUE_n`` — the host-scoped
``Authorization`` header among it, so a token is never in argv, a URL or ``.git/config``.
git runs in the kernel's process group (a notebook's interrupt and restart reach it), and
every command that transfers objects or writes the work tree dies with the process that started
it (Linux ``setpriv --pdeathsig``; its exec costs a few milliseconds, so quick read-only
commands, ``ls-remote`` among them, go without), so no such git outlives a killed kernel.
Whatever happens while git runs — an error, a timeout, ``KeyboardInterrupt`` — the process and
its helpers are killed and reaped before the exception leaves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import git

from ..credentials import config_environment
from ..errors import NetworkError, StoragePullError
from ..result import Progress, ProgressCallback
from .failures import git_failure
from .processes import Watchdog, kill_tree, spawn
from .source import GitSource

# A last resort against a server that never answers; http.lowSpeed* catches stalls sooner.
NETWORK_TIMEOUT = 900.0
# Configuration every git command gets (after the user's own GIT_CONFIG_* entries).
BASE_CONFIG = (
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
    ("gc.auto", "0"),  # no gc (in the background or not) started by a pull
    ("maintenance.auto", "false"),
    ("protocol.ext.allow", "never"),  # transports that run commands, also via .gitmodules
    ("protocol.fd.allow", "never"),
    ("http.lowSpeedLimit", "1"),  # abort a transfer that stalls for a minute
    ("http.lowSpeedTime", "60"),
)
# With our own credentials, no credential helper is asked (nothing stored, no prompt, no wait).
AUTH_CONFIG = (("credential.helper", ""), ("credential.interactive", "never"))
# Variables that would point git at another repository; GitPython passes the kernel's
# environment on, so a pull refuses to run under them rather than touch the wrong repository.
FOREIGN_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)
_SIZE = re.compile(r"(?P<size>[\d.]+) (?P<unit>[KMG]iB|bytes)")
_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def _environment(auth: Sequence[tuple[str, str]]) -> dict[str, str]:
    for name in FOREIGN_REPOSITORY_ENV:
        if os.environ.get(name):
            raise StoragePullError(
                f"The kernel's environment sets {name}, which would point git at another "
                f"repository: unset it (os.environ.pop({name!r})) and pull again."
            )
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GCM_INTERACTIVE": "never",
        "GIT_TRACE_REDACT": "1",
        "GIT_LITERAL_PATHSPECS": "0",  # pathspecs say their magic: ":(literal)" or ":(glob)"
        "GIT_GLOB_PATHSPECS": "0",
        "GIT_NOGLOB_PATHSPECS": "0",
        "GIT_ICASE_PATHSPECS": "0",
        "LC_ALL": "C",
        "LANGUAGE": "C",
    }
    if not os.environ.get("GIT_SSH_COMMAND") and not os.environ.get("GIT_SSH"):
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"  # fail, never ask for a password
    pairs = BASE_CONFIG + (tuple(auth) + AUTH_CONFIG if auth else ())
    start = int(os.environ.get("GIT_CONFIG_COUNT") or 0)  # after the user's own entries
    return {**env, **config_environment(pairs, start)}


def _dies_with_parent() -> list[str]:
    """The prefix that makes git die with its parent (Linux ``setpriv``), else nothing."""
    if sys.platform.startswith("linux") and shutil.which("setpriv"):
        return ["setpriv", "--pdeathsig", "KILL", "--"]
    return []


_DIES_WITH_PARENT: list[str] | None = None


class GitRunner:
    """Runs git for one pull of ``source``; turns failures into one-line pull errors."""

    def __init__(
        self,
        source: GitSource,
        destination: Path,
        progress: ProgressCallback | None = None,
        network_timeout: float = NETWORK_TIMEOUT,
    ) -> None:
        global _DIES_WITH_PARENT
        if _DIES_WITH_PARENT is None:
            _DIES_WITH_PARENT = _dies_with_parent()
        self.source = source
        self.url = source.url
        self.destination = destination
        self.network_timeout = network_timeout
        self.env = _environment(source.auth)
        self.progress_callback = progress
        self.bytes_transferred = 0

    # -- progress -------------------------------------------------------------------------
    def report(
        self, stage: str, done: int = 0, total: int | None = None, message: str = ""
    ) -> None:
        if self.progress_callback is not None:
            self.progress_callback(Progress(stage, done, total, self.bytes_transferred, message))

    def progress_flag(self) -> list[str]:
        """``--progress`` when someone listens (git then reports on stderr without a terminal)."""
        return ["--progress"] if self.progress_callback is not None else []

    # -- commands -------------------------------------------------------------------------
    def start(
        self, *args: str, cwd: Path | None = None, stdin: bool = False, lasting: bool = False
    ) -> Any:
        """Start ``git args``; collect it with ``finish`` (so independent commands overlap).
        ``lasting``: it may transfer objects or write many files, so it must die with us."""
        command = [*self._prefix(lasting), git.Git.GIT_PYTHON_GIT_EXECUTABLE, *args]
        return spawn(
            lambda env: git.Git(str(cwd) if cwd else None).execute(
                command, as_process=True, istream=subprocess.PIPE if stdin else None, env=env
            ),
            self.env,
        )

    def finish(
        self,
        process: Any,
        input: bytes | None = None,  # noqa: A002 - mirrors subprocess
        network: bool = False,
        check: bool = True,
        action: str = "git",
        hint: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Wait for a started command; its output as bytes, or a pull error when it failed."""
        try:
            stdout, stderr = process.proc.communicate(
                input, timeout=self.network_timeout if network else None
            )
        except subprocess.TimeoutExpired:
            kill_tree(process.proc)
            raise self._timed_out(action) from None
        except BaseException:
            kill_tree(process.proc)
            raise
        returncode = process.proc.returncode
        if check and returncode:
            raise self.failure(action, stderr.decode(errors="replace"), hint)
        return subprocess.CompletedProcess(process.args, returncode, stdout, stderr)

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        input: bytes | None = None,  # noqa: A002 - mirrors subprocess
        network: bool = False,
        check: bool = True,
        action: str = "git",
        hint: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run ``git args`` and capture its output; ``network``: it may fetch (lazily, too)."""
        process = self.start(*args, cwd=cwd, stdin=input is not None, lasting=network)
        return self.finish(process, input, network=network, check=check, action=action, hint=hint)

    def text(self, *args: str, **kwargs: Any) -> str:
        return os.fsdecode(self.run(*args, **kwargs).stdout).strip()

    def stream(
        self, *args: str, cwd: Path | None = None, action: str = "git", hint: str | None = None
    ) -> None:
        """Run a network command that reports progress on stderr (clone, fetch)."""
        command = [*self._prefix(True), git.Git.GIT_PYTHON_GIT_EXECUTABLE, *args]
        process: Any = spawn(
            lambda env: git.Git(str(cwd) if cwd else None).execute(
                command,
                as_process=True,
                with_stdout=False,
                universal_newlines=True,  # "\r" ends a progress line as "\n" does
                errors="replace",
                env=env,
            ),
            self.env,
        )
        progress = _Progress(self)
        try:
            with Watchdog(process.proc, self.network_timeout) as watchdog:
                git.cmd.handle_process_output(
                    process, None, progress.new_message_handler(), decode_streams=False
                )
                returncode = process.proc.wait()
        except BaseException:
            kill_tree(process.proc)
            raise
        if watchdog.fired:
            raise self._timed_out(action)
        if returncode:
            raise self.failure(action, "\n".join(progress.error_lines + progress.other_lines), hint)

    @staticmethod
    def _prefix(lasting: bool) -> list[str]:
        return (_DIES_WITH_PARENT or []) if lasting else []

    def _timed_out(self, action: str) -> NetworkError:
        return NetworkError(
            f"{action} {self.url} into {self.destination} did not finish within "
            f"{self.network_timeout:.0f}s: check the network and that the host answers."
        )

    def failure(self, action: str, stderr: str, hint: str | None = None) -> StoragePullError:
        return git_failure(action, self.url, self.destination, stderr, hint, bool(self.source.auth))

    # -- guards ---------------------------------------------------------------------------
    def check_clone_options(self, options: list[str]) -> None:
        """GitPython's guards: no transport that runs commands, no option that does."""
        git.Git.check_unsafe_protocols(self.url)
        git.Git.check_unsafe_options(
            options=options, unsafe_options=git.Repo.unsafe_git_clone_options
        )


class _Progress(git.RemoteProgress):
    """GitPython's progress parser, reporting what it understood through the runner."""

    _STAGES = (
        (git.RemoteProgress.COUNTING, "Counting objects"),
        (git.RemoteProgress.COMPRESSING, "Compressing objects"),
        (git.RemoteProgress.RECEIVING, "Receiving objects"),
        (git.RemoteProgress.RESOLVING, "Resolving deltas"),
        (git.RemoteProgress.WRITING, "Writing objects"),
        (git.RemoteProgress.FINDING_SOURCES, "Finding sources"),
        (git.RemoteProgress.CHECKING_OUT, "Checking out files"),
    )

    def __init__(self, runner: GitRunner) -> None:
        super().__init__()
        self._runner = runner

    def update(
        self, op_code: int, cur_count: Any, max_count: Any = None, message: str = ""
    ) -> None:
        size = _SIZE.search(message or "")
        if size and op_code & (self.RECEIVING | self.WRITING):
            self._runner.bytes_transferred = int(float(size["size"]) * _UNITS[size["unit"]])
        stage = next((name for flag, name in self._STAGES if op_code & flag), "git")
        total = int(max_count) if max_count else None
        self._runner.report(stage, int(cur_count or 0), total, f"{stage} {message}".strip())
