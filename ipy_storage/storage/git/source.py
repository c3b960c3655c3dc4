"""What one pull of a git repository needs to know, frozen: the engine receives this, never the
``GitRepository`` itself, so configuration and pulling stay apart (and nothing imports back)."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class GitSource:
    """The repository to pull and how; ``auth`` holds git config pairs (the host-scoped
    ``Authorization`` header) resolved when the pull starts, never written anywhere."""

    url: str
    branch: str | None = None
    commit_sha: str | None = None
    directories: tuple[str, ...] | None = None
    include_submodules: bool = False
    auth: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> str:
        """What the state file records as pulled: the pinned commit, the branch, or HEAD."""
        if self.commit_sha:
            return self.commit_sha.lower()
        return f"refs/heads/{self.branch}" if self.branch else "HEAD"

    @property
    def cone(self) -> list[str] | None:
        """The sparse-checkout cone (normalised directories), None for a full checkout."""
        return normal_directories(self.directories)


def normal_directories(directories: list[str] | tuple[str, ...] | None) -> list[str] | None:
    """Sorted, de-duplicated POSIX directories; None when they cover everything."""
    if not directories:
        return None
    cleaned = sorted({posixpath.normpath(d.replace(os.sep, "/")).strip("/") for d in directories})
    return None if "." in cleaned or "" in cleaned else cleaned


def in_cone(path: str, cone: list[str] | None) -> bool:
    """Whether a cone-mode sparse checkout of ``cone`` has ``path`` in the work tree (files at
    the top and in the parents of a cone directory are always there)."""
    if cone is None:
        return True
    parent = posixpath.dirname(path)
    if not parent:
        return True
    return any(path.startswith(d + "/") or (d + "/").startswith(parent + "/") for d in cone)


def same_repository(a: str, b: str) -> bool:
    """Whether two URLs name one repository (credentials, ``.git`` and slashes aside)."""
    return _comparable(a) == _comparable(b)


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` (any scheme); other strings unchanged."""
    parts = urlsplit(url)
    if "://" not in url or "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _comparable(url: str) -> tuple[str, str, str]:
    url = url.strip()
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return ("local", "", _comparable_path(unquote(parts.path)))
        host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
        kind = "http" if scheme in ("http", "https") else scheme
        return (kind, host, unquote(parts.path).rstrip("/").removesuffix(".git").rstrip("/"))
    scp = re.match(r"^(?:[^@/]+@)?(?P<host>[^/:]+):(?P<path>.*)$", url)
    if scp and not os.path.exists(url):
        return ("ssh", scp["host"].lower(), "/" + scp["path"].strip("/").removesuffix(".git"))
    return ("local", "", _comparable_path(url))


def _comparable_path(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path)).rstrip("/").removesuffix(".git").rstrip("/")
