"""``create_storage_from_source`` (SPEC §3.5): a source string becomes the right storage."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .base import StorageBase
from .git import GitRepository
from .local import LocalStorage
from .remote import RemoteStorage, known_protocols

_GIT_HOSTS = ("github.com", "gitlab.com", "bitbucket.org")


def _is_git_host_url(source: str) -> bool:
    parts = urlsplit(source)
    segments = [p for p in parts.path.split("/") if p]
    return parts.scheme == "https" and (parts.hostname or "") in _GIT_HOSTS and len(segments) == 2


def create_storage_from_source(source: str, pull_interval: int | float | None = 60) -> StorageBase:
    """First match wins: git URL or path → GitRepository; file/local → LocalStorage;
    a protocol fsspec knows → RemoteStorage; anything else → LocalStorage."""
    scheme = urlsplit(source).scheme if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source) else ""
    if scheme == "git" or source.rstrip("/").endswith(".git") or _is_git_host_url(source):
        return GitRepository(url=source, pull_interval=pull_interval)
    if scheme.startswith("git+"):
        return GitRepository(url=source[len("git+") :], pull_interval=pull_interval)
    if scheme in ("file", "local"):
        return LocalStorage(path=source.split("://", 1)[1], pull_interval=pull_interval)
    if scheme and scheme in known_protocols():
        return RemoteStorage(url=source, pull_interval=pull_interval)
    return LocalStorage(path=source, pull_interval=pull_interval)
