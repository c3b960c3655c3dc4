"""The storage core: Prefect's runner-storage objects, with no IPython in sight.

Names resolve lazily so that importing the package stays cheap."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunnerStorage": "base",
    "PullResult": "result",
    "Progress": "result",
    "GitCredentials": "credentials",
    "GitRepository": "git",
    "RemoteStorage": "remote",
    "BlockStorageAdapter": "block",
    "LocalStorage": "local",
    "create_storage_from_source": "factory",
    "from_pull_step": "steps",
    "Secret": "secrets",
    "StorageError": "errors",
    "StorageConfigError": "errors",
    "StoragePullError": "errors",
    "AuthenticationError": "errors",
    "SourceNotFoundError": "errors",
    "NetworkError": "errors",
    "SecretNotFoundError": "errors",
    "DestinationConflictError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
