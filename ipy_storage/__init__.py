"""ipy_storage: pull code into notebooks with Prefect-compatible runner storages.

``%load_ext ipy_storage`` adds the ``%storage`` magics. Everything is imported on first use so
that loading the extension stays fast (no git, ipywidgets, PyYAML or fsspec back ends here)."""

from __future__ import annotations

import importlib
from typing import Any

from .storage import renderers as _renderers

__version__ = "0.1.0"

_EXPORTS = {
    "RunnerStorage": "ipy_storage.storage.base",
    "PullResult": "ipy_storage.storage.result",
    "GitCredentials": "ipy_storage.storage.credentials",
    "GitRepository": "ipy_storage.storage.git",
    "RemoteStorage": "ipy_storage.storage.remote",
    "BlockStorageAdapter": "ipy_storage.storage.block",
    "LocalStorage": "ipy_storage.storage.local",
    "create_storage_from_source": "ipy_storage.storage.factory",
    "from_pull_step": "ipy_storage.storage.steps",
    "Secret": "ipy_storage.storage.secrets",
    "StorageError": "ipy_storage.storage.errors",
    "Workspace": "ipy_storage.workspaces",
    "workspace": "ipy_storage.workspaces",
    "StorageForm": "ipy_storage.widgets",
    "allow_nested_event_loops": "ipy_storage.nest",
    "load_ipython_extension": "ipy_storage.magics",
    "unload_ipython_extension": "ipy_storage.magics",
}

__all__ = sorted(_EXPORTS)


def _load_display() -> None:
    """Storages and pull results are drawn by the display package, imported when first drawn."""
    importlib.import_module("ipy_storage.display")


_renderers.set_loader(_load_display)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
