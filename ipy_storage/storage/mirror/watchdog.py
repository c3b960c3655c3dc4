"""A pull never waits for ever on its source while it holds the destination's lock.

Calls to a remote source run on helper threads; the pull's own thread waits for them and gives
up when the source has sent nothing for ``STALL_SECONDS`` (downloads report every block they
read), or when one call without progress of its own (a listing, a HEAD) has run for
``CALL_SECONDS``. Giving up closes the source's connection where there is one (a blocked read
then ends) and fails the pull as a ``NetworkError``; the lock is released as the pull unwinds.
Helper threads are daemons, so one that a dead server keeps blocked never holds the kernel.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import NetworkError
from ..secrets import redact
from .backends import close_filesystem

STALL_SECONDS = 120.0  # nothing received for this long: the source is gone
CALL_SECONDS = 600.0  # one listing call (a huge bucket lists a thousand keys a request)
POLL_SECONDS = 0.25


class Watchdog:
    """The deadline of one pull's conversation with its source."""

    def __init__(self, fs: Any, url: str) -> None:
        self.fs = fs
        self.url = url
        self.stall = STALL_SECONDS
        self.last = time.monotonic()

    def alive(self, *_: Any) -> None:
        """Something arrived from the source (a block, an answer)."""
        self.last = time.monotonic()

    def check(self) -> None:
        """Fail the pull if the source has been silent too long."""
        if time.monotonic() - self.last > self.stall:
            raise self.give_up(self.stall)

    def give_up(self, waited: float) -> NetworkError:
        close_filesystem(self.fs)  # a read blocked on the connection ends now
        return NetworkError(
            f"{redact(self.url)} stopped answering for {waited:.0f}s, so the pull was stopped "
            "(nothing half-written was placed): check network and endpoint, then pull again."
        )

    def wait(self, results: queue.SimpleQueue) -> Any:
        """The next item of ``results``, checking the deadline while none comes."""
        while True:
            try:
                return results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self.check()

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` on a helper thread, given up after ``CALL_SECONDS``."""
        answer: queue.SimpleQueue = queue.SimpleQueue()

        def run() -> None:
            try:
                answer.put((True, function(*args, **kwargs)))
            except BaseException as exc:  # handed to the waiting thread
                answer.put((False, exc))

        started = time.monotonic()
        threading.Thread(target=run, name="ipy-storage-source", daemon=True).start()
        while True:
            try:
                ok, value = answer.get(timeout=POLL_SECONDS)
                break
            except queue.Empty:
                waited = time.monotonic() - started
                if waited > CALL_SECONDS:
                    raise self.give_up(waited) from None
        self.alive()
        if ok:
            return value
        raise value
