"""``create_storage_from_source`` (SPEC §3.5): a source string becomes the right storage."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .base import StorageBase
from .errors import StorageConfigError
from .git import GitRepository
from .local import LocalStorage
from .remote import RemoteStorage, known_protocols

_GIT_HOSTS = ("github.com", "gitlab.com", "bitbucket.org")


def _is_git_host_url(source: str) -> bool:
    parts = urlsplit(source)
    segments = [p for p in parts.path.split("/") if p]
    return parts.scheme == "https" and (parts.hostname or "") in _GIT_HOSTS and len(segments) == 2


def classify_source(source: str) -> tuple[type[StorageBase], str]:
    """The storage class for ``source`` and the argument it takes. First match wins: git URL or
    path → GitRepository; file/local → LocalStorage; a protocol fsspec knows → RemoteStorage;
    anything else → LocalStorage."""
    if not isinstance(source, str) or not source:
        raise StorageConfigError("Invalid source: give a git URL, an fsspec URL or a local path.")
    scheme = urlsplit(source).scheme if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source) else ""
    if scheme == "git" or source.rstrip("/").endswith(".git") or _is_git_host_url(source):
        return GitRepository, source
    if scheme.startswith("git+"):
        return GitRepository, source[len("git+") :]
    if scheme in ("file", "local"):
        return LocalStorage, source.split("://", 1)[1]
    if scheme and scheme in known_protocols():
        return RemoteStorage, source
    return LocalStorage, source


def create_storage_from_source(
    source: str, pull_interval: int | float | None = 60, **options: Any
) -> StorageBase:
    """The storage for ``source``; ``options`` go to its constructor (branch=, name=, settings …)."""
    storage_class, argument = classify_source(source)
    if storage_class is LocalStorage and options:
        raise StorageConfigError(
            f"Option(s) {', '.join(sorted(options))} do not apply to {source!r}, which is a local directory."
        )
    return storage_class(argument, pull_interval=pull_interval, **options)
