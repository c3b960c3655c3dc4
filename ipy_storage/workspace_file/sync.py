"""A workspace kept in its file (behaviour §6.7), both ways.

The file follows the workspace: after every change (add, remove, watch, unwatch) the entries are
computed again and, when they differ from what the file holds, written atomically under a lock
file (two kernels in one folder take turns). A hand edit is respected: when the file changed
since this workspace last read or wrote it, the edit is merged first, entry by entry against
what was last seen (an entry only the hand changed is applied to the workspace, one only the
workspace changed is written, one both changed keeps the workspace's newer change). A file that
cannot be read is never overwritten: one line says why, and changes wait until it is fixed.

``restore`` is the other way, at ``%load_ext``, on ``Workspace(file=…)`` and ``%storage load``:
the file wins, storages come back with their options and timers, and nothing is pulled except
entries marked ``pull_on_load``. Entries that cannot be restored here (an unknown block, a step
ipy_storage does not know) stay in the file as they were.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage.base import StorageBase
from ..storage.errors import StorageError, error_line
from .document import BrokenFileError, FileEntry, read_document, render, write_atomically
from .entries import Fixed, Restored, entry_for, fixed_part, register, restore

_log = logging.getLogger(__name__)
LOCK_TIMEOUT = 10.0


class WorkspaceFileWarning(UserWarning):
    """Something in the workspace file could not be restored, or the file could not be saved."""


@dataclass
class LoadReport:
    """What a restore did: the names restored, the ones to pull now, and one line per problem."""

    restored: list[str] = field(default_factory=list)
    to_pull: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    shown: bool = False

    def __repr__(self) -> str:
        lines = [f"Restored {len(self.restored)}: {', '.join(self.restored) or '-'}"]
        return "\n".join([*lines, *self.pulled, *self.problems])

    def show(self) -> None:
        """What ``%load_ext`` prints: one line per pull made and per problem."""
        for line in self.pulled:
            print(line)
        for line in self.problems:
            print(line, file=sys.stderr)


class WorkspaceFile:
    """The file that keeps one workspace's storages and timers across kernel restarts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().absolute()
        self.active = True
        self.report = LoadReport()
        self._seen: dict[str, FileEntry] = {}  # the entries as last read or written
        self._digest: str | None = None  # of the bytes last read or written
        self._kept: dict[str, FileEntry] = {}  # entries this workspace could not restore
        self._extra: dict[str, dict[str, Any]] = {}  # file-only options, by name
        self._cache: dict[int, Fixed] = {}  # by id() of storages still in the workspace
        self._said: set[str] = set()
        self._lock = threading.RLock()
        self._busy = False

    @property
    def here(self) -> Path:
        return self.path.parent

    # -- file → workspace -------------------------------------------------------------------
    def restore(self, ws: Any) -> LoadReport:
        """Make the workspace hold what the file says (see the module's docstring)."""
        with self._lock:
            report = LoadReport()
            try:
                document = read_document(self.path)
            except BrokenFileError as error:
                report.problems.append(f"{error} Fix it, then run %storage load; until then "
                                       "changes are not saved to it.")  # fmt: skip
                self.report = report
                return report
            self._busy = True
            try:
                entries = self._named(document.entries if document else [], report)
                for name in [n for n in ws if n in self._seen and n not in entries]:
                    ws.remove(name)  # removed by hand since this workspace last saw the file
                self._kept = {n: e for n, e in self._kept.items() if n in entries}
                for name, entry in entries.items():
                    self._apply(ws, name, entry, report)
                self._seen = entries
                self._digest = document.digest if document else None
            finally:
                self._busy = False
            self.report = report
        self.sync(ws)
        return report

    def _named(self, entries: list[FileEntry], report: LoadReport) -> dict[str, FileEntry]:
        return named_entries(entries, self.path, report)

    def _apply(self, ws: Any, name: str, entry: FileEntry, report: LoadReport) -> None:
        try:
            restored: Restored = restore(entry, self.here)
            restored.name = name
            register(ws, restored)
        except (StorageError, ValueError) as error:
            self._kept[name] = entry
            report.problems.append(f"{self.path.name}: {name!r} not restored: {error_line(error)}")
            return
        self._kept.pop(name, None)
        self._extra[name] = dict(entry.options)
        report.restored.append(name)
        if restored.pull_on_load:
            report.to_pull.append(name)

    # -- workspace → file -------------------------------------------------------------------
    def sync(self, ws: Any) -> None:
        """Write the workspace's entries when they changed (a workspace listener: any thread)."""
        with self._lock:
            if self._busy or not self.active:
                return
            ours = self.entries_of(ws)
            if _same(ours, self._seen):
                return
            self._busy = True
            try:
                self._merge_and_write(ws, ours)
            except (StorageError, OSError) as error:
                self._say(f"{self.path} was not saved: {error_line(error)}")
            finally:
                self._busy = False

    def _merge_and_write(self, ws: Any, ours: dict[str, FileEntry]) -> None:
        from filelock import FileLock

        lock = FileLock(str(self.here / f".{self.path.name}.lock"), thread_local=False)
        with lock.acquire(timeout=LOCK_TIMEOUT):
            try:
                document = read_document(self.path)
            except BrokenFileError as error:
                self._say(f"{error} Not saved: fix it, then run %storage load.")
                return
            order = [*self._seen, *ours]
            if document is not None and document.digest != self._digest:
                report = LoadReport()
                theirs = self._named(document.entries, report)
                self._take_hand_edits(ws, theirs, ours, report)
                for problem in report.problems:
                    self._say(problem)
                ours = self.entries_of(ws)
                order = [*theirs, *ours]
            entries = [ours[name] for name in dict.fromkeys(order) if name in ours]
            self._digest = write_atomically(self.path, render(entries))
            self._seen = {entry.name: entry for entry in entries if entry.name}

    def _take_hand_edits(
        self, ws: Any, theirs: dict[str, FileEntry], ours: dict[str, FileEntry], report: LoadReport
    ) -> None:
        """Apply to the workspace each entry the hand changed and the workspace did not."""
        for name in dict.fromkeys([*theirs, *self._seen]):
            seen, hand, mine = self._seen.get(name), theirs.get(name), ours.get(name)
            if _comparable(hand) == _comparable(seen) or _comparable(mine) != _comparable(seen):
                continue
            if hand is None:
                self._kept.pop(name, None)
                if name in ws:
                    ws.remove(name)
            else:
                self._apply(ws, name, hand, report)

    def entries_of(self, ws: Any) -> dict[str, FileEntry]:
        """The workspace's entries, then the file's entries it could not restore."""
        entries: dict[str, FileEntry] = {}
        cache: dict[int, Fixed] = {}
        for name in ws:
            storage = ws.get(name)
            if storage is None:
                continue
            try:
                fixed = self._fixed(storage)
            except (StorageError, ValueError) as error:
                self._say(f"{name!r} is not saved in {self.path.name}: {error_line(error)}")
                continue
            cache[id(storage)] = fixed
            entries[name] = entry_for(ws, name, fixed, self._extra.get(name, {}))
        self._cache = cache
        for name, entry in self._kept.items():
            entries.setdefault(name, entry)
        return entries

    def _fixed(self, storage: StorageBase) -> Fixed:
        fixed = self._cache.get(id(storage))
        if (
            fixed is None
            or fixed.storage is not storage
            or fixed.destination != storage.destination
        ):
            fixed = fixed_part(storage, self.here)
        return fixed

    def _say(self, line: str) -> None:
        """One line, once: a warning the notebook shows (never printed from a timer thread)."""
        if line in self._said:
            return
        self._said.add(line)
        if threading.current_thread() is threading.main_thread():
            warnings.warn(line, WorkspaceFileWarning, stacklevel=4)
        else:
            _log.warning("%s", line)


def named_entries(entries: list[FileEntry], path: Path, report: LoadReport) -> dict[str, FileEntry]:
    """The entries of the file at ``path`` by name: a step without ``id:`` is named after its
    folder; a second entry of one name is reported and left out."""
    named: dict[str, FileEntry] = {}
    for index, entry in enumerate(entries, 1):
        name = entry.name
        if name is None:
            try:
                name = restore(entry, path.parent).name
            except (StorageError, ValueError):
                name = f"step-{index}"
        if name in named:
            report.problems.append(f"{path.name}: two entries are named {name!r}; the second "
                                   "is ignored: give it another id:.")  # fmt: skip
            continue
        named[name] = FileEntry(name, entry.step, entry.options)
    return named


def _comparable(entry: FileEntry | None) -> tuple | None:
    return entry.comparable() if entry is not None else None


def _same(ours: dict[str, FileEntry], seen: dict[str, FileEntry]) -> bool:
    return ours.keys() == seen.keys() and all(
        ours[name].comparable() == seen[name].comparable() for name in ours
    )
