"""``GitRepository``: configuration, naming, credentials and pull step (behaviour §3.1, §4).
The pulling itself lives in the engine modules beside this one."""

from __future__ import annotations

import re
import warnings
from typing import Any
from urllib.parse import urlsplit

from ..base import StorageBase, check_relative_name, has_control_characters
from ..credentials import (
    GitAuth,
    GitCredentials,
    config_environment,
    header_config,
    normalize_credentials,
    split_userinfo,
)
from ..errors import StorageConfigError
from ..intervals import DEFAULT_PULL_INTERVAL
from ..result import ProgressCallback, PullResult
from ..secrets import Secret
from ..step_warnings import warn_about_step
from .source import GitSource

GIT_CLONE_STEP = "prefect.deployments.steps.git_clone"
_COMMIT_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise StorageConfigError(
            "Invalid repository URL: give the URL or path of a git repository."
        )
    if url.startswith("-"):
        raise StorageConfigError("Invalid repository URL: it must not start with '-'.")
    if any(ch.isspace() for ch in url) or has_control_characters(url):
        raise StorageConfigError(
            "Invalid repository URL: it must not contain spaces or control characters."
        )
    from git import Git
    from git.exc import UnsafeProtocolError

    try:
        Git.check_unsafe_protocols(url)  # <transport>::<address> helpers can run commands
    except UnsafeProtocolError:
        raise StorageConfigError(
            "Invalid repository URL: transports written 'name::address' (such as 'ext::') can "
            "run commands; use https://, ssh or a path."
        ) from None
    return url


def _check_branch(branch: Any) -> str | None:
    if branch is None:
        return None
    if not isinstance(branch, str) or not branch:
        raise StorageConfigError("Invalid branch: give a branch name such as 'main'.")
    if branch.startswith("-"):
        raise StorageConfigError("Branch names cannot start with '-'.")
    if any(ch.isspace() for ch in branch) or has_control_characters(branch) or ".." in branch:
        raise StorageConfigError(
            f"Invalid branch name {branch!r}: see `git check-ref-format --help`."
        )
    return branch


def _check_commit(commit_sha: Any) -> str | None:
    if commit_sha is None:
        return None
    if not isinstance(commit_sha, str) or not _COMMIT_SHA.match(commit_sha):
        raise StorageConfigError(
            f"Invalid commit SHA {commit_sha!r}: a commit SHA is 4 to 64 hexadecimal characters. "
            "If you meant a branch or tag, use the 'branch' parameter instead."
        )
    return commit_sha


def _check_directories(directories: Any) -> list[str] | None:
    if directories is None:
        return None
    if isinstance(directories, str) or not all(isinstance(d, str) and d for d in directories):
        raise StorageConfigError(
            "Invalid directories: give a list of relative directory paths, e.g. ['flows', 'lib']."
        )
    checked = []
    for entry in directories:
        if entry.startswith("--"):
            warnings.warn(
                f"Directory {entry!r} starts with '--'; it is kept as a directory name, not an option.",
                UserWarning,
                stacklevel=3,
            )
        checked.append(check_relative_name(entry, "directory"))
    return checked


def default_name(url: str, branch: str | None) -> str:
    """Last URL path segment without ``.git``, plus ``-<branch>`` (``/`` → ``-``)."""
    path = (
        urlsplit(url).path
        if "://" in url
        else url.rpartition(":")[2]
        if re.match(r"^[^/]+@[^/]+:", url)
        else url
    )
    segment = path.rstrip("/").rsplit("/", 1)[-1]
    segment = segment.removesuffix(".git") or "repository"
    return f"{segment}-{branch.replace('/', '-')}" if branch else segment


