"""The notebook's registry of storages (SPEC §6.1): one base path, names, pulls, timers, status.

The workspace holds no storage logic: it names storages, serialises pulls of one destination
within the process (the core adds a file lock across processes), keeps the last outcome of every
pull, and hands timed pulls to :mod:`ipy_storage.scheduler`. Magics and the form both go through
``workspace()``, the session's default instance.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .scheduler import Watcher
from .storage.base import StorageBase, check_pull_interval
from .storage.errors import StorageConfigError, StorageError, StoragePullError
from .storage.result import ProgressCallback, PullResult
from .storage.secrets import redact

StatusListener = Callable[[str, "dict[str, Any] | None"], None]
_log = logging.getLogger(__name__)
_UNSET: Any = object()
_default: Workspace | None = None
_default_lock = threading.Lock()


def workspace() -> Workspace:
    """The session's default workspace: the one ``%storage`` and ``StorageForm()`` use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Workspace()
        return _default


def one_line(error: BaseException) -> str:
    """The first line of an error's message, without secrets; ipy_storage errors speak for
    themselves, anything else is prefixed with its type."""
    lines = str(error).strip().splitlines()
    text = redact(lines[0]) if lines else ""
    if isinstance(error, StorageError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class UnknownStorageError(StorageConfigError, KeyError):
    """No storage of that name in the workspace (a KeyError too, for ``ws[name]``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class _Entry:
    storage: StorageBase
    importable: bool = False
    reload: bool = False
    last_pull: datetime | None = None
    last_result: PullResult | None = None
    last_error: str | None = None
    failures: int = 0


class Workspace:
    """Named storages pulled under one base path (default: the kernel's working directory)."""

    def __init__(self, base_path: str | Path | None = None) -> None:
        self._base_path = _directory(base_path) if base_path is not None else Path.cwd()
        self._entries: dict[str, _Entry] = {}
        self._watchers: dict[str, Watcher] = {}
        self._pull_locks: dict[Path, threading.Lock] = {}
        self._listeners: list[StatusListener] = []
        self._lock = threading.RLock()

    # -- registry -------------------------------------------------------------------------
    @property
    def base_path(self) -> Path:
        return self._base_path

    def set_base_path(self, path: str | Path) -> None:
        """Pull storages added from now on under ``path``; those already added stay where they are."""
        self._base_path = _directory(path)

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
        storage.set_base_path(self._base_path)
        handle = name or storage.destination.name
        with self._lock:
            storage = self._register(handle, storage, importable, reload)
        if importable:
            _put_on_sys_path(storage.destination)
        self._notify(handle)
        return storage

    def _register(
        self, handle: str, storage: StorageBase, importable: bool, reload: bool
    ) -> StorageBase:
        existing = self._entries.get(handle)
        if existing is not None and existing.storage == storage:
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
        self._entries[handle] = _Entry(storage, importable, reload)
        return storage

    def remove(self, name: str) -> None:
        """Forget a storage and stop its timer; its files stay on disk."""
        with self._lock:
            entry = self._entry(name)
            self._stop_watcher(name)
            del self._entries[name]
        if entry.importable:
            _take_off_sys_path(entry.storage.destination)
        self._notify(name)

    def get(self, name: str) -> StorageBase | None:
        entry = self._entries.get(name)
        return entry.storage if entry else None

    def __getitem__(self, name: str) -> StorageBase:
        return self._entry(name).storage

    def name_of(self, storage: StorageBase) -> str | None:
        """The name this very storage object is registered under, if any."""
        return next(
            (name for name, entry in list(self._entries.items()) if entry.storage is storage), None
        )

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(self._entries) or "none yet"
            raise UnknownStorageError(
                f"No storage named {name!r} in the workspace (known: {known})."
            )
        return entry

    # -- pulling --------------------------------------------------------------------------
    def pull(
        self, *names: str, reset: bool = False, progress: ProgressCallback | None = None
    ) -> PullResult | list[PullResult]:
        """Pull the named storages (all when none is named): a PullResult for one name, else a
        list. A failing storage does not stop the others; its error is raised at the end."""
        targets = list(names) or list(self._entries)
        for name in targets:
            self._entry(name)
        results: list[PullResult] = []
        first_error: StorageError | None = None
        for name in targets:
            try:
                results.append(self._pull_one(name, reset=reset, progress=progress))
            except StorageError as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return results[0] if len(names) == 1 else results

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
                    _reload_changed_modules(name, result)
        except Exception as error:
            self._record(name, entry, error=one_line(error))
            raise
        self._record(name, entry, result=result)
        return result

    def _pull_lock(self, destination: Path) -> threading.Lock:
        with self._lock:
            return self._pull_locks.setdefault(destination, threading.Lock())

    def _record(
        self, name: str, entry: _Entry, result: PullResult | None = None, error: str | None = None
    ) -> None:
        with self._lock:
            entry.last_pull = datetime.now().astimezone()
            if error is None:
                entry.last_result, entry.last_error, entry.failures = result, None, 0
            else:
                entry.last_error, entry.failures = error, entry.failures + 1
        self._notify(name)

    # -- timers ---------------------------------------------------------------------------
    def watch(self, name: str, interval: float | None = None) -> None:
        """Pull ``name`` now and then every ``interval`` seconds (default: its ``pull_interval``) on
        a background thread; failures back off and never stop the timer."""
        entry = self._entry(name)
        interval = (
            check_pull_interval(interval) if interval is not None else entry.storage.pull_interval
        )
        if interval is None:
            raise StorageConfigError(
                f"{name!r} is a one-time sync (pull_interval=None): give an interval, e.g. watch({name!r}, interval=60)."
            )
        watcher = Watcher(
            name,
            interval,
            pull=lambda: self._pull_one(name),
            failures=lambda: entry.failures,
            on_change=lambda: self._notify(name),
        )
        with self._lock:
            self._stop_watcher(name)
            self._watchers[name] = watcher
        watcher.start()

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
            entry = self._entry(name)
            watcher = self._watchers.get(name)
            watching = watcher is not None and watcher.running
            return {
                "watching": watching,
                "interval": watcher.interval if watching else entry.storage.pull_interval,
                "last_pull": entry.last_pull,
                "last_result": entry.last_result,
                "last_error": entry.last_error,
                "failures": entry.failures,
                "next_pull": watcher.next_pull if watching else None,
            }

    def add_listener(self, listener: StatusListener) -> None:
        """Call ``listener(name, status)`` after every change (status None once removed); it may
        run on a timer thread."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: StatusListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self, name: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
            status = self._status(name) if name in self._entries else None
        for listener in listeners:
            try:
                listener(name, status)
            except Exception:  # a broken listener must not break pulls or print from a thread
                _log.debug("status listener failed for %s", name, exc_info=True)

    # -- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        from .display import storage_table

        return storage_table(self).text()

    def _repr_html_(self) -> str:
        from .display import storage_table

        return storage_table(self).html()


def storage_from_source(
    source: str,
    name: str | None = None,
    pull_interval: float | None = _UNSET,
    settings: dict[str, Any] | None = None,
    **git_options: Any,
) -> StorageBase:
    """The storage ``create_storage_from_source`` picks for ``source``, configured with the
    options that kind accepts; an option the kind does not take is an error, not ignored."""
    from .storage.factory import classify_source, create_storage_from_source
    from .storage.git import GitRepository
    from .storage.remote import RemoteStorage

    storage_class, _ = classify_source(source)
    kind = storage_class.__name__
    git_options = {key: value for key, value in git_options.items() if value is not None}
    if git_options and storage_class is not GitRepository:
        raise StorageConfigError(
            f"Git-only option(s) {', '.join(sorted(git_options))} cannot be used: "
            f"{source!r} is a {kind}, not a git repository."
        )
    if settings and storage_class is not RemoteStorage:
        raise StorageConfigError(
            f"settings are for remote (fsspec) storages; {source!r} is a {kind}."
        )
    if name and storage_class is GitRepository:
        git_options["name"] = name
    interval = {} if pull_interval is _UNSET else {"pull_interval": pull_interval}
    return create_storage_from_source(source, **interval, **git_options, **(settings or {}))


def _directory(path: str | Path) -> Path:
    resolved = Path(path).expanduser().absolute()
    if resolved.exists() and not resolved.is_dir():
        raise StorageConfigError(f"Base path {resolved} is a file: give a directory.")
    return resolved


def _put_on_sys_path(destination: Path) -> None:
    entry = str(destination)
    if entry not in sys.path:
        sys.path.insert(0, entry)
    importlib.invalidate_caches()


def _take_off_sys_path(destination: Path) -> None:
    entry = str(destination)
    while entry in sys.path:
        sys.path.remove(entry)


def _reload_changed_modules(name: str, result: PullResult) -> None:
    """Reload already-imported modules whose files this pull added or modified."""
    changed = {
        str((result.destination / path).resolve()) for path in [*result.added, *result.modified]
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
                f"Pulled {name!r}, but reloading module {module_name} failed: {one_line(error)}"
            ) from error
