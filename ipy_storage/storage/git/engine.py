"""The git back end of ``GitRepository``: clone and update a destination with the git CLI
(SPEC §3.1, §5). Everything that runs git lives here.

One pull, in steps:

1. Look at the destination: missing or empty → clone; a repository of the same origin → update;
   anything else → ``DestinationConflictError`` (the user's folder is never touched).
2. Clone: ``git clone --depth 1`` of the branch (partial + sparse for ``directories``; submodules
   with the same credentials), or ``init`` + ``fetch --depth 1 origin <sha>`` for a commit pin, into
   a temporary folder beside the destination that is renamed into place when complete.
3. Update: one ``git ls-remote`` (a single HTTP request) compared with the commit pulled last
   (``.git/ipy-storage.json``; ``refs/ipy-storage/upstream`` keeps it); equal → done, nothing else
   is run or touched. Otherwise ``fetch --depth 1`` the new commit and
   apply the upstream change (old → new trees, so force-pushes need no common history) while
   keeping the user's work (§5): files the user changed are saved, reset to the old commit, carried
   through ``git read-tree -m -u old new`` and then merged back (``git merge-file``) or kept; the
   user's files that an upstream file displaces are moved aside.
4. Apply a changed ``directories`` list, update submodules, record what was pulled.

Credentials reach git only through its environment configuration (an ``Authorization`` header
scoped to the repository's host, see ``GitRepository.auth_environment``); never argv, a URL or
``.git/config``. Every message that leaves this module goes through ``redact``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import posixpath
import re
import select
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..destination import aside_name, move_to_backup
from ..errors import (
    AuthenticationError,
    DestinationConflictError,
    NetworkError,
    SourceNotFoundError,
    StoragePullError,
)
from ..result import Progress, ProgressCallback, PullResult
from ..secrets import redact

if TYPE_CHECKING:
    from .repository import GitRepository

UPSTREAM_REF = "refs/ipy-storage/upstream"
FETCHED_REF = "refs/ipy-storage/fetched"
STATE_FILE = "ipy-storage.json"
# Above this many refs, a protocol-v0 ref advertisement costs more than protocol v2's second request.
MANY_REFS = 1000
SAVED_DIR = "ipy-storage-saved"
# A last resort against a server that never answers; http.lowSpeed* below catches stalls sooner.
NETWORK_TIMEOUT = 900.0

# Configuration every git command gets (through the environment, after the user's own entries).
BASE_CONFIG = [
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
    ("gc.autoDetach", "false"),  # no background gc left running after a pull
    ("http.lowSpeedLimit", "1"),  # abort a transfer that stalls for a minute
    ("http.lowSpeedTime", "60"),
]
# With our own credentials, no credential helper is asked (nothing stored, no prompt, no wait).
AUTH_CONFIG = [("credential.helper", ""), ("credential.interactive", "never")]
# Variables that would point git at another repository or change pathspec meaning.
DROPPED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_LITERAL_PATHSPECS",
)

URL_HINT = "check the URL and that the repository exists"
# stderr patterns → (error class, hint). First match wins; authentication comes first.
ERROR_RULES = [
    (
        AuthenticationError,
        re.compile(
            r"Authentication failed|could not read (Username|Password)|returned error: 40[13]"
            r"|Permission denied \(publickey|HTTP Basic: Access denied|Invalid username or password",
            re.I,
        ),
        "check the token/credentials and that they can read this repository",
    ),
    (
        SourceNotFoundError,
        re.compile(
            r"Remote branch .* not found|couldn't find remote ref|not found in upstream", re.I
        ),
        "check the branch name",
    ),
    (
        SourceNotFoundError,
        re.compile(
            r"not our ref|unadvertised object|reference is not a tree|no such commit|bad object"
            r"|did not match any file|unable to read tree",
            re.I,
        ),
        "check the commit SHA (the full 40-character SHA of a pushed commit)",
    ),
    (
        SourceNotFoundError,
        re.compile(
            r"repository .* not found|does not appear to be a git repository|returned error: 404"
            r"|Repository not found|does not exist|No such file or directory",
            re.I,
        ),
        URL_HINT,
    ),
    (
        NetworkError,
        re.compile(
            r"SSL certificate|certificate verify|server certificate|CAfile|gnutls_handshake", re.I
        ),
        "check the server certificate (set GIT_SSL_CAINFO for a private CA)",
    ),
    (
        NetworkError,
        re.compile(
            r"Could not resolve|Failed to connect|Couldn't connect|Connection refused|timed out"
            r"|Network is unreachable|No route to host|Connection reset|Empty reply|returned error: 5\d\d"
            r"|transfer rate|RPC failed|early EOF|unexpected disconnect|remote end hung up",
            re.I,
        ),
        "check the network and that the host is reachable",
    ),
]
_PROGRESS = re.compile(
    r"^(?:remote: )?(?P<stage>[A-Za-z][A-Za-z ]*?):\s+(?:(?P<pct>\d+)% )?\(?(?P<done>\d+)(?:/(?P<total>\d+))?\)?"
    r"(?:, (?P<size>[\d.]+) (?P<unit>[KMG]i?B|bytes))?"
)
_UNITS = {
    "bytes": 1,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
}


# -- running git -------------------------------------------------------------------------------
def _config_env(base: dict[str, str], pairs: list[tuple[str, str]]) -> dict[str, str]:
    """``GIT_CONFIG_KEY_n``/``VALUE_n`` entries for ``pairs``, numbered after the user's own."""
    count = int(base.get("GIT_CONFIG_COUNT") or 0)
    env = {}
    for index, (key, value) in enumerate(pairs, start=count):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env["GIT_CONFIG_COUNT"] = str(count + len(pairs))
    return env


