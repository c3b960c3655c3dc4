"""Timed pulls on background threads (behaviour §6.2).

A thread, not a task on the kernel's event loop: ipykernel 7 does not advance loop tasks while a
cell runs or between cells, whereas a thread keeps pulling regardless. Sleeps wait on an
``Event`` so stopping is immediate, and a timer thread never prints: the pull it runs records its
outcome in the workspace's status, which listeners (the form) turn into widget updates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from .storage.intervals import LONGEST_PULL_INTERVAL

MAX_BACKOFF = 600.0
# The longest single wait: a year. Longer (or infinite) intervals wait a year at a time, because
# ``Event.wait`` and ``datetime + timedelta`` overflow far below ``float('inf')``.
LONGEST_WAIT = float(LONGEST_PULL_INTERVAL)
_log = logging.getLogger(__name__)
_running: set[Watcher] = set()
_running_lock = threading.Lock()


def backoff_delay(interval: float, failures: int) -> float:
    """Seconds until the next timed pull: the interval, doubled per consecutive failure, capped at
    ten times the interval or ten minutes, whichever is smaller (never below the interval)."""
    if failures <= 0:
        return interval
    cap = max(interval, min(10 * interval, MAX_BACKOFF))
    return min(interval * 2 ** min(failures, 32), cap)


class Watcher:
    """One daemon thread that calls ``pull`` now and then after every delay, until stopped.

    ``pull`` records its own outcome and may raise (the error is already recorded);
    ``failures`` reads the consecutive-failure count that drives the back-off;
    ``on_change`` is called whenever ``next_pull`` moves, so listeners can refresh.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        pull: Callable[[], object],
        failures: Callable[[], int],
        on_change: Callable[[], None],
    ) -> None:
        self.name = name
        self.interval = interval
        self.next_pull: datetime | None = None
        self._pull = pull
        self._failures = failures
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"ipy-storage-watch:{name}", daemon=True
        )

    @property
    def running(self) -> bool:
        """True until ``stop`` is called (a pull in flight may still finish afterwards)."""
        return not self._stop.is_set() and self._thread.is_alive()

    def start(self) -> None:
        with _running_lock:
            _running.add(self)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; it does at once, or right after a pull in flight."""
        self._stop.set()
        self.next_pull = None

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            delay = 0.0
            while not self._wait(delay):
                try:
                    self._pull()
                except Exception:  # recorded by the pull itself; the timer carries on
                    _log.debug("timed pull of %s failed", self.name, exc_info=True)
                delay = self._next_delay()
        finally:
            with _running_lock:
                _running.discard(self)

    def _next_delay(self) -> float:
        """The back-off delay; the plain interval if counting failures fails (never a dead timer)."""
        try:
            return backoff_delay(self.interval, self._failures())
        except Exception:
            _log.debug("failure count of %s unavailable", self.name, exc_info=True)
            return self.interval

    def _wait(self, delay: float) -> bool:
        """Sleep ``delay`` seconds (a year at the most, then the next pull); True when stopped
        meanwhile."""
        if self._stop.is_set():
            return True
        delay = min(max(delay, 0.0), LONGEST_WAIT) if delay == delay else LONGEST_WAIT
        self.next_pull = datetime.now().astimezone() + timedelta(seconds=delay)
        self._notify()
        stopped = self._stop.wait(delay)
        self.next_pull = None
        return stopped

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:
            _log.debug("status listener failed for %s", self.name, exc_info=True)


def stop_all(timeout: float = 10.0) -> None:
    """Stop every timer in the process and wait (up to ``timeout`` seconds in all) for the threads
    to end; used by ``unload_ipython_extension`` and ``%reload_ext``."""
    with _running_lock:
        watchers = list(_running)
    for watcher in watchers:
        watcher.stop()
    deadline = time.monotonic() + timeout
    for watcher in watchers:
        watcher.join(max(0.0, deadline - time.monotonic()))
