"""Ending git for good: a git command leaves helpers behind it (``git-remote-http`` holds the
pipes of a fetch), so stopping one means stopping the whole tree of processes it started. And a
watchdog for commands that must not outlive a time limit. Plain ``os`` and ``threading``: the
git library's own versions of these are private to it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
TAG = "IPY_STORAGE_GIT"  # a mark in the environment of each process a pull starts


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux ``/proc``; elsewhere none are known)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL ``process`` and everything it started, then reap it and close its pipes."""
    if process.poll() is None:
        _kill([process.pid, *descendants(process.pid)])
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    process.wait()


def spawn(start: Callable[[dict[str, str]], T], env: dict[str, str]) -> T:
    """``start(env)`` with a mark of its own in ``env``: an interrupt that lands while the process
    is being created, before its handle is ours, still ends it (found by the mark)."""
    tag = os.urandom(8).hex()
    try:
        return start({**env, TAG: tag})
    except BaseException:
        mark = f"{TAG}={tag}".encode()
        for pid in descendants(os.getpid()):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/environ", "rb") as environ:
                if mark in environ.read().split(b"\0"):
                    _kill([pid, *descendants(pid)])
        raise


def _kill(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class Watchdog:
    """Kills ``process``'s tree when ``seconds`` pass before ``cancel()``; ``fired`` says so."""

    def __init__(self, process: subprocess.Popen, seconds: float) -> None:
        self.fired = False
        self._process = process
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        if self._process.poll() is None:
            _kill([self._process.pid, *descendants(self._process.pid)])

    def cancel(self) -> None:
        self._timer.cancel()

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()