def _auth_pairs(auth_env: dict[str, str]) -> list[tuple[str, str]]:
    count = int(auth_env.get("GIT_CONFIG_COUNT") or 0)
    return [
        (auth_env[f"GIT_CONFIG_KEY_{i}"], auth_env[f"GIT_CONFIG_VALUE_{i}"]) for i in range(count)
    ]


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()


def _exchange(
    process: subprocess.Popen, input: bytes | None, deadline: float | None
) -> tuple[bytes, bytes]:  # noqa: A002
    """``communicate()`` with a deadline; unlike subprocess's own, it waits for the exit without
    polling in sleeps (which cost about a millisecond a command)."""
    selector = selectors.DefaultSelector()
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    output: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    for fd in output:
        selector.register(fd, selectors.EVENT_READ)
    pending = memoryview(input or b"")
    if process.stdin is not None:
        if pending:
            selector.register(process.stdin.fileno(), selectors.EVENT_WRITE)
        else:
            process.stdin.close()
    with selector:
        while selector.get_map():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(process.args, NETWORK_TIMEOUT)
            for key, _events in selector.select(remaining):
                if key.fd in output:
                    data = os.read(key.fd, 65536)
                    if data:
                        output[key.fd].append(data)
                    else:
                        selector.unregister(key.fd)
                    continue
                try:
                    pending = pending[os.write(key.fd, pending[:65536]) :]
                except BrokenPipeError:
                    pending = pending[:0]
                if not pending:
                    selector.unregister(key.fd)
                    process.stdin.close()
    process.wait()
    process.stdout.close()
    process.stderr.close()
    return b"".join(output[out_fd]), b"".join(output[err_fd])


