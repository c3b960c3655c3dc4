"""What a workspace looks like (behaviour §6.3, §6.5): its table of storages (``%storage list``, a
workspace as a cell's value), the storages a ``%%storage`` cell added, and its base folder."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .styles import muted
from .tables import columns_html, columns_text
from .words import interval_text, kind_of, relative_destination, source_of, status_text

if TYPE_CHECKING:
    from ..workspaces import Workspace

_COLUMNS = ("name", "kind", "source", "destination", "interval", "status")


class StorageTable:
    """What ``%storage list`` returns: one row per storage, as of when it was made."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows

    def text(self) -> str:
        if not self.rows:
            return "No storages yet: %storage add SOURCE"
        return columns_text(_COLUMNS, [tuple(row[c] for c in _COLUMNS) for row in self.rows])

    def html(self) -> str:
        if not self.rows:
            return muted("No storages yet: <code>%storage add SOURCE</code>")
        cells = [tuple(html.escape(row[c]) for c in _COLUMNS) for row in self.rows]
        return columns_html(_COLUMNS, cells, "ipy-storage-table", nowrap=(0, 1, 4))

    _repr_html_ = html

    def __repr__(self) -> str:
        return self.text()


def storage_table(ws: Workspace, names: list[str] | None = None) -> StorageTable:
    """The table of ``names`` (every storage when None) as of now."""
    rows = []
    for name in ws if names is None else names:
        storage = ws.get(name)
        if storage is None:  # removed meanwhile
            continue
        status = ws.status(name)[name]
        rows.append(
            {
                "name": name,
                "kind": kind_of(storage),
                "source": source_of(storage),
                "destination": relative_destination(storage.destination),
                "interval": interval_text(status["interval"]),
                "status": status_text(status),
            }
        )
    return StorageTable(rows)


class StorageList(list):
    """What ``%%storage`` returns: the storages it added, shown as their rows of the table."""

    def __init__(self, storages: list[Any], table: StorageTable) -> None:
        super().__init__(storages)
        self.table = table

    def _repr_html_(self) -> str:
        return self.table.html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table.text())


class BaseFolder(type(Path())):  # type: ignore[misc]
    """What ``%storage base`` returns: a path that shows as the folder, not ``PosixPath(…)``."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        shown = relative_destination(self)
        title = f" title='{html.escape(str(self))}'" if shown != str(self) else ""
        return f"<span{title}>storages pull into <code>{html.escape(shown)}</code></span>"
