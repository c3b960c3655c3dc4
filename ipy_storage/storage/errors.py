"""The error family (behaviour §2.3).

Configuration mistakes are ``ValueError``s and pull failures are ``RuntimeError``s, as in
Prefect, so Prefect-style ``except`` clauses keep working; all derive from ``StorageError`` so a
notebook can catch everything ipy_storage raises with one clause. Messages are one line, name the
source without credentials, and end with a hint; ``short`` bounds the user data a message quotes
and ``error_line`` is how any error reaches a person.
"""

from __future__ import annotations

import re
import reprlib

# scheme://userinfo@host: the userinfo runs to the last "@" before the path, query or fragment.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#@]*(?:@[^/\s?#@]*)*@")
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 3, 4, 4, 60, 60


def without_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it removed (found by URL structure,
    for every scheme), so no message can show credentials that were typed into a URL."""
    return _USERINFO.sub(r"\g<scheme>", text)


class StorageError(Exception):
    """Base class of every error ipy_storage raises on purpose; its message never carries URL
    userinfo, whichever module wrote it."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(without_userinfo(arg) if isinstance(arg, str) else arg for arg in args))


class StorageConfigError(StorageError, ValueError):
    """A storage was configured with an argument that cannot work."""


class SecretNotFoundError(StorageConfigError):
    """A pull step names a secret this process does not know."""


class StoragePullError(StorageError, RuntimeError):
    """A pull failed; the destination is left as it was or as a consistent mix of old and new."""


class AuthenticationError(StoragePullError):
    """The server refused the credentials (or needed some and got none)."""


class SourceNotFoundError(StoragePullError):
    """The repository, branch, commit, bucket or path does not exist."""


class NetworkError(StoragePullError):
    """The host could not be reached."""


class DestinationConflictError(StorageConfigError):
    """The destination holds something else (another repository, a file)."""


def short(value: object, limit: int = 80) -> str:
    """A bounded repr of user data for a message: never walks more than a few levels or items."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_line(error: BaseException) -> str:
    """How an error reaches a person: the first line of its message, without URL userinfo;
    ipy_storage's errors speak for themselves, any other is prefixed with its type."""
    lines = str(error).strip().splitlines()
    text = without_userinfo(lines[0])[:500] if lines else ""
    if isinstance(error, StorageError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