class Git:
    """Runs git for one pull with a clean environment; classifies failures; reports progress."""

    def __init__(self, repo: GitRepository, progress: ProgressCallback | None = None) -> None:
        self.url = repo.url
        self.progress_callback = progress
        self.bytes_transferred = 0
        self._bytes_before = 0
        self.last_ls_remote: dict[str, str] = {}
        env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_ASKPASS="",
            SSH_ASKPASS="",
            GCM_INTERACTIVE="never",
            GIT_TRACE_REDACT="1",
            LC_ALL="C",
            LANGUAGE="C",
        )
        auth = _auth_pairs(repo.auth_environment())
        self.has_credentials = bool(auth)
        self.local_env = {**env, **_config_env(env, BASE_CONFIG)}
        network_pairs = BASE_CONFIG + (auth + AUTH_CONFIG if auth else [])
        self.network_env = {**env, **_config_env(env, network_pairs)}

    # -- progress ---------------------------------------------------------------------------
    def report(
        self, stage: str, done: int = 0, total: int | None = None, message: str = ""
    ) -> None:
        if self.progress_callback is None:
            return
        # a broken display must not break the pull
        with contextlib.suppress(Exception):
            self.progress_callback(
                Progress(
                    stage=stage,
                    done=done,
                    total=total,
                    bytes=self.bytes_transferred,
                    message=redact(message),
                )
            )

    def _progress_line(self, line: str, sizes: dict[str, int]) -> None:
        match = _PROGRESS.match(line)
        if not match:
            if line:
                self.report("git", message=line)
            return
        stage = match["stage"].strip()
        if match["size"]:
            sizes[stage] = int(float(match["size"]) * _UNITS.get(match["unit"], 1))
            self.bytes_transferred = self._bytes_before + sum(sizes.values())
        total = int(match["total"]) if match["total"] else None
        self.report(stage, int(match["done"]), total, line)

    # -- commands ---------------------------------------------------------------------------
    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        network: bool = False,
        input: bytes | None = None,  # noqa: A002 - mirrors subprocess
        check: bool = True,
        action: str = "git",
        hint: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run ``git args`` and capture its output (bytes)."""
        process = self.spawn(*args, cwd=cwd, network=network, stdin=input is not None)
        return self.collect(
            process, input=input, network=network, check=check, action=action, hint=hint
        )

    def spawn(
        self, *args: str, cwd: Path | None = None, network: bool = False, stdin: bool = False
    ) -> subprocess.Popen:
        """Start ``git args`` (collect it with ``collect``), so independent commands can overlap."""
        try:
            return subprocess.Popen(
                ["git", *args],
                cwd=cwd,
                env=self.network_env if network else self.local_env,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise StoragePullError(
                "git is not installed or not on PATH: install git to pull repositories."
            ) from None

    def collect(
        self,
        process: subprocess.Popen,
        input: bytes | None = None,  # noqa: A002 - mirrors subprocess
        network: bool = False,
        check: bool = True,
        action: str = "git",
        hint: str | None = None,
    ) -> subprocess.CompletedProcess:
        deadline = time.monotonic() + NETWORK_TIMEOUT if network else None
        try:
            stdout, stderr = _exchange(process, input, deadline)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.wait()
            raise NetworkError(
                f"{action} {self.url} did not finish within {NETWORK_TIMEOUT:.0f}s: check the network."
            ) from None
        except BaseException:
            _kill(process)
            process.wait()
            raise
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if check and process.returncode:
            raise self.error(action, stderr.decode(errors="replace"), hint)
        return result

    def progress_flag(self) -> list[str]:
        """``--progress`` when someone listens (git then reports on stderr even without a terminal)."""
        return ["--progress"] if self.progress_callback is not None else []

    def text(self, *args: str, **kwargs) -> str:
        return os.fsdecode(self.run(*args, **kwargs).stdout).strip()

    def stream(
        self, *args: str, cwd: Path | None = None, action: str = "git", hint: str | None = None
    ) -> None:
        """Run a network command that reports progress on stderr (clone, fetch)."""
        try:
            process = subprocess.Popen(
                ["git", *args],
                cwd=cwd,
                env=self.network_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise StoragePullError(
                "git is not installed or not on PATH: install git to pull repositories."
            ) from None
        deadline = time.monotonic() + NETWORK_TIMEOUT
        fd = process.stderr.fileno()
        tail: list[str] = []
        sizes: dict[str, int] = {}
        self._bytes_before = self.bytes_transferred
        pending = b""
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                    _kill(process)
                    process.wait()
                    raise NetworkError(
                        f"{action} {self.url} did not finish within {NETWORK_TIMEOUT:.0f}s: check the network."
                    )
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = re.split(rb"[\r\n]", pending)
                for raw in lines:
                    line = raw.decode(errors="replace").strip()
                    if line:
                        tail = (tail + [line])[-40:]
                        self._progress_line(line, sizes)
            if pending.strip():
                tail.append(pending.decode(errors="replace").strip())
            process.wait()
        except BaseException:
            _kill(process)
            process.wait()
            raise
        finally:
            process.stderr.close()
        if process.returncode:
            raise self.error(action, "\n".join(tail), hint)

    # -- errors -----------------------------------------------------------------------------
    def error(self, action: str, stderr: str, hint: str | None = None) -> StoragePullError:
        """One-line, redacted error for a failed git command, with a hint from its stderr."""
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        error_class, rule_hint = StoragePullError, None
        for candidate, pattern, candidate_hint in ERROR_RULES:
            if pattern.search(stderr):
                error_class, rule_hint = candidate, candidate_hint
                break
        if error_class is SourceNotFoundError and hint and rule_hint != URL_HINT:
            rule_hint = hint  # the caller knows whether a branch or a commit was asked for
        important = (
            [line for line in lines if line.lower().startswith(("fatal:", "error:"))]
            or lines
            or ["no output"]
        )
        reason = re.sub(r"^(fatal|error): ", "", important[0], flags=re.I)
        reason = reason.replace("\t", " ")[:300]
        if error_class is AuthenticationError:
            reason = (
                "the server refused the credentials"
                if self.has_credentials
                else "the server requires credentials and none were given"
            )
        final_hint = (
            rule_hint or "see the reason above; pull(reset=True) starts afresh (with a backup)"
        )
        return error_class(redact(f"{action} {self.url} failed: {reason} — {final_hint}."))


# -- URLs and the destination ---------------------------------------------------------------------
def _normal_url(url: str) -> tuple[str, str, str]:
    """A comparable form of a repository URL: credentials, ``.git`` and trailing slashes ignored."""
    url = url.strip()
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return ("local", "", _normal_path(unquote(parts.path)))
        host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
        kind = "http" if scheme in ("http", "https") else scheme
        return (kind, host, unquote(parts.path).rstrip("/").removesuffix(".git").rstrip("/"))
    scp = re.match(r"^(?:[^@/]+@)?(?P<host>[^/:]+):(?P<path>.*)$", url)
    if scp and not os.path.exists(url):
        return ("ssh", scp["host"].lower(), "/" + scp["path"].strip("/").removesuffix(".git"))
    return ("local", "", _normal_path(url))


def _normal_path(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path)).rstrip("/").removesuffix(".git").rstrip("/")


def same_repository(a: str, b: str) -> bool:
    return _normal_url(a) == _normal_url(b)


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "://" not in url or "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


@dataclass
class Checkout:
    """What an existing destination holds: its git dir and what was pulled into it last."""

    git_dir: Path
    upstream: str | None = None
    ref: str | None = None
    directories: list[str] | None = None
    submodules: bool = False
    state: dict = field(default_factory=dict)


def inspect_destination(git: Git, repo: GitRepository, destination: Path) -> Checkout | None:
    """None when a clone is needed; the checkout when the destination holds this repository."""
    if not os.path.lexists(destination):
        return None
    if not destination.is_dir():
        raise DestinationConflictError(
            f"The destination {destination} exists and is not a folder: move it away or choose another name= for this storage."
        )
    dot_git = destination / ".git"
    if not os.path.lexists(dot_git):
        with os.scandir(destination) as entries:
            if next(entries, None) is None:
                return None
        raise DestinationConflictError(
            f"The destination {destination} exists and is not a git repository: move it away or choose another name= "
            "for this storage (nothing was changed)."
        )
    git_dir = (
        dot_git
        if dot_git.is_dir()
        else Path(git.text("rev-parse", "--absolute-git-dir", cwd=destination))
    )
    origin_url = _origin_url(git, destination, git_dir)
    if not origin_url or not same_repository(origin_url, repo.url):
        raise DestinationConflictError(
            f"The existing repository at {destination} does not match the configured repository {repo.url}"
        )
    if _strip_userinfo(origin_url) != origin_url:  # a token left in .git/config by another tool
        git.run("remote", "set-url", "origin", _strip_userinfo(origin_url), cwd=destination)
    checkout = Checkout(git_dir=git_dir)
    try:
        state = json.loads((git_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        state = {}
    checkout.state = state
    checkout.upstream = state.get("upstream")
    checkout.ref = state.get("ref")
    checkout.directories = state.get("directories")
    checkout.submodules = bool(state.get("submodules"))
    if not state:  # cloned by someone else: what is checked out counts as what was pulled
        head = git.run(
            "rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=destination, check=False
        )
        checkout.upstream = os.fsdecode(head.stdout).strip() or None
        sparse = git.run("config", "--bool", "core.sparseCheckout", cwd=destination, check=False)
        if os.fsdecode(sparse.stdout).strip() == "true":
            listed = git.run("sparse-checkout", "list", cwd=destination, check=False)
            checkout.directories = [
                line for line in os.fsdecode(listed.stdout).splitlines() if line
            ] or None
    return checkout


def _origin_url(git: Git, destination: Path, git_dir: Path) -> str:
    """``remote.origin.url``: read from ``.git/config`` when it is plain (this runs on every pull,
    and a git process costs more than the read); git's own answer when it is not."""
    try:
        text = (git_dir / "config").read_text()
    except (OSError, UnicodeDecodeError):
        text = "[include]"
    section, urls = "", []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.replace(" ", "").lower()
        elif section == '[remote"origin"]' and line.partition("=")[0].strip().lower() == "url":
            urls.append(line.partition("=")[2].strip())
    if len(urls) == 1 and "include" not in text.lower() and not re.search(r'["\\;#]', urls[0]):
        return urls[0]
    found = git.run("config", "--get", "remote.origin.url", cwd=destination, check=False)
    return os.fsdecode(found.stdout).strip()


