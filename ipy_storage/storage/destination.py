"""The destination folder as both engines (git and the fsspec mirror) see it: its lock, its
backup before a reset, free names for the user's files that upstream displaces, and state files
written atomically. One home for these, so the two engines keep the user's work the same way
(behaviour §3.1, §5)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import StoragePullError

LOCK_TIMEOUT = 600.0


def lock_path(destination: Path) -> Path:
    """The hidden ``.<name>.lock`` beside the destination (Prefect's is ``<name>.lock``)."""
    return destination.parent / f".{destination.name}.lock"


@contextmanager
def destination_lock(destination: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Serialise pulls of one destination across threads, storages and processes.

    ``filelock`` uses ``flock``, which the kernel releases when a process dies, so a lock left by
    a dead process never blocks; whoever holds it knows no other pull is inside the destination.
    """
    from filelock import FileLock, Timeout

    destination.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(destination)), thread_local=False)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise StoragePullError(
            f"Another pull of {destination} has held its lock for {timeout:.0f}s: "
            "wait for it or stop it."
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
    while os.path.lexists(candidate):
        candidate = destination.parent / f"{destination.name}.backup-{stamp}-{counter}"
        counter += 1
    return candidate


def move_to_backup(destination: Path) -> Path | None:
    """Move the destination aside before a reset; nothing is deleted without a backup."""
    if not os.path.lexists(destination):
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
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{stem}.local-{counter}{suffix}")
        counter += 1
    return candidate


def move_aside(path: Path, root: Path) -> str:
    """Rename the user's file, folder or link out of upstream's way; returns the new name
    relative to ``root`` (the destination), as ``PullResult.moved_aside`` records it."""
    target = aside_name(path)
    os.replace(path, target)
    return target.relative_to(root).as_posix()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON under a temporary name, then rename: a reader (or the next pull
    after a kill) sees the old file or the new one, never half of one."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None when it is missing or unreadable (a state file is advisory)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
