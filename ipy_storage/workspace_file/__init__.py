"""The workspace file (behaviour §6.7): storages and timers that outlive the kernel.

``ipy-storage.yaml`` beside the notebooks. The name says whose file it is, the file browser
shows it (a dot-file would hide it from the people meant to read and edit it), it never collides
with a project's own ``prefect.yaml`` (which ``prefect deploy`` reads and which holds
deployments), and it is a prefect.yaml all the same: ``prefect deploy --prefect-file
ipy-storage.yaml`` reads its ``pull:`` and ignores the rest.

- ``document``: the text (format, reading without surprises, atomic writes);
- ``entries``: a storage ↔ an entry (pull step + options);
- ``sync``: the file kept with one workspace both ways (``WorkspaceFile``);
- this module: attaching a file to a workspace, ``%storage save/load``, and ``%load_ext``.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage.errors import StorageConfigError, StorageError, error_line
from .document import (
    FILE_NAME,
    OPTIONS_KEY,
    BrokenFileError,
    FileEntry,
    read_document,
    render,
    write_atomically,
)
from .entries import register, restore
from .sync import LoadReport, WorkspaceFile, WorkspaceFileWarning

__all__ = [
    "FILE_NAME",
    "BrokenFileError",
    "LoadReport",
    "WorkspaceFile",
    "WorkspaceFileWarning",
    "attach",
    "load_into",
    "save_as",
]
_quiet = threading.local()


def attach(ws: Any, path: str | Path) -> WorkspaceFile:
    """Restore ``ws`` from the file at ``path`` and keep the file up to date from now on. Each
    problem is one ``WorkspaceFileWarning`` line (``%load_ext`` prints them itself)."""
    workspace_file = WorkspaceFile(path)
    ws.file = workspace_file
    report = workspace_file.restore(ws)
    ws.add_listener(lambda _name, _status: workspace_file.sync(ws))
    if not getattr(_quiet, "on", False):
        for line in report.problems:
            warnings.warn(line, WorkspaceFileWarning, stacklevel=3)
    return workspace_file


class quiet_attach:
    """While active, ``attach`` leaves its problems in the report instead of warning."""

    def __enter__(self) -> None:
        _quiet.on = True

    def __exit__(self, *exc_info: Any) -> None:
        _quiet.on = False


def session_start(ws: Any) -> LoadReport:
    """``%load_ext``: the file read (again, after ``%reload_ext``), its timers running, its
    ``pull_on_load`` entries pulled. The caller shows ``problems``."""
    workspace_file: WorkspaceFile | None = getattr(ws, "file", None)
    if workspace_file is None:
        return LoadReport()
    if workspace_file.active and not workspace_file.report.shown:
        report = workspace_file.report  # just restored by the workspace's constructor
    else:
        workspace_file.active = True
        report = workspace_file.restore(ws)
    report.shown = True
    for outcome in ws.pull_each(*report.to_pull) if report.to_pull else []:
        what = outcome.error or (outcome.result.summary() if outcome.result else "")
        report.pulled.append(f"pulled {outcome.name}: {what}")
    return report


def session_end(ws: Any) -> None:
    """``%unload_ext``: the timers stop, and the file keeps saying they run (no more writes)."""
    workspace_file: WorkspaceFile | None = getattr(ws, "file", None)
    if workspace_file is not None:
        workspace_file.active = False


@dataclass
class Saved:
    """What ``%storage save`` wrote."""

    path: Path
    names: list[str]

    def __repr__(self) -> str:
        return f"Saved {len(self.names)} storage(s) to {self.path}: {', '.join(self.names) or '-'}"


def save_as(ws: Any, path: str | Path) -> Saved:
    """Write the workspace's storages to ``path`` (relative to the working directory). A
    prefect.yaml there keeps its other sections; a file that is not YAML is not overwritten."""
    import yaml

    target = Path(path).expanduser().absolute()
    if target.is_dir():
        target = target / FILE_NAME
    own = getattr(ws, "file", None)
    if own is not None and own.path == target:
        own.sync(ws)
        return Saved(target, list(ws))
    entries = list(WorkspaceFile(target).entries_of(ws).values())
    text = render(entries)
    try:
        existing = yaml.safe_load(target.read_text(encoding="utf-8")) if target.exists() else None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as error:
        raise StorageConfigError(
            f"{target} exists and is not readable YAML ({error_line(error)}): not overwritten; "
            "choose another file."
        ) from None
    if isinstance(existing, dict) and set(existing) - {"pull", OPTIONS_KEY}:
        merged = {key: value for key, value in existing.items() if key not in ("pull", OPTIONS_KEY)}
        ours = yaml.safe_load(text)
        merged.update(ours)
        text = yaml.safe_dump(merged, sort_keys=False, allow_unicode=True, width=100)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, text)
    return Saved(target, [entry.name for entry in entries if entry.name])


def load_into(ws: Any, path: str | Path | None = None) -> LoadReport:
    """``%storage load [PATH]``: without PATH, the workspace's own file read again (hand edits
    applied); with PATH, its storages added (a name already used by a different storage is
    reported, not replaced). Paths in the file are relative to its folder."""
    if path is None:
        workspace_file = getattr(ws, "file", None)
        if workspace_file is None:
            raise StorageConfigError("This workspace has no file: give the PATH to load.")
        workspace_file.active = True
        return workspace_file.restore(ws)
    source = Path(path).expanduser().absolute()
    if source.is_dir():
        source = source / FILE_NAME
    document = read_document(source)
    if document is None:
        raise StorageConfigError(f"{source} does not exist: give the path of a workspace file.")
    report = LoadReport()
    for index, entry in enumerate(document.entries, 1):
        _load_entry(ws, entry, source, index, report)
    return report


def _load_entry(ws: Any, entry: FileEntry, source: Path, index: int, report: LoadReport) -> None:
    try:
        restored = restore(entry, source.parent)
        existing = ws.get(restored.name)
        if existing is not None and existing != restored.storage:
            raise StorageConfigError(
                f"a different storage is already named {restored.name!r}: remove it first"
            )
        register(ws, restored)
    except (StorageError, ValueError) as error:
        name = entry.name or f"step {index}"
        report.problems.append(f"{source.name}: {name!r} not loaded: {error_line(error)}")
        return
    report.restored.append(restored.name)
    if restored.pull_on_load:
        report.to_pull.append(restored.name)