def _normal_dirs(directories: list[str] | None) -> list[str] | None:
    if not directories:
        return None
    cleaned = sorted({posixpath.normpath(d.replace(os.sep, "/")).strip("/") for d in directories})
    return None if "." in cleaned or "" in cleaned else cleaned


def in_cone(path: str, directories: list[str] | None) -> bool:
    """Whether a cone-mode sparse checkout of ``directories`` materialises ``path``."""
    if directories is None:
        return True
    parent = posixpath.dirname(path)
    if not parent:
        return True
    return any(path.startswith(d + "/") or (d + "/").startswith(parent + "/") for d in directories)


def _ref_for(repo: GitRepository) -> str:
    return f"refs/heads/{repo.branch}" if repo.branch else "HEAD"


# -- the pull --------------------------------------------------------------------------------------
def pull_repository(
    repo: GitRepository,
    destination: Path,
    *,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> PullResult:
    """Clone or update ``destination`` from ``repo`` (the caller holds the destination lock)."""
    git = Git(repo, progress)
    destination = Path(destination)
    result = PullResult(storage=repo.name, destination=destination)
    if reset:
        result.backup = move_to_backup(destination)
    checkout = inspect_destination(git, repo, destination)
    if checkout is None:
        clone(git, repo, destination, result)
    else:
        update(git, repo, destination, checkout, result)
    result.bytes_transferred = git.bytes_transferred
    git.report("done", message=result.summary())
    return result


def clone(git: Git, repo: GitRepository, destination: Path, result: PullResult) -> None:
    """First pull: a shallow clone into a temporary folder beside the destination, then a rename."""
    directories = _normal_dirs(repo.directories)
    destination.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{destination.name}.pulling-"
    for leftover in destination.parent.glob(
        glob.escape(prefix) + "*"
    ):  # from a pull that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    temp = Path(tempfile.mkdtemp(prefix=prefix, dir=destination.parent))
    try:
        git.report("cloning", message=f"Cloning {repo.url}")
        if repo.commit_sha:
            revision = _clone_commit(git, repo, temp, directories)
        else:
            args = ["clone", "--depth", "1", "--no-local", *git.progress_flag()]
            if repo.branch:
                args += ["--branch", repo.branch]
            if directories:
                args += ["--filter=blob:none", "--no-checkout"]
            elif repo.include_submodules:
                args += ["--recurse-submodules", "--shallow-submodules"]
            git.stream(
                *args, "--", repo.url, str(temp), action="Cloning", hint="check the branch name"
            )
            if directories:
                _set_sparse(git, temp, directories)
                git.run(
                    "checkout", *git.progress_flag(), cwd=temp, network=True, action="Checking out"
                )
            revision = _head_commit(git, temp)
            if revision is None:
                raise SourceNotFoundError(
                    redact(f"The repository {repo.url} has no commits yet: push a commit first.")
                )
        if repo.include_submodules and (directories or repo.commit_sha):
            _update_submodules(git, temp)
        _record(git, temp, temp / ".git", repo, revision, directories, keep_ref=False)
        result.added = sorted(_fresh_work_tree_files(temp))
        result.revision = revision
        if destination.is_dir():
            destination.rmdir()  # the empty folder that was there (a non-empty one was refused)
        os.rename(temp, destination)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _clone_commit(git: Git, repo: GitRepository, temp: Path, directories: list[str] | None) -> str:
    """A commit pin: ``init`` + ``fetch --depth 1 origin <sha>`` + detached checkout."""
    sha = repo.commit_sha.lower()
    git.run("init", "-q", str(temp))
    git.run("remote", "add", "origin", "--", repo.url, cwd=temp)
    if directories:
        git.run("config", "remote.origin.promisor", "true", cwd=temp)
        git.run("config", "remote.origin.partialclonefilter", "blob:none", cwd=temp)
    revision = _fetch_commit(git, repo, temp, sha)
    if directories:
        _set_sparse(git, temp, directories)
    git.run(
        "checkout",
        *git.progress_flag(),
        "--detach",
        revision,
        cwd=temp,
        network=True,
        action="Checking out",
    )
    return revision


def _fetch_commit(git: Git, repo: GitRepository, cwd: Path, sha: str) -> str:
    """Fetch one commit by SHA (shallow); an abbreviated SHA needs the history to resolve."""
    hint = "check the commit SHA (the full 40-character SHA of a pushed commit)"
    if len(sha) in (40, 64):
        git.stream(
            "fetch",
            "--depth",
            "1",
            "--no-tags",
            *git.progress_flag(),
            "--no-recurse-submodules",
            "origin",
            sha,
            cwd=cwd,
            action="Fetching commit",
            hint=hint,
        )
        return sha
    git.stream(
        "fetch",
        "--filter=blob:none",
        "--tags",
        *git.progress_flag(),
        "--no-recurse-submodules",
        "origin",
        cwd=cwd,
        action="Fetching history of",
        hint=hint,
    )
    found = git.run(
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{sha}^{{commit}}",
        cwd=cwd,
        check=False,
    )
    revision = os.fsdecode(found.stdout).strip()
    if found.returncode or not revision:
        raise SourceNotFoundError(redact(f"Commit {sha} was not found in {repo.url}: {hint}."))
    return revision


def _set_sparse(git: Git, cwd: Path, directories: list[str]) -> None:
    """Cone-mode sparse checkout of ``directories`` (names on stdin, so ``--x`` stays a name)."""
    git.run(
        "sparse-checkout",
        "set",
        "--cone",
        "--stdin",
        cwd=cwd,
        network=True,
        input="".join(d + "\n" for d in directories).encode(),
        action="Sparse checkout of",
    )


def _update_submodules(git: Git, cwd: Path) -> None:
    git.report("submodules", message="Updating submodules")
    git.run(
        "submodule", "sync", "--recursive", cwd=cwd, network=True, action="Syncing submodules of"
    )
    git.run(
        "submodule",
        "update",
        "--init",
        "--recursive",
        "--depth",
        "1",
        cwd=cwd,
        network=True,
        action="Updating submodules of",
    )


def _record(
    git: Git,
    cwd: Path,
    git_dir: Path,
    repo: GitRepository,
    revision: str,
    directories: list[str] | None,
    keep_ref: bool = True,
    previous: dict | None = None,
    submodules: bool | None = None,
) -> None:
    """Remember what was pulled: a small state file (no secrets) and, after updates, a ref that
    keeps the commit (after a clone the branch does that already)."""
    ref_update = git.spawn("update-ref", UPSTREAM_REF, revision, cwd=cwd) if keep_ref else None
    state = {
        "version": 1,
        "url": repo.url,
        "ref": repo.commit_sha.lower() if repo.commit_sha else _ref_for(repo),
        "upstream": revision,
        "directories": directories,
        "submodules": repo.include_submodules if submodules is None else submodules,
        "many_refs": bool((previous or {}).get("many_refs")),
    }
    _write_state(git_dir, state)
    if ref_update is not None:
        git.collect(ref_update, action="Recording")


def _write_state(git_dir: Path, state: dict) -> None:
    temp = git_dir / (STATE_FILE + ".tmp")
    temp.write_text(json.dumps(state, indent=1))
    os.replace(temp, git_dir / STATE_FILE)


def _head_commit(git: Git, cwd: Path) -> str | None:
    """The commit HEAD names, read from the files of a fresh clone (git's own answer otherwise)."""
    git_dir = cwd / ".git"
    with contextlib.suppress(OSError):
        head = (git_dir / "HEAD").read_text().strip()
        sha = head
        if head.startswith("ref: refs/"):
            ref = head[5:]
            loose = git_dir / ref
            sha = loose.read_text().strip() if loose.is_file() else ""
            if not sha and (git_dir / "packed-refs").is_file():
                for line in (git_dir / "packed-refs").read_text().splitlines():
                    if line.endswith(" " + ref):
                        sha = line.split(" ", 1)[0]
        if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
            return sha
    found = git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=cwd, check=False)
    return os.fsdecode(found.stdout).strip() or None


