"""The notebook's registry of storages (behaviour §6.1): one base path, names, pulls, timers, status.

The workspace holds no storage logic: it names storages, serialises pulls of one destination
within the process (the core adds a file lock across processes), keeps the last outcome of every
pull (:mod:`ipy_storage.status`), and hands timed pulls to :mod:`ipy_storage.scheduler`. Magics
and the form both go through ``workspace()``, the session's default instance. A storage does not
know which workspace holds it: ``where_held`` asks the workspaces.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, overload

from .imports import put_on_sys_path, reload_changed_modules, take_off_sys_path
from .scheduler import Watcher
from .sources import base_folder, storage_from_source
from .status import Entry, Listeners, PullOutcome, StatusListener, status
from .storage import renderers
from .storage.base import StorageBase
from .storage.errors import StorageConfigError, StorageError, error_line
from .storage.intervals import check_pull_interval
from .storage.result import ProgressCallback, PullResult
from .workspace_file.document import FILE_NAME

_default: Workspace | None = None
_default_lock = threading.Lock()
# Every live workspace, so that a storage's card can show the one holding it; registering takes
# this lock so that no storage is held by two.
_workspaces: weakref.WeakSet[Workspace] = weakref.WeakSet()
_holding_lock = threading.RLock()


def workspace() -> Workspace:
    """The session's default workspace: the one ``%storage`` and ``StorageForm()`` use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Workspace(file=Path.cwd() / FILE_NAME)
        return _default


def where_held(storage: StorageBase) -> tuple[str, dict[str, Any]] | None:
    """The name and status this very storage object has in the workspace that holds it."""
    holder = _holder(storage)
    if holder is None:
        return None
    ws, name = holder
    try:
        return name, ws.status(name)[name]
    except StorageConfigError:  # removed meanwhile
        return None


def _holder(storage: StorageBase) -> tuple[Workspace, str] | None:
    with _holding_lock:
        workspaces = list(_workspaces)
    for ws in workspaces:
        name = ws.name_of(storage)
        if name is not None:
            return ws, name
    return None


