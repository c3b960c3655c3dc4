"""``create_storage_from_source`` (behaviour §3.5): a source string becomes the right storage.

``classify_source`` says which kind a source is (once); ``build_storage`` is the one place that
says which option fits which kind, for Prefect's factory and for the notebook's workspace alike.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .base import StorageBase
from .errors import StorageConfigError
from .git import GitRepository
from .intervals import DEFAULT_PULL_INTERVAL
from .local import LocalStorage
from .remote import RemoteStorage, known_protocols
from .secrets import redact

_GIT_HOSTS = ("github.com", "gitlab.com", "bitbucket.org")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
KIND_WORDS = {
    GitRepository: "git repository",
    RemoteStorage: "remote URL",
    LocalStorage: "local folder",
}


def _split(source: str):
    try:
        return urlsplit(source)
    except ValueError as error:  # e.g. "http://[::1": an unclosed IPv6 host
        raise StorageConfigError(
            f"Invalid source {redact(source)!r}: {error} — check the URL."
        ) from None


def _is_git_host_url(source: str) -> bool:
    parts = _split(source)
    segments = [p for p in parts.path.split("/") if p]
    return parts.scheme == "https" and (parts.hostname or "") in _GIT_HOSTS and len(segments) == 2


def scheme_of(source: str) -> str:
    """The URL scheme of ``source`` ('' for a path, including Windows-like ``c:\\x``)."""
    return _split(source).scheme if _SCHEME.match(source) else ""


def _local_path(path: str, source: str) -> str:
    try:
        Path(path).expanduser()
    except RuntimeError:  # "~nouser/x": no such user
        raise StorageConfigError(
            f"Cannot find the home folder in {redact(source)!r}: give the full path."
        ) from None
    return path


def classify_source(source: str) -> tuple[type[StorageBase], str]:
    """The storage class for ``source`` and the argument it takes. First match wins: git URL or
    path → GitRepository; file/local → LocalStorage; a protocol fsspec knows → RemoteStorage;
    anything else → LocalStorage."""
    if not isinstance(source, str) or not source.strip():
        raise StorageConfigError("Invalid source: give a git URL, an fsspec URL or a local path.")
    scheme = scheme_of(source)
    if scheme == "git" or source.rstrip("/").endswith(".git") or _is_git_host_url(source):
        return GitRepository, source
    if scheme.startswith("git+"):
        return GitRepository, source[len("git+") :]
    if scheme in ("file", "local"):
        return LocalStorage, _local_path(source.split("://", 1)[1], source)
    if scheme and scheme in known_protocols():
        return RemoteStorage, source
    return LocalStorage, _local_path(source, source)


def build_storage(
    source: str,
    storage_class: type[StorageBase],
    argument: str,
    pull_interval: int | float | None,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    **git_options: Any,
) -> StorageBase:
    """The storage of a classified source with the options its kind takes: ``git_options`` for
    git, ``settings`` for remote, ``name`` as the folder of either. An option the kind does not
    take is an error, never silently dropped."""
    kind = f"{redact(source)!r} is a {KIND_WORDS[storage_class]}"
    git_options = {key: value for key, value in git_options.items() if value is not None}
    if git_options and storage_class is not GitRepository:
        raise StorageConfigError(
            f"Git-only option(s) {', '.join(sorted(git_options))} cannot be used: "
            f"{kind}, not a git repository."
        )
    if settings and storage_class is not RemoteStorage:
        raise StorageConfigError(f"Settings are for remote (fsspec) URLs; {kind}.")
    if storage_class is GitRepository:
        return GitRepository(argument, pull_interval=pull_interval, name=name, **git_options)
    if storage_class is RemoteStorage:
        storage = RemoteStorage(argument, pull_interval=pull_interval, **(settings or {}))
        if name:
            storage.set_name(name)
        return storage
    return LocalStorage(argument, pull_interval=pull_interval)


def create_storage_from_source(
    source: str, pull_interval: int | float | None = DEFAULT_PULL_INTERVAL, **options: Any
) -> StorageBase:
    """The storage for ``source``; ``options`` go to its constructor: GitRepository's keywords
    for git, fsspec settings for remote; a local folder takes none."""
    storage_class, argument = classify_source(source)
    if storage_class is LocalStorage and options:
        raise StorageConfigError(
            f"Option(s) {', '.join(sorted(options))} do not apply to {redact(source)!r}, "
            "which is a local directory."
        )
    if storage_class is RemoteStorage:
        return build_storage(source, storage_class, argument, pull_interval, settings=options)
    return build_storage(source, storage_class, argument, pull_interval, **options)