def _fresh_work_tree_files(root: Path) -> list[str]:
    """The files of a fresh clone: exactly its visible tracked files (a submodule counts as one
    entry, as in ``git ls-files``); listing them directly is cheaper than asking git."""
    found: list[str] = []
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        empty = True
        with os.scandir(folder) as entries:
            for entry in entries:
                empty = False
                if not prefix and entry.name == ".git":
                    continue
                if entry.is_dir(follow_symlinks=False) and not os.path.lexists(
                    os.path.join(entry.path, ".git")
                ):
                    stack.append((f"{prefix}{entry.name}/", entry.path))
                else:
                    found.append(prefix + entry.name)
        if empty and prefix:  # git makes no empty folders: a submodule that was not cloned
            found.append(prefix.rstrip("/"))
    return found


def _visible_files(git: Git, cwd: Path) -> set[str]:
    """Tracked files present in the work tree (not hidden by a sparse checkout)."""
    return _parse_visible(git.run("ls-files", "-z", "-t", cwd=cwd).stdout)


def _parse_visible(output: bytes) -> set[str]:
    return {
        entry[2:]
        for entry in os.fsdecode(output).split("\0")
        if entry and not entry.startswith("S ")
    }


# -- updates ------------------------------------------------------------------------------------
def update(
    git: Git, repo: GitRepository, destination: Path, checkout: Checkout, result: PullResult
) -> None:
    """Later pulls: one round trip when nothing changed; otherwise fetch and apply (§5)."""
    directories = _normal_dirs(repo.directories)
    old = checkout.upstream
    _recover_saved(checkout.git_dir, destination, result)
    # which pulled files the user deleted: a local look, overlapping the round trip below
    deleted_probe = git.spawn("ls-files", "--deleted", "-z", cwd=destination)
    try:
        if repo.commit_sha:
            sha = repo.commit_sha.lower()
            remote = (
                old if old and old.startswith(sha) else None
            )  # a pin already pulled needs no network
        else:
            remote = ls_remote(git, repo, destination, checkout)
    finally:
        deleted = _nul_separated(git.collect(deleted_probe, check=False).stdout)
    dirs_changed = directories != _normal_dirs(checkout.directories)
    submodules_new = repo.include_submodules and not checkout.submodules
    if remote is not None and remote == old and not dirs_changed and not submodules_new:
        result.revision = old
        _restore_deleted(git, destination, deleted, result)
        if checkout.ref != (sha if repo.commit_sha else _ref_for(repo)):
            _record(
                git, destination, checkout.git_dir, repo, old, directories, previous=checkout.state
            )
        return
    new = old
    if remote is None or remote != old:
        git.report("fetching", message=f"Fetching {repo.url}")
        if repo.commit_sha:
            new = _fetch_commit(git, repo, destination, repo.commit_sha.lower())
        else:
            refspec = f"+{_resolved_ref(repo, git.last_ls_remote)}:{FETCHED_REF}"
            git.stream(
                "fetch",
                "--depth",
                "1",
                "--no-tags",
                *git.progress_flag(),
                "--no-recurse-submodules",
                "--no-write-fetch-head",
                "origin",
                refspec,
                cwd=destination,
                action="Fetching",
                hint="check the branch name",
            )
            new = git.text("rev-parse", "--verify", f"{FETCHED_REF}^{{commit}}", cwd=destination)
        if new != old:
            base = (
                old if old and _has_commit(git, destination, old) else None
            )  # None: keep all there is
            apply_update(
                git,
                repo,
                destination,
                checkout,
                base,
                new,
                _normal_dirs(checkout.directories),
                result,
            )
            # recorded at once: a failure below must not make the next pull apply this change again
            # (submodules count as not updated yet, so a failing submodule update is retried)
            _record(
                git,
                destination,
                checkout.git_dir,
                repo,
                new,
                checkout.directories,
                previous=checkout.state,
                submodules=False,
            )
    if dirs_changed:
        _change_directories(git, destination, checkout, directories, result)
    if repo.include_submodules:
        _update_submodules(git, destination)
    git.run("update-ref", "-d", FETCHED_REF, cwd=destination, check=False)
    _record(git, destination, checkout.git_dir, repo, new, directories, previous=checkout.state)
    result.revision = new


