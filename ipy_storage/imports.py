"""Importable destinations (behaviour §6.1 ``importable=True`` / ``reload=True``): a destination on
``sys.path``, and modules reloaded when a pull changed their files."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .storage.errors import StoragePullError, error_line
from .storage.result import PullResult


def put_on_sys_path(destination: Path) -> None:
    entry = str(destination)
    if entry not in sys.path:
        sys.path.insert(0, entry)
    importlib.invalidate_caches()


def take_off_sys_path(destination: Path) -> None:
    entry = str(destination)
    while entry in sys.path:
        sys.path.remove(entry)


def reload_changed_modules(name: str, result: PullResult) -> None:
    """Reload already-imported modules whose files this pull added, modified or merged."""
    changed = {
        str((result.destination / path).resolve())
        for path in [*result.added, *result.modified, *result.merged]
    }
    if not changed:
        return
    prefix = str(result.destination)
    for module_name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or not file.startswith(prefix) or str(Path(file).resolve()) not in changed:
            continue
        try:
            importlib.reload(module)
        except Exception as error:
            raise StoragePullError(
                f"Pulled {name!r}, but reloading module {module_name} failed: {error_line(error)}"
            ) from error
