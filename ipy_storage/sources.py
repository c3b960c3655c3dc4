"""What a notebook user types, checked when it is added (behaviour §6.1, §6.3, §6.4): a source string
with its options, a base folder, ``KEY=VALUE`` settings (the interval rule is the core's).

The core's factory stays Prefect's (it accepts any path, as Prefect does); these checks are the
workspace's, so that a typo fails at add time with the fix, not at the first pull.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .storage.base import StorageBase
from .storage.errors import StorageConfigError, short
from .storage.factory import build_storage, classify_source, scheme_of
from .storage.git import GitRepository
from .storage.intervals import DEFAULT_PULL_INTERVAL
from .storage.local import LocalStorage
from .storage.secrets import Secret, redact

_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?")
_SCP_LIKE = re.compile(r"^[^/]+@[^/]+:")


def storage_from_source(
    source: str,
    name: str | None = None,
    pull_interval: float | None = DEFAULT_PULL_INTERVAL,
    settings: dict[str, Any] | None = None,
    **git_options: Any,
) -> StorageBase:
    """The storage ``create_storage_from_source`` picks for ``source``, with ``name`` as its
    folder and the options its kind takes, after the checks a typo deserves."""
    storage_class, argument = classify_source(source)
    storage = build_storage(
        source, storage_class, argument, pull_interval, name=name, settings=settings, **git_options
    )
    _check_reachable(source, storage_class, argument)
    return storage


def _check_reachable(source: str, storage_class: type, argument: str) -> None:
    """A path that is not here: say so now, with the URL that was probably meant."""
    if scheme_of(source) or _SCP_LIKE.match(source):
        if storage_class is LocalStorage and scheme_of(source) not in ("file", "local"):
            raise StorageConfigError(
                f"Unknown protocol {scheme_of(source)!r} in {redact(source)!r}: install the "
                "fsspec package for it (e.g. s3fs for s3://), or give a local folder."
            )
        if storage_class is not LocalStorage:
            return
    path = Path(argument).expanduser()
    if storage_class is LocalStorage and path.is_dir():
        return
    if storage_class is GitRepository and path.exists():
        return
    first = argument.split("/", 1)[0]
    if not scheme_of(source) and "/" in argument and _HOST.fullmatch(first):
        raise StorageConfigError(
            f"{source!r} is not a folder here: did you mean https://{argument}?"
        )
    what = "Repository" if storage_class is GitRepository else "Folder"
    raise StorageConfigError(
        f"{what} {path.absolute()} does not exist: check the path (a git URL or path ends in "
        ".git; an object store needs its scheme, such as s3://)."
    )


def base_folder(path: str | Path) -> Path:
    """``path`` as an absolute folder that is, or can become, a directory."""
    try:
        resolved = Path(path).expanduser().absolute()
    except RuntimeError:  # "~nouser": no such user
        raise StorageConfigError(
            f"Cannot find the home folder in {str(path)!r}: give the full path."
        ) from None
    for ancestor in (resolved, *resolved.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                where = "is a file" if ancestor == resolved else f"is below the file {ancestor}"
                raise StorageConfigError(f"Base path {resolved} {where}: give a folder.")
            break
    return resolved


# -- KEY=VALUE settings -----------------------------------------------------------------------
def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with the value parsed as JSON where it can be (``anon=true`` → True)."""
    key, sep, value = text.strip().partition("=")
    key = key.strip()
    if not sep or not key:
        raise StorageConfigError(f"expected KEY=VALUE, got {short(text)}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value.strip()


def key_env(text: str) -> tuple[str, Secret]:
    """``KEY=VAR``: a setting read from the environment variable VAR when the storage pulls."""
    key, sep, var = text.strip().partition("=")
    if not sep or not key.strip() or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var.strip()):
        raise StorageConfigError(
            f"expected KEY=VAR with an environment variable name, got {short(text)}"
        )
    return key.strip(), Secret.from_env(var.strip())


def settings_from_text(options: str = "", secret_options: str = "") -> dict[str, Any] | None:
    """The form's fields as fsspec settings: one ``KEY=VALUE`` a line, and ``KEY=VAR`` pairs
    separated by commas; None when both are empty."""
    settings = dict(key_value(line) for line in options.splitlines() if line.strip())
    settings.update(key_env(pair) for pair in secret_options.split(",") if pair.strip())
    return settings or None