def _nul_separated(output: bytes) -> list[str]:
    return [os.fsdecode(item) for item in output.split(b"\0") if item]


def _restore_deleted(git: Git, destination: Path, deleted: list[str], result: PullResult) -> None:
    """§5: a file the user deleted that upstream did not change comes back, also on a pull that
    found nothing new upstream. ``checkout-index`` takes the paths literally (no pathspec magic)."""
    if not deleted:
        return
    git.run(
        "checkout-index",
        "-z",
        "--stdin",
        cwd=destination,
        network=True,
        input=b"\0".join(os.fsencode(path) for path in deleted),
        action="Restoring deleted files",
    )
    result.added.extend(sorted(deleted))


def ls_remote(git: Git, repo: GitRepository, destination: Path, checkout: Checkout) -> str:
    """The commit the configured branch (or the default branch) points at: one round trip.

    Over HTTP, protocol v0 answers in a single request (v2 needs two). It sends every ref of the
    repository though, so one with very many refs (pull-request refs, years of tags) is asked with
    protocol v2 from then on.
    """
    if repo.branch:
        patterns = [
            f"refs/heads/{repo.branch}",
            f"refs/tags/{repo.branch}",
            f"refs/tags/{repo.branch}^{{}}",
        ]
    else:
        patterns = ["HEAD"]
    git.report("checking", message=f"Checking {repo.url}")
    single_request = urlsplit(repo.url).scheme in ("http", "https") and not checkout.state.get(
        "many_refs"
    )
    if single_request:
        out = git.text(
            "-c",
            "protocol.version=0",
            "ls-remote",
            "origin",
            cwd=destination,
            network=True,
            action="Checking",
        )
    else:
        out = git.text(
            "ls-remote", "origin", *patterns, cwd=destination, network=True, action="Checking"
        )
    refs = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        refs[name] = sha
    if single_request and len(refs) > MANY_REFS and checkout.state:
        checkout.state["many_refs"] = True
        _write_state(checkout.git_dir, checkout.state)
    git.last_ls_remote = refs
    for name in patterns[:1] + patterns[2:] + patterns[1:2]:
        if name in refs:
            return refs[name]
    what = f"Branch {repo.branch!r}" if repo.branch else "The default branch"
    raise SourceNotFoundError(redact(f"{what} was not found in {repo.url}: check the branch name."))


def _resolved_ref(repo: GitRepository, refs: dict[str, str]) -> str:
    if not repo.branch:
        return "HEAD"
    head = f"refs/heads/{repo.branch}"
    return head if head in refs else f"refs/tags/{repo.branch}"


def _has_commit(git: Git, cwd: Path, sha: str) -> bool:
    return git.run("cat-file", "-e", f"{sha}^{{commit}}", cwd=cwd, check=False).returncode == 0


# -- applying one upstream change while keeping the user's work (§5) ------------------------------
@dataclass
class Change:
    status: str  # A, M, D, T (type change), U (unmerged)
    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str


def _raw_diff(output: bytes) -> dict[str, Change]:
    """Parse ``--raw -z --no-renames`` output into ``{path: Change}``."""
    changes: dict[str, Change] = {}
    fields = output.split(b"\0")
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        old_mode, new_mode, old_blob, new_blob, status = os.fsdecode(meta[1:]).split(" ")
        changes[os.fsdecode(path)] = Change(status[0], old_mode, new_mode, old_blob, new_blob)
    return changes


def _is_gitlink(change: Change) -> bool:
    return "160000" in (change.old_mode, change.new_mode)


@dataclass
class Plan:
    """What an update does with the user's work, decided before anything is touched."""

    move_aside: list[str] = field(
        default_factory=list
    )  # the user's paths where upstream adds files
    unstage: list[str] = field(default_factory=list)  # the user's staged new files among them
    keep: dict[str, str] = field(
        default_factory=dict
    )  # edited by the user and upstream: "merge" | "keep"
    restore: list[str] = field(
        default_factory=list
    )  # deleted by the user, still upstream: back they come


def plan_update(
    destination: Path,
    upstream: dict[str, Change],
    local: dict[str, Change],
    directories: list[str] | None,
) -> Plan:
    """Apply SPEC §5 to each path: ``upstream`` changed from old to new, ``local`` from old to the user's."""
    plan = Plan()
    deleted_dirs = {posixpath.dirname(p) for p, change in upstream.items() if change.status == "D"}
    for path, up in sorted(upstream.items()):
        if _is_gitlink(up):  # submodule commits: ``git submodule update`` moves them
            continue
        mine = local.get(path)
        if (
            mine is None
        ):  # untouched by the user: upstream wins, unless the user's files stand in the way
            if up.status == "A" and in_cone(path, directories):
                plan.move_aside += _obstructions(destination, path, upstream, deleted_dirs)
        elif mine.status == "D":
            if up.status != "D":
                plan.restore.append(path)
        elif mine.status == "A":  # the user staged a new file where upstream now adds one
            plan.unstage.append(path)
            plan.move_aside.append(path)
        else:  # both changed it, or upstream deleted what the user edited
            both_edited_text = up.status == "M" and mine.status == "M" and _regular(up)
            plan.keep[path] = "merge" if both_edited_text else "keep"
    for path, mine in local.items():  # the user deleted a file upstream did not change
        if mine.status == "D" and path not in upstream and not _is_gitlink(mine):
            plan.restore.append(path)
    plan.move_aside = sorted(set(plan.move_aside))
    return plan


