"""What a workspace knows of each storage and tells whoever listens (behaviour §6.2 status).

An ``Entry`` records one registered storage's options and the outcome of its last pull; ``status``
turns it, with its timer, into the ``Workspace.status()`` dict; ``Listeners`` hands every change
to the form (from any thread, never printing). ``PullOutcome`` is how one storage of a multi-pull
ended.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .scheduler import Watcher
from .storage.base import StorageBase
from .storage.errors import StorageError, error_line
from .storage.result import PullResult

StatusListener = Callable[[str, "dict[str, Any] | None"], None]
_log = logging.getLogger(__name__)


@dataclass(eq=False)
class Entry:
    """One registered storage: its workspace options and how its last pull went."""

    name: str
    storage: StorageBase
    importable: bool = False
    reload: bool = False
    last_pull: datetime | None = None
    last_result: PullResult | None = None
    last_error: str | None = None
    failures: int = 0

    def record(self, result: PullResult | None = None, error: str | None = None) -> None:
        """A pull just ended with ``result`` or with ``error`` (one line, no secrets)."""
        self.last_pull = datetime.now().astimezone()
        if error is None:
            self.last_result, self.last_error, self.failures = result, None, 0
        else:
            self.last_error, self.failures = error, self.failures + 1


def status(entry: Entry, watcher: Watcher | None) -> dict[str, Any]:
    """One storage's ``Workspace.status()`` dict, from its entry and its timer (if any)."""
    running = watcher if watcher is not None and watcher.running else None
    return {
        "watching": running is not None,
        "interval": running.interval if running else entry.storage.pull_interval,
        "last_pull": entry.last_pull,
        "last_result": entry.last_result,
        "last_error": entry.last_error,
        "failures": entry.failures,
        "next_pull": running.next_pull if running else None,
    }


@dataclass
class PullOutcome:
    """How one storage's pull of a multi-pull ended: its result, or its error."""

    name: str
    result: PullResult | None = None
    exception: StorageError | None = None

    @property
    def error(self) -> str | None:
        """The error as one line, without secrets."""
        return error_line(self.exception) if self.exception is not None else None


class Listeners:
    """The callbacks told ``(name, status)`` after every change (status None once removed)."""

    def __init__(self) -> None:
        self._listeners: list[StatusListener] = []
        self._lock = threading.Lock()

    def add(self, listener: StatusListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: StatusListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def tell(self, name: str, status: dict[str, Any] | None) -> None:
        """Call every listener; a broken one must not break pulls or print from a thread."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(name, status)
            except Exception:
                _log.debug("status listener failed for %s", name, exc_info=True)