class GitRepository(StorageBase):
    """A git repository pulled into ``base_path / name``; mirrors Prefect's ``GitRepository``."""

    _kind = "git"

    def __init__(
        self,
        url: str,
        credentials: GitCredentials | dict | Secret | Any | None = None,
        name: str | None = None,
        branch: str | None = None,
        commit_sha: str | None = None,
        include_submodules: bool = False,
        pull_interval: int | float | None = DEFAULT_PULL_INTERVAL,
        directories: list[str] | None = None,
    ) -> None:
        super().__init__(pull_interval)
        url = _check_url(url)
        branch, commit_sha = _check_branch(branch), _check_commit(commit_sha)
        if branch and commit_sha:
            raise StorageConfigError(
                "Cannot provide both a branch and a commit SHA. Please provide only one."
            )
        self._url, url_user, url_password = split_userinfo(url)
        self._auth = normalize_credentials(credentials)
        if self._auth is None and (url_user or url_password):
            self._auth = (
                GitAuth(url_user, url_password) if url_password else GitAuth(token=url_user)
            )
        self._branch = branch
        self._commit_sha = commit_sha
        self._include_submodules = bool(include_submodules)
        self._directories = _check_directories(directories)
        self._default_name = default_name(self._url, branch)
        if name is not None and not isinstance(name, str):
            raise StorageConfigError("Invalid name: give a folder name as a string.")
        self._name = check_relative_name(name, "name") if name else self._default_name

    # -- configuration ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The repository URL, never with credentials."""
        return self._url

    @property
    def branch(self) -> str | None:
        return self._branch

    @property
    def commit_sha(self) -> str | None:
        return self._commit_sha

    @property
    def directories(self) -> list[str] | None:
        return list(self._directories) if self._directories else None

    @property
    def include_submodules(self) -> bool:
        return self._include_submodules

    def auth_config(self) -> tuple[tuple[str, str], ...]:
        """The git configuration that authenticates to this repository's host: one
        host-scoped ``Authorization`` header, resolved now from Secrets and credential blocks;
        none for non-HTTP URLs and without credentials."""
        if self._auth is None or urlsplit(self._url).scheme not in ("http", "https"):
            return ()
        return (header_config(self._url, self._auth.pair(self._url)),)

    def auth_environment(self) -> dict[str, str]:
        """``auth_config`` as git's environment variables (to run git by hand the same way)."""
        pairs = self.auth_config()
        return config_environment(pairs) if pairs else {}

    # -- pulling ---------------------------------------------------------------------------
    def _pull(self, reset: bool, progress: ProgressCallback | None) -> PullResult:
        from .pull import pull_checkout

        return pull_checkout(self._source(), self.destination, self.name, reset, progress)

    def _source(self) -> GitSource:
        """What the engine needs, frozen, with the credentials resolved for this pull."""
        return GitSource(
            url=self._url,
            branch=self._branch,
            commit_sha=self._commit_sha,
            directories=tuple(self._directories) if self._directories else None,
            include_submodules=self._include_submodules,
            auth=self.auth_config(),
        )

    def _secret_values(self) -> set[str]:
        return self._auth.secret_values(self._url) if self._auth is not None else set()

    # -- Prefect ---------------------------------------------------------------------------
    def to_pull_step(self) -> dict[str, Any]:
        """The ``git_clone`` deployment step that reproduces this pull on a Prefect worker."""
        step: dict[str, Any] = {"repository": self._url, "branch": self._branch}
        if self._name != self._default_name:
            step["clone_directory_name"] = self._name
        if self._directories:
            step["directories"] = list(self._directories)
        if self._include_submodules:
            step["include_submodules"] = True
        if self._commit_sha:
            step["commit_sha"] = self._commit_sha
        if self._auth is not None:  # placeholders only; a plain-text token is refused
            step["credentials"] = self._auth.for_step()
        return warn_about_step({GIT_CLONE_STEP: step})

    # -- Python protocol -------------------------------------------------------------------
    def _identity(self) -> tuple:
        """Prefect's ``url``, ``branch``, ``name`` plus ``commit_sha`` and ``directories`` (two
        checkouts that differ there are different); never ``pull_interval`` (behaviour §3.1)."""
        return (
            self._url,
            self._branch,
            self._name,
            self._commit_sha,
            tuple(self._directories or ()),
        )

    def __repr__(self) -> str:
        return (
            f"GitRepository(name={self._name!r} repository={self._url!r}, branch={self._branch!r})"
        )