def apply_update(
    git: Git,
    repo: GitRepository,
    destination: Path,
    checkout: Checkout,
    old: str | None,
    new: str,
    directories: list[str] | None,
    result: PullResult,
) -> None:
    """Move the checkout from upstream commit ``old`` to ``new``, keeping the user's work (§5)."""
    git.report("applying", message=f"Applying {new[:10]}")
    if old is None:  # nothing to compare with: keep every file there is, write the missing ones
        git.run("read-tree", new, cwd=destination, network=True, action="Updating")
        if directories:
            git.run("sparse-checkout", "reapply", cwd=destination, network=True, check=False)
        git.run("checkout-index", "--all", "--quiet", cwd=destination, network=True, check=False)
        _move_head(git, repo, destination, new)
        return
    _keep_user_commits(git, destination, old)
    upstream = _raw_diff(
        git.run(
            "diff-tree",
            "-r",
            "-z",
            "--raw",
            "--no-renames",
            "--no-abbrev",
            old,
            new,
            cwd=destination,
        ).stdout
    )
    local = _raw_diff(
        git.run(
            "diff",
            "--raw",
            "-z",
            "--no-renames",
            "--no-abbrev",
            "--no-ext-diff",
            "--no-textconv",
            "--ignore-submodules=dirty",
            old,
            cwd=destination,
            network=True,
            action="Comparing",
        ).stdout
    )
    plan = plan_update(destination, upstream, local, directories)

    # 1. the user's files that upstream displaces go aside; the ones both changed are saved in .git
    for path in plan.move_aside:
        aside = aside_name(destination / path)
        os.replace(destination / path, aside)
        result.moved_aside[path] = aside.relative_to(destination).as_posix()
    saved = _save(checkout.git_dir, destination, plan.keep)
    try:
        # 2. those paths go back to the old upstream version, so that git can move them old → new
        if plan.unstage:
            git.run(
                "update-index",
                "-z",
                "--force-remove",
                "--stdin",
                cwd=destination,
                input=b"".join(os.fsencode(p) + b"\0" for p in plan.unstage),
            )
        reset = sorted(set(plan.keep) | set(plan.restore))
        if reset:
            git.run(
                "checkout",
                old,
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
                cwd=destination,
                network=True,
                input=b"".join(b":(literal)" + os.fsencode(p) + b"\0" for p in reset),
                action="Restoring files of",
            )  # literal: "data[1].csv" must not match "data1.csv"
        # 3. the tree update itself: only paths that differ between old and new are touched
        git.run("read-tree", "-m", "-u", old, new, cwd=destination, network=True, action="Updating")
    except BaseException:
        _put_back(destination, saved, result)
        raise
    _move_head(git, repo, destination, new)
    # 4. the saved files come back: merged with upstream where that is clean, else as they were
    _merge_back(git, destination, saved, plan.keep, upstream, result)
    shutil.rmtree(checkout.git_dir / SAVED_DIR, ignore_errors=True)
    _report(upstream, local, plan, directories, result)


def _keep_user_commits(git: Git, destination: Path, old: str) -> None:
    """The user committed on top of what was pulled: keep that commit reachable under a ref."""
    head = os.fsdecode(
        git.run("rev-parse", "--verify", "--quiet", "HEAD", cwd=destination, check=False).stdout
    )
    head = head.strip()
    if head and head != old:
        git.run("update-ref", f"refs/ipy-storage/local-{head[:12]}", head, cwd=destination)


def _save(git_dir: Path, destination: Path, paths: dict[str, str]) -> dict[str, Path]:
    """Copy the user's versions of ``paths`` into .git (with a manifest, so a crash loses nothing)."""
    if not paths:
        return {}
    saved_dir = git_dir / SAVED_DIR
    saved_dir.mkdir(exist_ok=True)
    saved = {}
    for index, path in enumerate(sorted(paths)):
        saved[path] = saved_dir / str(index)
        _copy(destination / path, saved[path])
    (saved_dir / "manifest.json").write_text(
        json.dumps({copy.name: path for path, copy in saved.items()})
    )
    return saved


def _report(
    upstream: dict[str, Change],
    local: dict[str, Change],
    plan: Plan,
    directories: list[str] | None,
    result: PullResult,
) -> None:
    """What the update changed in the work tree (paths hidden by a sparse checkout are left out)."""
    for path, up in upstream.items():
        if _is_gitlink(up) or not in_cone(path, directories) or path in plan.keep:
            continue
        user_deleted = path in local and local[path].status == "D"
        if up.status == "A":
            result.added.append(path)
        elif up.status in ("M", "T") and not user_deleted:
            result.modified.append(path)
        elif up.status == "D" and not user_deleted:
            result.deleted.append(path)
    result.added.extend(p for p in plan.restore if p not in result.added)
    for items in (result.added, result.modified, result.deleted, result.kept_local):
        items.sort()


def _regular(change: Change) -> bool:
    return change.old_mode.startswith("100") and change.new_mode.startswith("100")