class UnknownStorageError(StorageConfigError, KeyError):
    """No storage of that name in the workspace (a KeyError too, for ``ws[name]``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Workspace:
    """Named storages pulled under one base path (default: the kernel's working directory)."""

    def __init__(self, base_path: str | Path | None = None, file: str | Path | None = None) -> None:
        """``file``: restore the storages and timers kept there, and keep it up to date."""
        self._base_path = base_folder(base_path) if base_path is not None else Path.cwd()
        self._entries: dict[str, Entry] = {}
        self._watchers: dict[str, Watcher] = {}
        self._pull_locks: dict[Path, threading.Lock] = {}
        self._listeners = Listeners()
        self._lock = threading.RLock()
        with _holding_lock:
            _workspaces.add(self)
        self.file = None
        if file is not None:
            from .workspace_file import attach

            attach(self, file)

    # -- registry -------------------------------------------------------------------------
    @property
    def base_path(self) -> Path:
        return self._base_path

    def set_base_path(self, path: str | Path) -> None:
        """Pull storages added from now on under ``path``; those already added stay where they are."""
        self._base_path = base_folder(path)

    def add(
        self,
        storage_or_source: StorageBase | str,
        name: str | None = None,
        *,
        importable: bool = False,
        reload: bool = False,
        **options: Any,
    ) -> StorageBase:
        """Register a storage (or build one from a source string) and return it.

        ``options`` for a source: ``pull_interval``; git: ``branch``, ``commit_sha``,
        ``directories``, ``include_submodules``, ``credentials``; remote: ``settings``.
        Adding an equal storage under the same name again (a re-run cell) returns the one
        already registered.
        """
        if isinstance(storage_or_source, str):
            storage = storage_from_source(storage_or_source, name, **options)
        elif isinstance(storage_or_source, StorageBase):
            if options:
                raise StorageConfigError(
                    f"Options {sorted(options)} apply to source strings only: configure the storage object itself."
                )
            storage = storage_or_source
        else:
            raise StorageConfigError(
                f"Cannot add {type(storage_or_source).__name__}: give a source string or an ipy_storage storage."
            )
        handle = name or storage.destination.name
        with _holding_lock, self._lock:
            storage = self._register(handle, storage, importable, reload)
        if importable:
            put_on_sys_path(storage.destination)
        self._notify(handle)
        return storage

    def _register(
        self, handle: str, storage: StorageBase, importable: bool, reload: bool
    ) -> StorageBase:
        held = _holder(storage)
        if held is not None and held != (self, handle):
            raise StorageConfigError(
                f"This storage is already in a workspace as {held[1]!r}: add it once, or build "
                "another storage object for a second folder."
            )
        if held is None:
            storage.set_base_path(self._base_path)
        existing = self._entries.get(handle)
        if existing is not None and _same(existing.storage, storage):
            existing.importable, existing.reload = importable, reload
            return existing.storage
        if existing is not None:
            raise StorageConfigError(
                f"A different storage is already named {handle!r}: remove it first or choose another name."
            )
        for other, entry in self._entries.items():
            if entry.storage.destination == storage.destination:
                raise StorageConfigError(
                    f"{handle!r} would pull into {storage.destination}, which {other!r} already uses: "
                    "give it another name."
                )
        self._entries[handle] = Entry(handle, storage, importable, reload)
        return storage

    def remove(self, name: str) -> None:
        """Forget a storage and stop its timer; its files stay on disk."""
        with self._lock:
            entry = self._entry(name)
            self._stop_watcher(name)
            del self._entries[name]
        if entry.importable:
            take_off_sys_path(entry.storage.destination)
        self._notify(name)

    def get(self, name: str) -> StorageBase | None:
        entry = self._entries.get(name)
        return entry.storage if entry else None

    def __getitem__(self, name: str) -> StorageBase:
        return self._entry(name).storage

    def name_of(self, storage: StorageBase) -> str | None:
        """The name this very storage object is registered under here, if any."""
        entries = list(self._entries.values())
        return next((entry.name for entry in entries if entry.storage is storage), None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, name: str) -> Entry:
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(self._entries) or "none yet"
            raise UnknownStorageError(
                f"No storage named {name!r} in the workspace (known: {known})."
            )
        return entry

    # -- pulling --------------------------------------------------------------------------
    @overload
    def pull(
        self, name: str, /, *, reset: bool = ..., progress: ProgressCallback | None = ...
    ) -> PullResult: ...
    @overload
    def pull(
        self, *names: str, reset: bool = ..., progress: ProgressCallback | None = ...
    ) -> PullResult | list[PullResult]: ...
    def pull(
        self, *names: str, reset: bool = False, progress: ProgressCallback | None = None
    ) -> PullResult | list[PullResult]:
        """Pull the named storages (all when none is named): a PullResult for one name, else a
        list. A failing storage does not stop the others; the first error is raised at the end
        (``pull_each`` reports every outcome instead)."""
        if len(names) == 1:
            return self._pull_one(names[0], reset=reset, progress=progress)
        outcomes = self.pull_each(*names, reset=reset, progress=progress)
        failed = [outcome.exception for outcome in outcomes if outcome.exception is not None]
        if failed:
            raise failed[0]
        return [outcome.result for outcome in outcomes if outcome.result is not None]

    def pull_each(
        self, *names: str, reset: bool = False, progress: ProgressCallback | None = None
    ) -> list[PullOutcome]:
        """Pull every named storage (all when none is named), whatever fails, and say how each
        ended."""
        targets = list(names) or list(self._entries)
        for name in targets:
            self._entry(name)
        outcomes = []
        for name in targets:
            try:
                outcomes.append(PullOutcome(name, self._pull_one(name, reset, progress)))
            except StorageError as error:
                outcomes.append(PullOutcome(name, exception=error))
        return outcomes

    def _pull_one(
        self, name: str, reset: bool = False, progress: ProgressCallback | None = None
    ) -> PullResult:
        entry = self._entry(name)
        destination = entry.storage.destination
        try:
            with self._pull_lock(destination):
                result = entry.storage.pull(reset=reset, progress=progress)
                if entry.importable:
                    importlib.invalidate_caches()
                if entry.reload:
                    reload_changed_modules(name, result)
        except Exception as error:
            self._record(name, entry, error=error_line(error))
            raise
        result.storage = name  # reports speak of the workspace's names
        self._record(name, entry, result=result)
        return result

    def _pull_lock(self, destination: Path) -> threading.Lock:
        with self._lock:
            return self._pull_locks.setdefault(destination, threading.Lock())

    def _record(
        self, name: str, entry: Entry, result: PullResult | None = None, error: str | None = None
    ) -> None:
        with self._lock:
            entry.record(result, error)
        self._notify(name)

    # -- timers ---------------------------------------------------------------------------
    def watch(self, name: str, interval: float | None = None) -> None:
        """Pull ``name`` now and then every ``interval`` seconds (default: its ``pull_interval``) on
        a background thread; failures back off and never stop the timer."""
        entry = self._entry(name)
        seconds = entry.storage.pull_interval if interval is None else interval
        if seconds is None:
            raise StorageConfigError(
                f"{name!r} is a one-time sync (pull_interval=None): give an interval, e.g. watch({name!r}, interval=60)."
            )
        watcher = Watcher(
            name,
            check_pull_interval(seconds, "interval"),
            pull=lambda: self._pull_one(name),
            failures=lambda: entry.failures,
            on_change=lambda: self._notify(name),
        )
        with self._lock:
            self._stop_watcher(name)
            self._watchers[name] = watcher
        watcher.start()
        self._notify(name)

    def unwatch(self, *names: str) -> None:
        """Stop the timers of ``names`` (all timers when none is named)."""
        for name in names:
            self._entry(name)
        with self._lock:
            stopped = [name for name in (names or list(self._watchers)) if self._stop_watcher(name)]
        for name in stopped:
            self._notify(name)

    def _stop_watcher(self, name: str) -> bool:
        watcher = self._watchers.pop(name, None)
        if watcher is not None:
            watcher.stop()
        return watcher is not None

    # -- status ---------------------------------------------------------------------------
    def status(self, *names: str) -> dict[str, dict[str, Any]]:
        """Per name (all when none is named): watching, interval, last_pull, last_result,
        last_error, failures, next_pull."""
        return {name: self._status(name) for name in (names or self)}

    def _status(self, name: str) -> dict[str, Any]:
        with self._lock:
            return status(self._entry(name), self._watchers.get(name))

    def add_listener(self, listener: StatusListener) -> None:
        """Call ``listener(name, status)`` after every change (status None once removed); it may
        run on a timer thread."""
        self._listeners.add(listener)

    def remove_listener(self, listener: StatusListener) -> None:
        self._listeners.remove(listener)

    def _notify(self, name: str) -> None:
        with self._lock:
            current = self._status(name) if name in self._entries else None
        self._listeners.tell(name, current)

    # -- display (drawn by ipy_storage.display, see ipy_storage.storage.renderers) ----------
    def __repr__(self) -> str:
        return renderers.text(self) or f"Workspace({str(self._base_path)!r}: {', '.join(self)})"

    def _repr_html_(self) -> str | None:
        return renderers.html(self)


def _same(registered: StorageBase, new: StorageBase) -> bool:
    """A re-run cell adds an equal storage for the same folder: it is the registered one."""
    return registered == new and registered.destination == new.destination
