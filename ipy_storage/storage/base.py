"""The storage contract (SPEC §2.1), the pull result (§2.2) and what every storage kind shares:
base path, pull interval, a sync ``pull()`` beside the async ``pull_code()``, the lock file beside a
destination, backups and moved-aside names (§5)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import StorageConfigError, StoragePullError


@dataclass
class Progress:
    """One progress report: ``done`` of ``total`` units (files or objects) in ``stage``."""

    stage: str
    done: int = 0
    total: int | None = None
    bytes: int = 0
    message: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass
class PullResult:
    """What one pull changed in the destination. Paths are POSIX, relative to the destination."""

    storage: str
    destination: Path
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept_local: list[str] = field(default_factory=list)
    moved_aside: dict[str, str] = field(default_factory=dict)
    revision: str | None = None
    bytes_transferred: int = 0
    duration: float = 0.0
    backup: Path | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted or self.moved_aside)

    def summary(self) -> str:
        """One line: what changed, for logs, status and plain-text reprs."""
        if not self.changed and not self.kept_local:
            text = "up to date"
        else:
            parts = [
                f"{len(items)} {label}"
                for label, items in (
                    ("added", self.added),
                    ("modified", self.modified),
                    ("deleted", self.deleted),
                    ("kept local", self.kept_local),
                    ("moved aside", self.moved_aside),
                )
                if items
            ]
            text = ", ".join(parts)
        if self.revision:
            text += f" at {self.revision[:10]}"
        return text

    def __repr__(self) -> str:
        lines = [
            f"PullResult({self.storage!r} → {self.destination}: {self.summary()}, {self.duration:.2f}s)"
        ]
        for mark, items in (
            ("+", self.added),
            ("~", self.modified),
            ("-", self.deleted),
            ("=", self.kept_local),
        ):
            lines.extend(f"  {mark} {path}" for path in items)
        lines.extend(f"  > {src} → {dst}" for src, dst in self.moved_aside.items())
        if self.backup:
            lines.append(f"  backup: {self.backup}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ..display import pull_result_html

        return pull_result_html(self)


@runtime_checkable
class RunnerStorage(Protocol):
    """What every storage offers (mirrors ``prefect.runner.storage.RunnerStorage``)."""

    def set_base_path(self, path: Path) -> None: ...

    @property
    def pull_interval(self) -> int | float | None: ...

    @property
    def destination(self) -> Path: ...

    async def pull_code(self) -> Any: ...

    def to_pull_step(self) -> dict[str, Any]: ...


def check_pull_interval(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise StorageConfigError(
            f"Invalid pull_interval {value!r}: give a positive number of seconds, or None for a one-time sync."
        )
    return value


def check_relative_name(value: str, what: str) -> str:
    """Refuse a name or directory that would land outside its parent."""
    path = Path(value)
    if path.is_absolute() or ".." in path.parts or value.startswith("~"):
        raise StorageConfigError(
            f"Invalid {what} {value!r}: it must be a relative path without '..' so it stays inside the destination."
        )
    return value


class StorageBase:
    """Shared machinery; subclasses set ``_name`` and implement ``_pull``, ``to_pull_step`` and
    ``_identity``."""

    _kind = "storage"
    _name: str

    def __init__(self, pull_interval: int | float | None) -> None:
        self._pull_interval = check_pull_interval(pull_interval)
        self._base_path = Path.cwd()

    @property
    def name(self) -> str:
        """The destination folder's name below the base path."""
        return self._name

    @property
    def kind(self) -> str:
        """``git``, ``remote``, ``block`` or ``local``."""
        return self._kind

    @property
    def pull_interval(self) -> int | float | None:
        return self._pull_interval

    @property
    def destination(self) -> Path:
        return self._base_path / self.name

    def set_base_path(self, path: str | Path) -> None:
        self._base_path = Path(path).expanduser().absolute()

    async def pull_code(
        self, reset: bool = False, progress: ProgressCallback | None = None
    ) -> PullResult:
        """Pull now (in a worker thread, so the event loop keeps running)."""
        return await asyncio.to_thread(self.pull, reset=reset, progress=progress)

    def pull(self, reset: bool = False, progress: ProgressCallback | None = None) -> PullResult:
        """Pull now, synchronously; safe in a notebook cell whose event loop is running."""
        started = time.perf_counter()
        result = self._pull(reset=reset, progress=progress)
        result.duration = time.perf_counter() - started
        return result

    def _pull(self, reset: bool, progress: ProgressCallback | None) -> PullResult:
        raise NotImplementedError

    def to_pull_step(self) -> dict[str, Any]:
        raise NotImplementedError

    def _identity(self) -> tuple:
        """What makes two storages of one kind equal (their configuration)."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._identity() == other._identity()

    __hash__ = None  # mutable (set_base_path), as Prefect's storages are

    def _repr_html_(self) -> str:
        from ..display import storage_html

        return storage_html(self)


@contextmanager
def destination_lock(destination: Path, timeout: float = 600) -> Iterator[None]:
    """Serialise pulls of one destination across threads, storages and processes.

    The lock file sits beside the destination (``.<name>.lock``). ``filelock`` uses ``flock``, which
    the kernel releases when a process dies, so a stale lock never blocks forever.
    """
    from filelock import FileLock, Timeout

    destination.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(destination.parent / f".{destination.name}.lock"), thread_local=False)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise StoragePullError(
            f"Another pull of {destination} has held its lock for {timeout:.0f}s: wait for it or stop it."
        ) from None
    try:
        yield
    finally:
        lock.release()


def backup_path(destination: Path) -> Path:
    """``<name>.backup-YYYYmmdd-HHMMSS`` beside the destination, never an existing path."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = destination.parent / f"{destination.name}.backup-{stamp}"
    counter = 2
    while candidate.exists():
        candidate = destination.parent / f"{destination.name}.backup-{stamp}-{counter}"
        counter += 1
    return candidate


def move_to_backup(destination: Path) -> Path | None:
    """Move the destination aside before a reset; nothing is deleted without a backup."""
    if not destination.exists():
        return None
    target = backup_path(destination)
    os.replace(destination, target)
    return target


def aside_name(path: Path) -> Path:
    """A free name beside ``path`` for a user's file that an upstream file displaces:
    ``notes.py`` → ``notes.local.py`` (then ``notes.local-2.py`` …)."""
    stem, suffix = (path.stem, path.suffix) if path.suffix and path.stem else (path.name, "")
    candidate = path.with_name(f"{stem}.local{suffix}")
    counter = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{stem}.local-{counter}{suffix}")
        counter += 1
    return candidate