def _obstructions(
    destination: Path, path: str, upstream: dict[str, Change], deleted_dirs: set[str]
) -> list[str]:
    """The user's untracked paths that stand where upstream now adds ``path``."""
    found = []
    parts = path.split("/")
    for depth in range(1, len(parts)):  # a file where upstream needs a folder
        prefix = "/".join(parts[:depth])
        target = destination / prefix
        if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
            if prefix not in upstream:  # not a tracked file that upstream replaces itself
                found.append(prefix)
            return found
    target = destination / path
    if not os.path.lexists(target):
        return found
    was_tracked_folder = any(d == path or d.startswith(path + "/") for d in deleted_dirs)
    if target.is_dir() and not target.is_symlink() and was_tracked_folder:
        # upstream turns its folder into a file: git removes its own files; anything else is the user's
        if any(f"{path}/{rel}" not in upstream for rel in _files_under(target)):
            found.append(path)
    else:
        found.append(path)
    return found


def _files_under(folder: Path) -> list[str]:
    return [
        os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
        for root, _dirs, names in os.walk(folder)
        for name in names
    ]


def _copy(source: Path, target: Path) -> None:
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target)


def _free_location(destination: Path, path: str) -> Path:
    """Where a kept file can go: its own path, or beside what now occupies it (``x.local``)."""
    parts = path.split("/")
    current = destination
    for index, part in enumerate(parts):
        candidate = current / part
        last = index == len(parts) - 1
        if os.path.lexists(candidate) and (
            last or candidate.is_symlink() or not candidate.is_dir()
        ):
            candidate = aside_name(candidate)
        current = candidate
    current.parent.mkdir(parents=True, exist_ok=True)
    return current


def _place(destination: Path, path: str, copy: Path, result: PullResult, replace: bool) -> None:
    target = destination / path
    if replace and os.path.lexists(target) and not (target.is_dir() and not target.is_symlink()):
        os.replace(copy, target)
        result.kept_local.append(path)
        return
    location = _free_location(destination, path)
    os.replace(copy, location)
    relative = location.relative_to(destination).as_posix()
    if relative == path:
        result.kept_local.append(path)
    else:
        result.moved_aside[path] = relative


def _merge_back(
    git: Git,
    destination: Path,
    saved: dict[str, Path],
    how: dict[str, str],
    upstream: dict[str, Change],
    result: PullResult,
) -> None:
    """Put the user's saved files back: 3-way merged with upstream where clean, else as they were."""
    for path, copy in saved.items():
        target = destination / path
        if (
            how[path] == "merge"
            and target.is_file()
            and not target.is_symlink()
            and not copy.is_symlink()
        ):
            base = copy.with_name(copy.name + ".base")
            base.write_bytes(
                git.run(
                    "cat-file",
                    "--filters",
                    f"--path={path}",
                    upstream[path].old_blob,
                    cwd=destination,
                    network=True,
                    action="Reading",
                ).stdout
            )
            merged = git.run(
                "merge-file",
                "-p",
                "-q",
                str(copy),
                str(base),
                str(target),
                cwd=destination,
                check=False,
            )
            base.unlink()
            if merged.returncode == 0:  # clean: the user's edits plus upstream's
                temp = target.with_name(f".{target.name}.ipy-storage-merge")
                temp.write_bytes(merged.stdout)
                shutil.copymode(target, temp)
                os.replace(temp, target)
                copy.unlink()
                result.modified.append(path)
                result.kept_local.append(path)
                continue
        _place(destination, path, copy, result, replace=upstream[path].status != "D")


def _put_back(destination: Path, saved: dict[str, Path], result: PullResult) -> None:
    """After a failed update: the user's saved files go back where they were (or beside)."""
    for path, copy in saved.items():
        if copy.exists() or copy.is_symlink():
            _place(destination, path, copy, result, replace=True)


def _recover_saved(git_dir: Path, destination: Path, result: PullResult) -> None:
    """A pull that died mid-update left the user's files in .git: put them beside their paths."""
    saved_dir = git_dir / SAVED_DIR
    manifest_file = saved_dir / "manifest.json"
    if not manifest_file.exists():
        shutil.rmtree(saved_dir, ignore_errors=True)
        return
    try:
        manifest = json.loads(manifest_file.read_text())
    except ValueError:
        manifest = {}
    for name, path in manifest.items():
        copy = saved_dir / name
        if copy.exists() or copy.is_symlink():
            location = _free_location(destination, path)
            os.replace(copy, location)
            result.moved_aside[path] = location.relative_to(destination).as_posix()
    shutil.rmtree(saved_dir, ignore_errors=True)


def _move_head(git: Git, repo: GitRepository, destination: Path, new: str) -> None:
    """Point the branch (or a detached HEAD for pins and tags) at the new upstream commit."""
    if repo.commit_sha:
        git.run("update-ref", "--no-deref", "HEAD", new, cwd=destination)
    elif repo.branch:
        ref = _resolved_ref(repo, git.last_ls_remote)
        if ref.startswith("refs/heads/"):
            git.run("update-ref", ref, new, cwd=destination)
            git.run("symbolic-ref", "HEAD", ref, cwd=destination)
        else:  # a tag: detached, as ``git clone --branch <tag>`` leaves it
            git.run("update-ref", "--no-deref", "HEAD", new, cwd=destination)
    else:
        git.run("update-ref", "HEAD", new, cwd=destination)


def _change_directories(
    git: Git,
    destination: Path,
    checkout: Checkout,
    directories: list[str] | None,
    result: PullResult,
) -> None:
    """Apply a different ``directories`` list to an existing checkout."""
    git.report("sparse", message="Changing the checked-out directories")
    before = _visible_files(git, destination)
    if directories:
        _set_sparse(git, destination, directories)
    else:
        git.run(
            "sparse-checkout", "disable", cwd=destination, network=True, action="Sparse checkout of"
        )
    after = _visible_files(git, destination)
    appeared = sorted(after - before)
    hidden = sorted(before - after)
    result.added = sorted(set(result.added) | set(appeared))
    result.deleted = sorted((set(result.deleted) | set(hidden)) - set(appeared))
    result.modified = sorted(set(result.modified) - set(hidden))
