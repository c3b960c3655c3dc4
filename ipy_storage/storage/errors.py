"""The error family (SPEC §2.3).

Configuration mistakes are ``ValueError``s and pull failures are ``RuntimeError``s, as in
Prefect, so Prefect-style ``except`` clauses keep working; all derive from ``StorageError`` so a
notebook can catch everything ipy_storage raises with one clause. Messages are one line, name the
source without credentials, and end with a hint.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error ipy_storage raises on purpose."""


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
