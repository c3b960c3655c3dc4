"""What the form's fields mean (behaviour §6.4): which kind of storage a typed source is, the words
shown beside it, and the options that kind's own fields give. A hidden field may still hold a
value typed for another kind, so only the fields of the source's kind count. Text in, options
out: no widgets here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .storage.errors import StorageConfigError
from .storage.factory import classify_source
from .storage.git import GitRepository, default_name
from .storage.local import LocalStorage
from .storage.remote import RemoteStorage
from .storage.secrets import Secret

_KIND_LABELS = {GitRepository: "git repository", RemoteStorage: "remote (fsspec)"}


def source_kind(source: str) -> type | None:
    """The storage class the factory would pick for ``source`` (None while it is not one)."""
    try:
        return classify_source(source.strip())[0] if source.strip() else None
    except StorageConfigError:
        return None


def kind_label(source: str) -> str:
    """What the form says beside the source: its kind, and whether a folder is there."""
    kind = source_kind(source)
    if kind is None:
        return ""
    if kind is LocalStorage and not _is_folder(source):
        return "local folder (not found here)"
    return _KIND_LABELS.get(kind, "local folder")


def _is_folder(source: str) -> bool:
    try:
        return Path(classify_source(source.strip())[1]).expanduser().is_dir()
    except (StorageConfigError, RuntimeError, OSError):
        return False


def git_options(
    source: str, name: str | None, branch: str, folders: str, username: str, token: str
) -> dict[str, Any]:
    """``GitRepository`` options from the git fields; the token becomes a named ``Secret`` (its
    name is the Prefect Secret block a pull step refers to)."""
    chosen_branch = branch.strip() or None
    directories = [folder.strip() for folder in folders.split(",") if folder.strip()]
    credentials: dict[str, Any] = {"username": username.strip()} if username.strip() else {}
    if token:
        storage_name = name or default_name(source.strip(), chosen_branch)
        credentials["access_token"] = Secret(token, name=secret_name(storage_name))
    return {
        "branch": chosen_branch,
        "directories": directories or None,
        "credentials": credentials or None,
    }


def secret_name(storage_name: str) -> str:
    """A Prefect block name (lowercase letters, digits, dashes) for the form's token."""
    return (re.sub(r"[^a-z0-9]+", "-", storage_name.lower()).strip("-") or "git") + "-token"
